"""The ops HTTP API: issues (list, get, change, notes, satisfaction scores), tokens, metrics, ``/openapi.json``.

Bearer tokens: ``OPS_ADMIN_TOKEN`` (admin) or a token an admin made (``POST /tokens``, or ``social-response
ops-token create``), each with one role: viewer, responder or admin. Every route is declared with
:func:`chalicelib.api.auth.ops_route` and its role. No token or an unknown one: 401; a token without the role: 403;
bad parameters or body: 400 naming them; an illegal status change: 409; a stale ``If-Match``: 412.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

from chalicelib.api.auth import PUBLIC, caller, ops_route
from chalicelib.api.responses import error_response, json_response
from chalicelib.domain.roles import Role

if TYPE_CHECKING:
    from pydantic import BaseModel


# The answers' models, named for /openapi.json (imported only when the document is built: keeps `import app` cheap)
def service_model(name: str) -> str:
    return f"chalicelib.services.ops:{name}"


def domain_model(name: str) -> str:
    return f"chalicelib.domain.ops:{name}"


ops = Blueprint(__name__)

ISSUE_ID = re.compile(r"^[A-Za-z0-9_.:#-]{1,128}$")
TOKEN_ID = re.compile(r"^[0-9a-f]{12}$")
MIN_BODY_BYTES = 16 * 1024  # what a body may always take (numbers, names, lists)
ESCAPED_CHAR_BYTES = 12  # the most one character takes in JSON: "\ud83d\ude00", a character outside the BMP


class BadInput(ValueError):
    """400 with this message."""


def body(model: type[BaseModel]) -> Any:
    """The request's JSON body as ``model``; :class:`BadInput` naming what is wrong."""
    from pydantic import ValidationError

    from chalicelib.domain.validation import describe_validation_error

    raw = ops.current_request.raw_body or b""
    if len(raw) > (limit := max_body_bytes(model)):
        raise BadInput(f"body: at most {limit} bytes")
    try:
        data = json.loads(raw or b"null")
    except (ValueError, RecursionError):
        raise BadInput("body: send a JSON object") from None
    if not isinstance(data, dict):
        raise BadInput("body: send a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as invalid:
        raise BadInput(describe_validation_error(invalid, root="body")) from None


@functools.cache
def max_body_bytes(model: type[BaseModel]) -> int:
    """The largest body a valid ``model`` can arrive in: each text field at its length limit with every character
    escaped as a client may send it (the CLI escapes all but ASCII), plus room for the rest. A fixed cap refused
    valid bodies: a 4,000-character note in Cyrillic, an 18 KB plan."""
    from annotated_types import MaxLen

    longest = sum(
        next((rule.max_length for rule in field.metadata if isinstance(rule, MaxLen)), 0)
        for field in model.model_fields.values()
    )
    return MIN_BODY_BYTES + ESCAPED_CHAR_BYTES * longest


def query(model: type[BaseModel]) -> Any:
    from pydantic import ValidationError

    from chalicelib.domain.validation import describe_validation_error

    try:
        return model.model_validate(dict(ops.current_request.query_params or {}))
    except ValidationError as invalid:
        raise BadInput(describe_validation_error(invalid, root="query")) from None


def checked_issue_id(issue_id: str) -> str:
    if not ISSUE_ID.match(issue_id):
        raise BadInput("issue_id: letters, digits and _.:#- only, at most 128")
    return issue_id


def with_etag(summary_or_detail: Any, version: int, status: int = 200) -> Response:
    from chalicelib.domain.ops import etag

    answer = json_response(summary_or_detail.model_dump(mode="json"), status)
    answer.headers["ETag"] = etag(version)
    return answer


def answering(handler):
    """The use cases' exceptions as HTTP answers (one place, so every write answers them alike)."""
    import functools

    @functools.wraps(handler)
    def run(*args, **kwargs):
        from chalicelib.domain.ops import BadCursor, BadQuery, IllegalTransition, InvalidChange
        from chalicelib.services.ops import NotFound, Stale, UnknownCategory

        try:
            return handler(*args, **kwargs)
        except (BadInput, BadCursor, BadQuery, UnknownCategory, InvalidChange) as bad:
            return error_response(400, str(bad))
        except NotFound as missing:
            return error_response(404, str(missing))
        except IllegalTransition as illegal:
            return error_response(409, str(illegal))
        except Stale as stale:
            return error_response(412, str(stale))

    return run


@ops_route(
    ops,
    "/issues",
    "GET",
    Role.VIEWER,
    "List issues: with no since/until, status or assignee, every issue of all time, newest activity (last_seen) "
    "first; by status or assignee, newest activity first within each category or person; with since/until, "
    "those first seen on those days (UTC), newest first",
    query=domain_model("IssueQuery"),
    answer=service_model("IssuePage"),
)
@answering
def list_issues():
    from chalicelib.bootstrap import ops_issues, plan_store, secret
    from chalicelib.domain.ops import IssueQuery
    from chalicelib.services.ops import OpsDeps
    from chalicelib.services.ops import list_issues as list_use_case

    wanted = query(IssueQuery)
    plan, _ = plan_store().active()
    deps = OpsDeps(issues=ops_issues(), categories=list(plan.categories), cursor_key=secret("LINK_SIGNING_KEY"))
    page = list_use_case(wanted, deps, datetime.now(timezone.utc).date())
    return json_response(page.model_dump(mode="json"))


@ops_route(
    ops,
    "/issues/{issue_id}",
    "GET",
    Role.VIEWER,
    "One issue with its mentions and its audit trail (ETag: its version)",
    answer=service_model("IssueDetail"),
    errors=(404,),
)
@answering
def show_issue(issue_id: str):
    from chalicelib.bootstrap import ops_issues
    from chalicelib.observability import logger
    from chalicelib.services.ops import NotFound, issue_detail

    detail = issue_detail(checked_issue_id(issue_id), ops_issues())
    if detail is None:
        raise NotFound(f"no issue {issue_id}")
    # the detail holds personal data (authors, their words): who read it is logged
    logger.info("issue read", extra={"issue_id": issue_id, "actor": caller().name})
    return with_etag(detail, detail.issue.version)


def _if_match() -> int | None:
    from chalicelib.domain.ops import parse_if_match

    try:
        return parse_if_match(ops.current_request.headers.get("if-match"))
    except ValueError as bad:
        raise BadInput(str(bad)) from None


def write_issue(issue_id: str, use_case: Callable[..., Any], deps: Any, request: Any, status: int = 200) -> Response:
    """One issue write: the checked id, the parsed body, ``If-Match`` and the caller handed to ``use_case``, and the
    issue it answers sent back with its ETag. Every write route goes through here, so they check and answer alike."""
    changed = use_case(
        checked_issue_id(issue_id), request, _if_match(), caller().name, deps, datetime.now(timezone.utc)
    )
    return with_etag(changed, changed.version, status)


@ops_route(
    ops,
    "/issues/{issue_id}",
    "PATCH",
    Role.RESPONDER,
    "Change assignee, status, follow-up or resolution note (If-Match: the ETag read)",
    body=domain_model("IssuePatch"),
    answer=service_model("IssueSummary"),
    errors=(404, 409, 412),
    headers=("If-Match",),
)
@answering
def change_issue(issue_id: str):
    from chalicelib.bootstrap import ops_issues
    from chalicelib.domain.ops import IssuePatch
    from chalicelib.services.ops import update_issue

    patch = body(IssuePatch)
    try:
        patch.changes()
    except ValueError as bad:
        raise BadInput(str(bad)) from None
    return write_issue(issue_id, update_issue, ops_issues(), patch)


@ops_route(
    ops,
    "/issues/{issue_id}/notes",
    "POST",
    Role.RESPONDER,
    "Add a note to the audit trail",
    body=domain_model("NoteBody"),
    answer=service_model("IssueSummary"),
    status=201,
    errors=(404, 412),
    headers=("If-Match",),
)
@answering
def add_note(issue_id: str):
    from chalicelib.bootstrap import ops_issues
    from chalicelib.domain.ops import NoteBody
    from chalicelib.services.ops import add_note as add

    return write_issue(issue_id, add, ops_issues(), body(NoteBody), 201)


@ops_route(
    ops,
    "/issues/{issue_id}/satisfaction",
    "POST",
    Role.RESPONDER,
    "Record a satisfaction score taken outside the survey",
    body=domain_model("SatisfactionBody"),
    answer=service_model("IssueSummary"),
    status=201,
    errors=(404, 412),
    headers=("If-Match",),
)
@answering
def record_satisfaction(issue_id: str):
    from chalicelib.bootstrap import ops_issues
    from chalicelib.domain.ops import SatisfactionBody
    from chalicelib.services.ops import record_satisfaction as record

    return write_issue(issue_id, record, ops_issues(), body(SatisfactionBody), 201)


@ops_route(
    ops,
    "/issues/{issue_id}/merge",
    "POST",
    Role.RESPONDER,
    "Fold another issue (a duplicate) into this one: its mentions move here, it is closed as merged",
    body=domain_model("MergeBody"),
    answer=service_model("IssueSummary"),
    errors=(404, 409, 412),
    headers=("If-Match",),
)
@answering
def merge_issue(issue_id: str):
    from chalicelib.bootstrap import issue_regrouping
    from chalicelib.domain.ops import MergeBody
    from chalicelib.services.ops import merge_issues

    return write_issue(issue_id, merge_issues, issue_regrouping(), body(MergeBody))


@ops_route(
    ops,
    "/issues/{issue_id}/split",
    "POST",
    Role.RESPONDER,
    "Split a mention off this issue: it opens an issue of its own (answered)",
    body=domain_model("SplitBody"),
    answer=service_model("IssueSummary"),
    status=201,
    errors=(404, 409, 412),
    headers=("If-Match",),
)
@answering
def split_issue(issue_id: str):
    from chalicelib.bootstrap import issue_regrouping
    from chalicelib.domain.ops import SplitBody
    from chalicelib.services.ops import split_mention

    return write_issue(issue_id, split_mention, issue_regrouping(), body(SplitBody), 201)


@ops_route(
    ops,
    "/metrics/summary",
    "GET",
    Role.VIEWER,
    "Volume, response and resolution times, SLA hit rate, CSAT and recurrence of the issues first seen in since..until",
    query=service_model("MetricsQuery"),
    answer="chalicelib.domain.metrics:MetricsSummary",
)
@answering
def metrics_summary():
    from chalicelib.bootstrap import ops_issues, plan_store
    from chalicelib.services.ops import MetricsQuery
    from chalicelib.services.ops import metrics_summary as summarize

    wanted = query(MetricsQuery)
    plan, _ = plan_store().active()  # the plan's business hours, as the weekly report counts them
    return json_response(summarize(wanted, ops_issues(), datetime.now(timezone.utc), plan).model_dump(mode="json"))


@ops_route(
    ops,
    "/tokens",
    "POST",
    Role.ADMIN,
    "Create a token; it is answered once, in `token`",
    body=domain_model("TokenRequest"),
    answer=service_model("CreatedToken"),
    status=201,
)
@answering
def create_token():
    from chalicelib.bootstrap import ops_tokens
    from chalicelib.domain.ops import TokenRequest
    from chalicelib.services.ops import create_token as create

    created = create(body(TokenRequest), caller().name, ops_tokens(), datetime.now(timezone.utc))
    return json_response(created.model_dump(mode="json"), 201)


@ops_route(
    ops, "/tokens", "GET", Role.ADMIN, "List tokens (never the tokens themselves)", answer=service_model("TokenList")
)
def list_tokens():
    from chalicelib.bootstrap import ops_tokens
    from chalicelib.services.ops import list_tokens as listed

    return json_response(listed(ops_tokens()).model_dump(mode="json"))


@ops_route(
    ops, "/tokens/{token_id}", "DELETE", Role.ADMIN, "Revoke a token", answer=service_model("Revoked"), errors=(404,)
)
@answering
def revoke_token(token_id: str):
    from chalicelib.bootstrap import ops_tokens
    from chalicelib.services.ops import NotFound, Revoked
    from chalicelib.services.ops import revoke_token as revoke

    if not TOKEN_ID.match(token_id):
        raise BadInput("token_id: the 12 hex digits GET /tokens lists")
    if not revoke(token_id, caller().name, ops_tokens()):
        raise NotFound(f"no token {token_id}")
    return json_response(Revoked(revoked=token_id).model_dump(mode="json"))


@ops_route(ops, "/openapi.json", "GET", PUBLIC, "This document")
def openapi():
    """The document itself is public: it describes the routes, it holds no data."""
    from chalicelib.api.openapi import document

    return json_response(document())
