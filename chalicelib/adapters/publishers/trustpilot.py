"""Trustpilot Service Reviews API: a public reply is ``POST /v1/private/reviews/{reviewId}/reply`` with
``{"message", "authorBusinessUserId"}`` (201). Trustpilot has no private reply, and a review has one reply: posting
again replaces it, so a retry still reads back first (it must not overwrite a reply edited by hand meanwhile).

Auth: a business user's token from ``POST /v1/oauth/oauth-business-users-for-applications/accesstoken``
(``grant_type=password``, HTTP Basic with the application's API key and secret), used as ``Bearer`` until it
expires. Read-back: ``GET /v1/private/reviews/{reviewId}`` and its ``companyReply``: a reply since the first
attempt with this claim's text is ours; one with another text (another claim's post, or ours edited by hand) is
neither taken for ours nor replaced: the publish ends ``already_replied`` and people are told.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.adapters.publishers.base import PlatformAdapter
from chalicelib.adapters.publishers.http import (
    AccessToken,
    Credentials,
    Grant,
    Response,
    Transport,
    basic_auth,
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

BASE_URL = "https://api.trustpilot.com"
API_KEY, API_SECRET = "TRUSTPILOT_API_KEY", "TRUSTPILOT_API_SECRET"
USERNAME, PASSWORD = "TRUSTPILOT_BUSINESS_USERNAME", "TRUSTPILOT_BUSINESS_PASSWORD"
BUSINESS_USER_ID = "TRUSTPILOT_BUSINESS_USER_ID"
TOKEN_PATH = "/v1/oauth/oauth-business-users-for-applications/accesstoken"


class TrustpilotPublisher(PlatformAdapter):
    platform = "trustpilot"
    limits = {PUBLIC_REPLY: None}  # Trustpilot states no limit for a reply's length

    def __init__(
        self, base_url: str = BASE_URL, transport: Transport | None = None, credentials: Credentials | None = None
    ) -> None:
        super().__init__(base_url, transport, credentials)
        self.token = AccessToken(self._password_grant)

    def _password_grant(self, now: datetime, fresh: bool) -> Grant:
        creds = self.credentials
        response = self.transport.request(
            "POST",
            self.base_url + TOKEN_PATH,
            now,
            headers={"Authorization": basic_auth(creds.require(API_KEY), creds.require(API_SECRET, fresh))},
            form={
                "grant_type": "password",
                "username": creds.require(USERNAME),
                "password": creds.require(PASSWORD, fresh),
            },
        )
        if response.status != 200:
            raise token_endpoint_failure(response, now, "Trustpilot token")
        body = response.json()
        # expires_in comes as a string of seconds
        return Grant(str(body.get("access_token", "")), now + timedelta(seconds=int(body.get("expires_in") or 3600)))

    def _post(self, target: ReplyTarget, channel: str, text: str, now: datetime) -> PublishResult:
        self.call(
            "POST",
            f"/v1/private/reviews/{target.external_id}/reply",
            now,
            "Trustpilot reply",
            json_body={"message": text, "authorBusinessUserId": self.credentials.require(BUSINESS_USER_ID)},
        )
        return done(None, None)  # 201 with no body: the reply is named by its review

    def _find_posted(
        self, target: ReplyTarget, channel: str, text: str, since: datetime, now: datetime
    ) -> PublishResult | None:
        review = self.call("GET", f"/v1/private/reviews/{target.external_id}", now, "Trustpilot read-back").json()
        reply = review.get("companyReply") or {}
        at = parse_time(reply.get("createdAt")) or parse_time(reply.get("updatedAt"))
        if not reply.get("text") or not at or at < since:
            return None  # nothing posted since the first attempt: post
        if is_our_reply(reply.get("text"), text):
            return done(None, at, Reason.FOUND_BY_READ_BACK)
        return final(
            Reason.ALREADY_REPLIED,
            "Trustpilot: the review's reply, written since this attempt began, is not this text; posting again "
            "would replace it",
        )

    def _failure(self, response: Response, now: datetime, what: str) -> PublishResult:
        body = response.json()
        said = f"{what}: HTTP {response.status} {body.get('message') or body.get('details') or ''}".strip()
        if response.status == 429:
            return retry(Reason.RATE_LIMITED, retry_after(response, now), said, status=429)
        if response.status >= 500:
            return server_error(response, now, what)
        if response.status == 404:
            return final(Reason.TARGET_GONE, said, 404)
        if response.status == 403:
            return alert(Reason.PERMISSION_MISSING, said, 403)
        return final(Reason.REJECTED, said, response.status)
