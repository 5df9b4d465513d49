"""The ops HTTP API: ``GET /issues`` (filters, ``limit``, ``cursor``), ``GET /issues/{id}``, ``GET /openapi.json``.

Bearer tokens: ``OPS_ADMIN_TOKEN`` (every role) or a token made with ``python -m chalicelib.cli ops-token
create``. No token or an unknown one: 401; a token without the role: 403; bad parameters: 400 naming them.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from chalice import Blueprint, Response
from pydantic import ValidationError

from chalicelib.api.responses import ANY_CONTENT_TYPE, error_response, json_response
from chalicelib.domain.ops import BadCursor, BadQuery, IssueQuery, Role
from chalicelib.domain.validation import describe_validation_error

ops = Blueprint(__name__)

ISSUE_ID = re.compile(r"^[A-Za-z0-9_.:#-]{1,128}$")


def _refusal(role: Role) -> Response | None:
    """None when the caller may act in ``role``; the 401 or 403 answer otherwise."""
    from chalicelib.adapters.secrets import SecretUnavailable, get_secret
    from chalicelib.api.dependencies import ops_tokens
    from chalicelib.services.ops import Forbidden, Unauthorized, authorize

    try:
        admin = get_secret("OPS_ADMIN_TOKEN")
    except SecretUnavailable:
        admin = None  # no admin configured: only stored tokens work
    headers = ops.current_request.headers
    try:
        authorize(headers.get("authorization"), role, admin, ops_tokens(), datetime.now(timezone.utc))
    except Unauthorized as refused:
        answer = error_response(401, str(refused))
        answer.headers["WWW-Authenticate"] = 'Bearer realm="ops"'
        return answer
    except Forbidden as refused:
        return error_response(403, str(refused))
    return None


@ops.route("/issues", methods=["GET"], content_types=ANY_CONTENT_TYPE)
def list_issues():
    refused = _refusal(Role.ISSUES_READ)
    if refused:
        return refused
    from chalicelib.adapters.secrets import get_secret
    from chalicelib.api.dependencies import ops_issues, plan_store
    from chalicelib.services.ops import OpsDeps, UnknownCategory
    from chalicelib.services.ops import list_issues as list_use_case

    try:
        query = IssueQuery.model_validate(dict(ops.current_request.query_params or {}))
    except ValidationError as invalid:
        return error_response(400, describe_validation_error(invalid, root="query"))
    plan, _ = plan_store().active()
    deps = OpsDeps(issues=ops_issues(), categories=list(plan.categories),
                   cursor_key=get_secret("LINK_SIGNING_KEY"))
    try:
        page = list_use_case(query, deps, datetime.now(timezone.utc).date())
    except (BadCursor, BadQuery, UnknownCategory) as bad:
        return error_response(400, str(bad))
    return json_response(page.model_dump(mode="json"))


@ops.route("/issues/{issue_id}", methods=["GET"], content_types=ANY_CONTENT_TYPE)
def show_issue(issue_id: str):
    refused = _refusal(Role.ISSUES_READ)
    if refused:
        return refused
    from chalicelib.api.dependencies import ops_issues
    from chalicelib.services.ops import issue_detail

    if not ISSUE_ID.match(issue_id):
        return error_response(400, "issue_id: letters, digits and _.:#- only, at most 128")
    detail = issue_detail(issue_id, ops_issues())
    if detail is None:
        return error_response(404, f"no issue {issue_id}")
    return json_response(detail.model_dump(mode="json"))


@ops.route("/openapi.json", methods=["GET"], content_types=ANY_CONTENT_TYPE)
def openapi():
    """The document itself is public: it describes the routes, it holds no data."""
    from chalicelib.api.openapi import document

    return json_response(document())
