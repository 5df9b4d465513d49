"""Reading the times real exports carry, for the offline commands (``classify``, ``detect-surges``).

The webhooks are strict (the generic one takes ISO-8601 only); a JSONL file replayed offline comes from wherever
a user got it, so :func:`read_time` takes the common forms and answers an aware UTC datetime:

- ISO-8601 with ``T`` or a space, with or without seconds, fraction and zone (``Z``, ``UTC``, ``+08:00``,
  ``+0800``, ``+08``); a date alone is its midnight; no zone means UTC;
- the same with a space before the zone, as the airline dataset writes it: ``2015-02-24 11:35:52 -0800``;
- Twitter's classic ``created_at``: ``Tue Oct 31 22:10:47 +0000 2017``;
- RFC 2822 (e-mail, RSS): ``Tue, 31 Oct 2017 22:10:47 +0000``;
- epoch seconds or milliseconds, as a number or a string of digits: from 10**11 up a number is milliseconds
  (10**11 seconds is the year 5138, 10**11 milliseconds 1973).

Anything else, and a time before 1970 or from the year 10000, raises ``ValueError`` naming the value. Pure.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

TWITTER_TIME = "%a %b %d %H:%M:%S %z %Y"
MILLISECONDS_FROM = 1e11
"""An epoch number from here up is milliseconds: 10**11 seconds is the year 5138, 10**11 ms is 1973."""
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST_EPOCH = 253402300800.0  # 10000-01-01T00:00:00Z

_ISO_LIKE = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?)?"
    r"\s*(?:(?P<utc>[Zz]|UTC|GMT)|(?P<sign>[+-])(?P<oh>\d{2})(?::?(?P<om>\d{2}))?)?"
)
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?")  # ASCII digits only ("²".isdigit() is True)


def read_time(value: Any) -> datetime:
    """``value`` (see the module's list of forms) as an aware UTC datetime, or ``ValueError`` naming it."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_epoch(float(value), value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a time")
    text = value.strip()
    if _NUMBER.fullmatch(text):
        return _from_epoch(float(text), value)
    parsed = _iso_like(text) or _named_formats(text)
    if parsed is None:
        raise ValueError(
            f"{value!r} is not a time this reads (ISO-8601, '2015-02-24 11:35:52 -0800', "
            "'Tue Oct 31 22:10:47 +0000 2017', RFC 2822 or epoch seconds/ms)"
        )
    try:
        parsed = parsed.astimezone(timezone.utc)
    except OverflowError:  # 9999-12-31T23:59:59-14:00 is in the year 10000
        raise ValueError(f"{value!r} is not a time from 1970 to 9999") from None
    if parsed < EPOCH:
        raise ValueError(f"{value!r} is not a time from 1970 to 9999")
    return parsed


def epoch_seconds(value: Any) -> float:
    """:func:`read_time` as epoch seconds."""
    return read_time(value).timestamp()


def _from_epoch(number: float, value: Any) -> datetime:
    if math.isfinite(number) and number >= MILLISECONDS_FROM:
        number /= 1000
    if not 0 <= number < LATEST_EPOCH:  # also False for NaN
        raise ValueError(f"{value!r} is not a time from 1970 to 9999")
    return EPOCH + timedelta(seconds=number)


def _iso_like(text: str) -> datetime | None:
    found = _ISO_LIKE.fullmatch(text)
    if found is None:
        return None
    try:
        day = datetime.strptime(found["date"], "%Y-%m-%d")
        fraction = (found["frac"] or "0")[:6].ljust(6, "0")
        moment = day.replace(
            hour=int(found["h"] or 0),
            minute=int(found["m"] or 0),
            second=int(found["s"] or 0),
            microsecond=int(fraction),
        )
        zone = timezone.utc
        if found["sign"]:
            offset = timedelta(hours=int(found["oh"]), minutes=int(found["om"] or 0))
            zone = timezone(offset if found["sign"] == "+" else -offset)
        return moment.replace(tzinfo=zone)
    except ValueError:  # 2015-02-30, 25:00, an offset of 24 hours or more
        return None


def _named_formats(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, TWITTER_TIME)
    except ValueError:
        pass
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    else:
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    try:
        parsed = datetime.fromisoformat(text)  # what else Python reads as ISO-8601 (20150224T113552Z ...)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
