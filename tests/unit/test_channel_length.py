"""A reply's length is counted by one pure function per platform (``chalicelib.domain.channel_length``), used both by
the approval page's rule (``over_limit``, before the run moves on) and by the publisher's own check (before it
posts): a reply the page takes is never refused later as too long, and one the publisher would refuse is refused
on the page (review: 150 emoji and forty ``a.co`` links passed the page and were refused by X for good)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from chalicelib.adapters.publishers import PUBLISHER_CLASSES, reply_length_limit
from chalicelib.adapters.publishers.http import Credentials
from chalicelib.adapters.publishers.x import XPublisher
from chalicelib.domain.approval import Answer, Approval, Refused, decide, over_limit
from chalicelib.domain.channel_length import reply_length, weighted_length
from chalicelib.domain.publishing import PRIVATE_REPLY, PUBLIC_REPLY, Reason

NOW = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
EMOJI = "\U0001f600" * 150  # 150 code points; X counts 300
LINKS = " ".join(["a.co"] * 40)  # 199 code points; X counts 40 * 23 + 39 = 959


def x_limits() -> dict[str, int | None]:
    return {channel: reply_length_limit("x", channel) for channel in (PUBLIC_REPLY, PRIVATE_REPLY)}


def drafting(channels: tuple[str, ...] = ()) -> Approval:
    return Approval(
        approval_id="a1",
        issue_id="i1",
        person="pr-lead@aurelle.example",
        step="draft",
        action="draft",
        role="pr_lead",
        protocol="high_priority",
        attempt="1",
        outcomes=("submitted",),
        draft="",
        comment="",
        commented_by="",
        status="pending",
        created_at="2024-05-01T12:00:00+00:00",
        expires_at=0,
        token_ref="t",
        channels=channels,
    )


@pytest.mark.parametrize(("text", "x_count"), [(EMOJI, 300), (LINKS, 959)], ids=["150 emoji", "40 links"])
def test_the_approval_rule_counts_an_x_reply_as_x_does(text, x_count):
    assert len(text) <= 280 < x_count == weighted_length(text) == reply_length("x", text)
    refused = over_limit(text, (PUBLIC_REPLY,), x_limits(), "x")
    assert refused is not None and f"{x_count} characters" in refused and "at most 280" in refused
    with pytest.raises(Refused) as caught:
        decide(drafting(), Answer(outcome="submitted", draft=text, channels=(PUBLIC_REPLY,)), x_limits(), (), "x")
    assert caught.value.status == 400
    # the same text as a private reply (10,000) is fine
    assert over_limit(text, (PRIVATE_REPLY,), x_limits(), "x") is None


def test_other_platforms_count_code_points():
    for platform in ("facebook", "instagram", "youtube", "trustpilot", "generic", ""):
        assert reply_length(platform, EMOJI) == len(EMOJI) == 150
        assert reply_length(platform, LINKS) == len(LINKS)


def _samples(limit: int) -> list[str]:
    """Texts around ``limit`` in each counting that could disagree: ASCII, emoji, links, CJK, combining marks."""
    out = []
    for size in (limit - 1, limit, limit + 1):
        out += ["a" * size, "\U0001f600" * size, "日" * size, "e\u0301" * (size // 2)]
        out.append(" ".join(["a.co"] * (size // 5 + 1)))
        out.append("\U0001f600" * (size // 2) + "a" * (size % 2))
    return out


@pytest.mark.parametrize("platform", sorted(PUBLISHER_CLASSES))
def test_the_page_and_the_publisher_never_disagree_on_length(platform):
    publisher = PUBLISHER_CLASSES[platform](credentials=Credentials(environ={}))
    publisher._rules = lambda *args: None  # type: ignore[method-assign]  # the length part of the check only
    for channel, stated in publisher.limits.items():
        limits = {channel: reply_length_limit(platform, channel)}
        assert limits[channel] == stated and publisher.length_limit(channel) == stated
        for text in _samples(stated or 300):
            page_refuses = over_limit(text, (channel,), limits, platform) is not None
            result = publisher.check(None, channel, text, NOW)  # type: ignore[arg-type]
            publisher_refuses = result is not None and result.reason is Reason.TOO_LONG
            assert page_refuses == publisher_refuses, (platform, channel, len(text))


def test_a_reply_limit_is_the_number_the_publisher_states():
    assert reply_length_limit("x", PUBLIC_REPLY) == 280 == XPublisher().length_limit(PUBLIC_REPLY)
    assert (
        reply_length_limit("trustpilot", PUBLIC_REPLY) is None and reply_length_limit("nowhere", PUBLIC_REPLY) is None
    )


def test_a_platform_that_counts_code_points_or_none_named_counts_code_points():
    assert over_limit("a" * 281, (PUBLIC_REPLY,), {PUBLIC_REPLY: 280}) is not None
    assert over_limit(EMOJI, (PUBLIC_REPLY,), {PUBLIC_REPLY: 280}) is None
    assert over_limit(EMOJI, (PUBLIC_REPLY,), {PUBLIC_REPLY: 280}, "facebook") is None
