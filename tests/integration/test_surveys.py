"""Satisfaction surveys on in-process moto: a resolved issue with a published reply gets one survey, sent once on
the channel its platform allows; the link's page (Chalice's test client) shows on GET and records on POST, once;
the answer lands on the issue, its audit trail and SNS; forged, expired and reused links change nothing; SES
failing once still ends with exactly one email."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.adapters.aws import client
from chalicelib.adapters.issues_table import DynamoIssues
from chalicelib.adapters.plans import DynamoPlanStore
from chalicelib.adapters.triage_table import DynamoTriageStore
from chalicelib.domain.models import Author, Mention
from chalicelib.services.surveys import run_due, schedule_surveys
from chalicelib.services.triage import triage_mention
from chalicelib.settings import resources
from tests.helpers import DEPLOYED_API, drain_stream, form_target
from tests.integration.test_side_effects_retry import fail_calls
from tests.triage_fixtures import fixed_analyzer, mention

NOW = datetime.now(timezone.utc).replace(microsecond=0)
LINK = re.compile(r"(http://\S+/surveys/[\w-]+\?exp=\d+&sig=[0-9a-f]{64})")
XSS = "<script>alert('x')</script>"


@pytest.fixture
def api(aws):
    import app

    with Client(app.app, stage_name="test") as test_client:
        yield test_client


@pytest.fixture
def alerts_queue(aws) -> str:
    """An SQS queue subscribed to the alerts topic: what an SNS subscriber receives."""
    sqs, sns = client("sqs"), client("sns")
    url = sqs.create_queue(QueueName="survey-subscriber")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(resources().alerts_topic))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "false"})
    return url


def received(url: str) -> list[dict]:
    messages = client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(json.loads(m["Body"])["Message"]) for m in messages]


def resolve_with_reply(item: Mention, at: datetime = NOW) -> tuple[str, list[dict]]:
    """Open the mention's issue, publish a reply and resolve it (what the protocol's publish and ResolveIssue
    states write); the issues stream records so far."""
    names = resources()
    result = triage_mention(item, DynamoTriageStore(names), DynamoPlanStore(names.plans_table), fixed_analyzer)
    assert result.issue_id
    DynamoIssues(names).record_response(result.issue_id, at)
    client("dynamodb").update_item(
        TableName=names.issues_table,
        Key={"issue_id": {"S": result.issue_id}},
        UpdateExpression="SET #s = :r, resolved_at = :at",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":r": {"S": "resolved"}, ":at": {"S": at.isoformat()}},
    )
    return result.issue_id, drain_stream(names.issues_table)


def plan():
    return DynamoPlanStore(resources().plans_table).active()[0]


def outbox_surveys(issue_id: str) -> list[dict]:
    items = client("dynamodb").scan(TableName=resources().outbox_table)["Items"]
    return [i for i in items if i["issue_id"]["S"] == issue_id and i["approved_by"]["S"] == "system:surveys"]


def issue(issue_id: str) -> dict:
    return DynamoIssues(resources()).get(issue_id) or {}


def history_types(issue_id: str) -> list[str]:
    return [e["type"] for e in DynamoIssues(resources()).history(issue_id)]


def path_of(link: str) -> str:
    return link.split("127.0.0.1:8000", 1)[-1]


def post(api, path: str, fields: dict, accept: str = "text/html"):
    return api.http.post(
        path, body=urlencode(fields), headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": accept}
    )


def test_a_resolved_issue_with_a_reply_gets_one_survey_whose_answer_lands_on_the_issue_and_sns(api, alerts_queue):
    issue_id, records = resolve_with_reply(mention("sv-1", f"My order never arrived, two weeks late {XSS}"))
    counts = schedule_surveys(records, plan(), bootstrap.survey_deps(), NOW)
    assert counts["scheduled"] == 1 and counts["sent"] == 1
    # The stream's retry (the same records again) schedules and sends nothing more.
    again = schedule_surveys(records, plan(), bootstrap.survey_deps(), NOW)
    assert again["already_scheduled"] == 1 and "sent" not in again
    (post_item,) = outbox_surveys(issue_id)
    assert post_item["channel"]["S"] == "private_reply"  # X: a DM
    link = LINK.search(post_item["text"]["S"]).group(1)
    assert issue_id not in link  # never the bare issue id
    assert "survey_sent" in history_types(issue_id)

    page = api.http.get(path_of(link))
    assert page.status_code == 200 and 'name=rating value="5"' in page.body.decode()
    # the form posts back to the link itself, wherever the API is served (a deployed stage's /api prefix)
    assert form_target(page.body.decode(), DEPLOYED_API + path_of(link)) == DEPLOYED_API + path_of(link)
    assert "satisfaction" not in issue(issue_id)  # GET changes nothing (mail scanners)

    answered = post(api, path_of(link), {"rating": "5", "comment": XSS})
    assert answered.status_code == 200 and "Thank you" in answered.body.decode()
    recorded = issue(issue_id)
    assert (recorded["satisfaction"], int(recorded["satisfaction_rating"])) == ("satisfied", 5)
    assert recorded["satisfaction_comment"] == XSS
    events = {e["type"]: e for e in DynamoIssues(resources()).history(issue_id)}
    assert events["survey_answered"]["details"]["rating"] == 5
    (notice,) = [m for m in received(alerts_queue) if m["kind"] == "survey_answered"]
    assert (notice["issue_id"], notice["rating"], notice["satisfaction"]) == (issue_id, 5, "satisfied")

    # Reused: refused, and nothing changes.
    reused = post(api, path_of(link), {"rating": "1"}, accept="application/json")
    assert reused.status_code == 410 and "already answered" in json.loads(reused.body)["error"]
    assert int(issue(issue_id)["satisfaction_rating"]) == 5
    assert history_types(issue_id).count("survey_answered") == 1
    assert api.http.get(path_of(link)).status_code == 410
    assert run_due(plan(), bootstrap.survey_deps(), NOW + timedelta(minutes=5))["announced_sent"] == 0
    assert received(alerts_queue) == []  # the event went out once


def test_forged_links_and_bad_forms_are_refused_and_change_nothing(api):
    issue_id, records = resolve_with_reply(mention("sv-2", "The zip broke on day one, I want a refund", author="bo"))
    schedule_surveys(records, plan(), bootstrap.survey_deps(), NOW)
    link = LINK.search(outbox_surveys(issue_id)[0]["text"]["S"]).group(1)
    survey_path = path_of(link)
    forged = re.sub(r"sig=[0-9a-f]{4}", "sig=0000", survey_path)
    later = re.sub(r"exp=(\d+)", lambda m: f"exp={int(m.group(1)) + 86400}", survey_path)
    other_survey = re.sub(r"/surveys/[\w-]+", "/surveys/" + "A" * 22, survey_path)
    for bad in (forged, later, other_survey, survey_path.split("?")[0]):
        assert api.http.get(bad).status_code == 403
        assert post(api, bad, {"rating": "5"}).status_code == 403
    refused = post(api, survey_path, {"rating": "9"}, accept="application/json")
    assert refused.status_code == 400 and "rating" in json.loads(refused.body)["error"]
    assert post(api, survey_path, {"comment": "no rating"}).status_code == 400
    wrong_type = api.http.post(
        survey_path, body=json.dumps({"rating": 5}), headers={"Content-Type": "application/json"}
    )
    assert wrong_type.status_code == 415
    assert "satisfaction" not in issue(issue_id) and "survey_answered" not in history_types(issue_id)
    # Still answerable with the real link.
    assert post(api, survey_path, {"rating": "2"}).status_code == 200
    assert issue(issue_id)["satisfaction"] == "dissatisfied"


def test_an_expired_survey_is_refused_and_recorded_unanswered_once(api):
    past = NOW - timedelta(days=20)
    issue_id, records = resolve_with_reply(mention("sv-3", "Parcel never came, worst service", author="cy"), past)
    schedule_surveys(records, plan(), bootstrap.survey_deps(), past)  # sent 20 days ago, open for 14
    link = LINK.search(outbox_surveys(issue_id)[0]["text"]["S"]).group(1)
    assert api.http.get(path_of(link)).status_code == 410
    assert post(api, path_of(link), {"rating": "5"}).status_code == 410
    assert "satisfaction" not in issue(issue_id)
    assert run_due(plan(), bootstrap.survey_deps(), NOW)["unanswered"] == 1
    assert run_due(plan(), bootstrap.survey_deps(), NOW)["unanswered"] == 0
    assert issue(issue_id)["satisfaction"] == "unanswered"
    assert history_types(issue_id).count("survey_unanswered") == 1


def test_ses_failing_once_for_a_survey_ends_with_exactly_one_email(aws):
    address = "dana@example.com"
    item = Mention(
        platform="email",
        external_id="mail-1",
        text="My refund never arrived after three weeks",
        author=Author(id=address, name="Dana"),
        created_at=NOW - timedelta(hours=2),
    )
    issue_id, records = resolve_with_reply(item)
    requests: list[dict] = []
    client("ses").meta.events.register(
        "before-parameter-build.ses.SendEmail", lambda params, **_: requests.append(params), unique_id="capture"
    )
    fail_calls("ses", "SendEmail", times=1)
    counts = schedule_surveys(records, plan(), bootstrap.survey_deps(), NOW)
    assert counts["scheduled"] == 1 and counts["owed"] == 1  # the claim is given back
    assert run_due(plan(), bootstrap.survey_deps(), NOW)["sent"] == 1  # the next run sends it
    assert run_due(plan(), bootstrap.survey_deps(), NOW + timedelta(minutes=5))["sent"] == 0
    from moto.backends import get_backend

    sent = [
        m
        for m in get_backend("ses")["123456789012"]["us-east-1"].sent_messages
        if address in m.destinations["ToAddresses"]
    ]
    assert len(sent) == 1
    assert LINK.search(html.unescape(sent[0].body))
    body = requests[-1]["Message"]["Body"]  # multipart: plain text beside the HTML
    assert LINK.search(body["Text"]["Data"]) and '<a href="' in body["Html"]["Data"]
    assert history_types(issue_id).count("survey_sent") == 1
    assert outbox_surveys(issue_id) == []


def email_survey(external_id: str, address: str = "dana@example.com") -> tuple[str, list[dict]]:
    item = Mention(
        platform="email",
        external_id=external_id,
        text="My refund never arrived after three weeks",
        author=Author(id=address, name="Dana"),
        created_at=NOW - timedelta(hours=2),
    )
    return resolve_with_reply(item)


def emails_to(address: str) -> int:
    from moto.backends import get_backend

    return sum(
        address in m.destinations["ToAddresses"] for m in get_backend("ses")["123456789012"]["us-east-1"].sent_messages
    )


def test_a_sent_mark_that_fails_once_neither_sends_twice_nor_loses_the_record(aws):
    issue_id, records = email_survey("mail-mark")
    fail_calls(
        "dynamodb", "UpdateItem", when=lambda p: str(p.get("UpdateExpression", "")).startswith("SET send_state = :sent")
    )
    assert schedule_surveys(records, plan(), bootstrap.survey_deps(), NOW)["sent"] == 1
    assert run_due(plan(), bootstrap.survey_deps(), NOW + timedelta(minutes=2))["sent"] == 0  # past the lease
    assert emails_to("dana@example.com") == 1 and history_types(issue_id).count("survey_sent") == 1


def test_an_address_ses_refuses_is_recorded_not_sent_once_and_never_tried_again(aws):
    from botocore.exceptions import ClientError

    issue_id, records = email_survey("mail-refused")
    refused = ClientError({"Error": {"Code": "InvalidParameterValue", "Message": "Illegal address"}}, "SendEmail")
    fail_calls("ses", "SendEmail", times=5, error=lambda: refused)
    assert schedule_surveys(records, plan(), bootstrap.survey_deps(), NOW)["undeliverable"] == 1
    assert run_due(plan(), bootstrap.survey_deps(), NOW + timedelta(minutes=10)).get("sent", 0) == 0
    assert history_types(issue_id).count("survey_not_sent") == 1
    assert bootstrap.survey_deps().surveys.for_issue(issue_id).status.value == "undeliverable"


def test_a_survey_owed_until_its_link_expired_is_not_sent_late(aws):
    issue_id, records = email_survey("mail-late")
    fail_calls("ses", "SendEmail", times=1)  # SES down for this run; the survey stays owed
    assert schedule_surveys(records, plan(), bootstrap.survey_deps(), NOW)["owed"] == 1
    survey = bootstrap.survey_deps().surveys.for_issue(issue_id)
    after = datetime.fromtimestamp(survey.expires_at, timezone.utc) + timedelta(minutes=1)
    assert run_due(plan(), bootstrap.survey_deps(), after).get("sent", 0) == 0
    assert emails_to("dana@example.com") == 0 and history_types(issue_id).count("survey_not_sent") == 1


def test_no_survey_when_the_plan_says_no_or_the_issue_is_not_resolved(aws):
    names = resources()
    result = triage_mention(
        mention("sv-5", "Package never arrived, late again", author="ed"),
        DynamoTriageStore(names),
        DynamoPlanStore(names.plans_table),
        fixed_analyzer,
    )
    DynamoIssues(names).record_response(result.issue_id, NOW)  # a reply, but not resolved
    counts = schedule_surveys(drain_stream(names.issues_table), plan(), bootstrap.survey_deps(), NOW)
    assert counts["scheduled"] == 0 and outbox_surveys(result.issue_id) == []


def test_a_survey_dm_on_x_goes_to_the_platform_once_through_a_5xx(aws):
    """With X switched on, the survey is a DM through the exactly-once publisher, against the local server that
    enforces X's contract: a 503 gives the claim back, the next run reads back and posts exactly one DM."""
    from chalicelib.adapters.outbox import OutboxPublisher
    from chalicelib.adapters.publish_claims import DynamoPublishClaims
    from chalicelib.adapters.publishers import ExactlyOncePublisher, RoutedPublisher, build_publishers
    from chalicelib.adapters.publishers.http import Credentials, Transport
    from chalicelib.adapters.survey_senders import ReplySurveySender, SesSurveySender, SurveyChannels
    from chalicelib.services.surveys import SurveyDeps
    from tests.contract_servers.base import UNAVAILABLE
    from tests.integration.test_publishers import BRAND_HANDLE, CUSTOMER_ID, X

    names = resources()
    with X.make_server() as server:
        tweet = server.seed(CUSTOMER_ID, f"@{BRAND_HANDLE} my parcel never arrived, two weeks late")
        item = Mention(
            platform="x",
            external_id=tweet,
            text=server.tweets[tweet]["text"],
            author=Author(id=CUSTOMER_ID, handle="walker", name="Walker"),
            created_at=NOW,
        )
        issue_id, records = resolve_with_reply(item)
        once = ExactlyOncePublisher(
            build_publishers(
                {"x"}, {"x": server.url}, Transport(read_seconds=0.5), Credentials(environ=dict(X.credentials))
            ),
            DynamoPublishClaims(names.publish_claims_table),
        )
        sender = SurveyChannels(
            SesSurveySender(bootstrap.mailer()),
            ReplySurveySender(RoutedPublisher(OutboxPublisher(names.outbox_table), once)),
        )
        base = bootstrap.survey_deps()
        deps = SurveyDeps(
            surveys=base.surveys,
            issues=base.issues,
            sender=sender,
            notices=base.notices,
            link_key=base.link_key,
            base_url=base.base_url,
        )
        server.script(UNAVAILABLE)
        assert schedule_surveys(records, plan(), deps, NOW)["owed"] == 1
        assert run_due(plan(), deps, NOW + timedelta(minutes=5))["sent"] == 1  # the next scheduled run
        assert run_due(plan(), deps, NOW + timedelta(minutes=10))["sent"] == 0
        (dm,) = [e for e in server.brand_dms() if e["participant"] == CUSTOMER_ID]
        assert LINK.search(dm["text"]) and issue_id not in dm["text"]
        assert history_types(issue_id).count("survey_sent") == 1
        assert server.violations == []


def test_a_trustpilot_survey_line_goes_under_the_published_reply_never_in_its_place(aws):
    """A review has one brand reply and posting again replaces it: the survey's post repeats the approved answer
    with the line under it; without a published answer to keep, the line is not posted at all."""
    from chalicelib.adapters.outbox import OutboxPublisher
    from chalicelib.adapters.publish_claims import DynamoPublishClaims
    from chalicelib.adapters.publishers import ExactlyOncePublisher, RoutedPublisher, build_publishers
    from chalicelib.adapters.publishers.http import Credentials, Transport
    from chalicelib.adapters.survey_senders import ReplySurveySender
    from chalicelib.domain import survey as rules
    from chalicelib.domain.publishing import PUBLIC_REPLY, ChannelPost, ReplyTarget
    from chalicelib.domain.survey import SurveyUndeliverable
    from tests.integration.test_publishers import TRUSTPILOT

    names = resources()
    settings = plan().categories["routine_response"].survey
    with TRUSTPILOT.make_server() as server:
        once = ExactlyOncePublisher(
            build_publishers(
                {"trustpilot"},
                {"trustpilot": server.url},
                Transport(read_seconds=2),
                Credentials(environ=dict(TRUSTPILOT.credentials)),
            ),
            DynamoPublishClaims(names.publish_claims_table),
        )
        publisher = RoutedPublisher(OutboxPublisher(names.outbox_table), once)

        def survey_for(issue_id: str, review: str):
            mention = {
                "platform": "trustpilot",
                "external_id": review,
                "author_id": "cons-1",
                "author_name": "Ann",
                "kind": "review",
                "text": "Parcel arrived broken",
                "created_at": NOW.isoformat(),
            }
            channel = rules.choose_channel("trustpilot", settings, None, False)
            survey = rules.schedule(
                rules.new_survey_id(),
                {"issue_id": issue_id, "category": "routine_response"},
                mention,
                settings,
                channel,
                None,
                NOW,
            )
            return survey, mention, rules.short_message(survey, "https://brand.example/api/surveys/x?exp=1&sig=2")

        review = server.seed("Parcel arrived broken and nobody answers my emails", stars=1)
        target = ReplyTarget("trustpilot", review, "review", author_id="cons-1", text="Parcel", created_at=NOW)
        approved = "We are sorry, Ann. A replacement pair ships today and we refunded the delivery fee."
        post = ChannelPost(
            issue_id="iss-tp",
            run="exec-1",
            channel=PUBLIC_REPLY,
            text=approved,
            approved_by="lead@aurelle.example",
            target=target,
            category="routine_response",
        )
        assert publisher.publish(post, NOW).next.value == "done"
        survey, mention, line = survey_for("iss-tp", review)
        ReplySurveySender(publisher).send(survey, mention, "", line, "", NOW)
        assert server.reviews[review]["companyReply"]["text"] == f"{approved}\n\n{line}"

        lone = server.seed("Still waiting", stars=2)
        survey, mention, line = survey_for("iss-none", lone)
        with pytest.raises(SurveyUndeliverable):
            ReplySurveySender(publisher).send(survey, mention, "", line, "", NOW)
        assert not server.reviews[lone].get("companyReply")
