"""The publish use case wired to a real platform publisher: X's contract server, the claims, issues, audit, outbox
and alerts on in-process moto. Each fault (the platform accepting then timing out, a 429, a 5xx, a revoked token)
ends with exactly one post on the platform (or none, for the revoked token) and a true audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.adapters.alerts import SnsAlerts
from chalicelib.adapters.approvals_table import DynamoApprovals
from chalicelib.adapters.aws import client
from chalicelib.adapters.email import SesEmail
from chalicelib.adapters.issues_table import DynamoIssues
from chalicelib.adapters.outbox import OutboxPublisher
from chalicelib.adapters.plans import DynamoPlanStore, bundled_plan
from chalicelib.adapters.publish_claims import DynamoPublishClaims
from chalicelib.adapters.publishers import ExactlyOncePublisher, RoutedPublisher, build_publishers
from chalicelib.adapters.publishers.http import Credentials, Transport
from chalicelib.adapters.redelivery import SqsRedelivery
from chalicelib.adapters.triage_table import DynamoTriageStore
from chalicelib.domain.protocol_messages import PUBLISH_REFUSED_ERROR, PublishRequest
from chalicelib.services.approvals import ApprovalDeps, PublishLater, publish_reply
from chalicelib.services.triage import triage_mention
from chalicelib.settings import resources
from tests.contract_servers.base import ACCEPT_THEN_HANG, RATE_LIMIT, REVOKE, UNAVAILABLE
from tests.contract_servers.x import XServer
from tests.fakes import FakeWorkflows
from tests.triage_fixtures import fixed_analyzer, mention

BRAND_ID, BRAND = "1500000000000000001", "aurelle"
CREDENTIALS = {
    "X_OAUTH_CLIENT_ID": "x-client",
    "X_OAUTH_REFRESH_TOKEN": "rt-initial",
    "X_BRAND_USER_ID": BRAND_ID,
    "X_BRAND_HANDLE": BRAND,
}
TEXT = "@aurelle Your Alba boots burned my skin, I will sue."
REPLY = "Ana, we are so sorry. Our care lead will call you today: please DM us your number."


@pytest.fixture
def x_server() -> Iterator[XServer]:
    with XServer("x-client", "rt-initial", BRAND_ID, BRAND) as server:
        yield server
        assert server.violations == []


@pytest.fixture
def setup(aws, x_server: XServer):
    names = resources()
    tweet = x_server.seed("1600000000000000002", TEXT)
    issue_id = triage_mention(
        mention(tweet, TEXT), DynamoTriageStore(names), DynamoPlanStore(names.plans_table), fixed_analyzer
    ).issue_id
    workflows = FakeWorkflows()
    platforms = ExactlyOncePublisher(
        build_publishers({"x"}, {"x": x_server.url}, Transport(read_seconds=0.5), Credentials(dict(CREDENTIALS))),
        DynamoPublishClaims(names.publish_claims_table),
    )
    deps = ApprovalDeps(
        approvals=DynamoApprovals(names.approvals_table, names.audit_table),
        issues=DynamoIssues(names),
        email=SesEmail("noreply@aurelle.example"),
        workflows=workflows,
        publisher=RoutedPublisher(OutboxPublisher(names.outbox_table), platforms),
        alerts=SnsAlerts(names),
        plan=bundled_plan(),
        link_key="k" * 32,
        base_url="http://h",
    )
    message = PublishRequest(
        issue_id=issue_id,
        category="high_priority",
        protocol="high_priority",
        channels=["public_reply"],
        draft=REPLY,
        approved_by="cmo@aurelle.example",
        task_token="publish-token",
        execution=f"arn:exec:{issue_id}",
    )
    return deps, message, workflows


def audit(issue_id: str) -> list[dict]:
    return sorted(DynamoIssues(resources()).history(issue_id), key=lambda e: e["sk"])


def audit_types(issue_id: str) -> list[str]:
    return [e["type"] for e in audit(issue_id) if e["type"].startswith("publish")]


def alerts_sent() -> list[dict]:
    items = client("dynamodb").scan(TableName=resources().alerts_table)["Items"]
    return [i for i in items if i["pk"]["S"].startswith("sent#")]


def deliver_until_done(message: PublishRequest, deps: ApprovalDeps, start: datetime) -> tuple[int, list[str]]:
    """Deliver the message as SQS would (again at each retry time); (how many deliveries, the posts)."""
    at = start
    for delivery in range(1, 6):
        try:
            return delivery, publish_reply(message, deps, at)
        except PublishLater as later:
            assert later.retry_at > at
            at = later.retry_at + timedelta(seconds=1)
    raise AssertionError("still waiting after 5 deliveries")


@pytest.mark.parametrize("fault", [ACCEPT_THEN_HANG, RATE_LIMIT, UNAVAILABLE])
def test_a_fault_then_a_redelivery_ends_with_one_post_and_one_record(setup, x_server, fault):
    deps, message, workflows = setup
    x_server.script(fault)
    start = datetime.now(timezone.utc)
    deliveries, posts = deliver_until_done(message, deps, start)
    again = publish_reply(message, deps, start + timedelta(hours=1))  # a late duplicate delivery

    assert deliveries == 2 and again == posts
    [reply] = x_server.brand_replies()
    assert posts == [reply["id"]] and reply["text"] == REPLY
    assert audit_types(message.issue_id) == ["published"]
    [published] = [e for e in audit(message.issue_id) if e["type"] == "published"]
    assert published["details"]["posts"] == [reply["id"]] and published["details"]["platform"] == "x"
    issue = DynamoIssues(resources()).get(message.issue_id)
    # The response time is the platform's own time of the post (X: the id's snowflake, to the millisecond; the
    # post's created_at shows whole seconds), not our clock at the retry (15 minutes later for the 429).
    posted_at = datetime.fromisoformat(reply["created_at"].replace("Z", "+00:00"))
    assert timedelta(0) <= datetime.fromisoformat(issue["first_response_at"]) - posted_at < timedelta(seconds=1)
    assert [o["platform_id"]["S"] for o in client("dynamodb").scan(TableName=resources().outbox_table)["Items"]] == [
        reply["id"]
    ]  # the sent reply is kept once, with the platform's id
    assert [out["published"] for _, out in workflows.resumed] == [1] and alerts_sent() == []


def test_a_revoked_token_posts_nothing_alerts_once_and_ends_the_publish_task(setup, x_server):
    deps, message, workflows = setup
    x_server.script(REVOKE)
    now = datetime.now(timezone.utc)
    assert publish_reply(message, deps, now) == []
    calls = len(x_server.log)
    assert publish_reply(message, deps, now + timedelta(minutes=5)) == []  # redelivered: no retry storm

    assert len(x_server.log) == calls  # the second delivery did not call the platform
    assert x_server.brand_replies() == []
    assert audit_types(message.issue_id) == ["publish_failed"]
    [failed] = [e for e in audit(message.issue_id) if e["type"] == "publish_failed"]
    assert failed["details"]["reason"] == "token_revoked" and failed["actor"] == "system:publisher"
    [sent] = alerts_sent()
    assert sent["pk"]["S"].startswith(f"sent#{message.issue_id}#publish_refused#")  # its own kind, not a timeout's
    assert [(error, "token_revoked" in cause) for _, error, cause in workflows.failed] == [
        (PUBLISH_REFUSED_ERROR, True)
    ]
    assert "first_response_at" not in DynamoIssues(resources()).get(message.issue_id)


def test_a_message_that_must_wait_comes_back_no_sooner_than_asked(aws):
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=resources().publish_queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    [received] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    SqsRedelivery().delay(arn, received["ReceiptHandle"], 900)
    assert sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages", []) == []


def test_the_sent_replies_responders_see_are_the_ones_people_approved(aws):
    from chalicelib.domain.publishing import ChannelPost, ReplyTarget

    outbox = OutboxPublisher(resources().outbox_table)
    now = datetime.now(timezone.utc)
    target = ReplyTarget("facebook", "c-1", "comment", author_handle="ana")
    approved = ChannelPost("iss-1", "run-1", "public_reply", REPLY, "cmo@aurelle.example", target, "high_priority")
    survey = ChannelPost("iss-1", "survey-s1", "private_reply", "How did we do? 1-5", "system:surveys", target)
    first = outbox.publish(approved, now)
    outbox.publish(survey, now)
    again = outbox.publish(approved, now + timedelta(minutes=3))

    assert (again.platform_id, again.published_at, again.repeat) == (first.platform_id, first.published_at, True)
    assert [(r["text"], r["category"], r["delivered_to"]) for r in outbox.recent(now)] == [
        (REPLY, "high_priority", "outbox")
    ]
