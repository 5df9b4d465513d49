"""X API v2 as the publisher uses it: OAuth 2.0 token refresh (rotating refresh tokens), ``POST /2/tweets`` (reply),
``GET /2/tweets/:id``, ``GET /2/users/:id/tweets``, ``POST``/``GET`` direct-message events.

Problems are answered as X does: ``{"title", "detail", "type", "status"}``; a 429 carries ``x-rate-limit-limit``,
``x-rate-limit-remaining`` and ``x-rate-limit-reset`` (epoch seconds). With ``tier="self_serve"`` a reply to a post
whose author neither mentioned nor quoted the brand is refused as X refuses it.

A post's text is shown as X shows it: every URL replaced by a ``https://t.co/...`` link (23 characters; the original
in ``entities.urls[].expanded_url``), and ``&``, ``<``, ``>`` HTML-escaped, so a read-back cannot compare texts
byte for byte.

Lists page as X documents: newest first, at most ``max_results`` a page (the timeline 5..100, default 10; DM events
1..100, default 100), ``meta.next_token`` while more remain, passed back as ``pagination_token`` (an opaque token;
an unknown one is a 400). A token marks the last item returned, so posts made between pages do not shift a page.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from typing import Any

from tests.contract_servers.base import Answer, ContractServer, Request, now, require

TWEPOCH_MS = 1288834974657
POST_FIELDS = {
    "text",
    "reply",
    "quote_tweet_id",
    "media",
    "poll",
    "reply_settings",
    "for_super_followers_only",
    "geo",
    "direct_message_deep_link",
    "nullcast",
    "community_id",
    "card_uri",
    "made_with_ai",
    "paid_partnership",
    "share_with_followers",
}
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
NOT_VISIBLE = "You attempted to reply to a Tweet that is deleted or not visible to you."
NOT_ENGAGED = (
    "Reply to this conversation is not allowed because you have not been mentioned or otherwise engaged "
    "by the author of the post you are replying to."
)


def problem(status: int, title: str, detail: str, type_: str = "about:blank") -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": type_, "status": status}


class XServer(ContractServer):
    def __init__(
        self,
        client_id: str,
        refresh_token: str,
        brand_id: str,
        brand_handle: str,
        tier: str = "self_serve",
        client_secret: str | None = None,
    ) -> None:
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.refresh_tokens = {refresh_token}
        self.brand_id, self.brand_handle, self.tier = brand_id, brand_handle, tier
        self.tweets: dict[str, dict[str, Any]] = {}  # every post the platform knows, by id
        self.dm_events: list[dict[str, Any]] = []
        self.posted_texts: dict[str, str] = {}  # post id -> the text as the brand sent it (before t.co)
        self.sequence = 0
        self.page_tokens: dict[str, int] = {}  # next_token -> the id of the last item the page before ended on
        self.route("POST", r"/2/oauth2/token", self.token)
        self.route("POST", r"/2/tweets", self.create_tweet, write=True)
        self.route("GET", r"/2/tweets/(\d+)", self.lookup)
        self.route("GET", r"/2/users/(\d+)/tweets", self.timeline)
        self.route("POST", r"/2/dm_conversations/with/(\d+)/messages", self.send_dm, write=True)
        self.route("GET", r"/2/dm_conversations/with/(\d+)/dm_events", self.dm_history)

    # -- state ----------------------------------------------------------------------------------------------
    def snowflake(self) -> str:
        self.sequence += 1
        return str(((int(time.time() * 1000) - TWEPOCH_MS) << 22) | (self.sequence & 0xFFF))

    def seed(self, author_id: str, text: str, quoted_id: str | None = None) -> str:
        """A post by someone else (the mention to reply to)."""
        tweet_id = self.snowflake()
        mentions = [{"username": h} for h in re.findall(r"(?<![\w@])@(\w+)", text)]
        refs = [{"type": "quoted", "id": quoted_id}] if quoted_id else []
        self.tweets[tweet_id] = {
            "id": tweet_id,
            "text": text,
            "author_id": author_id,
            "entities": {"mentions": mentions},
            "referenced_tweets": refs,
            "created_at": now().strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        }
        return tweet_id

    def brand_replies(self) -> list[dict[str, Any]]:
        return [t for t in self.tweets.values() if t["author_id"] == self.brand_id]

    def brand_dms(self) -> list[dict[str, Any]]:
        return [e for e in self.dm_events if e["sender_id"] == self.brand_id]

    # -- errors ---------------------------------------------------------------------------------------------
    def error(self, status: int, message: str) -> Answer:
        titles = {
            400: "Invalid Request",
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not Found Error",
            405: "Method Not Allowed",
            503: "Service Unavailable",
        }
        return Answer(status, problem(status, titles.get(status, "Error"), message))

    def rate_limited(self, request: Request) -> Answer:
        reset = int(time.time()) + 900
        return Answer(
            429,
            problem(429, "Too Many Requests", "Too Many Requests"),
            {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)},
        )

    def revoke(self) -> None:
        super().revoke()
        self.refresh_tokens.clear()

    def unauthorized(self, request: Request) -> Answer | None:
        if request.bearer() in self.access_tokens:
            return None
        return Answer(401, problem(401, "Unauthorized", "Unauthorized"))

    # -- routes ---------------------------------------------------------------------------------------------
    def token(self, request: Request, match: re.Match[str]) -> Answer:
        require(request.content_type == "application/x-www-form-urlencoded", 400, "token requests are form-encoded")
        form = request.form()
        require(form.get("grant_type") == "refresh_token", 400, "grant_type must be refresh_token")
        if self.client_secret:  # a confidential client authenticates with HTTP Basic
            require(request.basic() == (self.client_id, self.client_secret), 401, "client authentication failed")
        require(form.get("client_id") == self.client_id, 400, "Missing required parameter [client_id].")
        if form.get("refresh_token") not in self.refresh_tokens:
            return Answer(
                400, {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}
            )
        self.refresh_tokens.discard(form["refresh_token"])  # rotated: the old one is spent
        rotated = "rt-" + secrets.token_hex(8)
        self.refresh_tokens.add(rotated)
        return Answer(
            200,
            {
                "token_type": "bearer",
                "expires_in": 7200,
                "access_token": self.issue_access_token(),
                "scope": "tweet.read tweet.write users.read dm.read dm.write offline.access",
                "refresh_token": rotated,
            },
        )

    def create_tweet(self, request: Request, match: re.Match[str]) -> Answer:
        if denied := self.unauthorized(request):
            return denied
        require(request.content_type == "application/json", 400, "the body must be JSON")
        body = request.json()
        require(isinstance(body, dict), 400, "the body must be a JSON object")
        require(not set(body) - POST_FIELDS, 400, f"unknown fields {sorted(set(body) - POST_FIELDS)}")
        text = body.get("text")
        require(
            isinstance(text, str) and 0 < len(re.sub(r"https?://\S+", "x" * 23, text)) <= 280,
            400,
            "text must be 1..280 characters (a URL counts 23)",
        )
        reply = body.get("reply")
        require(
            isinstance(reply, dict) and set(reply) <= {"in_reply_to_tweet_id", "exclude_reply_user_ids"},
            400,
            "reply must be {in_reply_to_tweet_id}",
        )
        parent_id = reply.get("in_reply_to_tweet_id")
        require(
            isinstance(parent_id, str) and parent_id.isdigit(), 400, "in_reply_to_tweet_id must be a numeric string"
        )
        parent = self.tweets.get(parent_id)
        if parent is None:
            return self.error(403, NOT_VISIBLE)
        if any(self.posted_texts.get(t["id"]) == text for t in self.brand_replies()):
            return self.error(403, DUPLICATE)
        if self.tier == "self_serve" and not self._engaged(parent):
            return self.error(403, NOT_ENGAGED)
        tweet_id = self.snowflake()
        shown, urls = self.as_x_shows(text)
        self.posted_texts[tweet_id] = text
        self.tweets[tweet_id] = {
            "id": tweet_id,
            "text": shown,
            "author_id": self.brand_id,
            "entities": {"urls": urls} if urls else {},
            "referenced_tweets": [{"type": "replied_to", "id": parent_id}],
            "created_at": now().strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        }
        return Answer(201, {"data": {"id": tweet_id, "text": shown, "edit_history_tweet_ids": [tweet_id]}})

    def as_x_shows(self, text: str) -> tuple[str, list[dict[str, Any]]]:
        """The text with each URL a t.co link, then HTML-escaped, and the ``entities.urls`` X gives for it."""
        urls: list[dict[str, Any]] = []

        def shorten(match: re.Match[str]) -> str:
            link = "https://t.co/" + secrets.token_urlsafe(8)[:10]
            urls.append({"url": link, "expanded_url": match.group(0), "display_url": match.group(0)[8:30]})
            return link

        shown = html.escape(re.sub(r"https?://\S+", shorten, text), quote=False)
        return shown, urls

    def _engaged(self, parent: dict[str, Any]) -> bool:
        mentioned = any(m["username"].lower() == self.brand_handle.lower() for m in parent["entities"]["mentions"])
        quoted = any(
            self.tweets.get(r["id"], {}).get("author_id") == self.brand_id
            for r in parent["referenced_tweets"]
            if r["type"] == "quoted"
        )
        return mentioned or quoted

    def lookup(self, request: Request, match: re.Match[str]) -> Answer:
        if denied := self.unauthorized(request):
            return denied
        tweet = self.tweets.get(match.group(1))
        if tweet is None:  # X answers a missing post with 200 and an errors array
            return Answer(
                200,
                {
                    "errors": [
                        {
                            "value": match.group(1),
                            "detail": f"Could not find tweet with id: [{match.group(1)}].",
                            "title": "Not Found Error",
                            "resource_type": "tweet",
                            "parameter": "id",
                            "resource_id": match.group(1),
                            "type": "https://api.twitter.com/2/problems/resource-not-found",
                        }
                    ]
                },
            )
        quoted = [self.tweets[r["id"]] for r in tweet["referenced_tweets"] if r["id"] in self.tweets]
        answer: dict[str, Any] = {"data": tweet}
        if quoted and "referenced_tweets.id" in request.query.get("expansions", ""):
            answer["includes"] = {"tweets": quoted}
        return Answer(200, answer)

    def timeline(self, request: Request, match: re.Match[str]) -> Answer:
        if denied := self.unauthorized(request):
            return denied
        start = request.query.get("start_time", "")
        require(
            not start or re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", start) is not None,
            400,
            "start_time must be YYYY-MM-DDTHH:mm:ssZ",
        )
        require(5 <= int(request.query.get("max_results", "10")) <= 100, 400, "max_results must be 5..100")
        posts = [
            t for t in self.tweets.values() if t["author_id"] == match.group(1) and t["created_at"][:19] >= start[:19]
        ]
        return Answer(200, self.page(request, posts, default_size=10))

    def page(self, request: Request, items: list[dict[str, Any]], default_size: int) -> dict[str, Any]:
        """One page of ``items`` newest first (by snowflake id), from ``pagination_token`` on, as X answers it."""
        items = sorted(items, key=lambda item: int(item["id"]), reverse=True)
        token = request.query.get("pagination_token")
        if token is not None:
            require(token in self.page_tokens, 400, "pagination_token is not a token X gave")
            items = [item for item in items if int(item["id"]) < self.page_tokens[token]]
        size = int(request.query.get("max_results", str(default_size)))
        shown, rest = items[:size], items[size:]
        if not shown:
            return {"meta": {"result_count": 0}}
        meta: dict[str, Any] = {"result_count": len(shown), "newest_id": shown[0]["id"], "oldest_id": shown[-1]["id"]}
        if rest:
            meta["next_token"] = secrets.token_hex(12)
            self.page_tokens[meta["next_token"]] = int(shown[-1]["id"])
        return {"data": shown, "meta": meta}

    def send_dm(self, request: Request, match: re.Match[str]) -> Answer:
        if denied := self.unauthorized(request):
            return denied
        require(request.content_type == "application/json", 400, "the body must be JSON")
        body = request.json()
        require(isinstance(body, dict) and set(body) <= {"text", "attachments"}, 400, "body must be {text}")
        text = body.get("text")
        require(isinstance(text, str) and 0 < len(text) <= 10_000, 400, "text must be 1..10000 characters")
        participant = match.group(1)
        event_id = self.snowflake()
        conversation = "-".join(sorted([participant, self.brand_id], key=int))
        self.dm_events.append(
            {
                "id": event_id,
                "event_type": "MessageCreate",
                "text": text,
                "sender_id": self.brand_id,
                "participant": participant,
                "dm_conversation_id": conversation,
                "created_at": now().strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            }
        )
        return Answer(201, {"data": {"dm_conversation_id": conversation, "dm_event_id": event_id}})

    def dm_history(self, request: Request, match: re.Match[str]) -> Answer:
        if denied := self.unauthorized(request):
            return denied
        require(1 <= int(request.query.get("max_results", "100")) <= 100, 400, "max_results must be 1..100")
        events = [
            {k: v for k, v in e.items() if k != "participant"}
            for e in self.dm_events
            if e["participant"] == match.group(1)
        ]
        return Answer(200, self.page(request, events, default_size=100))
