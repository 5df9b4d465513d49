"""Approval protocols end to end on in-process moto: Step Functions executes the compiled protocol, people act
through the emailed links' pages (Chalice's test client), the reply lands in the outbox, the issue resolves."""

from __future__ import annotations

import html
import json
import re
import time
from urllib.parse import urlencode

import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.adapters.aws import client
from chalicelib.adapters.plans import DynamoPlanStore
from chalicelib.adapters.triage_table import DynamoTriageStore
from chalicelib.adapters.workflows import StepFunctionsWorkflows
from chalicelib.domain import links
from chalicelib.domain.index_shards import status_category
from chalicelib.services import processor
from chalicelib.services.protocols import start_protocols
from chalicelib.services.triage import triage_mention
from chalicelib.settings import resources
from tests.conftest import TEST_STAGE, forget_cached_adapters
from tests.helpers import DEPLOYED_API, drain_stream, form_target, wait_for_queue
from tests.triage_fixtures import fixed_analyzer, mention

XSS = "<script>alert('x')</script>"


def process_approval_requests(event: dict) -> dict:
    """The approval queue's handler as app.py runs it (the composition root's adapters)."""
    return processor.process_approval_requests(event, bootstrap.approval_deps(), bootstrap.approval_dead_letters())


def process_publish_requests(event: dict) -> dict:
    """The publish queue's handler as app.py runs it."""
    return processor.process_publish_requests(
        event, bootstrap.approval_deps(), bootstrap.redelivery(), bootstrap.publish_dead_letters()
    )


@pytest.fixture
def protocol_aws(request):
    """moto with the stage deployed; the protocols' timers scaled by the test's ``time_scale`` marker."""
    from moto import mock_aws

    from infra.local.deploy import deploy_stack, seed_secrets

    marker = request.node.get_closest_marker("time_scale")
    forget_cached_adapters()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        deploy_stack(TEST_STAGE, time_scale=marker.args[0] if marker else 60.0)
        yield seed_secrets(TEST_STAGE, {})
    forget_cached_adapters()


@pytest.fixture
def api(protocol_aws):
    import app

    with Client(app.app, stage_name="test") as test_client:
        yield test_client


def open_high_priority_issue(text: str = f"Your Alba boots burned my skin, I will sue. {XSS}") -> str:
    names = resources()
    result = triage_mention(
        mention("hp-1", text), DynamoTriageStore(names), DynamoPlanStore(names.plans_table), fixed_analyzer
    )
    plan, version = DynamoPlanStore(names.plans_table).active()
    started = start_protocols(drain_stream(names.issues_table), plan, version, names, StepFunctionsWorkflows())
    assert started == [f"{result.issue_id}-high_priority"]
    return result.issue_id


def emails() -> list[dict]:
    from moto.ses.models import ses_backends

    out = []
    for message in ses_backends["123456789012"]["us-east-1"].sent_messages:
        body = message.body
        link = re.search(r'href="([^"]+)"', body)
        out.append(
            {
                "to": message.destinations["ToAddresses"][0],
                "subject": message.subject,
                "body": body,
                "link": html.unescape(link.group(1)) if link else None,
            }
        )
    return out


def next_step(seen: int) -> list[dict]:
    """Hand the state machine's next approval message to the handler; the emails it sent."""
    assert process_approval_requests(wait_for_queue(resources().approval_queue)) == {"batchItemFailures": []}
    return emails()[seen:]


def path(link: str) -> str:
    return link.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def post(api, link: str, **fields):
    return api.http.post(
        path(link), body=urlencode(fields).encode(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )


def execution_status(issue_id: str, protocol: str = "high_priority") -> str:
    sfn = client("stepfunctions")
    arn = next(
        m["stateMachineArn"]
        for m in sfn.list_state_machines()["stateMachines"]
        if m["name"] == resources().state_machine(protocol)
    )
    execution = f"{arn.replace(':stateMachine:', ':execution:')}:{issue_id}-{protocol}"
    return sfn.describe_execution(executionArn=execution)["status"]


def publish_and_finish(issue_id: str) -> dict:
    """Hand the publish message to the publisher, then wait for the execution to succeed; the message."""
    publish_message = wait_for_queue(resources().publish_queue)
    assert process_publish_requests(publish_message) == {"batchItemFailures": []}
    deadline = time.monotonic() + 20
    while execution_status(issue_id) == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert execution_status(issue_id) == "SUCCEEDED"
    return publish_message


def audit_types(issue_id: str) -> list[str]:
    items = client("dynamodb").query(
        TableName=resources().audit_table,
        KeyConditionExpression="issue_id = :i",
        ExpressionAttributeValues={":i": {"S": issue_id}},
    )["Items"]
    return [i["type"]["S"] for i in sorted(items, key=lambda i: i["sk"]["S"])]


def test_high_priority_draft_legal_management_publish(api):
    issue_id = open_high_priority_issue()

    drafting = next_step(0)
    assert sorted(m["to"] for m in drafting) == ["pr-lead@aurelle.example", "pr1@aurelle.example"]
    token = json.dumps(drafting)
    assert "task_token" not in token and "AAAA" not in token  # moto tokens are long base64; none leaks
    lead = next(m for m in drafting if m["to"] == "pr-lead@aurelle.example")
    page = api.http.get(path(lead["link"]))
    assert page.status_code == 200 and page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    body = page.body.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body and XSS not in body  # escaped
    assert audit_types(issue_id) == ["opened", "step_initial"]  # GET changed nothing
    # the form posts back to the link itself, wherever the API is served (a deployed stage's /api prefix)
    assert form_target(body, DEPLOYED_API + path(lead["link"])) == DEPLOYED_API + path(lead["link"])

    assert (
        post(
            api,
            lead["link"],
            outcome="submitted",
            draft="We are so sorry. " + XSS,
            channels="public_reply,private_reply",
        ).status_code
        == 200
    )
    assert post(api, lead["link"], outcome="submitted", draft="again").status_code == 410  # replayed POST
    other = next(m for m in drafting if m["to"] == "pr1@aurelle.example")
    assert (
        post(api, other["link"], outcome="submitted", draft="mine", channels="public_reply").status_code == 410
    )  # the step is done

    review = next_step(2)
    assert [m["to"] for m in review] == ["legal@aurelle.example"]
    assert "We are so sorry. &lt;script&gt;" in review[0]["body"]  # the draft travels, escaped in the email
    assert post(api, review[0]["link"], outcome="rejected").status_code == 400  # a rejection needs a comment
    assert post(api, review[0]["link"], outcome="rejected", comment="No admission of fault.").status_code == 200

    redraft = next_step(3)
    assert "No admission of fault." in redraft[0]["body"] and "step_rejected" in audit_types(issue_id)
    lead = next(m for m in redraft if m["to"] == "pr-lead@aurelle.example")
    final_text = "We are sorry to hear this and have contacted you privately to make it right."
    assert (
        post(
            api, lead["link"], outcome="submitted", draft=final_text, channels="public_reply,private_reply"
        ).status_code
        == 200
    )
    legal = next_step(5)
    assert post(api, legal[0]["link"], outcome="approved", comment="OK").status_code == 200
    management = next_step(6)
    assert sorted(m["to"] for m in management) == ["cmo@aurelle.example", "coo@aurelle.example"]
    assert post(api, management[0]["link"], outcome="approved").status_code == 200

    publish_and_finish(issue_id)

    outbox = client("dynamodb").scan(TableName=resources().outbox_table)["Items"]
    assert {o["channel"]["S"] for o in outbox} == {"public_reply", "private_reply"}
    assert all(o["text"]["S"] == final_text and o["in_reply_to"]["S"] == "hp-1" for o in outbox)
    issue = client("dynamodb").get_item(TableName=resources().issues_table, Key={"issue_id": {"S": issue_id}})["Item"]
    resolved = status_category("resolved", "high_priority", issue_id)  # in the issue's write shard
    assert issue["status"]["S"] == "resolved" and issue["status_category"]["S"] == resolved
    assert int(issue["response_time_seconds"]["N"]) >= 0 and issue["first_response_at"]["S"]
    trail = audit_types(issue_id)
    assert trail[0] == "opened" and trail[-2:] == ["published", "resolved"]
    for step_event in ("step_submitted", "step_rejected", "step_approved"):
        assert step_event in trail
    actors = {i["actor"]["S"] for i in client("dynamodb").scan(TableName=resources().audit_table)["Items"]}
    assert {"pr-lead@aurelle.example", "legal@aurelle.example", "system:protocol", "system:triage"} <= actors


def throttle_step_functions(monkeypatch):
    """Step Functions refuses every callback (throttled past botocore's retries) until the returned function is
    called."""
    from botocore.exceptions import ClientError

    import chalicelib.adapters.workflows as workflows

    real_client = workflows.client

    class Throttled:
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def send_task_success(self, **_):
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "SendTaskSuccess")

    monkeypatch.setattr(
        workflows,
        "client",
        lambda service: Throttled(real_client(service)) if service == "stepfunctions" else real_client(service),
    )
    return lambda: monkeypatch.setattr(workflows, "client", real_client)


def test_an_answer_step_functions_throttles_is_recorded_once_and_reaches_the_protocol_on_the_next_post(
    api, monkeypatch
):
    """Step Functions refusing the callback (throttled past botocore's retries) loses no answer: the link is used,
    the answer recorded once and owed; the approver's next POST passes that answer on and the protocol moves."""
    issue_id = open_high_priority_issue()
    lead = next(m for m in next_step(0) if m["to"] == "pr-lead@aurelle.example")
    step_functions_taking_calls = throttle_step_functions(monkeypatch)
    refused = post(api, lead["link"], outcome="submitted", draft="We are so sorry.", channels="public_reply")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "60"
    assert "recorded" in refused.body.decode()
    assert audit_types(issue_id).count("step_submitted") == 1 and execution_status(issue_id) == "RUNNING"
    assert api.http.get(path(lead["link"])).status_code == 410  # the page: used, the answer kept

    step_functions_taking_calls()
    again = post(api, lead["link"], outcome="submitted", draft="A second answer", channels="public_reply")
    assert again.status_code == 200
    assert post(api, lead["link"], outcome="submitted", draft="a third").status_code == 410  # passed on once
    assert audit_types(issue_id).count("step_submitted") == 1
    review = next_step(2)  # the protocol moved on with the first answer
    assert [m["to"] for m in review] == ["legal@aurelle.example"] and "We are so sorry." in review[0]["body"]
    assert "A second answer" not in review[0]["body"]


def test_an_owed_answer_reaches_the_protocol_by_the_schedule_without_a_second_post(api, monkeypatch):
    """The approver sends the form once, Step Functions throttles it: the scheduled ``pass_on_owed_answers`` finds
    the owed answer (the sparse index) and passes it on, once; the protocol moves with that answer."""
    from datetime import datetime, timedelta, timezone

    from chalicelib.services.approvals import pass_on_owed_answers

    issue_id = open_high_priority_issue()
    lead = next(m for m in next_step(0) if m["to"] == "pr-lead@aurelle.example")
    step_functions_taking_calls = throttle_step_functions(monkeypatch)
    refused = post(api, lead["link"], outcome="submitted", draft="We are so sorry.", channels="public_reply")
    assert refused.status_code == 503
    assert pass_on_owed_answers(bootstrap.approval_deps(), datetime.now(timezone.utc) + timedelta(minutes=3)) == {
        "passed_on": 0,
        "too_late": 0,
        "passed_on_elsewhere": 0,
        "still_unavailable": 1,
    }
    step_functions_taking_calls()
    # the schedule's own run, as EventBridge fires it: the answer is younger than the grace, left to its request
    api.lambda_.invoke("pass_on_owed_answers", api.events.generate_cw_event("Scheduled Event", "aws.events", {}, []))
    assert execution_status(issue_id) == "RUNNING" and emails()[2:] == []
    later = datetime.now(timezone.utc) + timedelta(minutes=3)
    assert pass_on_owed_answers(bootstrap.approval_deps(), later)["passed_on"] == 1
    assert pass_on_owed_answers(bootstrap.approval_deps(), later)["passed_on"] == 0  # once
    review = next_step(2)
    assert [m["to"] for m in review] == ["legal@aurelle.example"] and "We are so sorry." in review[0]["body"]
    assert audit_types(issue_id).count("step_submitted") == 1
    assert post(api, lead["link"], outcome="submitted", draft="late").status_code == 410


@pytest.mark.time_scale(0.05)  # moto's run notices a stop when its step's 3 s wait ends (AWS: at once)
def test_closing_an_issue_stops_its_protocol_and_its_links_then_change_nothing(api, protocol_aws):
    issue_id = open_high_priority_issue()
    lead = next(m for m in next_step(0) if m["to"] == "pr-lead@aurelle.example")
    admin = {"Authorization": f"Bearer {protocol_aws['OPS_ADMIN_TOKEN']}", "Content-Type": "application/json"}
    closed = api.http.patch(f"/issues/{issue_id}", body=json.dumps({"status": "closed"}), headers=admin)
    assert closed.status_code == 200 and execution_status(issue_id) == "RUNNING"
    names = resources()
    plan, version = DynamoPlanStore(names.plans_table).active()
    # the stream's records so far (its retry too: nothing starts twice)
    start_protocols(drain_stream(names.issues_table), plan, version, names, StepFunctionsWorkflows())
    deadline = time.monotonic() + 10
    while execution_status(issue_id) == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    # AWS reports a stopped run ABORTED at once; moto's runs stop when the step's wait ends, reported as FAILED. Not
    # stopped, the run would be RUNNING still, on to the step's reminder.
    assert execution_status(issue_id) in ("ABORTED", "FAILED")
    seen = len(emails())
    answer = post(api, lead["link"], outcome="submitted", draft="We are sorry.", channels="public_reply")
    assert answer.status_code == 409 and "step_too_late" in audit_types(issue_id)
    assert len(emails()) == seen and "step_reminder" not in audit_types(issue_id)  # nobody is asked again


def test_an_uploaded_plans_team_asks_its_new_people_and_a_protocol_not_deployed_is_refused(api, protocol_aws):
    """Teams apply at once (the approval handler reads the active plan); a plan whose category runs a protocol no
    state machine was deployed for is a 400 naming it, not an issue whose protocol never starts."""
    from chalicelib.adapters.plans import DEFAULT_PLAN

    admin = {"Authorization": f"Bearer {protocol_aws['OPS_ADMIN_TOKEN']}", "Content-Type": "application/json"}
    bundled = DEFAULT_PLAN.read_text(encoding="utf-8")
    renamed = bundled.replace("protocol: high_priority\n", "protocol: high_priority_v2\n").replace(
        "\n  high_priority:\n    label: PR drafts", "\n  high_priority_v2:\n    label: PR drafts"
    )
    assert "high_priority_v2:" in renamed
    refused = api.http.post("/plans", body=json.dumps({"yaml": renamed}), headers=admin)
    assert refused.status_code == 400 and "categories.high_priority.protocol" in json.loads(refused.body)["error"]
    retimed = bundled.replace("sla_minutes: 60", "sla_minutes: 61", 1)
    refused = api.http.post("/plans", body=json.dumps({"yaml": retimed}), headers=admin)
    assert refused.status_code == 400 and "deployed state machine" in json.loads(refused.body)["error"]

    new_team = bundled.replace("email: pr1@aurelle.example", "email: nora.new@aurelle.example")
    assert new_team != bundled
    assert api.http.post("/plans", body=json.dumps({"yaml": new_team}), headers=admin).status_code == 201
    forget_cached_adapters()  # a processor whose plan cache (a minute) has run out
    open_high_priority_issue()
    asked = sorted(m["to"] for m in next_step(0))
    assert asked == ["nora.new@aurelle.example", "pr-lead@aurelle.example"]  # not pr1, compiled at deploy


def test_tampered_and_expired_links_are_refused_and_change_nothing(api, protocol_aws):
    issue_id = open_high_priority_issue()
    lead = next(m for m in next_step(0) if m["to"] == "pr-lead@aurelle.example")
    tampered = re.sub(r"sig=([0-9a-f])", lambda m: "sig=" + ("0" if m.group(1) != "0" else "1"), lead["link"])
    forged_expiry = re.sub(r"exp=(\d+)", lambda m: f"exp={int(m.group(1)) + 3600}", lead["link"])
    assert api.http.get(path(tampered)).status_code == 403
    assert post(api, tampered, outcome="submitted", draft="x").status_code == 403
    assert post(api, forged_expiry, outcome="submitted", draft="x").status_code == 403
    assert api.http.get("/approvals/not-a-real-id?exp=1&sig=00").status_code == 403

    approval_id = lead["link"].split("/approvals/")[1].split("?")[0]
    past = int(time.time()) - 10
    client("dynamodb").update_item(
        TableName=resources().approvals_table,
        Key={"approval_id": {"S": approval_id}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(past)}},
    )
    expired = links.link_path(protocol_aws["LINK_SIGNING_KEY"], approval_id, "pr-lead@aurelle.example", past)
    assert api.http.get(expired).status_code == 410
    assert post(api, "http://x" + expired, outcome="submitted", draft="x").status_code == 410
    assert audit_types(issue_id) == ["opened", "step_initial"]
    assert execution_status(issue_id) == "RUNNING"


@pytest.mark.time_scale(0.02)  # a 60-minute step times out after 1.2 s
def test_a_step_that_times_out_is_reminded_then_escalated_to_the_backup_with_an_alert(api):
    sqs, sns = client("sqs"), client("sns")
    alerts_url = sqs.create_queue(QueueName="alerts-reader")["QueueUrl"]
    alerts_arn = sqs.get_queue_attributes(QueueUrl=alerts_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(resources().alerts_topic))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=alerts_arn, Attributes={"RawMessageDelivery": "true"})
    issue_id = open_high_priority_issue()

    first = next_step(0)
    reminder = next_step(len(first))
    assert all(m["subject"].startswith("Reminder:") for m in reminder)
    escalated = next_step(len(first) + len(reminder))
    assert [m["to"] for m in escalated] == ["social-lead@aurelle.example"]
    assert escalated[0]["subject"].startswith("Escalated to you:")
    assert api.http.get(path(first[0]["link"])).status_code == 410  # the earlier attempts' links are retired

    deadline = time.monotonic() + 20
    alerts = []
    while not alerts and time.monotonic() < deadline:
        alerts = sqs.receive_message(QueueUrl=alerts_url, MessageAttributeNames=["All"]).get("Messages", [])
        time.sleep(0.2)
    assert alerts and alerts[0]["MessageAttributes"]["kind"]["StringValue"] == "approval_stuck"
    assert "step_escalated" in audit_types(issue_id) and "step_reminder" in audit_types(issue_id)


def checked_channels(page_body: str) -> list[str]:
    return re.findall(r"<input type=radio name=channels value='([^']+)' checked>", page_body)


def test_the_drafter_chooses_to_reply_privately_only(api):
    issue_id = open_high_priority_issue()
    lead = next(m for m in next_step(0) if m["to"] == "pr-lead@aurelle.example")

    page = api.http.get(path(lead["link"])).body.decode()
    assert "Where the reply goes" in page
    assert re.findall(r"name=channels value='([^']+)'", page) == [
        "public_reply",
        "private_reply",
        "public_reply,private_reply",
    ]
    assert checked_channels(page) == ["public_reply,private_reply"]  # high_priority publishes both by default

    no_channel = post(api, lead["link"], outcome="submitted", draft="Please check your DMs.")
    assert no_channel.status_code == 400 and "Choose where the reply goes" in no_channel.body.decode()
    assert post(api, lead["link"], outcome="submitted", draft="x", channels="").status_code == 400
    assert post(api, lead["link"], outcome="submitted", draft="x", channels="carrier_pigeon").status_code == 400
    assert audit_types(issue_id) == ["opened", "step_initial"]  # refused answers change nothing; the link still works

    text = "We are sorry; we have sent you a direct message to sort this out."
    assert post(api, lead["link"], outcome="submitted", draft=text, channels="private_reply").status_code == 200
    legal = next_step(2)
    assert "Where the reply goes" not in api.http.get(path(legal[0]["link"])).body.decode()  # reviewers cannot
    assert post(api, legal[0]["link"], outcome="approved", channels="public_reply").status_code == 200  # ignored
    management = next_step(3)
    assert post(api, management[0]["link"], outcome="approved").status_code == 200

    publish_message = publish_and_finish(issue_id)
    # SQS delivers at least once: the same message again posts nothing and records nothing twice.
    assert process_publish_requests(publish_message) == {"batchItemFailures": []}
    outbox = client("dynamodb").scan(TableName=resources().outbox_table)["Items"]
    assert [(o["channel"]["S"], o["text"]["S"]) for o in outbox] == [("private_reply", text)]
    assert audit_types(issue_id).count("published") == 1
    submitted = [
        json.loads(i["details"]["S"])
        for i in client("dynamodb").scan(TableName=resources().audit_table)["Items"]
        if i["type"]["S"] == "step_submitted"
    ]
    assert [d["channels"] for d in submitted] == [["private_reply"]]  # the choice is on the record


def test_a_redraft_after_a_rejection_keeps_the_drafters_channel_choice(api):
    open_high_priority_issue()
    lead = next(m for m in next_step(0) if m["to"] == "pr-lead@aurelle.example")
    assert (
        post(
            api, lead["link"], outcome="submitted", draft="Please check your messages, Ana.", channels="private_reply"
        ).status_code
        == 200
    )
    legal = next_step(2)
    assert post(api, legal[0]["link"], outcome="rejected", comment="Say sorry first.").status_code == 200
    redraft = next(m for m in next_step(3) if m["to"] == "pr-lead@aurelle.example")
    assert checked_channels(api.http.get(path(redraft["link"])).body.decode()) == ["private_reply"]


@pytest.mark.time_scale(0.05)  # moto's run notices a stop when its step's 3 s wait ends (AWS: at once)
def test_step_functions_says_when_a_run_has_ended(protocol_aws):
    """What the publisher asks before posting: a running protocol is not ended, a stopped one is, and one it
    cannot describe is not known to have ended (never a reason to hold a reply back)."""
    issue_id = open_high_priority_issue()
    arn = next(
        m["stateMachineArn"]
        for m in client("stepfunctions").list_state_machines()["stateMachines"]
        if m["name"] == resources().state_machine("high_priority")
    )
    execution = f"{arn.replace(':stateMachine:', ':execution:')}:{issue_id}-high_priority"
    workflows = StepFunctionsWorkflows()
    next_step(0)  # the run waits at its first step
    assert workflows.ended(execution) is None
    workflows.stop(execution, cause="test")
    deadline = time.monotonic() + 20
    while not workflows.ended(execution) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert workflows.ended(execution) in ("ABORTED", "FAILED")  # moto: FAILED when the stopped wait ends
    assert workflows.ended(execution + "-unknown") is None
