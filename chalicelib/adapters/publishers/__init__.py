"""Publishers for the platforms' own APIs, chosen by the mention's platform.

``make run`` and the tests keep the outbox (``adapters.outbox``) as the default: a platform is published to for real
only when it is listed in ``PUBLISH_TO_PLATFORMS`` (comma-separated, e.g. ``x,facebook``) and its credentials are
configured (see each module). Base URLs are arguments, so tests point them at local contract servers.

=========== ======================= ====================================================== =============
platform    public reply            private reply                                          module
=========== ======================= ====================================================== =============
x           POST /2/tweets          POST /2/dm_conversations/with/:participant_id/messages ``x``
facebook    POST /{comment}/comments POST /{page}/messages, recipient.comment_id           ``facebook``
instagram   POST /{comment}/replies POST /{page}/messages, recipient.comment_id            ``instagram``
youtube     comments.insert         (none)                                                 ``youtube``
trustpilot  POST /v1/private/reviews/{id}/reply (none)                                     ``trustpilot``
=========== ======================= ====================================================== =============
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.publishers.facebook import FacebookPublisher
from chalicelib.adapters.publishers.http import Credentials, Transport
from chalicelib.adapters.publishers.instagram import InstagramMentionReader, InstagramPublisher
from chalicelib.adapters.publishers.once import ExactlyOncePublisher
from chalicelib.adapters.publishers.trustpilot import TrustpilotPublisher
from chalicelib.adapters.publishers.x import XPublisher
from chalicelib.adapters.publishers.youtube import YouTubePublisher
from chalicelib.domain.models import Mention
from chalicelib.domain.publishing import ChannelPost, Next, PublishResult
from chalicelib.services.ports import PlatformPublisher, PublishClaims

if TYPE_CHECKING:
    from chalicelib.adapters.outbox import OutboxPublisher

PUBLISHER_CLASSES = {
    "x": XPublisher,
    "facebook": FacebookPublisher,
    "instagram": InstagramPublisher,
    "youtube": YouTubePublisher,
    "trustpilot": TrustpilotPublisher,
}


def enabled_platforms(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The platforms whose replies go to the platform itself; the others keep the outbox."""
    raw = (os.environ if environ is None else environ).get("PUBLISH_TO_PLATFORMS", "")
    return frozenset(name.strip() for name in raw.split(",") if name.strip() in PUBLISHER_CLASSES)


def build_publishers(
    platforms: frozenset[str] | set[str],
    base_urls: Mapping[str, str] | None = None,
    transport: Transport | None = None,
    credentials: Credentials | None = None,
) -> dict[str, PlatformPublisher]:
    """One publisher per platform, sharing one connection pool. ``base_urls`` overrides a platform's API address
    (``youtube_token`` overrides Google's token endpoint)."""
    urls = dict(base_urls or {})
    transport = transport or Transport()
    credentials = credentials or Credentials()
    built: dict[str, PlatformPublisher] = {}
    for platform in sorted(platforms):
        kwargs: dict[str, Any] = {"transport": transport, "credentials": credentials}
        if platform in urls:
            kwargs["base_url"] = urls[platform]
        if platform == "youtube" and "youtube_token" in urls:
            kwargs["token_url"] = urls["youtube_token"]
        built[platform] = PUBLISHER_CLASSES[platform](**kwargs)
    return built


def instagram_mention_completer(
    environ: Mapping[str, str] | None = None,
    base_url: str | None = None,
    transport: Transport | None = None,
    credentials: Credentials | None = None,
) -> Callable[[Mention, datetime], Mention] | None:
    """What fills in an Instagram @mention's words before triage (``Pipeline.complete``, ``bootstrap``), when
    Instagram's Graph API is switched on (``instagram`` in ``PUBLISH_TO_PLATFORMS``, with its credentials); else
    ``None`` and such mentions keep the webhook's empty text."""
    if "instagram" not in enabled_platforms(environ):
        return None
    kwargs: dict[str, Any] = {"transport": transport or Transport(), "credentials": credentials or Credentials()}
    if base_url:
        kwargs["base_url"] = base_url
    return InstagramMentionReader(**kwargs).complete


def reply_length_limit(platform: str, channel: str) -> int | None:
    """The longest reply a platform's channel takes (for the responder's page and the server-side check), counted
    as :func:`~chalicelib.domain.channel_length.reply_length` counts for that platform."""
    cls = PUBLISHER_CLASSES.get(platform)
    return cls.limits.get(channel) if cls else None


class RoutedPublisher:
    """Implements :class:`chalicelib.services.ports.ReplyPublisher`: a reply goes to its mention's platform when
    that platform is switched on (``platforms``: exactly once, under a claim), else to the outbox. Every reply that
    goes out is kept in the outbox table either way (what ``make run`` prints and responders' pages show)."""

    def __init__(self, outbox: OutboxPublisher, platforms: ExactlyOncePublisher | None = None) -> None:
        self.outbox = outbox
        self.platforms = platforms

    def publish(self, post: ChannelPost, now: datetime) -> PublishResult:
        if self.platforms is None or post.target.platform not in self.platforms.publishers:
            return self.outbox.publish(post, now)
        result = self.platforms.publish(post, now)
        if result.next is Next.DONE:
            self.outbox.record_sent(post, result, now)
        return result

    def length_limit(self, platform: str, channel: str) -> int | None:
        return reply_length_limit(platform, channel)

    def recent(self, now: datetime) -> list[dict[str, Any]]:
        return self.outbox.recent(now)

    def replies_for(self, issue_id: str) -> list[dict[str, Any]]:
        return self.outbox.replies_for(issue_id)


__all__ = [
    "ExactlyOncePublisher",
    "PUBLISHER_CLASSES",
    "RoutedPublisher",
    "build_publishers",
    "enabled_platforms",
    "instagram_mention_completer",
    "reply_length_limit",
    "PublishClaims",
]
