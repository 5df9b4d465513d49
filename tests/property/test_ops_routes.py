"""Every ops route answers only what the contract allows: 200, 400 (naming the parameter), 401, 403, 404; JSON,
never a 5xx. Queries come from ``IssueQuery``'s schema, arbitrary text, broken encodings; cursors are forged,
edited, or validly signed around arbitrary positions (whoever holds the key still cannot cause a 500)."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from urllib.parse import quote, urlencode

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.ops import IssueQuery, Role, encode_cursor, seal
from tests.property.strategies import (
    assert_json_answer,
    headers,
    json_body,
    json_values,
    path_segment,
    query_string,
    schema_json,
    short_bytes,
    text,
)

# thousands of requests a minute from one admin token: the rate limit (tested in tests/integration) stays out of it
os.environ["OPS_RATE_LIMIT_PER_MINUTE"] = "1000000"

PARAMETERS = sorted(IssueQuery.model_fields)
schema_queries = schema_json(IssueQuery).map(lambda query: {k: v for k, v in query.items() if v is not None})
authorizations = st.one_of(
    st.none(),
    text,
    text.map(lambda token: f"Bearer {token}"),
    st.sampled_from(["Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "bearer  x"]),
)


def with_authorization(request_headers: dict[str, str], authorization: str | None) -> dict[str, str]:
    kept = {name: value for name, value in request_headers.items() if name.lower() != "authorization"}
    return kept if authorization is None else {**kept, "Authorization": authorization}


@given(query=query_string(PARAMETERS), request_headers=headers, authorization=authorizations)
def test_listings_without_a_valid_token_are_401_whatever_else_is_sent(stack, query, request_headers, authorization):
    answer = stack.client.http.get(f"/issues?{query}", headers=with_authorization(request_headers, authorization))
    assert_json_answer(answer, {401}, (query, request_headers, authorization))
    assert answer.headers.get("WWW-Authenticate", "").startswith("Bearer")


@given(
    query=schema_queries | st.dictionaries(st.sampled_from(PARAMETERS) | text, text, max_size=4),
    request_headers=headers,
)
def test_any_listing_query_is_a_page_or_a_400_naming_a_parameter(stack, query, request_headers):
    encoded = urlencode(query).encode("utf-8", "surrogatepass").decode()
    answer = stack.client.http.get(
        f"/issues?{encoded}", headers={**with_authorization(request_headers, None), **stack.admin}
    )
    body = assert_json_answer(answer, {200, 400}, (query, request_headers))
    if answer.status_code == 200:
        assert set(body) == {"items", "next_cursor"} and len(body["items"]) <= query_limit(query)
    else:
        named = [name for name in [*query, "query", "since", "until"] if str(name) and str(name) in body["error"]]
        assert named, (query, body)


def query_limit(query: dict) -> int:
    try:
        return int(query.get("limit", 25))
    except ValueError:
        return 25


@given(query=query_string(PARAMETERS))
def test_any_raw_query_string_with_a_valid_token_is_a_page_or_a_400(stack, query):
    assert_json_answer(stack.client.http.get(f"/issues?{query}", headers=stack.admin), {200, 400}, query)


positions = st.integers() | st.sampled_from([0, 1, -1, 10**30]) | json_values
start_keys = st.one_of(
    json_values,
    st.dictionaries(
        st.sampled_from(["issue_id", "first_seen_day", "first_seen", "status_category", "last_seen", "assigned_to"])
        | text,
        st.dictionaries(st.sampled_from(["S", "N", "B"]) | text, json_values, max_size=2),
        max_size=4,
    ),
)


@given(
    query=schema_queries,
    position=positions,
    start_key=start_keys,
    raw=st.none() | short_bytes | json_values.map(json_body),
    edit=st.sampled_from(["", "x", ".", "=", "é"]),
)
def test_validly_signed_or_edited_cursors_are_a_page_or_a_400_naming_the_cursor(
    stack, query, position, start_key, raw, edit
):
    key = stack.secret("LINK_SIGNING_KEY")
    try:
        parsed = IssueQuery.model_validate(query)
    except ValueError:
        parsed = IssueQuery()
        query = {}
    cursor = seal(key, raw) if raw is not None else encode_cursor(key, parsed, position, start_key)
    cursor += edit
    answer = stack.client.http.get(f"/issues?{urlencode({**query, 'cursor': cursor})}", headers=stack.admin)
    body = assert_json_answer(answer, {200, 400}, (query, position, start_key, raw, edit))
    if answer.status_code == 400:
        assert any(name in body["error"] for name in ("cursor", *query)), body


def test_a_token_without_the_role_is_403_and_one_with_it_lists(stack):
    from chalicelib.bootstrap import ops_tokens

    now = datetime.now(timezone.utc)
    viewer, _ = ops_tokens().create("property-viewer", Role.VIEWER, 1, now)
    reader, _ = ops_tokens().create("property-reader", Role.VIEWER, 1, now)
    assert_json_answer(
        stack.client.http.get("/tokens", headers={"Authorization": f"Bearer {viewer}"}), {403}, "viewer token"
    )
    assert_json_answer(
        stack.client.http.get(
            "/issues?since=2026-11-19&until=2026-11-21", headers={"Authorization": f"Bearer {reader}"}
        ),
        {200},
        "reader token",
    )


@given(
    issue_id=path_segment() | st.sampled_from(["known-0", "known-1"]), request_headers=headers, authorized=st.booleans()
)
def test_any_issue_id_is_the_issue_a_404_or_a_400(stack, issue_id, request_headers, authorized):
    if issue_id.startswith("known-"):
        issue_id = quote(stack.issue_ids[int(issue_id[-1])])
    sent = {**with_authorization(request_headers, None), **(stack.admin if authorized else {})}
    answer = stack.client.http.get(f"/issues/{issue_id}", headers=sent)
    if not authorized:
        assert_json_answer(answer, {401}, (issue_id, request_headers))
        return
    body = assert_json_answer(answer, {200, 400, 404}, (issue_id, request_headers))
    if answer.status_code == 200:
        assert body["issue"]["issue_id"] in stack.issue_ids and body["history"]


@given(query=query_string(["format", "v"]), request_headers=headers)
def test_the_openapi_document_is_served_whatever_the_request_carries(stack, query, request_headers):
    body = assert_json_answer(
        stack.client.http.get(f"/openapi.json?{query}", headers=request_headers), {200}, (query, request_headers)
    )
    assert {"/issues", "/issues/{issue_id}", "/openapi.json"} <= set(body["paths"])


WRITES = [
    ("patch", "/issues/{known}", {200, 400, 404, 409, 412}),
    ("post", "/issues/{known}/notes", {201, 400, 404}),
    ("post", "/issues/{known}/satisfaction", {201, 400, 404}),
    ("post", "/tokens", {201, 400}),
    ("post", "/plans/validate", {200, 400}),
    ("post", "/dead-letters/redrive", {200, 400, 404, 409}),
    ("patch", "/issues/{any}", {400, 404}),
    ("delete", "/tokens/{any}", {200, 400, 404}),
    ("post", "/issues/{known}/merge", {200, 400, 404, 409}),
    ("post", "/issues/{known}/split", {201, 400, 404, 409}),
    ("post", "/issues/{any}/merge", {400, 404}),
    ("post", "/plans/{any}/review", {200, 400, 404}),
    ("post", "/plans/{any}/activate", {200, 400, 404, 409}),
    ("post", "/plans/{any}/retire", {200, 400, 404, 409}),
]


@given(
    route=st.sampled_from(WRITES),
    issue=st.sampled_from([0, 1]),
    any_id=path_segment(),
    body=json_values.map(json_body) | short_bytes,
    request_headers=headers,
)
def test_any_body_on_any_write_route_is_a_documented_answer_never_a_500(
    stack, route, issue, any_id, body, request_headers
):
    method, path, allowed = route
    path = path.format(known=quote(stack.issue_ids[issue]), any=any_id)
    sent = {**with_authorization(request_headers, None), **stack.admin}
    answer = getattr(stack.client.http, method)(path, body=body, headers=sent)
    assert_json_answer(answer, allowed, (method, path, body))
    assert_json_answer(getattr(stack.client.http, method)(path, body=body, headers={}), {401}, (method, path))


@given(query=query_string(["since", "until", "limit"]))
def test_metrics_and_alerts_answer_a_page_or_a_400(stack, query):
    assert_json_answer(stack.client.http.get(f"/metrics/summary?{query}", headers=stack.admin), {200, 400}, query)
    assert_json_answer(stack.client.http.get(f"/alerts?{query}", headers=stack.admin), {200, 400}, query)
