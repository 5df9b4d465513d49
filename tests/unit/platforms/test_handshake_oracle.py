"""No signing oracle: no handshake answer, on any platform, is accepted as a delivery signature for any body.

X's CRC answers HMAC(X_CONSUMER_SECRET, crc_token), the very MAC an X delivery of body ``crc_token`` carries. Before
issue 8 the CRC signed anything, so ``GET ?crc_token=<a whole delivery>`` minted a valid POST. The property below
drives every platform's handshake with caller-chosen queries (the attack's JSON deliveries among them) and tries
every string each answer carries as each of the platform's signature headers, over every body the caller chose:
none may pass both ``verify`` and ``parse``.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import limits
from chalicelib.platforms import PLATFORMS, x
from chalicelib.platforms.base import MalformedPayload, WebhookError
from tests.unit.platforms.conftest import NOW, SECRETS, get, post, secret
from tests.unit.platforms.test_edge_bounds import generic_body, meta_body, trustpilot_body, x_body, youtube_body

DELIVERIES = [
    x_body(),
    meta_body(),
    youtube_body(),
    trustpilot_body(),
    generic_body(),
    b'{"for_user_id":"1"}',
    b'{"object":"page","entry":[]}',
    b'{"events":[]}',
]

tokens = st.from_regex(rf"[A-Za-z0-9+/=_.~-]{{1,{limits.MAX_HANDSHAKE_TOKEN_CHARS}}}", fullmatch=True)
chosen = st.one_of(st.sampled_from([body.decode() for body in DELIVERIES]), st.text(max_size=200), tokens)
# Each platform's handshake as its platform sends it, with the value the answer echoes or signs chosen by the
# caller, plus arbitrary extra or missing parameters.
handshakes = st.one_of(
    st.tuples(st.just("x"), st.fixed_dictionaries({"crc_token": chosen})),
    st.tuples(
        st.just("meta"),
        st.fixed_dictionaries(
            {
                "hub.mode": st.just("subscribe"),
                "hub.verify_token": st.just(SECRETS["META_VERIFY_TOKEN"]),
                "hub.challenge": chosen,
            }
        ),
    ),
    st.tuples(
        st.just("youtube"),
        st.fixed_dictionaries(
            {
                "hub.mode": st.sampled_from(["subscribe", "unsubscribe", "denied"]),
                "hub.topic": st.just("https://yt/feed"),
                "hub.challenge": chosen,
            }
        ),
    ),
    st.tuples(
        st.sampled_from(sorted(PLATFORMS)),
        st.dictionaries(
            st.sampled_from(["crc_token", "hub.mode", "hub.verify_token", "hub.challenge", "hub.topic"]), chosen
        ),
    ),
)


def strings_in(answer_body: str) -> list[str]:
    """The answer, and every string inside it when it is JSON (X's ``response_token``)."""
    found = [answer_body]
    try:
        document = json.loads(answer_body)
    except ValueError:
        return found
    if isinstance(document, dict):
        found += [value for value in document.values() if isinstance(value, str)]
    return found


def accepted_as_delivery(module, body: bytes, headers: dict[str, str]) -> bool:
    request = post(body, headers)
    try:
        module.verify(request, secret, NOW)
        module.parse(request, NOW)
    except WebhookError:
        return False
    return True


def assert_no_answer_is_a_delivery_signature(name: str, query: dict[str, str]) -> None:
    module = PLATFORMS[name]
    try:
        answer = module.handshake(get(query), secret)
    except WebhookError:
        return  # refused: nothing was answered
    header_names = list(module.sign(b"", secret, NOW))
    bodies = {value.encode() for value in query.values()} | {answer.body.encode()} | set(DELIVERIES)
    for body in bodies:
        for header in header_names:
            for candidate in strings_in(answer.body):
                assert not accepted_as_delivery(module, body, {header: candidate}), (name, query, header)


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(handshake=handshakes)
def test_no_handshake_answer_is_accepted_as_a_delivery_signature(handshake):
    name, query = handshake
    assert_no_answer_is_a_delivery_signature(name, query)


@pytest.mark.parametrize("body", DELIVERIES, ids=lambda body: body[:20].decode())
def test_the_attack_a_delivery_as_crc_token_is_refused(body):
    with pytest.raises(MalformedPayload, match="crc_token"):
        x.handshake(get({"crc_token": body.decode()}), secret)
    assert_no_answer_is_a_delivery_signature("x", {"crc_token": body.decode()})


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(token=tokens)
def test_every_token_the_crc_signs_is_refused_as_a_body(token):
    """The CRC still signs what X sends, and its MAC does verify over the token; the token is never a delivery."""
    response_token = json.loads(x.handshake(get({"crc_token": token}), secret).body)["response_token"]
    request = post(token.encode(), {x.SIGNATURE_HEADER: response_token})
    x.verify(request, secret, NOW)  # the MAC is X's own scheme: it matches ...
    with pytest.raises(MalformedPayload):  # ... but no token-shaped body is an Account Activity delivery
        x.parse(request, NOW)
