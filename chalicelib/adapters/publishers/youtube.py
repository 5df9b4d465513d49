"""YouTube Data API v3: a reply to a comment is ``comments.insert`` (``POST /youtube/v3/comments?part=snippet`` with
``snippet.parentId`` and ``snippet.textOriginal``); a mention that is a video gets a top-level comment,
``commentThreads.insert``. YouTube has no private reply.

Auth: OAuth 2.0 for the brand's channel (scope ``youtube.force-ssl``): the refresh token is exchanged at Google's
token endpoint (``POST /token``, ``grant_type=refresh_token``) for an access token of about an hour.

Errors are ``{"error": {"code", "message", "errors": [{"domain", "reason", "message"}]}}``: ``quotaExceeded`` waits
for the daily quota to reset (midnight Pacific time), ``commentNotFound``/``parentCommentNotFound``/``videoNotFound``
are final. Read-back: ``comments.list?parentId=`` (or ``commentThreads.list?videoId=``) for the channel's reply
with this claim's text (``textOriginal``, which the API shows its author; else ``textDisplay`` as plain text),
page after page (``nextPageToken`` -> ``pageToken``, 100 a page, at most ``READ_BACK_PAGES``): a video's threads
(``order=time``, newest first) until a page reaches back past the first attempt; a comment's replies, whose order
the API does not document, to the last page.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.adapters.publishers.base import PlatformAdapter
from chalicelib.adapters.publishers.http import (
    AccessToken,
    Credentials,
    Grant,
    Response,
    Transport,
    parse_time,
    retry_after,
    server_error,
    token_endpoint_failure,
)
from chalicelib.domain.publishing import (
    PUBLIC_REPLY,
    PublishResult,
    Reason,
    ReplyTarget,
    alert,
    done,
    final,
    is_our_reply,
    retry,
)

BASE_URL = "https://www.googleapis.com"
TOKEN_URL = "https://oauth2.googleapis.com"
CLIENT_ID, CLIENT_SECRET = "YOUTUBE_OAUTH_CLIENT_ID", "YOUTUBE_OAUTH_CLIENT_SECRET"
REFRESH_TOKEN, CHANNEL_ID = "YOUTUBE_OAUTH_REFRESH_TOKEN", "YOUTUBE_CHANNEL_ID"
PACIFIC = ZoneInfo("America/Los_Angeles")
READ_BACK_PAGES = 10  # a read-back reads at most this many pages of 100 (1 quota unit each), then gives up

GONE = {"commentNotFound", "parentCommentNotFound", "videoNotFound", "channelNotFound"}
LIMITED = {"rateLimitExceeded", "userRateLimitExceeded"}
NO_PERMISSION = {"forbidden", "insufficientPermissions", "ineligibleAccount", "accessNotConfigured"}


def quota_reset(now: datetime) -> datetime:
    """The YouTube Data API's daily quota resets at midnight Pacific time."""
    tomorrow = now.astimezone(PACIFIC).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0, 1), PACIFIC).astimezone(timezone.utc)


def _top_level(thread: dict[str, Any]) -> dict[str, Any]:
    return dict((thread.get("snippet") or {}).get("topLevelComment") or {})


class YouTubePublisher(PlatformAdapter):
    platform = "youtube"
    limits = {PUBLIC_REPLY: 10_000}

    def __init__(
        self,
        base_url: str = BASE_URL,
        transport: Transport | None = None,
        credentials: Credentials | None = None,
        token_url: str = TOKEN_URL,
    ) -> None:
        super().__init__(base_url, transport, credentials)
        self.token_url = token_url.rstrip("/")
        self.token = AccessToken(self._exchange_refresh_token)

    def _exchange_refresh_token(self, now: datetime, fresh: bool) -> Grant:
        creds = self.credentials
        response = self.transport.request(
            "POST",
            self.token_url + "/token",
            now,
            form={
                "grant_type": "refresh_token",
                "client_id": creds.require(CLIENT_ID),
                "client_secret": creds.require(CLIENT_SECRET),
                "refresh_token": creds.require(REFRESH_TOKEN, fresh),
            },
        )
        if response.status != 200:
            raise token_endpoint_failure(response, now, "YouTube token refresh")
        body = response.json()
        return Grant(str(body.get("access_token", "")), now + timedelta(seconds=int(body.get("expires_in", 3599))))

    @staticmethod
    def _is_video(target: ReplyTarget) -> bool:
        return target.kind == "video"

    @staticmethod
    def _parent(target: ReplyTarget) -> str:
        # Replies hang off the top-level comment: answering a reply means replying to its parent.
        return target.parent_id if target.kind == "reply" and target.parent_id else target.external_id

    def _post(self, target: ReplyTarget, channel: str, text: str, now: datetime) -> PublishResult:
        if self._is_video(target):
            body = self.call(
                "POST",
                "/youtube/v3/commentThreads",
                now,
                "YouTube comment",
                query={"part": "snippet"},
                json_body={
                    "snippet": {
                        "channelId": self.credentials.require(CHANNEL_ID),
                        "videoId": target.external_id,
                        "topLevelComment": {"snippet": {"textOriginal": text}},
                    }
                },
            ).json()
            snippet = ((body.get("snippet") or {}).get("topLevelComment") or {}).get("snippet") or {}
        else:
            body = self.call(
                "POST",
                "/youtube/v3/comments",
                now,
                "YouTube reply",
                query={"part": "snippet"},
                json_body={"snippet": {"parentId": self._parent(target), "textOriginal": text}},
            ).json()
            snippet = body.get("snippet") or {}
        return done(str(body.get("id") or "") or None, parse_time(snippet.get("publishedAt")))

    def _find_posted(
        self, target: ReplyTarget, channel: str, text: str, since: datetime, now: datetime
    ) -> PublishResult | None:
        channel_id = self.credentials.require(CHANNEL_ID)
        video = self._is_video(target)
        query: dict[str, Any] = {"part": "snippet", "maxResults": 100, "textFormat": "plainText"}
        if video:  # order=time: newest thread first, so no page past one older than ``since`` can hold ours
            path = "/youtube/v3/commentThreads"
            query.update(videoId=target.external_id, order="time")
        else:  # comments.list documents no order for a comment's replies: read them all (bounded)
            path = "/youtube/v3/comments"
            query.update(parentId=self._parent(target))
        token: str | None = None
        for _ in range(READ_BACK_PAGES):
            page = self.call(
                "GET", path, now, "YouTube read-back", query={**query, **({"pageToken": token} if token else {})}
            ).json()
            items = page.get("items") or []
            comments = [_top_level(item) for item in items] if video else items
            oldest: datetime | None = None
            for comment in comments:
                snippet = comment.get("snippet") or {}
                at = parse_time(snippet.get("publishedAt"))
                oldest = at if at and (oldest is None or at < oldest) else oldest
                by_channel = (snippet.get("authorChannelId") or {}).get("value") == channel_id
                shown = snippet.get("textOriginal") or snippet.get("textDisplay")
                if by_channel and at and at >= since and is_our_reply(shown, text):
                    return done(str(comment.get("id")), at, Reason.FOUND_BY_READ_BACK)
            token = str(page.get("nextPageToken") or "") or None
            if token is None or (video and oldest is not None and oldest < since):
                return None
        return None  # past READ_BACK_PAGES pages: post again rather than read on

    def _failure(self, response: Response, now: datetime, what: str) -> PublishResult:
        error: dict[str, Any] = response.json().get("error") or {}
        reasons = {str(e.get("reason")) for e in error.get("errors") or [] if isinstance(e, dict)}
        said = f"{what}: {', '.join(sorted(reasons)) or 'HTTP ' + str(response.status)} {error.get('message', '')}"
        said = said.strip()
        if "quotaExceeded" in reasons:
            return retry(Reason.RATE_LIMITED, quota_reset(now), said, status=response.status)
        if reasons & LIMITED or response.status == 429:
            return retry(Reason.RATE_LIMITED, retry_after(response, now), said, status=response.status)
        if response.status >= 500:
            return server_error(response, now, what)
        if reasons & GONE or response.status == 404:
            return final(Reason.TARGET_GONE, said, response.status)
        if "commentTextTooLong" in reasons:
            return final(Reason.TOO_LONG, said, response.status)
        if reasons & NO_PERMISSION:
            return alert(Reason.PERMISSION_MISSING, said, response.status)
        return final(Reason.REJECTED, said, response.status)
