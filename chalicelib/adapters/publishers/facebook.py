"""Facebook Pages through the Graph API (``https://graph.facebook.com/<version>``, ``META_GRAPH_VERSION``, v25.0 by
default): a public reply is ``POST /{comment-id}/comments`` (``message``); a private reply is
``POST /{page-id}/messages`` with ``recipient.comment_id`` (or ``recipient.post_id`` for a visitor post).

Auth: a Page access token (``META_PAGE_ACCESS_TOKEN``) as ``Authorization: Bearer``. Long-lived Page tokens do not
expire on a clock, so nothing is refreshed: an OAuth error (code 190) re-reads the token from SSM once (someone may
have rotated it) and is then an ALERT.

Meta's private-reply rules, checked before posting: one private reply per comment (the claim for a private reply is
keyed by the comment, not by the protocol run, so a second run is refused), and only within 7 days of the comment.
Read-back: ``GET /{comment-id}/comments`` for a reply from the Page since the first attempt with this claim's text
(another reply of the Page there, such as the approved reply beside a survey line, is not this one). A private
reply has no read-back, but Meta itself refuses a second one, which after an uncertain attempt means the first got
through.

Graph errors are ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.publishers.base import PlatformAdapter
from chalicelib.adapters.publishers.http import (
    Credentials,
    Response,
    Transport,
    parse_time,
    server_error,
)
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

BASE_URL = "https://graph.facebook.com"
# Meta's Graph API versions changelog: v25.0 is available until 29 July 2028 (v21.0, the former default, only until
# 21 January 2027). META_GRAPH_VERSION overrides it.
DEFAULT_VERSION = "v25.0"
PAGE_TOKEN, PAGE_ID, GRAPH_VERSION = "META_PAGE_ACCESS_TOKEN", "META_PAGE_ID", "META_GRAPH_VERSION"
PRIVATE_REPLY_WINDOW = timedelta(days=7)
MESSENGER_TEXT_LIMIT = 2000

RATE_LIMIT_CODES = {4, 17, 32, 613, 80001, 80006}  # app, user, page, custom and business-use-case limits
PERMISSION_CODES = {10, 3} | set(range(200, 300))  # a permission not granted, or a capability missing
TRANSIENT_CODES = {1, 2}  # "unknown error", "service temporarily unavailable"
EXPIRED_TOKEN = 190
DUPLICATE_POST = 506
ALREADY_REPLIED = 10900  # "Activity already replied to" (a second private reply)
REPLY_WINDOW_CLOSED = 10903  # "This activity can't be replied to" (past 7 days)
OBJECT_MISSING = (100, 33)  # code 100, subcode 33: does not exist or cannot be loaded


def graph_error(body: dict[str, Any]) -> dict[str, Any]:
    error = body.get("error")
    return error if isinstance(error, dict) else {}


def usage_retry_at(response: Response, now: datetime) -> datetime:
    """Meta names when throttling ends in ``X-Business-Use-Case-Usage`` (``estimated_time_to_regain_access``, in
    minutes, per business id); without it, retry in five minutes (its rolling window is an hour)."""
    minutes = 0
    try:
        usage = json.loads(response.headers.get("x-business-use-case-usage") or "{}")
        for entries in usage.values():
            for entry in entries if isinstance(entries, list) else []:
                minutes = max(minutes, int(entry.get("estimated_time_to_regain_access") or 0))
    except (ValueError, AttributeError, TypeError):
        minutes = 0
    return now + timedelta(minutes=minutes or 5)


class GraphPublisher(PlatformAdapter):
    """What Facebook and Instagram share: the host, the token, the error object and the private-reply rules."""

    def __init__(
        self, base_url: str = BASE_URL, transport: Transport | None = None, credentials: Credentials | None = None
    ) -> None:
        super().__init__(base_url, transport, credentials)

    def _path(self, path: str) -> str:
        version = self.credentials.get(GRAPH_VERSION) or DEFAULT_VERSION
        return f"/{version}{path}"

    def _auth_headers(self, now: datetime, renew: bool = False) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.require(PAGE_TOKEN, fresh=renew)}"}

    def _is_unauthorized(self, response: Response) -> bool:
        return response.status == 401 or graph_error(response.json()).get("code") == EXPIRED_TOKEN

    def _rules(self, target: ReplyTarget, channel: str, text: str, now: datetime) -> PublishResult | None:
        if channel == PRIVATE_REPLY and target.created_at and now - target.created_at > PRIVATE_REPLY_WINDOW:
            return final(
                Reason.WINDOW_CLOSED,
                f"{self.platform}: a private reply must go within 7 days of the "
                f"comment; it was written {target.created_at.isoformat()}",
            )
        return None

    def _private_reply(self, target: ReplyTarget, text: str, now: datetime) -> PublishResult:
        page_id = self.credentials.require(PAGE_ID)
        recipient = {"post_id" if target.kind == "post" else "comment_id": target.external_id}
        body = self.call(
            "POST",
            self._path(f"/{page_id}/messages"),
            now,
            f"{self.platform} private reply",
            json_body={"recipient": recipient, "message": {"text": text}},
        ).json()
        return done(str(body.get("message_id") or "") or None, None)

    def _failure(self, response: Response, now: datetime, what: str) -> PublishResult:
        error = graph_error(response.json())
        code, subcode = error.get("code"), error.get("error_subcode")
        said = f"{what}: ({code}) {error.get('message') or 'HTTP ' + str(response.status)}"
        if code in RATE_LIMIT_CODES or response.status == 429:
            return retry(Reason.RATE_LIMITED, usage_retry_at(response, now), said, status=response.status)
        if response.status >= 500 or code in TRANSIENT_CODES:
            return server_error(response, now, what)
        if code in PERMISSION_CODES:
            return alert(Reason.PERMISSION_MISSING, said, response.status)
        if (code, subcode) == OBJECT_MISSING:
            return final(Reason.TARGET_GONE, said, response.status)
        if code == DUPLICATE_POST:
            return final(Reason.DUPLICATE_CONTENT, said, response.status)
        if code == ALREADY_REPLIED:
            return final(Reason.ALREADY_REPLIED, said, response.status)
        if code == REPLY_WINDOW_CLOSED:
            return final(Reason.WINDOW_CLOSED, said, response.status)
        return final(Reason.REJECTED, said, response.status)


class FacebookPublisher(GraphPublisher):
    platform = "facebook"
    limits = {PUBLIC_REPLY: 8000, PRIVATE_REPLY: MESSENGER_TEXT_LIMIT}

    def _post(self, target: ReplyTarget, channel: str, text: str, now: datetime) -> PublishResult:
        if channel == PRIVATE_REPLY:
            return self._private_reply(target, text, now)
        body = self.call(
            "POST", self._path(f"/{target.external_id}/comments"), now, "facebook reply", form={"message": text}
        ).json()
        return done(str(body.get("id") or "") or None, None)

    def _find_posted(
        self, target: ReplyTarget, channel: str, text: str, since: datetime, now: datetime
    ) -> PublishResult | None:
        if channel == PRIVATE_REPLY:
            return None  # no read-back: a repeated private reply is refused by Meta (ALREADY_REPLIED)
        page_id = self.credentials.require(PAGE_ID)
        answer = self.call(
            "GET",
            self._path(f"/{target.external_id}/comments"),
            now,
            "facebook read-back",
            query={
                "fields": "id,from,message,created_time",
                "filter": "stream",
                "order": "reverse_chronological",
                "limit": 100,
            },
        ).json()
        for comment in answer.get("data") or []:
            at = parse_time(comment.get("created_time"))
            by_page = str((comment.get("from") or {}).get("id")) == page_id
            if by_page and at and at >= since and is_our_reply(comment.get("message"), text):
                return done(str(comment["id"]), at, Reason.FOUND_BY_READ_BACK)
        return None
