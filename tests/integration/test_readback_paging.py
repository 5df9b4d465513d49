"""A YouTube read-back after an uncertain first attempt follows ``nextPageToken`` -> ``pageToken`` until it is past
the first attempt, so a busy video (over 100 newer comments) or a long reply thread still finds the brand's comment
instead of posting it twice; it stops at the first page older than the attempt. When X refuses a second post as
duplicate content after an uncertain attempt (its read-back did not reach ours), that post is ours: found, not
refused. X's own paging: ``test_readback_paging_x.py``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from chalicelib.domain.publishing import PUBLIC_REPLY, Next, Reason, ReplyTarget
from tests.contract_servers.base import ACCEPT_THEN_HANG, UNAVAILABLE
from tests.contract_servers.x import XServer
from tests.contract_servers.youtube import YouTubeServer, rfc3339
from tests.integration.test_publishers import (  # noqa: F401  (fixtures)
    BRAND_X_ID,
    CUSTOMER_ID,
    YOUTUBE,
    X,
    claims,
    later,
    moto_aws,
    next_claim,
    now,
    publisher_for,
    request,
    serve,
)

THREADS, REPLIES = r"/youtube/v3/commentThreads", r"/youtube/v3/comments"


def brand_posts(server: XServer, count: int) -> None:
    """The brand answers other people meanwhile (each a post of its own, newer than ours)."""
    for index in range(count):
        other = server.seed(f"17000000000000{index:05d}", f"@aurelle question {index}")
        post_id = server.snowflake()
        server.tweets[post_id] = {
            "id": post_id,
            "text": f"@someone answer number {index}",
            "author_id": BRAND_X_ID,
            "entities": {},
            "referenced_tweets": [{"type": "replied_to", "id": other}],
            "created_at": server.tweets[other]["created_at"],
        }


def viewer_comments(server: YouTubeServer, count: int, video: str | None = None, parent: str | None = None) -> None:
    for index in range(count):
        comment_id = f"{parent}.viewer{index}" if parent else f"Ugviewer{index}"
        server.comments[comment_id] = server._comment(comment_id, f"UCviewer{index}", f"lovely {index}", parent, video)


def hung_first_post(platform, serve, claims, target_of, channel=PUBLIC_REPLY):  # noqa: F811
    """A publisher whose first post reached ``platform``'s server and then timed out: the retry must read back."""
    server = serve(platform)
    publisher = publisher_for(platform, server, claims)
    target = target_of(server)
    server.script(ACCEPT_THEN_HANG)
    return server, publisher, target, publisher.publish(request(target, channel), now())


def test_x_duplicate_refusal_after_an_uncertain_attempt_counts_as_found(claims, serve):  # noqa: F811
    server, publisher, target, first = hung_first_post(X, serve, claims, lambda server: X.target(server, PUBLIC_REPLY))
    brand_posts(server, 1000)  # ours is past the ten pages of 100 a read-back reads
    second = publisher.publish(request(target, PUBLIC_REPLY), later(first))
    again = publisher.publish(request(target, PUBLIC_REPLY), later(first))

    # The read-back missed it, X refused the second post as duplicate content: after the uncertain attempt, that
    # post is ours and live, so the claim is published (not refused with an alert).
    assert server.calls("POST", r"/2/tweets") == 2
    assert (second.next, second.reason) == (Next.DONE, Reason.FOUND_BY_READ_BACK)
    assert len([t for t in server.brand_replies() if t["referenced_tweets"][0]["id"] == target.external_id]) == 1
    assert claims.get(next_claim(claims))["state"] == "published"
    assert (again.next, again.repeat) == (Next.DONE, True)


def test_x_duplicate_content_without_an_uncertain_attempt_is_still_refused(claims, serve):  # noqa: F811
    server = serve(X)
    publisher = publisher_for(X, server, claims)
    one, other = X.target(server, PUBLIC_REPLY), X.target(server, PUBLIC_REPLY)

    publisher.publish(request(one, PUBLIC_REPLY, run="a"), now())
    duplicate = publisher.publish(request(other, PUBLIC_REPLY, run="b"), now())

    assert (duplicate.next, duplicate.reason) == (Next.FINAL, Reason.DUPLICATE_CONTENT)


def _video(server: YouTubeServer) -> ReplyTarget:
    server.videos.add("vid123")
    return ReplyTarget(
        "youtube", "vid123", "video", author_id="UCcreator", text="Unboxing", created_at=datetime.now(timezone.utc)
    )


def test_youtube_read_back_pages_a_videos_threads_past_100_newer_comments(claims, serve):  # noqa: F811
    server, publisher, target, first = hung_first_post(YOUTUBE, serve, claims, lambda server: _video(server))
    ours = server.brand_comments()[0]["id"]
    viewer_comments(server, 130, video="vid123")
    second = publisher.publish(request(target, PUBLIC_REPLY), later(first))

    assert (second.next, second.reason, second.platform_id) == (Next.DONE, Reason.FOUND_BY_READ_BACK, ours)
    assert len(server.brand_comments()) == 1
    assert server.calls("GET", THREADS) == 2


def test_youtube_read_back_stops_at_the_first_page_older_than_the_first_attempt(claims, serve):  # noqa: F811
    server = serve(YOUTUBE)
    publisher = publisher_for(YOUTUBE, server, claims)
    target = _video(server)
    viewer_comments(server, 350, video="vid123")
    for comment in server.comments.values():  # the video's old comments, from last week
        comment["snippet"]["publishedAt"] = rfc3339(datetime.now(timezone.utc) - timedelta(days=7))
    server.script(UNAVAILABLE)

    first = publisher.publish(request(target, PUBLIC_REPLY), now())
    second = publisher.publish(request(target, PUBLIC_REPLY), later(first))

    assert (first.next, first.ambiguous) == (Next.RETRY, True)
    assert (second.next, second.reason) == (Next.DONE, Reason.PUBLISHED)
    assert server.calls("GET", THREADS) == 1  # not the four pages the video has
    assert len(server.brand_comments()) == 1


def test_youtube_read_back_reads_every_page_of_a_comments_replies(claims, serve):  # noqa: F811
    server = serve(YOUTUBE)
    publisher = publisher_for(YOUTUBE, server, claims)
    target = YOUTUBE.target(server, PUBLIC_REPLY)
    viewer_comments(server, 120, parent=target.external_id)  # replies before ours: the list gives no order
    server.script(ACCEPT_THEN_HANG)

    first = publisher.publish(request(target, PUBLIC_REPLY), now())
    ours = server.brand_comments()[0]["id"]
    second = publisher.publish(request(target, PUBLIC_REPLY), later(first))

    assert (second.next, second.reason, second.platform_id) == (Next.DONE, Reason.FOUND_BY_READ_BACK, ours)
    assert len(server.brand_comments()) == 1
    assert server.calls("GET", REPLIES) == 2
