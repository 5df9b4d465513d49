"""Trustpilot's APIs as the publisher uses them: the business-user token
(``POST /v1/oauth/oauth-business-users-for-applications/accesstoken``, HTTP Basic with the API key and secret,
``grant_type=password``), ``POST /v1/private/reviews/{reviewId}/reply`` (``{"message", "authorBusinessUserId"}``,
201) and ``GET /v1/private/reviews/{reviewId}``. A review has one reply: a new one replaces it.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from tests.contract_servers.base import Answer, ContractServer, Request, now, require


class TrustpilotServer(ContractServer):
    def __init__(self, api_key: str, api_secret: str, username: str, password: str, business_user_id: str) -> None:
        super().__init__()
        self.api_key, self.api_secret = api_key, api_secret
        self.username, self.password = username, password
        self.business_user_id = business_user_id
        self.reviews: dict[str, dict[str, Any]] = {}
        self.replies_posted = 0
        self.route("POST", r"/v1/oauth/oauth-business-users-for-applications/accesstoken", self.token)
        self.route("POST", r"/v1/private/reviews/(\w+)/reply", self.reply, write=True)
        self.route("GET", r"/v1/private/reviews/(\w+)", self.review)

    def seed(self, text: str, stars: int = 1) -> str:
        review_id = secrets.token_hex(12)
        self.reviews[review_id] = {"id": review_id, "stars": stars, "text": text, "companyReply": None}
        return review_id

    def error(self, status: int, message: str) -> Answer:
        return Answer(status, {"message": message, "errorCode": status})

    def rate_limited(self, request: Request) -> Answer:
        return Answer(429, {"message": "Too many requests"}, {"Retry-After": "30"})

    def revoke(self) -> None:
        super().revoke()
        self.password = "changed-" + secrets.token_hex(4)  # the business user's password was changed

    def unauthorized(self, request: Request) -> Answer | None:
        if request.bearer() in self.access_tokens:
            return None
        return Answer(
            401,
            {"fault": {"faultstring": "Invalid access token", "detail": {"errorcode": "oauth.v2.InvalidAccessToken"}}},
        )

    def token(self, request: Request, match: re.Match[str]) -> Answer:
        require(request.content_type == "application/x-www-form-urlencoded", 400, "token requests are form-encoded")
        if request.basic() != (self.api_key, self.api_secret):
            return Answer(401, {"ErrorCode": "invalid_client", "Error": "ClientId is Invalid"})
        form = request.form()
        require(form.get("grant_type") == "password", 400, "grant_type must be password")
        if (form.get("username"), form.get("password")) != (self.username, self.password):
            return Answer(401, {"error": "invalid_grant", "error_description": "Invalid username or password"})
        return Answer(
            200,
            {
                "access_token": self.issue_access_token(),
                "refresh_token": secrets.token_hex(8),
                "expires_in": "359999",
                "token_type": "BearerToken",
            },
        )

    def reply(self, request: Request, match: re.Match[str]) -> Answer:
        if denied := self.unauthorized(request):
            return denied
        require(request.content_type == "application/json", 400, "the body must be JSON")
        body = request.json() or {}
        require(isinstance(body.get("message"), str) and body["message"].strip() != "", 400, "message is required")
        require(
            body.get("authorBusinessUserId") == self.business_user_id,
            400,
            "authorBusinessUserId must name a user of the business unit",
        )
        review = self.reviews.get(match.group(1))
        if review is None:
            return Answer(404, {"message": "Review not found", "errorCode": 404})
        stamp = now().strftime("%Y-%m-%dT%H:%M:%SZ")
        review["companyReply"] = {
            "text": body["message"],
            "authorBusinessUserId": self.business_user_id,
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        self.replies_posted += 1
        return Answer(201)

    def review(self, request: Request, match: re.Match[str]) -> Answer:
        if denied := self.unauthorized(request):
            return denied
        review = self.reviews.get(match.group(1))
        if review is None:
            return Answer(404, {"message": "Review not found", "errorCode": 404})
        return Answer(200, review)
