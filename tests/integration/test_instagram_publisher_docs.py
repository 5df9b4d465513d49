"""The Instagram publisher against what Meta's documentation says (and the fake ``GraphServer`` enforces):

- "You can only reply to top-level comments; replies to a reply will be added to the top-level comment"
  (IG Comment Replies reference): a reply to a reply is posted to, and read back from, the top-level comment.
- An Instagram message (a private reply, or a survey sent as one) must be "less than 1000 characters" (Instagram
  Messaging, Send a Message, Limitations): the publisher and the approval page (``reply_length_limit``) take 999.
- A reply to an @mention is ``POST /{ig-user-id}/mentions`` with ``media_id`` and ``message``, plus ``comment_id``
  for a comment (IG User Mentions reference); it has no documented read-back, so an uncertain attempt is not
  repeated but raised.
"""

from __future__ import annotations

from datetime import datetime, timezone

from chalicelib.adapters.publishers import reply_length_limit
from chalicelib.domain.publishing import PRIVATE_REPLY, PUBLIC_REPLY, Next, Reason, ReplyTarget
from tests.contract_servers.base import ACCEPT_THEN_HANG
from tests.integration.test_publishers import (  # noqa: F401  (fixtures)
    FACEBOOK,
    IG_USER_ID,
    INSTAGRAM,
    PAGE_ID,
    PAGE_TOKEN,
    claims,
    later,
    moto_aws,
    now,
    publisher_for,
    request,
    serve,
)


def _reply_to_a_reply(server) -> tuple[ReplyTarget, str]:
    top = server.seed("instagram", "9000001", "The strap broke after a week")
    answer = server.seed("instagram", "9000002", "Same here, mine too", parent=top)
    target = ReplyTarget(
        "instagram",
        answer,
        "reply",  # as meta.py stores a comment with parent_id
        author_id="9000002",
        text="Same here, mine too",
        created_at=datetime.now(timezone.utc),
        parent_id=top,
        thread_id="17850000000000001",
    )
    return target, top


def test_a_reply_to_a_reply_goes_under_the_top_level_comment(claims, serve):  # noqa: F811
    server = serve(INSTAGRAM)
    publisher = publisher_for(INSTAGRAM, server, claims)
    target, top = _reply_to_a_reply(server)

    result = publisher.publish(request(target, PUBLIC_REPLY), now())

    assert result.next is Next.DONE
    assert server.calls("POST", rf"/v\d+\.\d+/{top}/replies") == 1
    assert [r["parent"] for r in server.replies_by_brand("instagram")] == [top]


def test_a_timeout_on_a_reply_to_a_reply_is_found_by_read_back_not_posted_twice(claims, serve):  # noqa: F811
    server = serve(INSTAGRAM)
    publisher = publisher_for(INSTAGRAM, server, claims)
    target, top = _reply_to_a_reply(server)
    server.script(ACCEPT_THEN_HANG)

    first = publisher.publish(request(target, PUBLIC_REPLY), now())
    assert (first.next, first.reason) == (Next.RETRY, Reason.TIMEOUT)
    second = publisher.publish(request(target, PUBLIC_REPLY), later(first))

    assert (second.next, second.reason) == (Next.DONE, Reason.FOUND_BY_READ_BACK)
    assert len(server.replies_by_brand("instagram")) == 1
    assert server.calls("POST", r"/v\d+\.\d+/\d+/replies") == 1


def test_the_fake_files_a_reply_to_a_reply_under_the_top_level_comment(serve):  # noqa: F811
    import urllib3

    server = serve(INSTAGRAM)
    top = server.seed("instagram", "9000001", "The strap broke")
    answer = server.seed("instagram", "9000002", "Mine too", parent=top)
    http = urllib3.PoolManager(retries=False)

    posted = http.request(
        "POST",
        f"{server.url}/v25.0/{answer}/replies",
        fields={"message": "Sorry to hear it"},
        encode_multipart=False,
        headers={"Authorization": f"Bearer {PAGE_TOKEN}"},
    )

    assert posted.status == 200
    assert server.comments[posted.json()["id"]]["parent"] == top


def test_an_instagram_private_reply_takes_less_than_1000_characters(claims, serve):  # noqa: F811
    server = serve(INSTAGRAM)
    publisher = publisher_for(INSTAGRAM, server, claims)
    fits = INSTAGRAM.target(server, PRIVATE_REPLY)
    too_long = INSTAGRAM.target(server, PRIVATE_REPLY)

    sent = publisher.publish(request(fits, PRIVATE_REPLY, text="a" * 999), now())
    refused = publisher.publish(request(too_long, PRIVATE_REPLY, run="r2", text="a" * 1000), now())

    assert sent.next is Next.DONE
    assert (refused.next, refused.reason) == (Next.FINAL, Reason.TOO_LONG)
    assert server.calls("POST", r"/v\d+\.\d+/\d+/messages") == 1
    assert reply_length_limit("instagram", PRIVATE_REPLY) == 999  # what the approval page counts against
    assert reply_length_limit("facebook", PRIVATE_REPLY) == 2000  # Messenger's own limit is unchanged


def test_the_fake_refuses_an_instagram_message_of_1000_characters(serve):  # noqa: F811
    import urllib3

    server = serve(INSTAGRAM)
    comment = server.seed("instagram", "9000001", "Where is my order?")
    facebook_comment = server.seed("facebook", "9000001", "Where is my order?")
    http = urllib3.PoolManager(retries=False)

    def send(object_id: str, text: str) -> int:
        body = {"recipient": {"comment_id": object_id}, "message": {"text": text}}
        return http.request(
            "POST",
            f"{server.url}/v25.0/{FACEBOOK.credentials['META_PAGE_ID']}/messages",
            json=body,
            headers={"Authorization": f"Bearer {PAGE_TOKEN}"},
        ).status

    assert send(comment, "a" * 1000) == 400
    assert send(facebook_comment, "a" * 1000) == 200
    assert server.violations == [
        "POST /v25.0/104000000000001/messages: (#100) An Instagram message must be less than 1000 characters"
    ]
    server.violations.clear()  # deliberate


def _mention_target(server, comment: bool) -> tuple[ReplyTarget, str, str]:
    """As meta.py stores a ``mentions`` webhook event."""
    comment_id, media_id = server.seed_mention("@aurelle the clasp broke", comment=comment)
    external = comment_id or media_id
    target = ReplyTarget(
        "instagram",
        external,
        "mention",
        text="@aurelle the clasp broke",
        created_at=datetime.now(timezone.utc),
        parent_id=media_id if comment_id else None,
        thread_id=media_id,
    )
    return target, comment_id, media_id


def test_a_reply_to_a_comment_mention_goes_through_the_brands_mentions_edge(claims, serve):  # noqa: F811
    server = serve(INSTAGRAM)
    publisher = publisher_for(INSTAGRAM, server, claims)
    on_comment, comment_id, _ = _mention_target(server, comment=True)
    on_caption, _, media_id = _mention_target(server, comment=False)

    first = publisher.publish(request(on_comment, PUBLIC_REPLY), now())
    second = publisher.publish(request(on_caption, PUBLIC_REPLY, run="r2"), now())

    assert (first.next, second.next) == (Next.DONE, Next.DONE)
    assert server.calls("POST", rf"/v\d+\.\d+/{IG_USER_ID}/mentions") == 2
    assert server.calls("POST", r"/v\d+\.\d+/\d+/replies") == 0
    assert sorted(r["parent"] for r in server.replies_by_brand("instagram")) == sorted([comment_id, media_id])


def test_an_uncertain_reply_to_a_mention_is_not_posted_twice(claims, serve):  # noqa: F811
    server = serve(INSTAGRAM)
    publisher = publisher_for(INSTAGRAM, server, claims)
    target, _, _ = _mention_target(server, comment=True)
    server.script(ACCEPT_THEN_HANG)

    first = publisher.publish(request(target, PUBLIC_REPLY), now())
    assert (first.next, first.reason) == (Next.RETRY, Reason.TIMEOUT)
    second = publisher.publish(request(target, PUBLIC_REPLY), later(first))

    assert second.next is Next.ALERT and "no read-back" in (second.detail or "")
    assert len(server.replies_by_brand("instagram")) == 1
    assert server.calls("POST", rf"/v\d+\.\d+/{IG_USER_ID}/mentions") == 1


def test_the_fake_mentions_edge_enforces_the_documented_parameters(serve):  # noqa: F811
    import urllib3

    server = serve(INSTAGRAM)
    comment_id, media_id = server.seed_mention("@aurelle hello", comment=True)
    _, caption_media = server.seed_mention("@aurelle hello", comment=False)
    http = urllib3.PoolManager(retries=False)

    def post(account: str, **fields: str) -> int:
        return http.request(
            "POST",
            f"{server.url}/v25.0/{account}/mentions",
            fields=fields,
            encode_multipart=False,
            headers={"Authorization": f"Bearer {PAGE_TOKEN}"},
        ).status

    assert post(IG_USER_ID, media_id=media_id, comment_id=comment_id, message="Thanks") == 200
    assert post(IG_USER_ID, media_id=caption_media, message="Thanks") == 200
    assert post(IG_USER_ID, comment_id=comment_id, message="Thanks") == 400  # media_id is required
    assert post(IG_USER_ID, media_id=media_id, comment_id=comment_id) == 400  # message is required
    assert post(IG_USER_ID, media_id=caption_media, comment_id=comment_id, message="x") == 400  # not its media
    assert post(IG_USER_ID, media_id=media_id, message="x") == 400  # a comment's media: no caption mention
    assert post(PAGE_ID, media_id=caption_media, message="x") == 400  # the Instagram account, not the Page
    server.violations.clear()  # deliberate
