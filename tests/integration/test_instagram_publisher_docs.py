"""The Instagram publisher against what Meta's documentation says (and the fake ``GraphServer`` enforces):

- "You can only reply to top-level comments; replies to a reply will be added to the top-level comment"
  (IG Comment Replies reference): a reply to a reply is posted to, and read back from, the top-level comment.
- An Instagram message (a private reply, or a survey sent as one) must be "less than 1000 characters" (Instagram
  Messaging, Send a Message, Limitations): the publisher and the approval page (``reply_length_limit``) take 999.
"""

from __future__ import annotations

from datetime import datetime, timezone

from chalicelib.adapters.publishers import reply_length_limit
from chalicelib.domain.publishing import PRIVATE_REPLY, PUBLIC_REPLY, Next, Reason, ReplyTarget
from tests.contract_servers.base import ACCEPT_THEN_HANG
from tests.integration.test_publishers import (  # noqa: F401  (fixtures)
    FACEBOOK,
    INSTAGRAM,
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
