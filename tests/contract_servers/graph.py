"""Meta's Graph API as the Facebook and Instagram publishers use it, under a version prefix (``/v25.0``):
``POST /{comment-id}/comments`` and ``GET`` (Facebook), ``POST /{ig-comment-id}/replies`` and ``GET`` (Instagram),
``POST /{page-id}/messages`` with ``recipient.comment_id`` (private replies: one per comment, within 7 days),
``POST /{ig-user-id}/mentions`` with ``media_id``, ``message`` and, for a comment, ``comment_id`` (a reply to an
@mention of the brand), and the brand's Instagram account's mention look-ups:
``GET /{ig-user-id}?fields=mentioned_comment.comment_id(ID){...}`` and ``mentioned_media.media_id(ID){...}``
(the only way to read a comment or caption that @mentions the brand).

Errors are ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``: 190 for a bad token, 32 with
``X-Business-Use-Case-Usage`` for throttling, 100/33 for a missing object, 10900 for a second private reply, 10903
past the 7 days, 2 for a passing outage.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from tests.contract_servers.base import Answer, ContractServer, Request, now, require

VERSION = r"/v\d+\.\d+"
PRIVATE_REPLY_WINDOW = timedelta(days=7)


def graph_error(message: str, code: int, type_: str = "OAuthException", subcode: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": type_, "code": code, "fbtrace_id": "A" + secrets.token_hex(10)}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def graph_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S+0000")


class GraphServer(ContractServer):
    def __init__(self, page_token: str, page_id: str, ig_user_id: str) -> None:
        super().__init__()
        self.access_tokens.add(page_token)
        self.page_id, self.ig_user_id = page_id, ig_user_id
        self.comments: dict[str, dict[str, Any]] = {}  # every comment, by id (the customers' and the brand's)
        self.private_replies: dict[str, dict[str, Any]] = {}  # comment id -> the one private reply
        self.route("POST", VERSION + r"/([\w]+)/comments", self.reply_facebook, write=True)
        self.route("GET", VERSION + r"/([\w]+)/comments", self.list_facebook)
        self.route("POST", VERSION + r"/([\w]+)/replies", self.reply_instagram, write=True)
        self.route("GET", VERSION + r"/([\w]+)/replies", self.list_instagram)
        self.route("POST", VERSION + r"/(\d+)/messages", self.private_reply, write=True)
        self.route("POST", VERSION + r"/(\d+)/mentions", self.reply_to_mention, write=True)
        # Scripted faults apply to the mention look-up too (an outage while reading a mention's words).
        self.route("GET", VERSION + r"/(\d+)", self.ig_user, write=True)
        self.mentions: dict[str, dict[str, Any]] = {}  # comment or media id -> what @mentions the brand

    def seed_mention(self, text: str, *, comment: bool = True, username: str = "walker") -> tuple[str, str]:
        """Someone @mentions the brand's Instagram account in a comment (or a caption): ``(comment id, media id)``
        as the ``mentions`` webhook names them (the comment id is ``""`` for a caption)."""
        media_id = str(17_850_000_000_000_000 + secrets.randbelow(10**15))
        media = {"id": media_id, "permalink": f"https://www.instagram.com/p/{media_id[-8:]}/", "username": username}
        if not comment:
            self.mentions[media_id] = {"kind": "media", **media, "caption": text, "timestamp": graph_time(now())}
            return "", media_id
        comment_id = str(17_860_000_000_000_000 + secrets.randbelow(10**15))
        self.mentions[comment_id] = {
            "kind": "comment",
            "id": comment_id,
            "text": text,
            "timestamp": graph_time(now()),
            "media": {"id": media_id, "permalink": media["permalink"]},
        }
        return comment_id, media_id

    def seed(
        self,
        platform: str,
        author_id: str,
        text: str,
        created_at: datetime | None = None,
        parent: str | None = None,
    ) -> str:
        """A customer's comment (``parent``: the comment it answers)."""
        comment_id = (
            f"{secrets.randbelow(10**15)}_{secrets.randbelow(10**15)}"
            if platform == "facebook"
            else str(17_800_000_000_000_000 + secrets.randbelow(10**15))
        )
        self.comments[comment_id] = {
            "id": comment_id,
            "platform": platform,
            "from": {"id": author_id},
            "message": text,
            "created": created_at or now(),
            "parent": parent,
        }
        return comment_id

    def replies_by_brand(self, platform: str) -> list[dict[str, Any]]:
        brand = self.page_id if platform == "facebook" else self.ig_user_id
        return [c for c in self.comments.values() if c["platform"] == platform and c["from"]["id"] == brand]

    # -- errors ---------------------------------------------------------------------------------------------
    def error(self, status: int, message: str) -> Answer:
        return Answer(status, graph_error(message, 100, "GraphMethodException"))

    def rate_limited(self, request: Request) -> Answer:
        usage = {
            self.page_id: [
                {
                    "type": "pages",
                    "call_count": 100,
                    "total_cputime": 40,
                    "total_time": 50,
                    "estimated_time_to_regain_access": 7,
                }
            ]
        }
        return Answer(
            400, graph_error("(#32) Page request limit reached", 32), {"X-Business-Use-Case-Usage": json.dumps(usage)}
        )

    def unavailable(self, request: Request) -> Answer:
        return Answer(
            503, graph_error("An unexpected error has occurred. Please retry your request later.", 2, "OAuthException")
        )

    def unauthorized(self, request: Request) -> Answer | None:
        token = request.bearer() or request.query.get("access_token")
        if token in self.access_tokens:
            return None
        return Answer(
            400,
            graph_error(
                "Error validating access token: The session has been invalidated because "
                "the user changed their password or Facebook has changed the session for "
                "security reasons.",
                190,
                subcode=460,
            ),
        )

    def missing(self, object_id: str) -> Answer:
        return Answer(
            400,
            graph_error(
                f"Unsupported post request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
                "missing permissions, or does not support this operation.",
                100,
                "GraphMethodException",
                33,
            ),
        )

    def _message(self, request: Request) -> Any:
        """Graph takes parameters form-encoded, as JSON, or in the query string."""
        if request.content_type == "application/json":
            return (request.json() or {}).get("message")
        if request.content_type == "application/x-www-form-urlencoded":
            return request.form().get("message")
        return request.query.get("message")

    def _reply(self, request: Request, parent_id: str, platform: str, limit: int) -> Answer:
        if denied := self.unauthorized(request):
            return denied
        parent = self.comments.get(parent_id)
        if parent is None or parent["platform"] != platform:
            return self.missing(parent_id)
        if platform == "instagram" and parent["parent"] is not None:
            # "You can only reply to top-level comments; replies to a reply will be added to the top-level comment"
            parent_id = parent["parent"]
        message = self._message(request)
        require(isinstance(message, str) and message.strip() != "", 400, "(#100) message is required")
        require(len(message) <= limit, 400, f"(#100) message is longer than {limit} characters")
        brand = self.page_id if platform == "facebook" else self.ig_user_id
        reply_id = (
            f"{parent_id.split('_')[0]}_{secrets.randbelow(10**15)}"
            if platform == "facebook"
            else str(17_900_000_000_000_000 + secrets.randbelow(10**15))
        )
        self.comments[reply_id] = {
            "id": reply_id,
            "platform": platform,
            "from": {"id": brand},
            "message": message,
            "created": now(),
            "parent": parent_id,
        }
        return Answer(200, {"id": reply_id})

    # -- routes ---------------------------------------------------------------------------------------------
    def reply_facebook(self, request: Request, match: re.Match[str]) -> Answer:
        return self._reply(request, match.group(1), "facebook", 8000)

    def reply_instagram(self, request: Request, match: re.Match[str]) -> Answer:
        return self._reply(request, match.group(1), "instagram", 2200)

    def _children(self, parent_id: str) -> list[dict[str, Any]]:
        return sorted(
            (c for c in self.comments.values() if c["parent"] == parent_id), key=lambda c: c["created"], reverse=True
        )

    def list_facebook(self, request: Request, match: re.Match[str]) -> Answer:
        if denied := self.unauthorized(request):
            return denied
        if match.group(1) not in self.comments:
            return self.missing(match.group(1))
        data = [
            {
                "id": c["id"],
                "from": {"id": c["from"]["id"], "name": "Brand"},
                "message": c["message"],
                "created_time": graph_time(c["created"]),
            }
            for c in self._children(match.group(1))
        ]
        return Answer(200, {"data": data, "paging": {}})

    def list_instagram(self, request: Request, match: re.Match[str]) -> Answer:
        if denied := self.unauthorized(request):
            return denied
        if match.group(1) not in self.comments:
            return self.missing(match.group(1))
        data = [
            {
                "id": c["id"],
                "text": c["message"],
                "timestamp": graph_time(c["created"]),
                "from": {"id": c["from"]["id"], "username": "brand"},
            }
            for c in self._children(match.group(1))
        ]
        return Answer(200, {"data": data})

    def ig_user(self, request: Request, match: re.Match[str]) -> Answer:
        if denied := self.unauthorized(request):
            return denied
        if match.group(1) != self.ig_user_id:
            return self.missing(match.group(1))
        fields = request.query.get("fields", "")
        asked = re.fullmatch(r"(mentioned_comment|mentioned_media)\.(comment_id|media_id)\((\d+)\)\{(.+)\}", fields)
        require(
            asked is not None and asked.group(1)[len("mentioned_") :] == asked.group(2)[: -len("_id")],
            400,
            "(#100) fields must be mentioned_comment.comment_id(ID){...} or mentioned_media.media_id(ID){...}",
        )
        assert asked is not None
        kind = asked.group(2)[: -len("_id")]
        found = self.mentions.get(asked.group(3))
        if found is None or found["kind"] != kind:
            return self.missing(asked.group(3))
        wanted = re.findall(r"(\w+)(?:\{[^}]*\})?", asked.group(4))
        allowed = {"comment": {"id", "text", "timestamp", "like_count", "media"}}.get(
            kind, {"id", "caption", "timestamp", "permalink", "username", "media_type", "like_count"}
        )
        require(set(wanted) <= allowed, 400, f"(#100) unknown fields {sorted(set(wanted) - allowed)}")
        value = {name: found[name] for name in wanted if name in found}
        value["id"] = found["id"]
        return Answer(200, {asked.group(1): value, "id": self.ig_user_id})

    def _params(self, request: Request) -> dict[str, Any]:
        """Graph takes parameters form-encoded, as JSON, or in the query string."""
        if request.content_type == "application/json":
            body = request.json()
            return body if isinstance(body, dict) else {}
        if request.content_type == "application/x-www-form-urlencoded":
            return dict(request.form())
        return dict(request.query)

    def reply_to_mention(self, request: Request, match: re.Match[str]) -> Answer:
        """IG User Mentions: ``media_id`` (required) and ``message`` (required) answer a caption that @mentions the
        brand; with ``comment_id`` too, a comment that does."""
        if denied := self.unauthorized(request):
            return denied
        if match.group(1) != self.ig_user_id:
            return self.missing(match.group(1))
        params = self._params(request)
        media_id, comment_id, message = params.get("media_id"), params.get("comment_id"), params.get("message")
        require(isinstance(media_id, str) and media_id != "", 400, "(#100) media_id is required")
        require(isinstance(message, str) and message.strip() != "", 400, "(#100) message is required")
        require(len(message) <= 2200, 400, "(#100) message is longer than 2200 characters")
        if comment_id is not None:
            found = self.mentions.get(str(comment_id))
            if found is None or found["kind"] != "comment" or found["media"]["id"] != media_id:
                return self.missing(str(comment_id))
            parent = str(comment_id)
        else:
            found = self.mentions.get(media_id)
            if found is None or found["kind"] != "media":
                return self.missing(media_id)
            parent = media_id
        reply_id = str(17_900_000_000_000_000 + secrets.randbelow(10**15))
        self.comments[reply_id] = {
            "id": reply_id,
            "platform": "instagram",
            "from": {"id": self.ig_user_id},
            "message": message,
            "created": now(),
            "parent": parent,
        }
        return Answer(200, {"id": reply_id})

    def private_reply(self, request: Request, match: re.Match[str]) -> Answer:
        if denied := self.unauthorized(request):
            return denied
        require(match.group(1) == self.page_id, 400, "(#100) messages are sent as the Page that owns the token")
        require(request.content_type == "application/json", 400, "the Send API takes a JSON body")
        body = request.json() or {}
        recipient, message = body.get("recipient"), body.get("message")
        require(
            isinstance(recipient, dict) and len(recipient) == 1 and set(recipient) <= {"comment_id", "post_id"},
            400,
            "(#100) recipient must name exactly one comment_id or post_id for a private reply",
        )
        require(
            isinstance(message, dict) and isinstance(message.get("text"), str) and message["text"].strip() != "",
            400,
            "(#100) message.text is required",
        )
        require(
            len(message["text"]) <= 2000, 400, "(#100) Length of param message[text] must be less than or equal to 2000"
        )
        object_id = next(iter(recipient.values()))
        comment = self.comments.get(object_id)
        if comment is None:
            return self.missing(object_id)
        # An Instagram message's text must be "less than 1000 characters" (Send a Message, Limitations)
        require(
            comment["platform"] != "instagram" or len(message["text"]) < 1000,
            400,
            "(#100) An Instagram message must be less than 1000 characters",
        )
        if object_id in self.private_replies:
            return Answer(400, graph_error("(#10900) Activity already replied to", 10900))
        if now() - comment["created"] > PRIVATE_REPLY_WINDOW:
            return Answer(400, graph_error("(#10903) This activity can't be replied to", 10903))
        message_id = "m_" + secrets.token_urlsafe(24)
        self.private_replies[object_id] = {"message_id": message_id, "text": message["text"]}
        return Answer(200, {"recipient_id": comment["from"]["id"], "message_id": message_id})
