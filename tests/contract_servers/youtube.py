"""YouTube Data API v3 and Google's OAuth token endpoint as the YouTube publisher uses them: ``POST /token``
(refresh grant), ``POST /youtube/v3/comments?part=snippet`` (a reply, ``snippet.parentId``), ``POST
/youtube/v3/commentThreads?part=snippet`` (a top-level comment on a video), and their ``GET`` lists.

Errors are ``{"error": {"code", "message", "errors": [{"message", "domain", "reason"}], "status"}}``: 401
``authError``, 403 ``quotaExceeded``, 404 ``parentCommentNotFound``, 400 ``commentTextTooLong``.

Lists page as documented: at most ``maxResults`` items (1..100, default 20), ``nextPageToken`` while more remain,
passed back as ``pageToken`` (opaque; an unknown one is a 400). ``commentThreads.list`` gives the newest thread first
(``order=time``, the default). ``comments.list?parentId=`` documents no order: this server gives the oldest reply
first, so a read-back that stops early on time alone would miss ours.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from tests.contract_servers.base import Answer, ContractServer, Request, now, require


def google_error(
    code: int, reason: str, message: str, domain: str = "youtube.comment", status: str | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}],
    }
    if status:
        error["status"] = status
    return {"error": error}


def rfc3339(at: Any) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class YouTubeServer(ContractServer):
    def __init__(self, client_id: str, client_secret: str, refresh_token: str, channel_id: str) -> None:
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.refresh_tokens = {refresh_token}
        self.channel_id = channel_id
        self.videos: set[str] = set()
        self.comments: dict[str, dict[str, Any]] = {}
        self.page_tokens: dict[str, str] = {}  # nextPageToken -> the id of the last item the page before ended on
        self.route("POST", r"/token", self.token)
        self.route("POST", r"/youtube/v3/comments", self.insert_reply, write=True)
        self.route("GET", r"/youtube/v3/comments", self.list_replies)
        self.route("POST", r"/youtube/v3/commentThreads", self.insert_thread, write=True)
        self.route("GET", r"/youtube/v3/commentThreads", self.list_threads)

    def seed_comment(self, author_channel: str, text: str) -> str:
        comment_id = "Ug" + secrets.token_urlsafe(18)
        self.comments[comment_id] = self._comment(comment_id, author_channel, text, parent=None, video=None)
        return comment_id

    def _comment(self, comment_id: str, channel: str, text: str, parent: str | None, video: str | None) -> dict:
        return {
            "kind": "youtube#comment",
            "id": comment_id,
            "parent": parent,
            "video": video,
            "snippet": {
                "textOriginal": text,
                "textDisplay": text,
                "authorChannelId": {"value": channel},
                "publishedAt": rfc3339(now()),
                "updatedAt": rfc3339(now()),
                **({"parentId": parent} if parent else {}),
            },
        }

    def brand_comments(self) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["snippet"]["authorChannelId"]["value"] == self.channel_id]

    # -- errors ---------------------------------------------------------------------------------------------
    def error(self, status: int, message: str) -> Answer:
        return Answer(status, google_error(status, "badRequest" if status == 400 else "notFound", message, "global"))

    def rate_limited(self, request: Request) -> Answer:
        return Answer(
            403,
            google_error(
                403,
                "quotaExceeded",
                "The request cannot be completed because you have "
                'exceeded your <a href="/youtube/v3/getting-started#quota">quota</a>.',
                "youtube.quota",
            ),
        )

    def unavailable(self, request: Request) -> Answer:
        return Answer(503, google_error(503, "backendError", "Backend Error", "global", "UNAVAILABLE"))

    def revoke(self) -> None:
        super().revoke()
        self.refresh_tokens.clear()

    def unauthorized(self, request: Request) -> Answer | None:
        if request.bearer() in self.access_tokens:
            return None
        return Answer(
            401,
            google_error(
                401,
                "authError",
                "Request had invalid authentication credentials. Expected "
                "OAuth 2 access token, login cookie or other valid authentication "
                "credential.",
                "global",
                "UNAUTHENTICATED",
            ),
        )

    # -- routes ---------------------------------------------------------------------------------------------
    def token(self, request: Request, match: re.Match[str]) -> Answer:
        require(request.content_type == "application/x-www-form-urlencoded", 400, "token requests are form-encoded")
        form = request.form()
        require(form.get("grant_type") == "refresh_token", 400, "unsupported_grant_type")
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return Answer(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        if form.get("refresh_token") not in self.refresh_tokens:
            return Answer(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        return Answer(
            200,
            {
                "access_token": self.issue_access_token(),
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": "https://www.googleapis.com/auth/youtube.force-ssl",
            },
        )

    def _text(self, snippet: dict[str, Any]) -> str:
        text = snippet.get("textOriginal")
        require(isinstance(text, str) and text.strip() != "", 400, "commentTextRequired")
        return text

    def insert_reply(self, request: Request, match: re.Match[str]) -> Answer:
        if denied := self.unauthorized(request):
            return denied
        require(request.query.get("part") == "snippet", 400, "part must be snippet")
        require(request.content_type == "application/json", 400, "the body must be a comment resource (JSON)")
        snippet = (request.json() or {}).get("snippet")
        require(isinstance(snippet, dict), 400, "a comment resource needs a snippet")
        parent = snippet.get("parentId")
        require(isinstance(parent, str) and parent != "", 400, "parentIdMissing")
        text = self._text(snippet)
        if len(text) > 10_000:
            return Answer(400, google_error(400, "commentTextTooLong", "The comment is too long."))
        if parent not in self.comments or self.comments[parent]["parent"]:
            return Answer(
                404,
                google_error(
                    404,
                    "parentCommentNotFound",
                    "The comment identified by the request's parentId parameter could not be found.",
                ),
            )
        comment_id = f"{parent}.{secrets.token_urlsafe(12)}"
        self.comments[comment_id] = self._comment(comment_id, self.channel_id, text, parent=parent, video=None)
        return Answer(200, {k: v for k, v in self.comments[comment_id].items() if k not in ("parent", "video")})

    def list_replies(self, request: Request, match: re.Match[str]) -> Answer:
        if denied := self.unauthorized(request):
            return denied
        parent = request.query.get("parentId")
        require(request.query.get("part") == "snippet" and bool(parent), 400, "part=snippet and parentId")
        items = [
            {k: v for k, v in c.items() if k not in ("parent", "video")}
            for c in self.comments.values()
            if c["parent"] == parent
        ]
        return Answer(200, {"kind": "youtube#commentListResponse", **self.page(request, items)})

    def page(self, request: Request, items: list[dict[str, Any]]) -> dict[str, Any]:
        """One page of ``items`` (in the order given) from ``pageToken`` on, with ``nextPageToken`` and ``pageInfo``."""
        size = int(request.query.get("maxResults", "20"))
        require(1 <= size <= 100, 400, "maxResults must be 1..100")
        total = len(items)
        token = request.query.get("pageToken")
        if token is not None:
            require(token in self.page_tokens, 400, "invalidPageToken")
            ids = [item["id"] for item in items]
            after = self.page_tokens[token]
            items = items[ids.index(after) + 1 :] if after in ids else items
        shown, rest = items[:size], items[size:]
        answer: dict[str, Any] = {"pageInfo": {"totalResults": total, "resultsPerPage": size}, "items": shown}
        if rest:
            answer["nextPageToken"] = secrets.token_urlsafe(12)
            self.page_tokens[answer["nextPageToken"]] = shown[-1]["id"]
        return answer

    def insert_thread(self, request: Request, match: re.Match[str]) -> Answer:
        if denied := self.unauthorized(request):
            return denied
        require(request.query.get("part") == "snippet", 400, "part must be snippet")
        snippet = (request.json() or {}).get("snippet") or {}
        require(snippet.get("channelId") == self.channel_id, 400, "snippet.channelId is required")
        video = snippet.get("videoId")
        if video not in self.videos:
            return Answer(404, google_error(404, "videoNotFound", "The video could not be found."))
        text = self._text(((snippet.get("topLevelComment") or {}).get("snippet")) or {})
        comment_id = "Ug" + secrets.token_urlsafe(18)
        self.comments[comment_id] = self._comment(comment_id, self.channel_id, text, parent=None, video=video)
        top = {k: v for k, v in self.comments[comment_id].items() if k not in ("parent", "video")}
        return Answer(
            200,
            {
                "kind": "youtube#commentThread",
                "id": comment_id,
                "snippet": {"videoId": video, "channelId": self.channel_id, "topLevelComment": top},
            },
        )

    def list_threads(self, request: Request, match: re.Match[str]) -> Answer:
        if denied := self.unauthorized(request):
            return denied
        video = request.query.get("videoId")
        items = [
            {
                "id": c["id"],
                "snippet": {
                    "videoId": video,
                    "topLevelComment": {k: v for k, v in c.items() if k not in ("parent", "video")},
                },
            }
            for c in self.comments.values()
            if c["video"] == video
        ]
        require(request.query.get("order", "time") in ("time", "relevance"), 400, "order must be time or relevance")
        items.reverse()  # newest first (comments are kept in the order they were made)
        return Answer(200, {"kind": "youtube#commentThreadListResponse", **self.page(request, items)})
