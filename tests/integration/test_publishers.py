"""The platform publishers against local servers that enforce each platform's documented contract, with claims in
(moto) DynamoDB: every scenario ends with exactly one post on the platform, or none and a clear result."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from chalicelib.adapters.aws import client
from chalicelib.adapters.publish_claims import TABLE_DEFINITION, DynamoPublishClaims
from chalicelib.adapters.publishers import ExactlyOncePublisher, build_publishers
from chalicelib.adapters.publishers.http import Credentials, Transport
from chalicelib.adapters.publishers.once import claim_id
from chalicelib.adapters.publishers.youtube import quota_reset
from chalicelib.domain.publishing import (
    PRIVATE_REPLY,
    PUBLIC_REPLY,
    ChannelPost,
    Next,
    PublishResult,
    Reason,
    ReplyTarget,
)
from chalicelib.settings import secret_parameter_name
from tests.conftest import forget_cached_adapters
from tests.contract_servers.base import (
    ACCEPT_THEN_HANG,
    EXPIRE_TOKEN,
    RATE_LIMIT,
    REVOKE,
    UNAVAILABLE,
    ContractServer,
)
from tests.contract_servers.graph import GraphServer
from tests.contract_servers.trustpilot import TrustpilotServer
from tests.contract_servers.x import XServer
from tests.contract_servers.youtube import YouTubeServer

CLAIMS_TABLE = "publish-claims-test"
CLIENT_TIMEOUT = 0.5  # the servers hang 2 s on ACCEPT_THEN_HANG
BRAND_X_ID, BRAND_HANDLE, CUSTOMER_ID = "1500000000000000001", "aurelle", "1600000000000000002"
PAGE_ID, IG_USER_ID, PAGE_TOKEN = "104000000000001", "17841400000000001", "EAAB-page-token"
CHANNEL_ID = "UCbrandchannel000000000"


# -- one description per platform ------------------------------------------------------------------------------
@dataclass
class Platform:
    name: str
    credentials: dict[str, str]
    make_server: Callable[[], ContractServer]
    target: Callable[[Any, str], ReplyTarget]  # (server, channel) -> a mention to answer
    posts: Callable[[Any, str], int]  # (server, channel) -> how many replies the platform holds
    post_path: dict[str, str]  # channel -> the publishing request's path pattern
    channels: tuple[str, ...]
    token_path: str | None = None


def _x_target(server: XServer, channel: str) -> ReplyTarget:
    tweet = server.seed(CUSTOMER_ID, f"@{BRAND_HANDLE} my order never arrived")
    return ReplyTarget(
        "x",
        tweet,
        "post",
        author_id=CUSTOMER_ID,
        author_handle="walker",
        text=server.tweets[tweet]["text"],
        created_at=datetime.now(timezone.utc),
    )


def _graph_target(platform: str) -> Callable[[GraphServer, str], ReplyTarget]:
    def make(server: GraphServer, channel: str) -> ReplyTarget:
        comment = server.seed(platform, "9000001", "The strap broke after a week")
        return ReplyTarget(
            platform,
            comment,
            "comment",
            author_id="9000001",
            text="The strap broke after a week",
            created_at=datetime.now(timezone.utc),
        )

    return make


def _youtube_target(server: YouTubeServer, channel: str) -> ReplyTarget:
    comment = server.seed_comment("UCcustomer", "The sizing chart is wrong")
    return ReplyTarget(
        "youtube",
        comment,
        "comment",
        author_id="UCcustomer",
        text="The sizing chart is wrong",
        created_at=datetime.now(timezone.utc),
    )


def _trustpilot_target(server: TrustpilotServer, channel: str) -> ReplyTarget:
    review = server.seed("Parcel lost, nobody answers")
    return ReplyTarget(
        "trustpilot",
        review,
        "review",
        author_id="c-1",
        text="Parcel lost, nobody answers",
        created_at=datetime.now(timezone.utc),
    )


X = Platform(
    "x",
    {
        "X_OAUTH_CLIENT_ID": "x-client",
        "X_OAUTH_REFRESH_TOKEN": "rt-initial",
        "X_BRAND_USER_ID": BRAND_X_ID,
        "X_BRAND_HANDLE": BRAND_HANDLE,
    },
    lambda: XServer("x-client", "rt-initial", BRAND_X_ID, BRAND_HANDLE),
    _x_target,
    lambda s, c: len(s.brand_replies()) if c == PUBLIC_REPLY else len(s.brand_dms()),
    {PUBLIC_REPLY: r"/2/tweets", PRIVATE_REPLY: r"/2/dm_conversations/with/\d+/messages"},
    (PUBLIC_REPLY, PRIVATE_REPLY),
    r"/2/oauth2/token",
)
GRAPH_CREDENTIALS = {
    "META_PAGE_ACCESS_TOKEN": PAGE_TOKEN,
    "META_PAGE_ID": PAGE_ID,
    "IG_USER_ID": IG_USER_ID,
    "META_GRAPH_VERSION": "v21.0",
}
FACEBOOK = Platform(
    "facebook",
    GRAPH_CREDENTIALS,
    lambda: GraphServer(PAGE_TOKEN, PAGE_ID, IG_USER_ID),
    _graph_target("facebook"),
    lambda s, c: len(s.replies_by_brand("facebook")) if c == PUBLIC_REPLY else len(s.private_replies),
    {PUBLIC_REPLY: r"/v21\.0/\w+/comments", PRIVATE_REPLY: r"/v21\.0/\d+/messages"},
    (PUBLIC_REPLY, PRIVATE_REPLY),
)
INSTAGRAM = Platform(
    "instagram",
    GRAPH_CREDENTIALS,
    lambda: GraphServer(PAGE_TOKEN, PAGE_ID, IG_USER_ID),
    _graph_target("instagram"),
    lambda s, c: len(s.replies_by_brand("instagram")) if c == PUBLIC_REPLY else len(s.private_replies),
    {PUBLIC_REPLY: r"/v21\.0/\w+/replies", PRIVATE_REPLY: r"/v21\.0/\d+/messages"},
    (PUBLIC_REPLY, PRIVATE_REPLY),
)
YOUTUBE = Platform(
    "youtube",
    {
        "YOUTUBE_OAUTH_CLIENT_ID": "yt-client",
        "YOUTUBE_OAUTH_CLIENT_SECRET": "yt-secret",
        "YOUTUBE_OAUTH_REFRESH_TOKEN": "yt-refresh",
        "YOUTUBE_CHANNEL_ID": CHANNEL_ID,
    },
    lambda: YouTubeServer("yt-client", "yt-secret", "yt-refresh", CHANNEL_ID),
    _youtube_target,
    lambda s, c: len(s.brand_comments()),
    {PUBLIC_REPLY: r"/youtube/v3/comments"},
    (PUBLIC_REPLY,),
    r"/token",
)
TRUSTPILOT = Platform(
    "trustpilot",
    {
        "TRUSTPILOT_API_KEY": "tp-key",
        "TRUSTPILOT_API_SECRET": "tp-secret",
        "TRUSTPILOT_BUSINESS_USERNAME": "care@aurelle.example",
        "TRUSTPILOT_BUSINESS_PASSWORD": "pw",
        "TRUSTPILOT_BUSINESS_USER_ID": "bu-1",
    },
    lambda: TrustpilotServer("tp-key", "tp-secret", "care@aurelle.example", "pw", "bu-1"),
    _trustpilot_target,
    lambda s, c: s.replies_posted,
    {PUBLIC_REPLY: r"/v1/private/reviews/\w+/reply"},
    (PUBLIC_REPLY,),
    r"/v1/oauth/oauth-business-users-for-applications/accesstoken",
)
PLATFORMS = [X, FACEBOOK, INSTAGRAM, YOUTUBE, TRUSTPILOT]
PLATFORM_CHANNELS = [pytest.param(p, c, id=f"{p.name}-{c}") for p in PLATFORMS for c in p.channels]


# -- fixtures -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def moto_aws() -> Iterator[None]:
    """One in-process moto for the module (starting it per test costs more than the tests)."""
    from moto import mock_aws

    forget_cached_adapters()
    with mock_aws():
        yield
    forget_cached_adapters()


@pytest.fixture
def claims(moto_aws, request: pytest.FixtureRequest) -> Iterator[DynamoPublishClaims]:
    """A fresh claims table per test, with the key schema ``publish_claims.TABLE_DEFINITION`` gives the template."""
    forget_cached_adapters()
    table = f"{CLAIMS_TABLE}-{abs(hash(request.node.nodeid)) % 10**9}"
    client("dynamodb").create_table(TableName=table, **TABLE_DEFINITION)
    yield DynamoPublishClaims(table)
    client("dynamodb").delete_table(TableName=table)
    client("ssm").delete_parameters(Names=[secret_parameter_name("X_OAUTH_REFRESH_TOKEN")])


def publisher_for(
    platform: Platform, server: ContractServer, claims: DynamoPublishClaims, credentials: Credentials | None = None
) -> ExactlyOncePublisher:
    urls = {platform.name: server.url}
    if platform.name == "youtube":
        urls["youtube_token"] = server.url
    built = build_publishers(
        {platform.name},
        urls,
        Transport(read_seconds=CLIENT_TIMEOUT),
        credentials or Credentials(environ=dict(platform.credentials)),
    )
    return ExactlyOncePublisher(built, claims)


def request(
    target: ReplyTarget,
    channel: str,
    run: str = "iss-1-high_priority-run1",
    text: str = "We are sorry: a replacement is on its way, tracking by DM.",
) -> ChannelPost:
    return ChannelPost("iss-1", run, channel, text, "pr-lead@aurelle.example", target)


def now() -> datetime:
    return datetime.now(timezone.utc)


def later(result: PublishResult) -> datetime:
    """The time the result says to retry at (the tests move the clock instead of sleeping)."""
    assert result.retry_at is not None
    return result.retry_at + timedelta(seconds=1)


@pytest.fixture
def serve(request: pytest.FixtureRequest) -> Iterator[Callable[[Platform], Any]]:
    started: list[ContractServer] = []

    def start(platform: Platform) -> Any:
        server = platform.make_server().__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)
        assert server.violations == [], "a request broke the platform's documented contract"


# -- every platform, every channel ----------------------------------------------------------------------------
@pytest.mark.parametrize(("platform", "channel"), PLATFORM_CHANNELS)
def test_a_reply_is_posted_once_and_a_redelivery_posts_nothing(platform, channel, claims, serve):
    server = serve(platform)
    publisher = publisher_for(platform, server, claims)
    target = platform.target(server, channel)

    first = publisher.publish(request(target, channel), now())
    again = publisher.publish(request(target, channel), now())

    assert (first.next, first.reason, first.repeat) == (Next.DONE, Reason.PUBLISHED, False)
    assert (again.next, again.repeat, again.platform_id) == (Next.DONE, True, first.platform_id)
    assert platform.posts(server, channel) == 1
    assert server.calls("POST", platform.post_path[channel]) == 1


@pytest.mark.parametrize(("platform", "channel"), PLATFORM_CHANNELS)
def test_a_timeout_after_the_platform_accepted_ends_with_one_post(platform, channel, claims, serve):
    server = serve(platform)
    publisher = publisher_for(platform, server, claims)
    target = platform.target(server, channel)
    server.script(ACCEPT_THEN_HANG)

    first = publisher.publish(request(target, channel), now())
    assert (first.next, first.reason, first.ambiguous) == (Next.RETRY, Reason.TIMEOUT, True)
    second = publisher.publish(request(target, channel), later(first))

    assert (second.next, second.reason) == (Next.DONE, Reason.FOUND_BY_READ_BACK)
    assert platform.posts(server, channel) == 1
    meta_private = channel == PRIVATE_REPLY and platform.name in ("facebook", "instagram")
    # Read-back found it without posting again; a Meta private reply has no read-back, and Meta refused the second.
    assert server.calls("POST", platform.post_path[channel]) == (2 if meta_private else 1)
    assert claims.get(next_claim(claims))["state"] == "published"


@pytest.mark.parametrize(("platform", "channel"), PLATFORM_CHANNELS)
def test_a_rate_limit_waits_for_the_platforms_reset_then_posts_once(platform, channel, claims, serve):
    server = serve(platform)
    publisher = publisher_for(platform, server, claims)
    target = platform.target(server, channel)
    server.script(RATE_LIMIT)
    start = now()

    limited = publisher.publish(request(target, channel), start)
    too_soon = publisher.publish(request(target, channel), start + timedelta(seconds=5))
    after_reset = publisher.publish(request(target, channel), later(limited))

    assert (limited.next, limited.reason, limited.ambiguous) == (Next.RETRY, Reason.RATE_LIMITED, False)
    expected_wait = {"x": 890, "facebook": 7 * 60 - 5, "instagram": 7 * 60 - 5, "youtube": 60, "trustpilot": 29}[
        platform.name
    ]
    assert limited.retry_at >= start + timedelta(seconds=expected_wait)  # the platform's own reset hint
    assert too_soon.next is Next.RETRY
    assert timedelta(0) <= too_soon.retry_at - limited.retry_at < timedelta(seconds=1)  # stored in whole seconds
    assert after_reset.next is Next.DONE
    assert platform.posts(server, channel) == 1
    assert server.calls("POST", platform.post_path[channel]) == 2  # the refused one and the one that posted


@pytest.mark.parametrize(("platform", "channel"), PLATFORM_CHANNELS)
def test_a_5xx_is_retried_and_ends_with_one_post(platform, channel, claims, serve):
    server = serve(platform)
    publisher = publisher_for(platform, server, claims)
    target = platform.target(server, channel)
    server.script(UNAVAILABLE)

    failed = publisher.publish(request(target, channel), now())
    retried = publisher.publish(request(target, channel), later(failed))

    assert (failed.next, failed.reason, failed.ambiguous) == (Next.RETRY, Reason.PLATFORM_UNAVAILABLE, True)
    assert (retried.next, retried.reason) == (Next.DONE, Reason.PUBLISHED)  # read back first: nothing there
    assert platform.posts(server, channel) == 1


@pytest.mark.parametrize(("platform", "channel"), PLATFORM_CHANNELS)
def test_a_revoked_token_alerts_without_a_retry_storm(platform, channel, claims, serve):
    server = serve(platform)
    publisher = publisher_for(platform, server, claims)
    target = platform.target(server, channel)
    server.script(REVOKE)

    blocked = publisher.publish(request(target, channel), now())
    requests_so_far = len(server.log)
    redelivered = publisher.publish(request(target, channel), now() + timedelta(minutes=5))

    assert (blocked.next, blocked.reason, blocked.alert) == (Next.ALERT, Reason.TOKEN_REVOKED, True)
    assert platform.posts(server, channel) == 0
    assert server.calls("POST", platform.post_path[channel]) <= 2  # the refused post, at most one renewed repeat
    if platform.token_path:
        assert server.calls("POST", platform.token_path) <= 3  # first grant, one refresh, one fresh re-read
    assert (redelivered.next, redelivered.reason, redelivered.repeat) == (Next.ALERT, Reason.TOKEN_REVOKED, True)
    assert len(server.log) == requests_so_far  # the redelivery asked the platform nothing


@pytest.mark.parametrize("platform", [X, YOUTUBE, TRUSTPILOT], ids=lambda p: p.name)
def test_an_expired_access_token_is_refreshed_once_and_the_reply_posted(platform, claims, serve):
    server = serve(platform)
    publisher = publisher_for(platform, server, claims)
    target = platform.target(server, PUBLIC_REPLY)
    server.script(EXPIRE_TOKEN)

    result = publisher.publish(request(target, PUBLIC_REPLY), now())

    assert result.next is Next.DONE
    assert platform.posts(server, PUBLIC_REPLY) == 1
    assert server.calls("POST", platform.token_path) == 2  # the first grant and the refresh after the 401


def test_a_worker_that_died_mid_post_blocks_others_until_its_lease_ends_then_read_back_decides(claims, serve):
    server = serve(X)
    publisher = publisher_for(X, server, claims)
    target = X.target(server, PUBLIC_REPLY)
    start = now()
    # Another worker claimed the post, and (as far as anyone knows) died while posting.
    claims.begin(claim_id(request(target, PUBLIC_REPLY)), request(target, PUBLIC_REPLY), start, 60)

    while_held = publisher.publish(request(target, PUBLIC_REPLY), start + timedelta(seconds=10))
    after_lease = publisher.publish(request(target, PUBLIC_REPLY), start + timedelta(seconds=61))

    assert (while_held.next, while_held.reason) == (Next.RETRY, Reason.IN_FLIGHT)
    assert after_lease.next is Next.DONE
    assert server.calls("GET", rf"/2/users/{BRAND_X_ID}/tweets") == 1  # it looked before posting
    assert len(server.brand_replies()) == 1


def next_claim(claims: DynamoPublishClaims) -> str:
    items = client("dynamodb").scan(TableName=claims.table)["Items"]
    assert len(items) == 1
    return items[0]["claim_id"]["S"]


# -- Meta's private-reply rules -------------------------------------------------------------------------------
@pytest.mark.parametrize("platform", [FACEBOOK, INSTAGRAM], ids=lambda p: p.name)
def test_meta_private_reply_past_seven_days_is_refused_before_posting(platform, claims, serve):
    server = serve(platform)
    publisher = publisher_for(platform, server, claims)
    eight_days_ago = now() - timedelta(days=8)
    comment = server.seed(platform.name, "9000001", "Still waiting for my refund", created_at=eight_days_ago)
    target = ReplyTarget(platform.name, comment, "comment", author_id="9000001", created_at=eight_days_ago)

    result = publisher.publish(request(target, PRIVATE_REPLY), now())
    redelivered = publisher.publish(request(target, PRIVATE_REPLY), now())

    assert (result.next, result.reason, result.alert) == (Next.FINAL, Reason.WINDOW_CLOSED, True)
    assert server.calls("POST", platform.post_path[PRIVATE_REPLY]) == 0
    assert (redelivered.reason, redelivered.repeat) == (Reason.WINDOW_CLOSED, True)


def test_meta_window_enforced_by_the_platform_maps_to_window_closed(claims, serve):
    """A mention stored without its time cannot be checked here; Meta's own refusal (10903) says the same."""
    server = serve(FACEBOOK)
    publisher = publisher_for(FACEBOOK, server, claims)
    comment = server.seed("facebook", "9000001", "old comment", created_at=now() - timedelta(days=9))
    target = ReplyTarget("facebook", comment, "comment", author_id="9000001", created_at=None)

    result = publisher.publish(request(target, PRIVATE_REPLY), now())

    assert (result.next, result.reason, result.http_status) == (Next.FINAL, Reason.WINDOW_CLOSED, 400)
    assert len(server.private_replies) == 0


@pytest.mark.parametrize("platform", [FACEBOOK, INSTAGRAM], ids=lambda p: p.name)
def test_meta_allows_one_private_reply_per_comment_across_runs(platform, claims, serve):
    server = serve(platform)
    publisher = publisher_for(platform, server, claims)
    target = platform.target(server, PRIVATE_REPLY)

    first = publisher.publish(request(target, PRIVATE_REPLY, run="run-1"), now())
    second = publisher.publish(request(target, PRIVATE_REPLY, run="run-2", text="Following up on your order"), now())
    public = publisher.publish(request(target, PUBLIC_REPLY, run="run-2", text="We have sent you a message."), now())

    assert first.next is Next.DONE
    assert (second.next, second.reason, second.alert) == (Next.FINAL, Reason.ONE_PRIVATE_REPLY, True)
    assert server.calls("POST", platform.post_path[PRIVATE_REPLY]) == 1
    assert len(server.private_replies) == 1
    assert public.next is Next.DONE  # the rule is about private replies only


def test_a_bad_page_token_is_reread_once_then_alerts(claims, serve):
    server = serve(FACEBOOK)
    publisher = publisher_for(
        FACEBOOK, server, claims, Credentials(environ={**GRAPH_CREDENTIALS, "META_PAGE_ACCESS_TOKEN": "stale"})
    )
    target = FACEBOOK.target(server, PUBLIC_REPLY)

    result = publisher.publish(request(target, PUBLIC_REPLY), now())

    assert (result.next, result.reason) == (Next.ALERT, Reason.TOKEN_REVOKED)
    assert server.calls("POST", FACEBOOK.post_path[PUBLIC_REPLY]) == 2


def test_a_deleted_facebook_comment_is_final(claims, serve):
    server = serve(FACEBOOK)
    publisher = publisher_for(FACEBOOK, server, claims)
    target = ReplyTarget("facebook", "111_222", "comment", author_id="9000001", created_at=now())

    result = publisher.publish(request(target, PUBLIC_REPLY), now())

    assert (result.next, result.reason) == (Next.FINAL, Reason.TARGET_GONE)
    assert "(100)" in result.detail


# -- X's rules ------------------------------------------------------------------------------------------------
def test_x_self_serve_refuses_a_reply_to_a_post_that_neither_mentions_nor_quotes_the_brand(claims, serve):
    server = serve(X)
    publisher = publisher_for(X, server, claims)
    tweet = server.seed(CUSTOMER_ID, "Fashion brands never answer anyone")
    target = ReplyTarget("x", tweet, "post", author_id=CUSTOMER_ID, text="Fashion brands never answer anyone")

    result = publisher.publish(request(target, PUBLIC_REPLY), now())

    assert (result.next, result.reason, result.alert) == (Next.FINAL, Reason.NOT_MENTIONED, True)
    assert server.calls("POST", r"/2/tweets") == 0
    assert server.calls("GET", rf"/2/tweets/{tweet}") == 1  # the text did not say; the post was looked up


def test_x_self_serve_replies_to_a_quote_of_the_brands_post(claims, serve):
    server = serve(X)
    publisher = publisher_for(X, server, claims)
    brand_post = server.seed(BRAND_X_ID, "Our autumn collection is here")
    quote = server.seed(CUSTOMER_ID, "This is the coat that fell apart", quoted_id=brand_post)
    target = ReplyTarget("x", quote, "post", author_id=CUSTOMER_ID, text="This is the coat that fell apart")

    result = publisher.publish(request(target, PUBLIC_REPLY), now())

    assert result.next is Next.DONE
    assert len([t for t in server.brand_replies() if t["referenced_tweets"]]) == 1


def test_x_enterprise_tier_replies_without_a_mention(claims, serve):
    enterprise = Platform(
        **{
            **X.__dict__,
            "credentials": {**X.credentials, "X_API_TIER": "enterprise"},
            "make_server": lambda: XServer("x-client", "rt-initial", BRAND_X_ID, BRAND_HANDLE, tier="enterprise"),
        }
    )
    server = serve(enterprise)
    publisher = publisher_for(enterprise, server, claims)
    tweet = server.seed(CUSTOMER_ID, "Fashion brands never answer anyone")
    target = ReplyTarget("x", tweet, "post", author_id=CUSTOMER_ID, text="Fashion brands never answer anyone")

    assert publisher.publish(request(target, PUBLIC_REPLY), now()).next is Next.DONE
    assert server.calls("GET", r"/2/tweets/\d+") == 0


def test_x_duplicate_content_and_deleted_posts_are_final(claims, serve):
    server = serve(X)
    publisher = publisher_for(X, server, claims)
    first = X.target(server, PUBLIC_REPLY)
    second = X.target(server, PUBLIC_REPLY)
    gone = ReplyTarget("x", "1234567890123", "post", author_id=CUSTOMER_ID, text=f"@{BRAND_HANDLE} hello")

    assert publisher.publish(request(first, PUBLIC_REPLY, run="a"), now()).next is Next.DONE
    duplicate = publisher.publish(request(second, PUBLIC_REPLY, run="b"), now())
    deleted = publisher.publish(request(gone, PUBLIC_REPLY, run="c"), now())

    assert (duplicate.next, duplicate.reason, duplicate.http_status) == (Next.FINAL, Reason.DUPLICATE_CONTENT, 403)
    assert (deleted.next, deleted.reason) == (Next.FINAL, Reason.TARGET_GONE)
    assert "deleted or not visible" in deleted.detail
    assert len(server.brand_replies()) == 1


def test_x_counts_length_as_x_does_and_refuses_before_posting(claims, serve):
    server = serve(X)
    publisher = publisher_for(X, server, claims)
    target = X.target(server, PUBLIC_REPLY)
    # any URL counts as a 23-character t.co link (a domain X links: ".example" is no TLD, so X counts it as text)
    url = "https://aurelle.com/returns/" + "x" * 200
    fits = "a" * 256 + " " + url  # 256 + 1 + 23 = 280
    too_long = publisher.publish(request(target, PUBLIC_REPLY, run="r1", text="a" + fits), now())
    cjk = publisher.publish(request(target, PUBLIC_REPLY, run="r2", text="返" * 141), now())

    assert (too_long.next, too_long.reason) == (Next.FINAL, Reason.TOO_LONG)
    assert (cjk.next, cjk.reason) == (Next.FINAL, Reason.TOO_LONG)  # CJK counts 2: 282
    assert server.calls("POST", r"/2/tweets") == 0
    assert publisher.publish(request(target, PUBLIC_REPLY, run="r3", text=fits), now()).next is Next.DONE


def test_x_rotated_refresh_token_is_written_back_to_ssm(claims, serve):
    server = serve(X)
    stored = {k: v for k, v in X.credentials.items() if k != "X_OAUTH_REFRESH_TOKEN"}
    client("ssm").put_parameter(
        Name=secret_parameter_name("X_OAUTH_REFRESH_TOKEN"), Value="rt-initial", Type="SecureString"
    )
    publisher = publisher_for(X, server, claims, Credentials(environ=stored))

    assert publisher.publish(request(X.target(server, PUBLIC_REPLY), PUBLIC_REPLY, run="r1"), now()).next is Next.DONE
    rotated = client("ssm").get_parameter(Name=secret_parameter_name("X_OAUTH_REFRESH_TOKEN"), WithDecryption=True)[
        "Parameter"
    ]["Value"]
    assert rotated != "rt-initial" and rotated in server.refresh_tokens

    # Another process (a cold Lambda) starts from SSM and can still refresh: the rotation was not lost.
    forget_cached_adapters()
    fresh = publisher_for(X, server, claims, Credentials(environ=stored))
    assert (
        fresh.publish(
            request(X.target(server, PUBLIC_REPLY), PUBLIC_REPLY, run="r2", text="Another answer"), now()
        ).next
        is Next.DONE
    )
    assert len(server.brand_replies()) == 2


# -- YouTube and Trustpilot specifics -------------------------------------------------------------------------
def test_youtube_quota_exceeded_waits_for_the_pacific_midnight_reset(claims, serve):
    server = serve(YOUTUBE)
    publisher = publisher_for(YOUTUBE, server, claims)
    server.script(RATE_LIMIT)
    start = now()

    result = publisher.publish(request(YOUTUBE.target(server, PUBLIC_REPLY), PUBLIC_REPLY), start)

    assert (result.reason, result.retry_at) == (Reason.RATE_LIMITED, quota_reset(start))


def test_youtube_video_mention_gets_a_top_level_comment_and_missing_parent_is_final(claims, serve):
    server = serve(YOUTUBE)
    publisher = publisher_for(YOUTUBE, server, claims)
    server.videos.add("dQw4w9WgXcQ")
    video = ReplyTarget("youtube", "dQw4w9WgXcQ", "video", author_id="UCcustomer", text="Unboxing: broken zip")
    missing = ReplyTarget("youtube", "UgMissing", "comment", author_id="UCcustomer")

    on_video = publisher.publish(request(video, PUBLIC_REPLY, run="v"), now())
    gone = publisher.publish(request(missing, PUBLIC_REPLY, run="m"), now())

    assert on_video.next is Next.DONE and on_video.published_at is not None
    assert server.calls("POST", r"/youtube/v3/commentThreads") == 1
    assert (gone.next, gone.reason, gone.http_status) == (Next.FINAL, Reason.TARGET_GONE, 404)


def test_trustpilot_unknown_review_is_final(claims, serve):
    server = serve(TRUSTPILOT)
    publisher = publisher_for(TRUSTPILOT, server, claims)
    target = ReplyTarget("trustpilot", "ffffffffffffffffffffffff", "review")

    result = publisher.publish(request(target, PUBLIC_REPLY), now())

    assert (result.next, result.reason, result.http_status) == (Next.FINAL, Reason.TARGET_GONE, 404)


def test_unsupported_channels_and_platforms_are_final_without_a_request(claims, serve):
    server = serve(YOUTUBE)
    publisher = publisher_for(YOUTUBE, server, claims)
    target = YOUTUBE.target(server, PUBLIC_REPLY)

    private = publisher.publish(request(target, PRIVATE_REPLY), now())
    elsewhere = publisher.publish(request(ReplyTarget("reviews", "r1"), PUBLIC_REPLY), now())

    assert (private.next, private.reason) == (Next.FINAL, Reason.CHANNEL_UNSUPPORTED)
    assert (elsewhere.next, elsewhere.reason) == (Next.FINAL, Reason.PLATFORM_UNSUPPORTED)
    assert server.log == []


# -- the contract servers themselves refuse what the platforms refuse -------------------------------------------
def test_contract_servers_refuse_off_contract_requests(serve):
    import urllib3

    http = urllib3.PoolManager(retries=False)
    x = serve(X)
    token = x.issue_access_token()
    no_reply = http.request(
        "POST",
        x.url + "/2/tweets",
        body=b'{"text": "hi"}',
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    no_auth = http.request(
        "POST", x.url + "/2/tweets", body=b'{"text": "hi"}', headers={"Content-Type": "application/json"}
    )
    graph = serve(FACEBOOK)
    unversioned = http.request(
        "POST",
        graph.url + "/123_456/comments",
        fields={"message": "hi"},
        headers={"Authorization": f"Bearer {PAGE_TOKEN}"},
    )

    assert no_reply.status == 400 and no_auth.status == 401 and unversioned.status == 404
    assert x.violations == ["POST /2/tweets: reply must be {in_reply_to_tweet_id}"]
    x.violations.clear()  # these were deliberate


def test_the_graph_api_version_defaults_to_v25_and_meta_graph_version_overrides_it(claims, serve):
    server = serve(FACEBOOK)
    default = dict(GRAPH_CREDENTIALS)
    del default["META_GRAPH_VERSION"]
    by_default = publisher_for(FACEBOOK, server, claims, Credentials(environ=default))
    overridden = publisher_for(
        FACEBOOK, server, claims, Credentials(environ={**default, "META_GRAPH_VERSION": "v24.0"})
    )

    first = by_default.publish(request(FACEBOOK.target(server, PUBLIC_REPLY), PUBLIC_REPLY, run="a"), now())
    second = overridden.publish(request(FACEBOOK.target(server, PUBLIC_REPLY), PUBLIC_REPLY, run="b"), now())

    assert (first.next, second.next) == (Next.DONE, Next.DONE)
    # v25.0 is available until 29 July 2028 (Meta's Graph API versions changelog); v21.0 only until 21 January 2027
    assert server.calls("POST", r"/v25\.0/\w+/comments") == 1
    assert server.calls("POST", r"/v24\.0/\w+/comments") == 1
