"""What every platform module promises: the registry, and sign → verify round trips that fail when anything changes."""

from __future__ import annotations

import inspect
from datetime import datetime, timezone

import pytest

from chalicelib.platforms import PLATFORMS
from chalicelib.platforms.base import BadSignature, MalformedPayload, WebhookRequest, to_datetime
from tests.unit.platforms.conftest import NOW, SECRETS, post, secret, wrong_secret

CONTRACT_SECRETS = {
    "META_APP_SECRET",
    "META_VERIFY_TOKEN",
    "X_CONSUMER_SECRET",
    "YOUTUBE_HUB_SECRET",
    "TRUSTPILOT_WEBHOOK_SECRET",
    "GENERIC_WEBHOOK_SECRET",
}

BODIES = {
    "meta": b'{"object":"page","entry":[]}',
    "x": b'{"for_user_id":"1","tweet_create_events":[]}',
    "youtube": b'<feed xmlns="http://www.w3.org/2005/Atom"></feed>',
    "trustpilot": b'{"events":[]}',
    "generic": b'{"platform":"forum","id":"1","created_at":"2024-01-01T00:00:00Z","text":"hi",'
    b'"author":{"id":"a1","handle":"ann","name":"Ann","followers":0,"verified":false}}',
}

NAMES = sorted(PLATFORMS)


def test_registry_holds_the_five_routes():
    assert set(PLATFORMS) == {"meta", "x", "youtube", "trustpilot", "generic"}


@pytest.mark.parametrize("name", NAMES)
def test_every_module_offers_the_interface(name):
    module = PLATFORMS[name]
    assert name == module.NAME
    assert module.SECRET_NAMES and set(module.SECRET_NAMES) <= CONTRACT_SECRETS
    for function in ("handshake", "verify", "parse", "sign"):
        assert callable(getattr(module, function)), function
    assert list(inspect.signature(module.verify).parameters) == ["request", "secret", "now"]


@pytest.mark.parametrize("name", NAMES)
def test_sign_then_verify_then_parse(name):
    module = PLATFORMS[name]
    request = post(BODIES[name], module.sign(BODIES[name], secret, NOW))
    module.verify(request, secret, NOW)
    module.parse(request, NOW)


# Trustpilot's Basic credentials do not cover the body (see the trustpilot module docstring).
@pytest.mark.parametrize("name", [name for name in NAMES if name != "trustpilot"])
def test_tampered_body_fails(name):
    module = PLATFORMS[name]
    headers = module.sign(BODIES[name], secret, NOW)
    with pytest.raises(BadSignature):
        module.verify(post(BODIES[name] + b" ", headers), secret, NOW)


@pytest.mark.parametrize("name", NAMES)
def test_wrong_secret_fails(name):
    module = PLATFORMS[name]
    headers = module.sign(BODIES[name], wrong_secret, NOW)
    with pytest.raises(BadSignature) as caught:
        module.verify(post(BODIES[name], headers), secret, NOW)
    assert caught.value.status == 401
    assert not any(value in caught.value.message for value in SECRETS.values())


@pytest.mark.parametrize("name", NAMES)
def test_missing_header_fails(name):
    with pytest.raises(BadSignature, match="missing"):
        PLATFORMS[name].verify(post(BODIES[name]), secret, NOW)


@pytest.mark.parametrize("name", NAMES)
def test_empty_secret_never_verifies(name):
    module = PLATFORMS[name]
    # Whatever an attacker signs with an empty key must not pass when the secret is not configured.
    empty = lambda _name: ""  # noqa: E731
    with pytest.raises(BadSignature):
        module.verify(post(BODIES[name], {"x": "y"}), empty, NOW)


@pytest.mark.parametrize("name", NAMES)
def test_headers_are_case_insensitive_through_build(name):
    module = PLATFORMS[name]
    headers = {key.upper(): value for key, value in module.sign(BODIES[name], secret, NOW).items()}
    module.verify(WebhookRequest.build("post", headers=headers, raw_body=BODIES[name]), secret, NOW)


@pytest.mark.parametrize("name", NAMES)
def test_every_module_refuses_garbage_with_400(name):
    with pytest.raises(MalformedPayload):
        PLATFORMS[name].parse(post(b"\xff\xfe garbage \x00"), NOW)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1449135003, datetime(2015, 12, 3, 9, 30, 3, tzinfo=timezone.utc)),
        ("1457764197627", datetime.fromtimestamp(1457764197.627, tz=timezone.utc)),
        ("2017-05-20T09:34:44.000Z", datetime(2017, 5, 20, 9, 34, 44, tzinfo=timezone.utc)),
        ("2015-03-09T19:05:24.552394234+00:00", datetime(2015, 3, 9, 19, 5, 24, 552394, tzinfo=timezone.utc)),
        ("not a time", None),
        # Beyond what datetime holds: the extreme it points at, which the mention's time window then refuses.
        (10**30, datetime.max.replace(tzinfo=timezone.utc)),
        ("9999-12-31T23:59:59-14:00", datetime.max.replace(tzinfo=timezone.utc)),
        ("0001-01-01T00:00:00+14:00", datetime.min.replace(tzinfo=timezone.utc)),
        ("²", None),
        (True, None),
        (None, None),
    ],
)
def test_to_datetime(value, expected):
    assert to_datetime(value) == expected
