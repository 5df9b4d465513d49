"""Every webhook route answers only what the contract allows, whatever arrives: 200, 400, 401, 403 (bad verify
token), 404 (unknown platform), 413 (too large), whatever the content type. Never a 5xx. Signed deliveries reach
parsing and storing: what is answered 200 is then processed without a failure."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import example, given
from hypothesis import strategies as st

from chalicelib.bootstrap import pipeline
from chalicelib.platforms import PLATFORMS
from chalicelib.services.processor import process_batch
from tests.helpers import drain_ingest_queue
from tests.property.strategies import (
    EDGE_TIMES,
    assert_json_answer,
    atom_feeds,
    content_type_of,
    headers,
    json_body,
    json_values,
    native_deliveries,
    native_delivery,
    path_segment,
    query_string,
    shaped_headers,
    short_bytes,
    text,
)

ANSWERS = {200, 400, 401, 403, 413}
HANDSHAKE_PARAMETERS = [
    "hub.mode",
    "hub.challenge",
    "hub.verify_token",
    "hub.topic",
    "hub.lease_seconds",
    "crc_token",
    "nonce",
]
platform_names = st.sampled_from(sorted(PLATFORMS)) | path_segment()
# What platforms send; the route takes any content type, so arbitrary text is tried beside these.
CONTENT_TYPES = [
    "application/json",
    "application/atom+xml",
    "application/xml",
    "text/xml",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
]
content_types = st.sampled_from(CONTENT_TYPES) | text


def webhook_answers(platform_name: str) -> set[int]:
    return ANSWERS if platform_name in PLATFORMS else {404}


def stored_without_failure() -> None:
    """What a 200 queued is processed (parsed again, triaged, written to DynamoDB) with no failed record."""
    queued = drain_ingest_queue()
    assert queued["Records"], "a 200 queued nothing"
    assert process_batch(queued, pipeline()) == {"batchItemFailures": []}


@given(
    method=st.sampled_from(["GET", "POST"]),
    platform_name=platform_names,
    query=query_string(HANDSHAKE_PARAMETERS),
    request_headers=headers,
    body=short_bytes | json_values.map(json_body) | atom_feeds(),
)
def test_any_request_to_any_webhook_route_is_answered_as_the_contract_says(
    stack, method, platform_name, query, request_headers, body
):
    answer = stack.client.http.request(method, f"/webhooks/{platform_name}?{query}", headers=request_headers, body=body)
    request = (method, platform_name, query, request_headers, body[:200])
    assert_json_answer(answer, webhook_answers(platform_name), request)


@given(
    platform_name=st.sampled_from(sorted(PLATFORMS)),
    body=short_bytes | json_values.map(json_body) | atom_feeds(),
    content_type=st.sampled_from(CONTENT_TYPES),
)
def test_correctly_signed_arbitrary_bodies_are_stored_or_refused_as_malformed(stack, platform_name, body, content_type):
    signature = PLATFORMS[platform_name].sign(body, stack.secret, datetime.now(timezone.utc))
    answer = stack.client.http.post(
        f"/webhooks/{platform_name}", headers={"Content-Type": content_type, **signature}, body=body
    )
    accepted = assert_json_answer(answer, {200, 400, 413}, (platform_name, body[:300]))
    if answer.status_code == 200 and accepted["accepted"]:
        stored_without_failure()


@given(
    platform_name=st.sampled_from(sorted(PLATFORMS)),
    request_headers=shaped_headers,
    body=short_bytes | json_values.map(json_body),
)
@example("generic", {"X-Signature": "t=²,v1=00"}, b"{}")  # "²".isdigit(), then int("²") raised
@example("generic", {"X-Signature": f"t={'9' * 5000},v1=00"}, b"{}")
@example("trustpilot", {"Authorization": "Basic é"}, b"{}")  # non-ASCII Basic credentials raised
@example("trustpilot", {"Authorization": "Basic dHJ1c3RwaWxvdDrDqQ=="}, b"{}")  # "trustpilot:é", base64
def test_signature_headers_of_any_shape_are_refused_as_unsigned_or_malformed(
    stack, platform_name, request_headers, body
):
    answer = stack.client.http.post(f"/webhooks/{platform_name}", headers=request_headers, body=body)
    assert_json_answer(answer, {400, 401}, (platform_name, request_headers, body[:200]))


@given(feed=atom_feeds())
@example(b'<?xml version="1.0" encoding="x-foo"?><feed xmlns="http://www.w3.org/2005/Atom"></feed>')
@example(b'<?xml version="1.0" encoding="utf-16"?><feed xmlns="http://www.w3.org/2005/Atom"></feed>')
def test_correctly_signed_atom_feeds_in_any_encoding_are_stored_or_refused_as_malformed(stack, feed):
    signature = PLATFORMS["youtube"].sign(feed, stack.secret, datetime.now(timezone.utc))
    answer = stack.client.http.post(
        "/webhooks/youtube", headers={"Content-Type": "application/atom+xml", **signature}, body=feed
    )
    accepted = assert_json_answer(answer, {200, 400, 413}, feed[:600])
    if answer.status_code == 200 and accepted["accepted"]:
        stored_without_failure()


@given(delivery=native_deliveries())
@example(native_delivery("x", "2026-11-20T10:00:00Z", followers=10**40))  # overflowed DynamoDB's 38 digits
def test_correctly_signed_deliveries_built_from_the_schema_are_stored_or_refused_as_malformed(stack, delivery):
    """Dated at the ends of time on every route (each was a 500), at the follower bound, and from the schema."""
    endpoint, body, content_type = delivery
    signature = PLATFORMS[endpoint].sign(body, stack.secret, datetime.now(timezone.utc))
    answer = stack.client.http.post(
        f"/webhooks/{endpoint}", headers={"Content-Type": content_type, **signature}, body=body
    )
    accepted = assert_json_answer(answer, {200, 400, 413}, (endpoint, body[:600]))
    if answer.status_code == 200:
        assert accepted["accepted"] + accepted["ignored"] >= 1
        if accepted["accepted"]:
            stored_without_failure()


@given(
    platform_name=st.sampled_from(sorted(PLATFORMS)),
    challenge=text,
    crc_token=text,
    verify=st.booleans(),
    extra=query_string(HANDSHAKE_PARAMETERS),
)
def test_handshakes_with_the_right_verify_token_and_any_challenge_are_answered_or_refused(
    stack, platform_name, challenge, crc_token, verify, extra
):
    from urllib.parse import urlencode

    query = {
        "hub.mode": "subscribe",
        "hub.challenge": challenge,
        "crc_token": crc_token,
        "hub.topic": challenge,
        "hub.verify_token": stack.secret("META_VERIFY_TOKEN") if verify else challenge,
    }
    answer = stack.client.http.get(f"/webhooks/{platform_name}?{urlencode(query)}&{extra}")
    assert answer.status_code in {200, 400, 403}, (platform_name, query, extra, answer.body[:300])
    if answer.status_code != 200:
        assert_json_answer(answer, {400, 403}, (platform_name, query, extra))
    assert content_type_of(dict(answer.headers))


for _route in ("generic", "x", "meta-facebook", "meta-instagram", "meta-rating", "youtube", "trustpilot"):
    for _when in EDGE_TIMES[:2]:
        test_correctly_signed_deliveries_built_from_the_schema_are_stored_or_refused_as_malformed = example(
            native_delivery(_route, _when)
        )(test_correctly_signed_deliveries_built_from_the_schema_are_stored_or_refused_as_malformed)
