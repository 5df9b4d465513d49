"""Instagram (a professional account linked to the brand's Facebook Page) through the same Graph API: a public reply
is ``POST /{ig-comment-id}/replies`` (``message``, form-encoded); a private reply goes, as on Facebook, through
``POST /{page-id}/messages`` with ``recipient.comment_id``, under the same rules (one per comment, within 7 days).

Read-back: ``GET /{ig-comment-id}/replies`` for a reply from the brand's Instagram account (``IG_USER_ID``) with
this claim's text.
Instagram takes at most 2,200 characters in a comment.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.adapters.publishers.facebook import MESSENGER_TEXT_LIMIT, GraphPublisher
from chalicelib.adapters.publishers.http import parse_time
from chalicelib.domain.publishing import (
    PRIVATE_REPLY,
    PUBLIC_REPLY,
    PublishResult,
    Reason,
    ReplyTarget,
    done,
    is_our_reply,
)

IG_USER_ID = "IG_USER_ID"


class InstagramPublisher(GraphPublisher):
    platform = "instagram"
    limits = {PUBLIC_REPLY: 2200, PRIVATE_REPLY: MESSENGER_TEXT_LIMIT}

    def _post(self, target: ReplyTarget, channel: str, text: str, now: datetime) -> PublishResult:
        if channel == PRIVATE_REPLY:
            return self._private_reply(target, text, now)
        body = self.call(
            "POST", self._path(f"/{target.external_id}/replies"), now, "instagram reply", form={"message": text}
        ).json()
        return done(str(body.get("id") or "") or None, None)

    def _find_posted(
        self, target: ReplyTarget, channel: str, text: str, since: datetime, now: datetime
    ) -> PublishResult | None:
        if channel == PRIVATE_REPLY:
            return None  # as on Facebook: Meta refuses a second private reply
        account = self.credentials.require(IG_USER_ID)
        answer = self.call(
            "GET",
            self._path(f"/{target.external_id}/replies"),
            now,
            "instagram read-back",
            query={"fields": "id,text,timestamp,from"},
        ).json()
        for reply in answer.get("data") or []:
            at = parse_time(reply.get("timestamp"))
            by_brand = str((reply.get("from") or {}).get("id")) == account
            if by_brand and at and at >= since and is_our_reply(reply.get("text"), text):
                return done(str(reply["id"]), at, Reason.FOUND_BY_READ_BACK)
        return None
