"""A platform's 429 is waited out as its headers say, within a day, and no header value escapes as an exception."""

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.publishers.http import (
    RETRY_AFTER_MAX_SECONDS,
    RETRY_UNKNOWN_LIMIT_SECONDS,
    Response,
    retry_after,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(seconds=RETRY_AFTER_MAX_SECONDS)
UNKNOWN = timedelta(seconds=RETRY_UNKNOWN_LIMIT_SECONDS)


def waited(headers: dict[str, str]) -> timedelta:
    return retry_after(Response(status=429, headers=headers, body=b""), NOW) - NOW


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"x-rate-limit-reset": str(int(NOW.timestamp()) + 300)}, timedelta(seconds=301)),
        ({"retry-after": "120"}, timedelta(seconds=120)),
        ({"retry-after": "Tue, 01 Dec 2026 12:10:00 GMT"}, timedelta(minutes=10)),
        ({"x-rate-limit-reset": "99999999999999999"}, DAY),  # past datetime's range: OSError before
        ({"retry-after": "99999999999999999"}, DAY),  # OverflowError before
        ({"retry-after": "Fri, 31 Dec 9999 23:59:59 -1400"}, UNKNOWN),  # no UTC time: as if absent
        ({"x-rate-limit-reset": "²"}, UNKNOWN),  # "²".isdigit() is True, int("²") a ValueError
        ({"retry-after": "soon"}, UNKNOWN),
        ({}, UNKNOWN),
        ({"x-rate-limit-reset": str(int(NOW.timestamp()) - 50)}, timedelta(seconds=1)),  # a reset already past
    ],
    ids=["reset", "seconds", "date", "huge-reset", "huge-seconds", "far-date", "unicode-digit", "words", "none"]
    + ["past"],
)
def test_a_429_is_retried_when_its_headers_say_within_a_day(headers, wait):
    assert waited(headers) == wait
