"""``GET /openapi.json``: the ops API described in OpenAPI 3.1, built from the routes' declarations
(:data:`chalicelib.api.auth.ROUTES`) and the same pydantic models the handlers parse and answer with, so the
document cannot drift from the code (a test also checks every ops route is in it)."""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
ERROR_REF = {"$ref": "#/components/schemas/Error"}

ANSWERS = {
    400: "Bad parameters or body (the error names them)",
    401: "No token, or an unknown or expired one",
    403: "The token's role is below the route's",
    404: "No such thing",
    409: "Not allowed from the current state (the error says what is)",
    412: "If-Match names a version the issue is no longer at",
    413: "The body is larger than the route takes (the error names the limit)",
    429: "Too many requests from this token this minute; see Retry-After",
}


def _answer(description: str, schema: dict[str, Any] | None) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _model(reference: Any) -> Any:
    if isinstance(reference, str):
        module, _, name = reference.partition(":")
        return getattr(importlib.import_module(module), name)
    return reference


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    from chalicelib.api.auth import PUBLIC, ROUTES

    schemas: dict[str, Any] = {"Error": ERROR}

    def ref(model: Any, mode: str = "serialization") -> dict[str, Any]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    paths: dict[str, Any] = {}
    for route in ROUTES:
        name = route.path.replace("/", "_").replace("{", "").replace("}", "").replace(".", "_")
        operation: dict[str, Any] = {"summary": route.summary, "operationId": f"{route.method.lower()}{name}"}
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_names(route.path)
        ]
        if route.query is not None:
            query = _model(route.query).model_json_schema(
                ref_template="#/components/schemas/{model}", mode="validation"
            )
            schemas.update(query.pop("$defs", {}))
            for name, spec in query["properties"].items():
                parameters.append(
                    {
                        "name": name,
                        "in": "query",
                        "required": name in query.get("required", []),
                        "description": spec.get("description", ""),
                        "schema": {k: v for k, v in spec.items() if k not in ("description", "title")},
                    }
                )
        parameters += [
            {
                "name": header,
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "the ETag the issue was read with",
            }
            for header in route.headers
        ]
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(_model(route.body), "validation")}},
            }
        success = ref(_model(route.answer)) if route.answer is not None else None
        responses: dict[str, Any] = {str(route.status): _answer("Done", success)}
        if route.role == PUBLIC:
            operation["security"] = []
            codes = [*route.errors]
        else:
            operation["description"] = f"Role: {route.role} (or above)."
            codes = [400, 401, 403, 429, *route.errors]
        for code in sorted(set(codes)):
            responses[str(code)] = _answer(ANSWERS[code], ERROR_REF)
        if route.invalid is not None:
            responses["400"] = _answer(ANSWERS[400], ref(_model(route.invalid)))
        if "429" in responses:
            responses["429"]["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "seconds until the next minute"}
            }
        if route.path.startswith("/issues/{issue_id}") and route.method in ("GET", "PATCH"):
            responses[str(route.status)]["headers"] = {
                "ETag": {"schema": {"type": "string"}, "description": "the issue's version"}
            }
        operation["responses"] = responses
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "social-response ops API",
            "version": "2",
            "description": "Issues as triage, dedup and the protocols left them, and what responders change. "
            "Bearer tokens with a role (viewer < responder < admin): OPS_ADMIN_TOKEN (admin), "
            "or one made by POST /tokens or `social-response ops-token create`.",
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
