"""``GET /openapi.json``: the ops API described in OpenAPI 3.1, built from the same pydantic models the handlers
parse and answer with, so the document cannot drift from the code (a test also checks every ops route is in it)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}


def _answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


REFUSALS = {
    "400": _answer("Bad parameters (the error names them)", {"$ref": "#/components/schemas/Error"}),
    "401": _answer("No token, or an unknown or expired one", {"$ref": "#/components/schemas/Error"}),
    "403": _answer("The token does not carry the issues:read role", {"$ref": "#/components/schemas/Error"}),
}


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    from chalicelib.domain.ops import IssueQuery
    from chalicelib.services.ops import IssueDetail, IssuePage

    schemas: dict[str, Any] = {"Error": ERROR}
    for model in (IssuePage, IssueDetail):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    query = IssueQuery.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(query.pop("$defs", {}))  # the enums parameters refer to
    parameters = [{"name": name, "in": "query", "required": False, "schema": spec,
                   "description": spec.get("description", "")}
                  for name, spec in query["properties"].items()]
    for parameter in parameters:
        parameter["schema"] = {k: v for k, v in parameter["schema"].items() if k != "description"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "social-response ops API", "version": "1",
                 "description": "Issues as triage, dedup and the protocols left them. Bearer tokens: "
                                "OPS_ADMIN_TOKEN, or one made by `python -m chalicelib.cli ops-token create`."},
        "security": [{"bearer": []}],
        "paths": {
            "/issues": {"get": {
                "summary": "List issues, newest first within each index partition",
                "description": "With `assignee`: that person's issues. With `status` (and `category`): those. "
                               "Otherwise by the day issues opened, `since`..`until` (default: the last 7 days). "
                               "Continue with `cursor` = the previous page's `next_cursor`.",
                "parameters": parameters,
                "responses": {"200": _answer("A page of issues", {"$ref": "#/components/schemas/IssuePage"}),
                              **REFUSALS}}},
            "/issues/{issue_id}": {"get": {
                "summary": "One issue with its mentions and its audit trail",
                "parameters": [{"name": "issue_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _answer("The issue", {"$ref": "#/components/schemas/IssueDetail"}),
                              "404": _answer("No such issue", {"$ref": "#/components/schemas/Error"}),
                              **REFUSALS}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        },
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
