"""An X read-back after an uncertain first attempt follows ``meta.next_token`` -> ``pagination_token`` until it is
past the first attempt: a busy brand (over 100 posts since) or a long DM conversation (over 100 newer events) still
finds its reply instead of posting again; it reads ``XPublisher.READ_BACK_PAGES`` pages at most."""

from __future__ import annotations

from chalicelib.adapters.publishers.x import XPublisher
from chalicelib.domain.publishing import PRIVATE_REPLY, PUBLIC_REPLY, Next, Reason
from tests.integration.test_publishers import (  # noqa: F401  (fixtures)
    BRAND_X_ID,
    CUSTOMER_ID,
    X,
    claims,
    later,
    moto_aws,
    now,
    publisher_for,
    request,
    serve,
)
from tests.integration.test_readback_paging import brand_posts, hung_first_post

TIMELINE, DM_EVENTS = r"/2/users/\d+/tweets", r"/2/dm_conversations/with/\d+/dm_events"


def test_x_read_back_pages_the_timeline_past_100_newer_posts_and_finds_ours(claims, serve):  # noqa: F811
    server, publisher, target, first = hung_first_post(X, serve, claims, lambda server: X.target(server, PUBLIC_REPLY))
    ours = server.brand_replies()[0]["id"]
    brand_posts(server, 150)
    second = publisher.publish(request(target, PUBLIC_REPLY), later(first))

    assert (first.next, first.ambiguous) == (Next.RETRY, True)
    assert (second.next, second.reason, second.platform_id) == (Next.DONE, Reason.FOUND_BY_READ_BACK, ours)
    assert server.calls("POST", r"/2/tweets") == 1
    assert server.calls("GET", TIMELINE) == 2


def test_x_read_back_pages_a_dm_conversation_past_100_newer_events(claims, serve):  # noqa: F811
    server, publisher, target, first = hung_first_post(
        X, serve, claims, lambda server: X.target(server, PRIVATE_REPLY), PRIVATE_REPLY
    )
    ours = server.brand_dms()[0]["id"]
    for index in range(120):  # the customer writes on (X refuses no repeated DM, so a second would go out)
        server.dm_events.append(
            {
                "id": server.snowflake(),
                "event_type": "MessageCreate",
                "text": f"and another thing {index}",
                "sender_id": CUSTOMER_ID,
                "participant": CUSTOMER_ID,
                "dm_conversation_id": f"{BRAND_X_ID}-{CUSTOMER_ID}",
                "created_at": server.dm_events[-1]["created_at"],
            }
        )
    second = publisher.publish(request(target, PRIVATE_REPLY), later(first))

    assert (second.next, second.reason, second.platform_id) == (Next.DONE, Reason.FOUND_BY_READ_BACK, ours)
    assert len(server.brand_dms()) == 1
    assert server.calls("GET", DM_EVENTS) == 2


def test_x_read_back_reads_at_most_read_back_pages_pages(claims, serve):  # noqa: F811
    server, publisher, target, first = hung_first_post(X, serve, claims, lambda server: X.target(server, PUBLIC_REPLY))
    brand_posts(server, XPublisher.READ_BACK_PAGES * 100 + 50)
    second = publisher.publish(request(target, PUBLIC_REPLY), later(first))

    assert server.calls("GET", TIMELINE) == XPublisher.READ_BACK_PAGES
    assert (second.next, second.reason) == (Next.DONE, Reason.FOUND_BY_READ_BACK)  # X: duplicate content, ours
