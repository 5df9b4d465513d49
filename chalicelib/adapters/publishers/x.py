"""X API v2: a public reply is ``POST /2/tweets`` with ``reply.in_reply_to_tweet_id``; a private reply is a direct
message, ``POST /2/dm_conversations/with/:participant_id/messages``.

Auth: OAuth 2.0 user context (the brand's account), ``Authorization: Bearer <access token>``. Access tokens last
two hours; the refresh token (``offline.access``) is exchanged at ``POST /2/oauth2/token``
(``grant_type=refresh_token``), and X rotates it on every exchange, so the new one is written back to SSM.

Rules before posting: self-serve tiers (``X_API_TIER=self_serve``, the default) may reply only to a post whose
author mentioned or quoted the brand; enterprise may reply to any post. The text is checked first (cheap); only
when it names no ``@brand`` is the post looked up (mentions entity, quoted post's author).

Read-back: the brand's own timeline since the first attempt (``GET /2/users/:id/tweets?start_time=``) for a reply
to the target with this claim's text; for a DM, the conversation's events (``GET
/2/dm_conversations/with/:id/dm_events``) for our text. Both lists are newest first and paged (100 a page,
``meta.next_token`` -> ``pagination_token``): the read-back follows them until a page reaches back past the first
attempt, at most ``READ_BACK_PAGES`` pages. Texts are compared as X shows them
(:func:`~chalicelib.domain.publishing.is_our_reply`: links are t.co links there, ``&`` is escaped), so another
post of the brand on the same target (the approved reply beside a survey line) is never taken for this one.

Length: X counts with twitter-text v3 (:func:`chalicelib.domain.channel_length.weighted_length`, pure: the approval
page refuses with the same count before the run moves on).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from chalicelib.adapters.publishers.base import PlatformAdapter
from chalicelib.adapters.publishers.http import (
    AccessToken,
    Credentials,
    Grant,
    Response,
    Stop,
    Transport,
    basic_auth,
    parse_time,
    retry_after,
    server_error,
    token_endpoint_failure,
)
from chalicelib.domain.channel_length import TCO_LENGTH as TCO_LENGTH  # re-exported: X's counting lives there
from chalicelib.domain.channel_length import weighted_length as weighted_length
from chalicelib.domain.publishing import (
    PRIVATE_REPLY,
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

BASE_URL = "https://api.x.com"
SELF_SERVE = "self_serve"
ENTERPRISE = "enterprise"
# The names the brand configures (SSM SecureString or environment).
CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = "X_OAUTH_CLIENT_ID", "X_OAUTH_CLIENT_SECRET", "X_OAUTH_REFRESH_TOKEN"
BRAND_USER_ID, BRAND_HANDLE, API_TIER = "X_BRAND_USER_ID", "X_BRAND_HANDLE", "X_API_TIER"

_TWEPOCH_MS = 1288834974657  # X ids are snowflakes: their top bits are the creation time


def snowflake_time(identifier: str | None) -> datetime | None:
    """The creation time X encodes in a post or DM event id (the platform's own clock, to the millisecond)."""
    if not identifier or not identifier.isdigit():
        return None
    return datetime.fromtimestamp(((int(identifier) >> 22) + _TWEPOCH_MS) / 1000, tz=timezone.utc)


class XPublisher(PlatformAdapter):
    platform = "x"
    limits = {PUBLIC_REPLY: 280, PRIVATE_REPLY: 10_000}

    def __init__(
        self, base_url: str = BASE_URL, transport: Transport | None = None, credentials: Credentials | None = None
    ) -> None:
        super().__init__(base_url, transport, credentials)
        self.token = AccessToken(self._exchange_refresh_token)

    # -- auth -------------------------------------------------------------------------------------------------
    def _exchange_refresh_token(self, now: datetime, fresh: bool) -> Grant:
        creds = self.credentials
        client_id = creds.require(CLIENT_ID)
        form = {
            "grant_type": "refresh_token",
            "refresh_token": creds.require(REFRESH_TOKEN, fresh=fresh),
            "client_id": client_id,
        }
        secret = creds.get(CLIENT_SECRET)
        headers = {"Authorization": basic_auth(client_id, secret)} if secret else {}  # confidential clients
        response = self.transport.request("POST", self.base_url + "/2/oauth2/token", now, headers=headers, form=form)
        if response.status != 200:
            raise token_endpoint_failure(response, now, "X token refresh")
        body = response.json()
        if body.get("refresh_token"):
            creds.put(REFRESH_TOKEN, body["refresh_token"])  # rotated: the old one no longer works
        return Grant(str(body.get("access_token", "")), now + timedelta(seconds=int(body.get("expires_in", 7200))))

    # -- rules ------------------------------------------------------------------------------------------------
    def _rules(self, target: ReplyTarget, channel: str, text: str, now: datetime) -> PublishResult | None:
        if channel != PUBLIC_REPLY or (self.credentials.get(API_TIER) or SELF_SERVE) != SELF_SERVE:
            return None
        handle = self.credentials.require(BRAND_HANDLE).lstrip("@")
        if re.search(rf"(?<![\w@])@{re.escape(handle)}(?!\w)", target.text, re.IGNORECASE):
            return None
        brand_id = self.credentials.require(BRAND_USER_ID)
        answer = self.call(
            "GET",
            f"/2/tweets/{target.external_id}",
            now,
            "X post look-up",
            query={"tweet.fields": "author_id,entities,referenced_tweets", "expansions": "referenced_tweets.id"},
        ).json()
        post = answer.get("data")
        if not isinstance(post, dict):
            return final(Reason.TARGET_GONE, "X: the post is deleted or not visible")
        mentions = (post.get("entities") or {}).get("mentions") or []
        if any(str(m.get("username", "")).lower() == handle.lower() or str(m.get("id")) == brand_id for m in mentions):
            return None
        quoted = {ref.get("id") for ref in post.get("referenced_tweets") or [] if ref.get("type") == "quoted"}
        included = (answer.get("includes") or {}).get("tweets") or []
        if any(t.get("id") in quoted and str(t.get("author_id")) == brand_id for t in included):
            return None
        return final(
            Reason.NOT_MENTIONED,
            f"X self-serve tiers may reply only when the author mentioned or quoted "
            f"@{handle}; this post does neither (an enterprise tier may reply)",
        )

    # -- posting ----------------------------------------------------------------------------------------------
    def _participant(self, target: ReplyTarget) -> str:
        # A DM conversation is named by the other participant (the parser puts the sender there for DMs).
        participant = target.thread_id if target.kind == "message" and target.thread_id else target.author_id
        if not participant:
            raise Stop(final(Reason.REJECTED, "X: the mention names no author to message"))
        return participant

    def _post(self, target: ReplyTarget, channel: str, text: str, now: datetime) -> PublishResult:
        if channel == PUBLIC_REPLY:
            body = self.call(
                "POST",
                "/2/tweets",
                now,
                "X reply",
                json_body={"text": text, "reply": {"in_reply_to_tweet_id": target.external_id}},
            ).json()
            post_id = str((body.get("data") or {}).get("id") or "")
            return done(post_id or None, snowflake_time(post_id))
        participant = self._participant(target)
        body = self.call(
            "POST",
            f"/2/dm_conversations/with/{participant}/messages",
            now,
            "X direct message",
            json_body={"text": text},
        ).json()
        event_id = str((body.get("data") or {}).get("dm_event_id") or "")
        return done(event_id or None, snowflake_time(event_id))

    READ_BACK_PAGES = 10  # a read-back reads at most this many pages of 100, then gives up (and posts again)

    def _find_posted(
        self, target: ReplyTarget, channel: str, text: str, since: datetime, now: datetime
    ) -> PublishResult | None:
        brand_id = self.credentials.require(BRAND_USER_ID)
        if channel == PUBLIC_REPLY:
            start = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            for post in self._read_back_pages(
                f"/2/users/{brand_id}/tweets",
                {"start_time": start, "max_results": 100, "tweet.fields": "created_at,referenced_tweets"},
                since,
                now,
                "X timeline read-back",
            ):
                replied = {r.get("id") for r in post.get("referenced_tweets") or [] if r.get("type") == "replied_to"}
                if target.external_id in replied and is_our_reply(post.get("text"), text):
                    return done(str(post["id"]), parse_time(post.get("created_at")), Reason.FOUND_BY_READ_BACK)
            return None
        for event in self._read_back_pages(
            f"/2/dm_conversations/with/{self._participant(target)}/dm_events",
            {"event_types": "MessageCreate", "max_results": 100, "dm_event.fields": "created_at,sender_id,text"},
            since,
            now,
            "X DM read-back",
        ):
            at = parse_time(event.get("created_at"))
            if str(event.get("sender_id")) == brand_id and at and at >= since and is_our_reply(event.get("text"), text):
                return done(str(event["id"]), at, Reason.FOUND_BY_READ_BACK)
        return None

    def _read_back_pages(
        self, path: str, query: dict[str, Any], since: datetime, now: datetime, what: str
    ) -> Iterator[dict[str, Any]]:
        """The items of a newest-first list, page after page (``meta.next_token`` -> ``pagination_token``), until a
        page reaches back past ``since`` or ``READ_BACK_PAGES`` pages were read (a read-back never loops)."""
        token: str | None = None
        for _ in range(self.READ_BACK_PAGES):
            page = self.call(
                "GET", path, now, what, query={**query, **({"pagination_token": token} if token else {})}
            ).json()
            items = [item for item in page.get("data") or [] if isinstance(item, dict)]
            yield from items
            times = [
                at for item in items if (at := parse_time(item.get("created_at")) or snowflake_time(item.get("id")))
            ]
            token = str((page.get("meta") or {}).get("next_token") or "") or None
            if token is None or (times and min(times) < since):
                return

    # -- errors -----------------------------------------------------------------------------------------------
    def _failure(self, response: Response, now: datetime, what: str) -> PublishResult:
        """X answers problems as ``{"title", "detail", "type", "status"}`` (v2) or ``{"errors": [{"message"}]}``."""
        status = response.status
        body = response.json()
        detail = str(body.get("detail") or _first_error(body) or body.get("title") or f"HTTP {status}")
        said = f"{what}: {detail}"
        lowered = detail.lower()
        if status == 429:
            return retry(Reason.RATE_LIMITED, retry_after(response, now), said, status=429)
        if status >= 500:
            return server_error(response, now, what)
        if "duplicate" in lowered:
            return final(Reason.DUPLICATE_CONTENT, said, status)
        if "deleted or not visible" in lowered or status == 404:
            return final(Reason.TARGET_GONE, said, status)
        if "not been mentioned" in lowered or "not allowed because" in lowered:
            return final(Reason.NOT_MENTIONED, said, status)
        if status == 403 and (
            "client-forbidden" in str(body.get("type", ""))
            or "permission" in lowered
            or "oauth" in lowered
            or "scope" in lowered
        ):
            return alert(Reason.PERMISSION_MISSING, said, status)
        return final(Reason.REJECTED, said, status)


def _first_error(body: dict[str, Any]) -> str:
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message") or errors[0].get("detail") or "")
    return ""
