"""Exactly once toward the platform: claim, check the rules, read back when an earlier attempt may have posted,
post, record. Wraps the platform publishers; the caller gets one :class:`PublishResult` per channel and turns it
into an audit event (and an alert when ``result.alert``), or a redelivery at ``result.retry_at``.

The claim for a reply is keyed by the protocol run and the channel, like the outbox's id, so a redelivered publish
message answers the stored outcome (``repeat=True``) instead of posting. A Meta private reply is keyed by the
comment instead: Meta allows one per comment, whichever run sends it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta

from chalicelib.domain.publishing import (
    PRIVATE_REPLY,
    ChannelPost,
    Claim,
    ClaimStatus,
    Next,
    PublishResult,
    Reason,
    done,
    final,
    retry,
)
from chalicelib.services.ports import PlatformPublisher, PublishClaims

LEASE_SECONDS = 60  # longer than one post can take (two requests at most 10 s each, plus a refresh)
CLOCK_SKEW = timedelta(minutes=2)  # read-back looks this far before our first attempt (the platform's clock)
ONE_PRIVATE_REPLY_PLATFORMS = ("facebook", "instagram")
# What a platform answers a post it already has: after an uncertain attempt, the post is live (found, not refused).
ALREADY_POSTED = (Reason.ALREADY_REPLIED, Reason.DUPLICATE_CONTENT)


def claim_id(request: ChannelPost) -> str:
    if request.channel == PRIVATE_REPLY and request.target.platform in ONE_PRIVATE_REPLY_PLATFORMS:
        key = f"private|{request.target.platform}|{request.target.external_id}"
    else:
        key = f"{request.run}|{request.channel}"
    return "pub-" + hashlib.sha256(key.encode()).hexdigest()[:24]


class ExactlyOncePublisher:
    def __init__(
        self, publishers: Mapping[str, PlatformPublisher], claims: PublishClaims, lease_seconds: int = LEASE_SECONDS
    ) -> None:
        self.publishers = publishers
        self.claims = claims
        self.lease_seconds = lease_seconds

    def publish(self, request: ChannelPost, now: datetime) -> PublishResult:
        publisher = self.publishers.get(request.target.platform)
        if publisher is None:
            return final(Reason.PLATFORM_UNSUPPORTED, f"no publisher for {request.target.platform or 'this mention'}")
        claim = self.claims.begin(claim_id(request), request, now, self.lease_seconds)
        other_run = claim.run != request.run
        if claim.status is ClaimStatus.PUBLISHED:
            if other_run:
                return final(
                    Reason.ONE_PRIVATE_REPLY,
                    f"{request.target.platform} allows one private reply per comment, and this comment already has one",
                )
            return (claim.result or done(None, None)).as_repeat()
        if claim.status is ClaimStatus.SETTLED and not other_run:
            return (claim.result or final(Reason.REJECTED, "settled earlier")).as_repeat()
        if claim.status is ClaimStatus.BUSY:
            if other_run:
                return final(
                    Reason.ONE_PRIVATE_REPLY,
                    f"another protocol run is sending this comment's one {request.target.platform} private reply",
                )
            return retry(
                Reason.IN_FLIGHT,
                claim.lease_until or now + timedelta(seconds=self.lease_seconds),
                "an earlier attempt holds this post until then",
            )
        if claim.status is ClaimStatus.UNCERTAIN and other_run:
            return final(
                Reason.ONE_PRIVATE_REPLY,
                "another protocol run may already have sent this comment's one "
                f"{request.target.platform} private reply",
            )
        if (
            claim.status in (ClaimStatus.RELEASED, ClaimStatus.UNCERTAIN)
            and claim.lease_until
            and claim.lease_until > now
        ):
            # Not before the time the last attempt was told (a rate limit's reset, a 5xx back-off).
            return retry(
                claim.result.reason if claim.result else Reason.IN_FLIGHT,
                claim.lease_until,
                "the last attempt was told to wait until then",
            )
        uncertain = claim.status is ClaimStatus.UNCERTAIN
        if claim.status is not ClaimStatus.NEW:
            taken = self.claims.take_over(claim, request, now, self.lease_seconds)
            if taken is None:
                return retry(
                    Reason.IN_FLIGHT, now + timedelta(seconds=self.lease_seconds), "another worker took this post over"
                )
            claim = taken
        return self._attempt(publisher, claim, request, now, uncertain)

    def _attempt(
        self, publisher: PlatformPublisher, claim: Claim, request: ChannelPost, now: datetime, uncertain: bool
    ) -> PublishResult:
        target, channel, text = request.target, request.channel, request.text
        refused = publisher.check(target, channel, text, now)
        if refused is not None:
            return self._record(claim, refused, now)
        if uncertain:
            found = publisher.find_posted(target, channel, text, claim.first_attempt_at - CLOCK_SKEW, now)
            if found is not None:
                return self._record(claim, found, now)
        result = publisher.post(target, channel, text, now)
        if uncertain and result.reason in ALREADY_POSTED:
            # Meta refuses a second private reply, X a second post with the same text: after an attempt that may
            # have posted (and a read-back that did not reach it), that one is ours.
            result = done(None, None, Reason.FOUND_BY_READ_BACK)
        return self._record(claim, result, now)

    def _record(self, claim: Claim, result: PublishResult, now: datetime) -> PublishResult:
        if result.next is Next.DONE:
            self.claims.record_published(claim, result, now)
        elif result.next is Next.RETRY:
            self.claims.release(claim, result, now)
        else:
            self.claims.settle(claim, result, now)
        return result
