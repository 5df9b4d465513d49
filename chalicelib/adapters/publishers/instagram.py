"""Instagram (a professional account linked to the brand's Facebook Page) through the same Graph API: a public reply
is ``POST /{ig-comment-id}/replies`` (``message``, form-encoded) on the top-level comment: "You can only reply to
top-level comments; replies to a reply will be added to the top-level comment" (Meta's IG Comment Replies
reference), so a reply to a reply is posted to, and read back from, its parent. A private reply goes, as on
Facebook, through ``POST /{page-id}/messages`` with ``recipient.comment_id``, under the same rules (one per comment,
within 7 days).

Read-back: ``GET /{ig-comment-id}/replies`` (the top-level comment) for a reply from the brand's Instagram account
(``IG_USER_ID``) with this claim's text.

An @mention (a ``mentions`` webhook event: a comment or a caption on someone else's media) is answered through the
brand's account, as Meta's IG User Mentions reference says: ``POST /{ig-user-id}/mentions`` with ``media_id`` and
``message`` (a caption), plus ``comment_id`` (a comment). The docs give no way to list the replies on a comment or a
media the brand does not own, so such a reply has no read-back: after an attempt that may have posted (a timeout, a
5xx), it is not posted again but raised as an ALERT for someone to check on Instagram (one reply, or none and a
clear result).
Instagram takes at most 2,200 characters in a comment, and less than 1,000 in a private reply (a message).

An @mention's words: Meta's ``mentions`` webhook carries only ids, and a comment found through it cannot be read as
an ordinary comment (only its owner may), so :class:`InstagramMentionReader` reads it through the brand's account:
``GET /{ig-user-id}?fields=mentioned_comment.comment_id({comment-id}){text,timestamp,media{id,permalink}}``, or for
a caption ``mentioned_media.media_id({media-id}){caption,timestamp,permalink,username}``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from chalicelib.adapters.publishers.facebook import GraphPublisher
from chalicelib.adapters.publishers.http import Stop, parse_time
from chalicelib.domain import limits as mention_limits
from chalicelib.domain.models import Mention, MentionEvent, MentionKind
from chalicelib.domain.publishing import (
    PRIVATE_REPLY,
    PUBLIC_REPLY,
    Next,
    PublishResult,
    Reason,
    ReplyTarget,
    alert,
    done,
    is_our_reply,
)

IG_USER_ID = "IG_USER_ID"
# A private reply (and a survey sent as one) is an Instagram message, whose text must be "less than 1000 characters"
# (Instagram Messaging, Send a Message, Limitations), not Messenger's 2000. The approval page counts with
# this same limit (``publishers.reply_length_limit``).
INSTAGRAM_MESSAGE_LIMIT = 999
COMMENT_LIMIT = 2200


class InstagramPublisher(GraphPublisher):
    platform = "instagram"
    limits = {PUBLIC_REPLY: COMMENT_LIMIT, PRIVATE_REPLY: INSTAGRAM_MESSAGE_LIMIT}

    @staticmethod
    def _parent(target: ReplyTarget) -> str:
        # Instagram files a reply to a reply under the top-level comment (the reply's parent_id, from the webhook).
        return target.parent_id if target.kind == "reply" and target.parent_id else target.external_id

    def _post(self, target: ReplyTarget, channel: str, text: str, now: datetime) -> PublishResult:
        if channel == PRIVATE_REPLY:
            return self._private_reply(target, text, now)
        if target.kind == MentionKind.MENTION.value:
            return self._reply_to_mention(target, text, now)
        body = self.call(
            "POST", self._path(f"/{self._parent(target)}/replies"), now, "instagram reply", form={"message": text}
        ).json()
        return done(str(body.get("id") or "") or None, None)

    def _find_posted(
        self, target: ReplyTarget, channel: str, text: str, since: datetime, now: datetime
    ) -> PublishResult | None:
        if channel == PRIVATE_REPLY:
            return None  # as on Facebook: Meta refuses a second private reply
        if target.kind == MentionKind.MENTION.value:
            return alert(
                Reason.TIMEOUT,
                "instagram reply to an @mention: an earlier attempt may have posted it and Instagram offers no "
                "read-back for it; not posted again (check the mention on Instagram)",
            )
        account = self.credentials.require(IG_USER_ID)
        answer = self.call(
            "GET",
            self._path(f"/{self._parent(target)}/replies"),
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

    def _reply_to_mention(self, target: ReplyTarget, text: str, now: datetime) -> PublishResult:
        # meta.py stores a comment's mention with external_id = the comment and thread_id = its media, a caption's
        # with external_id = thread_id = the media.
        media_id = target.thread_id or target.external_id
        form = {"media_id": media_id, "message": text}
        if target.external_id != media_id:
            form["comment_id"] = target.external_id
        account = self.credentials.require(IG_USER_ID)
        body = self.call("POST", self._path(f"/{account}/mentions"), now, "instagram mention reply", form=form).json()
        return done(str(body.get("id") or "") or None, None)


logger = logging.getLogger(__name__)


class MentionTextUnavailable(RuntimeError):
    """The Graph API could not be read now (5xx, timeout, rate limit): the record fails and SQS delivers it again."""


def awaits_text(mention: Mention) -> bool:
    """An Instagram @mention as the webhook gives it: ids only, the words still to be read."""
    return (
        mention.platform == "instagram"
        and mention.kind is MentionKind.MENTION
        and mention.event is MentionEvent.CREATED
        and not mention.text.strip()
    )


class InstagramMentionReader(GraphPublisher):
    """Fills in an Instagram @mention's words (and its link, and a caption's author) from the Graph API, with the
    Page token and ``IG_USER_ID`` the Instagram publisher uses."""

    platform = "instagram"
    limits: dict[str, int | None] = {}

    def complete(self, mention: Mention, now: datetime) -> Mention:
        """``mention`` with its text when it awaits it; unchanged when the Graph API says the item cannot be read
        (deleted, comments switched off, a permission missing: logged). Raises :class:`MentionTextUnavailable` when
        the API cannot answer now."""
        if not awaits_text(mention):
            return mention
        try:
            found = self._read(mention, now)
        except Stop as stop:
            # NOT_CONFIGURED too: Instagram is switched on, so a token or account id read as missing is SSM failing
            # for a moment (Credentials reads any SSM error as unset) or a setting to fix; either way the record
            # waits for SQS's retry (then the DLQ and its alarm) instead of being triaged on no words
            if stop.result.next is Next.RETRY or stop.result.reason is Reason.NOT_CONFIGURED:
                raise MentionTextUnavailable(stop.result.detail or stop.result.reason.value) from None
            logger.warning(
                "instagram mention text not readable",
                extra={"mention": mention.key, "reason": stop.result.reason.value, "detail": stop.result.detail},
            )
            return mention
        text = str(found.get("text") or found.get("caption") or "")[: mention_limits.MAX_TEXT_CHARS]
        media: dict[str, Any] = found["media"] if isinstance(found.get("media"), dict) else {}
        url = found.get("permalink") or media.get("permalink") or mention.url
        update: dict[str, object] = {"text": text, "url": url if isinstance(url, str) and url else None}
        username = found.get("username")
        if isinstance(username, str) and username and not mention.author.handle:
            update["author"] = mention.author.model_copy(update={"handle": username})
        return mention.model_copy(update=update)

    def _read(self, mention: Mention, now: datetime) -> dict:
        account = self.credentials.require(IG_USER_ID)
        is_comment = mention.parent_id is not None or mention.thread_id != mention.external_id
        if is_comment:
            field = f"mentioned_comment.comment_id({mention.external_id}){{text,timestamp,media{{id,permalink}}}}"
            key = "mentioned_comment"
        else:
            field = f"mentioned_media.media_id({mention.external_id}){{caption,timestamp,permalink,username}}"
            key = "mentioned_media"
        answer = self.call(
            "GET", self._path(f"/{account}"), now, "instagram mention text", query={"fields": field}
        ).json()
        found = answer.get(key)
        return found if isinstance(found, dict) else {}
