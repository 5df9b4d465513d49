"""Each Lambda function's real handler on moto, every AWS call its code makes recorded and checked against the
IAM policy generated for it (``.chalice/policy-dev-<function>.json``, from ``infra/aws_calls.py``'s reading of the
code): a permission the code needs at runtime but the static analysis misses fails here, not in production.

What IAM checks for each call (batch and transaction items per table, S3's ListBucket behind a HEAD of a missing
key, SES's sender condition ...) is ``tests/iam_recorder.py``'s. Every function runs as its own cold start (its
cached adapters and secrets forgotten first), as it does in its own Lambda. Only calls the app's code makes are
the function's: moto's own (a Step Functions execution sending its approval message) and the test's setup are not.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.adapters.aws import client
from chalicelib.adapters.plans import DEFAULT_PLAN
from chalicelib.adapters.secrets import clear_cache
from chalicelib.domain.protocol_messages import PublishRequest, StepRequest
from chalicelib.platforms.generic import sign
from chalicelib.settings import LOCAL_ACCOUNT, resources
from infra.local.worker import sqs_event
from tests import iam_recorder
from tests.contract_servers.base import ACCEPT_THEN_HANG, REVOKE, UNAVAILABLE
from tests.contract_servers.x import XServer
from tests.helpers import drain_ingest_queue, drain_stream, wait_for_queue
from tests.triage_fixtures import fixed_analyzer, mention

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TEXTS = [
    "@aurelle my Lina trench coat ripped after one wear",
    "@aurelle Your Alba boots burned my skin, I will sue.",
    "@aurelle where is my order 12345? three weeks late",
    "@aurelle love the new Pima tee!",
]


@pytest.fixture
def api(aws) -> Iterator[Client]:
    import app

    with Client(app.app, stage_name="test") as test_client:
        yield test_client


def run_as(function: str, action: Callable[[], object]) -> tuple[object, list[iam_recorder.Call]]:
    """``action`` run as ``function``'s cold start; what it returned and the AWS calls its code made."""
    bootstrap.reset()
    clear_cache()
    with iam_recorder.recording() as calls:
        result = action()
    return result, calls


def assert_allowed(function: str, calls: list[iam_recorder.Call]) -> None:
    assert calls, f"{function} made no AWS call: the test did not reach its code"
    assert iam_recorder.denied(function, calls) == [], f"{function}'s policy does not allow what its code calls"


def schedule(api: Client) -> dict:
    return api.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={}, resources=[])


def post_webhook(api: Client, secrets: dict[str, str], i: int, text: str, seconds_ago: int = 0) -> int:
    body = json.dumps(
        {
            "platform": "forum",
            "id": f"m-{i}",
            "created_at": (datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)).isoformat(),
            "text": text,
            "product": "Alba boots",
            "author": {"id": f"a{i}", "handle": f"h{i}", "name": "N", "followers": 10 * i, "verified": i == 3},
        }
    )
    headers = {
        "Content-Type": "application/json",
        **sign(body.encode(), secrets.__getitem__, datetime.now(timezone.utc)),
    }
    return api.http.post("/webhooks/generic", body=body, headers=headers).status_code


def open_issues(api: Client, secrets: dict[str, str], count: int = 4, age: timedelta = timedelta(0)) -> None:
    """Mentions (``age`` old) through the webhook and the mention processor (setup: not recorded)."""
    for i in range(count):
        seconds_ago = int(age.total_seconds()) + i
        assert post_webhook(api, secrets, i, f"{TEXTS[i % len(TEXTS)]} #{i}", seconds_ago=seconds_ago) == 200
    assert api.lambda_.invoke("process_mentions", drain_ingest_queue()).payload == {"batchItemFailures": []}


def ingest_arn() -> str:
    return f"arn:aws:sqs:us-east-1:{LOCAL_ACCOUNT}:{resources().ingest_queue}"


def as_messages(mentions: list) -> list[dict]:
    return [{"MessageId": m.external_id, "ReceiptHandle": m.external_id, "Body": m.model_dump_json()} for m in mentions]


def process_mentions(api: Client, mentions: list) -> object:
    """Mentions as the ingest queue carries them, through the real handler (setup: not recorded)."""
    return api.lambda_.invoke("process_mentions", sqs_event(as_messages(mentions), ingest_arn(), "us-east-1")).payload


def link_path(link: str) -> str:
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


# -- api_handler ---------------------------------------------------------------------------------------------------


def test_api_handler_webhook_and_ops_routes(api, aws):
    admin = {"Authorization": f"Bearer {aws['OPS_ADMIN_TOKEN']}", "Content-Type": "application/json"}
    statuses: dict[str, int] = {}

    def call(method: str, path: str, body: dict | None = None):
        answer = getattr(api.http, method)(path, headers=admin, body=json.dumps(body) if body is not None else None)
        statuses[f"{method.upper()} {path}"] = answer.status_code
        return answer

    accepted, calls = run_as("api_handler", lambda: [post_webhook(api, aws, i, TEXTS[i] + " #w") for i in range(3)])
    assert accepted == [200, 200, 200]
    assert_allowed("api_handler", calls)
    api.lambda_.invoke("process_mentions", drain_ingest_queue())
    dlq = client("sqs").get_queue_url(QueueName=resources().ingest_dlq)["QueueUrl"]
    client("sqs").send_message(QueueUrl=dlq, MessageBody="{}")  # a dead letter to list and redrive

    def sweep() -> None:
        issues = json.loads(call("get", "/issues").body)["items"]
        first, second = issues[0]["issue_id"], issues[1]["issue_id"]
        call("get", f"/issues/{first}")
        call("get", "/issues?status=open&limit=5")
        call("patch", f"/issues/{first}", {"status": "in_progress", "assigned_to": "ana@aurelle.example"})
        call("post", f"/issues/{first}/notes", {"text": "called the customer"})
        call("post", f"/issues/{first}/satisfaction", {"score": 4, "channel": "phone"})
        call("post", f"/issues/{first}/merge", {"from_issue": second})
        call("get", "/metrics/summary")
        token = json.loads(call("post", "/tokens", {"name": "viewer-1", "role": "viewer"}).body)
        call("get", "/tokens")
        call("delete", f"/tokens/{token['token_id']}")
        call("get", "/alerts")
        call("get", "/dead-letters")
        call("post", "/dead-letters/redrive", {"queue": resources().ingest_dlq})
        yaml = DEFAULT_PLAN.read_text(encoding="utf-8")
        call("post", "/plans/validate", {"yaml": yaml})
        uploaded = json.loads(call("post", "/plans", {"yaml": yaml + "\n# v2\n"}).body)
        version = uploaded["version"]
        call("get", "/plans")
        call("post", f"/plans/{version}/activate", {})
        call("post", f"/plans/{version}/review", {"reviewed_on": datetime.now(timezone.utc).date().isoformat()})
        call("get", "/reports")
        call("get", "/reports/2026-W48")  # not stored: a HEAD of a missing key
        call("get", "/health")

    _, calls = run_as("api_handler", sweep)
    assert {k: v for k, v in statuses.items() if v >= 400} == {"GET /reports/2026-W48": 404}, statuses
    assert {"GET /issues", "GET /health", "GET /tokens", "GET /reports"} <= {k for k, v in statuses.items() if v == 200}
    assert {"dynamodb.TransactWriteItems", "dynamodb.Scan", "sqs.ReceiveMessage", "s3.HeadObject"} <= (
        iam_recorder.operations(calls)
    ), sorted(iam_recorder.operations(calls))
    assert_allowed("api_handler", calls)


# -- the mention processor ----------------------------------------------------------------------------------------


def test_process_mentions_a_batch_a_crisis_and_poison(api):
    from chalicelib.services.processor import Pipeline, process_batch

    # A day and a half of ordinary traffic (setup, through the pipeline), then a burst about one product through the
    # real handler: the surge opens a Crisis issue.
    pipeline = Pipeline(
        bootstrap.mention_repository(),
        bootstrap.triage_store(),
        bootstrap.plan_store(),
        bootstrap.surge_store(),
        analyze=fixed_analyzer,
    )
    chatter = ["Love the new Sol dress", "The Luna tote is gorgeous", "Where is your Paris store?"]
    history = [mention(f"bg-{i}", chatter[i % 3], author=f"fan{i % 40}", minutes=i * 15) for i in range(36 * 4)]
    for start in range(0, len(history), 25):
        process_batch(sqs_event(as_messages(history[start : start + 25]), ingest_arn(), "us-east-1"), pipeline)
    burst = [
        mention(
            f"burst-{j}",
            f"The sole of my Nova sneakers broke after {j + 2} days",
            author=f"b{j}",
            minutes=36 * 60 + 7 + 2 * j,
        )
        for j in range(20)
    ]
    poison = [
        {"MessageId": "p1", "ReceiptHandle": "p1", "Body": "not json"},
        {"MessageId": "p2", "ReceiptHandle": "p2", "Body": json.dumps({"platform": "forum"})},
    ]
    event = sqs_event(as_messages(burst) + poison, ingest_arn(), "us-east-1")

    answer, calls = run_as("process_mentions", lambda: api.lambda_.invoke("process_mentions", event).payload)

    crises = [
        i
        for i in client("dynamodb").scan(TableName=resources().issues_table)["Items"]
        if i["category"]["S"] == "crisis"
    ]
    assert len(crises) == 1, "the burst opened no Crisis"
    assert answer == {"batchItemFailures": []}  # the poison is set aside in the DLQ at once
    assert {"dynamodb.TransactWriteItems", "dynamodb.BatchGetItem", "sqs.SendMessage"} <= iam_recorder.operations(calls)
    assert_allowed("process_mentions", calls)


# -- a protocol: start_protocols, request_approvals, the approval page, publish_replies ---------------------------


def emailed_approval_path(to: str) -> str:
    from moto.ses.models import ses_backends

    sent = ses_backends[LOCAL_ACCOUNT]["us-east-1"].sent_messages
    link = [re.search(r'href="([^"]+)"', m.body).group(1) for m in sent if m.destinations["ToAddresses"] == [to]][-1]
    return link_path(html.unescape(link))


def approval_step(api: Client) -> None:
    """The state machine's next approval-queue message through request_approvals (checked)."""
    step = wait_for_queue(resources().approval_queue)
    answer, calls = run_as("request_approvals", lambda: api.lambda_.invoke("request_approvals", step).payload)
    assert answer == {"batchItemFailures": []}
    assert {"dynamodb.TransactWriteItems", "ses.SendEmail"} <= iam_recorder.operations(calls)
    assert_allowed("request_approvals", calls)


def test_a_protocol_from_the_stream_through_its_approval_pages_and_an_owed_answer(api, aws, monkeypatch):
    from tests.integration.test_approval_flow import throttle_step_functions

    open_issues(api, aws, count=2)
    records = json.loads(json.dumps(drain_stream(resources().issues_table), default=lambda d: d.timestamp()))
    _, calls = run_as("start_protocols", lambda: api.lambda_.invoke("start_protocols", {"Records": records}))
    assert "stepfunctions.StartExecution" in iam_recorder.operations(calls)
    assert_allowed("start_protocols", calls)

    approval_step(api)  # the draft
    path = emailed_approval_path("pr-lead@aurelle.example")

    def answer_the_step() -> list[int]:
        shown = api.http.get(path).status_code
        body = urlencode({"outcome": "submitted", "draft": "We are sorry.", "channels": "public_reply"})
        return [shown, api.http.post(path, headers=FORM, body=body).status_code]

    statuses, calls = run_as("api_handler", answer_the_step)
    assert statuses == [200, 200]
    assert "stepfunctions.SendTaskSuccess" in iam_recorder.operations(calls)
    assert_allowed("api_handler", calls)

    # Legal's answer is recorded while Step Functions throttles it (setup), then passed on by the schedule once its
    # grace is over (the answer's time moved back by hand).
    approval_step(api)  # legal review
    step_functions_taking_calls = throttle_step_functions(monkeypatch)
    body = urlencode({"outcome": "approved", "comment": "OK"})
    assert api.http.post(emailed_approval_path("legal@aurelle.example"), headers=FORM, body=body).status_code == 503
    step_functions_taking_calls()
    dynamodb, table = client("dynamodb"), resources().approvals_table
    keys = [k["AttributeName"] for k in dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]]
    for item in dynamodb.scan(TableName=table)["Items"]:
        if "owed" in item:
            earlier = datetime.fromisoformat(item["used_at"]["S"]) - timedelta(minutes=30)
            key = {name: item[name] for name in keys}
            dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET used_at = :t",
                ExpressionAttributeValues={":t": {"S": earlier.isoformat()}},
            )
    _, calls = run_as("pass_on_owed_answers", lambda: api.lambda_.invoke("pass_on_owed_answers", schedule(api)))
    assert "stepfunctions.SendTaskSuccess" in iam_recorder.operations(calls)
    assert_allowed("pass_on_owed_answers", calls)


BRAND_ID, BRAND = "1500000000000000001", "aurelle"


@pytest.mark.parametrize("fault", [None, ACCEPT_THEN_HANG, UNAVAILABLE, REVOKE, "poison"])
def test_publish_replies_against_xs_contract_server(api, monkeypatch, fault):
    from chalicelib.adapters import publishers
    from chalicelib.settings import secret_parameter_name

    with XServer("x-client", "rt-initial", BRAND_ID, BRAND) as server:
        # setup: an X post opens a High Priority issue whose protocol starts and waits on its first step (a real
        # task token); the publisher talks to the contract server, with the brand's credentials in SSM
        tweet = server.seed("1600000000000000002", TEXTS[1])
        assert process_mentions(api, [mention(tweet, TEXTS[1])]) == {"batchItemFailures": []}
        records = json.loads(json.dumps(drain_stream(resources().issues_table), default=lambda d: d.timestamp()))
        api.lambda_.invoke("start_protocols", {"Records": records})
        step = StepRequest.model_validate_json(wait_for_queue(resources().approval_queue)["Records"][0]["body"])
        credentials = {
            "X_OAUTH_CLIENT_ID": "x-client",
            "X_OAUTH_REFRESH_TOKEN": "rt-initial",
            "X_BRAND_USER_ID": BRAND_ID,
            "X_BRAND_HANDLE": BRAND,
        }
        for name, value in credentials.items():
            client("ssm").put_parameter(
                Name=secret_parameter_name(name), Value=value, Type="SecureString", Overwrite=True
            )
        monkeypatch.setenv("PUBLISH_TO_PLATFORMS", "x")
        monkeypatch.setattr(
            publishers, "build_publishers", functools.partial(publishers.build_publishers, base_urls={"x": server.url})
        )
        if fault != "poison":
            server.script(*([fault] if fault else []))
        body = PublishRequest(
            issue_id=step.issue_id,
            category="high_priority",
            protocol="high_priority",
            channels=["public_reply"],
            draft="Ana, we are so sorry. Our care lead will call you today.",
            approved_by="cmo@aurelle.example",
            task_token=step.task_token,
            execution=step.execution,
        ).model_dump_json()
        event = api.events.generate_sqs_event(
            message_bodies=[body if fault != "poison" else '{"issue_id": 3}'], queue_name=resources().publish_queue
        )

        def publish() -> object:
            try:
                return api.lambda_.invoke("publish_replies", event).payload
            except BatchProcessingError:  # the whole batch failed: SQS delivers it again
                return "redelivered"

        answer, calls = run_as("publish_replies", publish)
        assert server.violations == []  # the publisher kept to X's contract
    assert answer == ("redelivered" if fault == UNAVAILABLE else {"batchItemFailures": []})
    done = {None: "stepfunctions.SendTaskSuccess", REVOKE: "stepfunctions.SendTaskFailure"}.get(fault)
    assert done is None or done in iam_recorder.operations(calls)  # the protocol resumes
    assert_allowed("publish_replies", calls)


# -- the weekly report and its link --------------------------------------------------------------------------------


def test_weekly_report_for_a_week_not_stored_yet_then_its_link(api):
    _, calls = run_as("weekly_report", lambda: api.lambda_.invoke("weekly_report", schedule(api)))
    heads = [c.params["Key"] for c in calls if c.operation == "HeadObject"]
    assert heads and all(key.endswith("/report.json") for key in heads)  # the week's report, not stored yet
    assert {"s3.PutObject", "ses.SendRawEmail"} <= iam_recorder.operations(calls)
    assert_allowed("weekly_report", calls)

    from moto.ses.models import ses_backends

    raw = ses_backends["123456789012"]["us-east-1"].sent_messages[-1].raw_data
    import quopri

    text = quopri.decodestring(raw.encode() if isinstance(raw, str) else raw).decode("utf-8", "replace")
    path = link_path(re.search(r'href="(http[^"]+/reports/[^"]+/open[^"]*)"', text).group(1).replace("&amp;", "&"))

    def open_the_link() -> list[int]:
        return [api.http.get(path).status_code, api.http.post(path, headers=FORM, body="open=1").status_code]

    statuses, calls = run_as("api_handler", open_the_link)
    assert statuses == [200, 303]
    assert_allowed("api_handler", calls)


# -- surveys: the stream schedules one, its page, the schedule -----------------------------------------------------


def test_surveys_sent_from_the_stream_a_survey_page_and_the_schedule_closing_one(api):
    from tests.integration.test_surveys import LINK, outbox_surveys, path_of, resolve_with_reply

    answered, _ = resolve_with_reply(mention("sv-1", "My order never arrived, two weeks late"))
    unanswered, records = resolve_with_reply(mention("sv-2", "The Lina coat ripped, worst purchase"))
    records = json.loads(json.dumps(records, default=lambda d: d.timestamp()))
    _, calls = run_as("start_protocols", lambda: api.lambda_.invoke("start_protocols", {"Records": records}))
    assert "dynamodb.TransactWriteItems" in iam_recorder.operations(calls)  # the surveys scheduled
    assert_allowed("start_protocols", calls)
    (sent,) = outbox_surveys(answered)
    path = path_of(LINK.search(sent["text"]["S"]).group(1))

    def answer_the_survey() -> list[int]:
        shown = api.http.get(path).status_code
        return [shown, api.http.post(path, headers=FORM, body=urlencode({"rating": "5"})).status_code]

    statuses, calls = run_as("api_handler", answer_the_survey)
    assert statuses == [200, 200]
    assert "dynamodb.TransactWriteItems" in iam_recorder.operations(calls)
    assert_allowed("api_handler", calls)

    # the other survey's link has expired unanswered (its due time moved back by hand): the schedule closes it
    dynamodb, table = client("dynamodb"), resources().surveys_table
    keys = [k["AttributeName"] for k in dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]]
    items = [i for i in dynamodb.scan(TableName=table)["Items"] if i.get("issue_id", {}).get("S") == unanswered]
    assert items
    for item in items:
        dynamodb.update_item(
            TableName=table,
            Key={name: item[name] for name in keys},
            UpdateExpression="SET due_at = :t",
            ExpressionAttributeValues={":t": {"S": "2000-01-01T00:00:00+00:00"}},
        )
    _, calls = run_as("send_surveys", lambda: api.lambda_.invoke("send_surveys", schedule(api)))
    assert "dynamodb.TransactWriteItems" in iam_recorder.operations(calls)
    assert_allowed("send_surveys", calls)


# -- the other schedules -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "main_path"),
    [
        ("check_slas", {"dynamodb.Query", "sns.Publish"}),  # breaches alerted
        ("send_alert_digest", {"dynamodb.BatchGetItem", "sns.Publish"}),  # the held alerts in one message
        ("check_dead_letter_queues", {"sqs.GetQueueAttributes", "sns.Publish"}),
        ("check_plan_review", {"sns.Publish"}),  # the plan's review is overdue
        ("send_review_reminders", {"ses.SendEmail"}),
    ],
)
def test_scheduled_function(api, aws, function, main_path):
    from chalicelib.adapters.alerts import SnsAlerts
    from chalicelib.domain.alerts import Alert, AlertKind

    # issues past their SLAs, a plan past its review, a message in a DLQ, alerts over the hourly cap (held for the
    # digest): each schedule has work to do
    open_issues(api, aws, count=4, age=timedelta(days=3))

    yaml = re.sub(r"reviewed_on: \S+", "reviewed_on: 2025-01-06", DEFAULT_PLAN.read_text(encoding="utf-8"))
    admin = {"Authorization": f"Bearer {aws['OPS_ADMIN_TOKEN']}", "Content-Type": "application/json"}
    version = json.loads(api.http.post("/plans", headers=admin, body=json.dumps({"yaml": yaml})).body)["version"]
    assert api.http.post(f"/plans/{version}/activate", headers=admin, body="{}").status_code == 200
    dlq = client("sqs").get_queue_url(QueueName=resources().ingest_dlq)["QueueUrl"]
    client("sqs").send_message(QueueUrl=dlq, MessageBody="{}")
    alerts = SnsAlerts(resources(), per_hour=1)
    hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    for i in range(3):
        alerts.raise_alert(
            Alert(kind=list(AlertKind)[0], severity="high", issue_id=f"i-{i}", subject="s", message="m"), hour_ago
        )
    _, calls = run_as(function, lambda: api.lambda_.invoke(function, schedule(api)))
    assert main_path <= iam_recorder.operations(calls), sorted(iam_recorder.operations(calls))
    assert_allowed(function, calls)


# -- the checker itself --------------------------------------------------------------------------------------------


def test_the_checker_reads_a_policy_as_iam_does():
    from tests.iam_recorder import Need, allows

    policy = {
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "arn:aws:s3:::reports-*/*"},
            {"Effect": "Allow", "Action": "states:SendTask*", "Resource": "arn:aws:states:*:*:stateMachine:p-*"},
            {
                "Effect": "Allow",
                "Action": "ses:SendEmail",
                "Resource": "arn:aws:ses:*:*:identity/*",
                "Condition": {"StringEquals": {"ses:FromAddress": "me@x.example"}},
            },
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports-secret/*"},
        ]
    }
    assert allows(policy, Need("s3:GetObject", "arn:aws:s3:::reports-1/a.json"))
    assert not allows(policy, Need("s3:ListBucket", "arn:aws:s3:::reports-1"))  # another action
    assert not allows(policy, Need("s3:GetObject", "arn:aws:s3:::reports-secret/a.json"))  # denied
    assert not allows(policy, Need("s3:GetObject", "*"))  # a grant on some resources is not one on all
    assert allows(policy, Need("states:SendTaskSuccess", "arn:aws:states:us-east-1:1:stateMachine:p-high"))
    identity = "arn:aws:ses:us-east-1:1:identity/me@x.example"
    assert allows(policy, Need("ses:SendEmail", identity, {"ses:FromAddress": "me@x.example"}))
    assert not allows(policy, Need("ses:SendEmail", identity, {"ses:FromAddress": "you@x.example"}))
    assert not allows(policy, Need("ses:SendEmail", identity))  # the condition's key missing: no match
