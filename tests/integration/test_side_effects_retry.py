"""Outward side effects retry safely: a send that fails gives its claim back, so the redelivered message sends it;
a redelivery after a crash between claim and send sends it too; a redelivery after success sends nothing.

Faults are injected with botocore event hooks on the real (moto) clients the adapters use, never by replacing our
own code: ``before-parameter-build.<service>.<Operation>`` handlers raise, as a throttled or failed AWS call would.
A "crash" raises :class:`Crash` (a ``BaseException``, like the ``SystemExit`` of a killed worker), which no
``except Exception`` of ours catches, so nothing is given back: the claim stays as a dead process leaves it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError

from chalicelib.adapters.aws import client
from chalicelib.adapters.outbox import SEND_LEASE_SECONDS
from chalicelib.bootstrap import approval_deps
from chalicelib.services.approvals import StepRequest, request_step
from chalicelib.settings import resources
from tests.helpers import wait_for_queue
from tests.integration.test_approval_flow import (  # noqa: F401 - fixtures
    api,
    audit_types,
    emails,
    next_step,
    open_high_priority_issue,
    path,
    post,
    process_approval_requests,
    process_publish_requests,
    protocol_aws,
)

DRAFTERS = ["pr-lead@aurelle.example", "pr1@aurelle.example"]


@pytest.fixture(autouse=True)
def stop_protocols_after(request):
    """Stop every protocol run a test leaves running: moto runs them in threads that outlive the test, and their
    timers would send approval messages into the next test's queues."""
    if "protocol_aws" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("protocol_aws")  # set up first, so torn down after this
    yield
    sfn = client("stepfunctions")
    for machine in sfn.list_state_machines()["stateMachines"]:
        for run in sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")[
            "executions"
        ]:
            sfn.stop_execution(executionArn=run["executionArn"])


class Crash(BaseException):
    """The process dies here (nothing of ours runs after it)."""


def fail_calls(
    service: str,
    operation: str,
    *,
    times: int = 1,
    skip: int = 0,
    error: Callable[[], BaseException] | None = None,
    when: Callable[[dict], bool] = lambda params: True,
) -> list[int]:
    """Make the adapters' ``service`` client fail ``operation`` (those calls whose parameters ``when`` accepts)
    ``times`` times, after ``skip`` good calls. Returns the list the hook appends each such call's number to."""
    calls: list[int] = []

    def hook(params: dict, **_: object) -> None:
        if not when(params):
            return
        calls.append(len(calls) + 1)
        if skip < len(calls) <= skip + times:
            raise (
                error()
                if error
                else ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded (injected)"}}, operation)
            )

    client(service).meta.events.register(
        f"before-parameter-build.{service}.{operation}", hook, unique_id=f"test-fault-{service}-{operation}"
    )
    return calls


def lose_answers(
    service: str, operation: str, *, times: int = 1, when: Callable[[dict], bool] = lambda params: True
) -> list[int]:
    """The call is applied, but its answer is lost on the way back (a timeout after AWS did the work), so
    botocore sends the same request again: what a conditional write must recognise as its own success.
    ``when`` gets the request's JSON parameters. Returns the attempt numbers of the lost answers."""
    lost: list[int] = []

    def hook(response, attempts: int, request_dict: dict, **_: object) -> int | None:
        if response is None or response[0].status_code != 200 or len(lost) >= times:
            return None
        if not when(json.loads(request_dict["body"] or b"{}")):
            return None
        lost.append(attempts)
        return 0  # retry at once

    client(service).meta.events.register_first(
        f"needs-retry.{service}.{operation}", hook, unique_id=f"test-lost-{service}-{operation}"
    )
    return lost


def stop_failing(service: str, operation: str) -> None:
    client(service).meta.events.unregister(
        f"before-parameter-build.{service}.{operation}", unique_id=f"test-fault-{service}-{operation}"
    )


def approval_items(issue_id: str) -> list[dict]:
    answer = client("dynamodb").query(
        TableName=resources().approvals_table,
        IndexName="by_issue",
        KeyConditionExpression="issue_id = :i",
        ExpressionAttributeValues={":i": {"S": issue_id}},
    )
    return answer["Items"]


def link_id(link: str) -> str:
    return link.split("/approvals/")[1].split("?")[0]


def assert_one_working_email_each(api, issue_id: str, people: list[str]) -> None:  # noqa: F811
    """Exactly one email per person, each link opening its page, each naming an approval recorded once."""
    sent = emails()
    assert sorted(m["to"] for m in sent) == sorted(people)
    recorded = {i["approval_id"]["S"]: i["person"]["S"] for i in approval_items(issue_id)}
    assert len(recorded) == len(people)  # the redelivery re-used the approvals, it did not make new ones
    for message in sent:
        assert recorded[link_id(message["link"])] == message["to"]
        assert api.http.get(path(message["link"])).status_code == 200


def failed(handle: Callable[[dict], dict], event: dict) -> int:
    """How many records of the SQS event the handler reports failed (they go back to the queue). When every
    record fails, Powertools raises instead, and Lambda returns the whole batch."""
    try:
        return len(handle(event)["batchItemFailures"])
    except BatchProcessingError:
        return len(event["Records"])


# The functions whose sends go through ``SendClaims`` (app.py's handler names).
SENDERS = (
    "request_approvals",
    "start_protocols",
    "check_slas",
    "check_dead_letter_queues",
    "send_alert_digest",
    "send_surveys",
)


@pytest.mark.parametrize("stage", ["local", "test", "dev", "prod"])
def test_every_sender_is_ended_by_lambda_before_its_claims_lease_runs_out(stage):
    """A ``sending`` claim past its lease is taken over; that is safe only if its owner can no longer be running."""
    from infra.stage_config import StageConfig
    from infra.template import visibility_timeouts

    config = StageConfig.load(stage)
    assert {name: config.timeout(name) <= SEND_LEASE_SECONDS for name in SENDERS} == dict.fromkeys(SENDERS, True)
    # ... and SQS redelivers the approval request only after the lease of a dead sender ran out.
    assert visibility_timeouts(stage)["Approval"] > SEND_LEASE_SECONDS


def test_ses_failing_once_then_succeeding_sends_exactly_one_email_per_person(api):  # noqa: F811
    issue_id = open_high_priority_issue()
    message = wait_for_queue(resources().approval_queue)
    fail_calls("ses", "SendEmail", times=1)

    assert failed(process_approval_requests, message) == 1  # the message goes back to the queue
    assert len(emails()) == 1  # the other person's email went out; the failed one is owed
    assert failed(process_approval_requests, message) == 0  # SQS redelivers it
    assert_one_working_email_each(api, issue_id, DRAFTERS)
    assert audit_types(issue_id) == ["opened", "step_initial"]  # the request is on the record once


def test_every_send_failing_leaves_every_email_to_the_redelivery(api):  # noqa: F811
    issue_id = open_high_priority_issue()
    message = wait_for_queue(resources().approval_queue)
    fail_calls("ses", "SendEmail", times=2)

    assert failed(process_approval_requests, message) == 1
    assert emails() == []
    assert failed(process_approval_requests, message) == 0
    assert_one_working_email_each(api, issue_id, DRAFTERS)


def test_a_crash_between_record_and_send_is_sent_by_a_later_redelivery(api):  # noqa: F811
    issue_id = open_high_priority_issue()
    message = wait_for_queue(resources().approval_queue)
    request = StepRequest.model_validate_json(message["Records"][0]["body"])
    fail_calls("ses", "SendEmail", times=1, error=Crash)
    with pytest.raises(Crash):
        process_approval_requests(message)
    assert emails() == []

    # At once (a duplicate delivery while the dead worker's lease runs): the email it claimed is left to it, the
    # other one goes out, and the message fails so SQS delivers it again.
    assert failed(process_approval_requests, message) == 1
    [other] = emails()
    # SQS redelivers after its visibility timeout, which is longer than any claim's lease.
    later = datetime.now(timezone.utc) + timedelta(seconds=SEND_LEASE_SECONDS + 1)
    [owed] = request_step(request, approval_deps(), later)
    assert link_id(owed) != link_id(other["link"])
    assert_one_working_email_each(api, issue_id, DRAFTERS)


def test_a_follow_up_failing_after_the_emails_is_finished_by_the_redelivery_which_sends_nothing(api):  # noqa: F811
    issue_id = open_high_priority_issue()
    message = wait_for_queue(resources().approval_queue)
    fail_calls("dynamodb", "PutItem", times=1, when=lambda params: params.get("TableName") == resources().audit_table)
    assert failed(process_approval_requests, message) == 1
    assert audit_types(issue_id) == ["opened"]
    assert failed(process_approval_requests, message) == 0
    assert audit_types(issue_id) == ["opened", "step_initial"]
    assert_one_working_email_each(api, issue_id, DRAFTERS)


def test_a_redelivery_after_success_sends_nothing(api):  # noqa: F811
    issue_id = open_high_priority_issue()
    message = wait_for_queue(resources().approval_queue)
    assert failed(process_approval_requests, message) == 0
    first = emails()
    assert failed(process_approval_requests, message) == 0
    assert emails() == first
    assert_one_working_email_each(api, issue_id, DRAFTERS)
    assert audit_types(issue_id) == ["opened", "step_initial"]


def marking_sent(table: str) -> Callable[[dict], bool]:
    return lambda params: (
        params.get("TableName") == table and params.get("UpdateExpression", "").startswith("SET send_state = :state")
    )


def test_an_email_whose_sent_mark_fails_at_first_is_not_sent_again(api):  # noqa: F811
    issue_id = open_high_priority_issue()
    message = wait_for_queue(resources().approval_queue)
    marks = fail_calls("dynamodb", "UpdateItem", times=2, when=marking_sent(resources().approvals_table))
    assert failed(process_approval_requests, message) == 0
    assert len(marks) == 4  # the first mark failed twice, then it and the second went through
    later = datetime.now(timezone.utc) + timedelta(seconds=SEND_LEASE_SECONDS + 1)
    assert request_step(StepRequest.model_validate_json(message["Records"][0]["body"]), approval_deps(), later) == []
    assert_one_working_email_each(api, issue_id, DRAFTERS)


def claiming(table: str) -> Callable[[dict], bool]:
    return lambda params: (
        params.get("TableName") == table and params.get("UpdateExpression", "").startswith("SET #a0 = :v0")
    )  # send_state = sending


def test_a_claim_whose_answer_was_lost_is_recognised_as_ours(api):  # noqa: F811
    issue_id = open_high_priority_issue()
    message = wait_for_queue(resources().approval_queue)
    lost = lose_answers("dynamodb", "UpdateItem", when=claiming(resources().approvals_table))
    assert failed(process_approval_requests, message) == 0
    assert lost == [1]
    assert_one_working_email_each(api, issue_id, DRAFTERS)


def test_approvals_recorded_before_send_claims_count_as_emailed(api):  # noqa: F811 - the fixture
    issue_id = open_high_priority_issue()
    message = wait_for_queue(resources().approval_queue)
    assert failed(process_approval_requests, message) == 0
    for item in approval_items(issue_id):  # as the code before claims wrote them: no send state
        client("dynamodb").update_item(
            TableName=resources().approvals_table,
            Key={"approval_id": item["approval_id"]},
            UpdateExpression="REMOVE send_state",
        )
    assert failed(process_approval_requests, message) == 0
    assert len(emails()) == 2


def test_a_used_link_is_not_emailed_again_by_a_redelivery(api):  # noqa: F811 - the fixture
    issue_id = open_high_priority_issue()
    message = wait_for_queue(resources().approval_queue)
    fail_calls("ses", "SendEmail", times=1, skip=1)  # the second person's email fails
    assert failed(process_approval_requests, message) == 1
    [delivered] = emails()
    assert post(api, delivered["link"], outcome="submitted", draft="Sorry.", channels="public_reply").status_code == 200
    # The step is done: the redelivery has nothing left to ask anyone, and says so without failing.
    stop_failing("ses", "SendEmail")
    assert failed(process_approval_requests, message) == 0
    assert [m["to"] for m in emails()] == [delivered["to"]]
    assert len(approval_items(issue_id)) == 2


def stop_protocol(issue_id: str, protocol: str = "high_priority") -> None:
    """Stop the run, so its timers send nothing into the next test's queues."""
    sfn = client("stepfunctions")
    arn = next(
        m["stateMachineArn"]
        for m in sfn.list_state_machines()["stateMachines"]
        if m["name"] == resources().state_machine(protocol)
    )
    sfn.stop_execution(executionArn=f"{arn.replace(':stateMachine:', ':execution:')}:{issue_id}-{protocol}")


@pytest.mark.time_scale(0.02)  # a 60-minute step reminds after 1.2 s
def test_a_late_redelivery_of_an_earlier_attempt_leaves_the_newer_links_working(api):  # noqa: F811 - the fixture
    issue_id = open_high_priority_issue()
    try:
        initial = wait_for_queue(resources().approval_queue)
        assert failed(process_approval_requests, initial) == 0
        reminder = wait_for_queue(resources().approval_queue)
    finally:
        stop_protocol(issue_id)
    assert json.loads(reminder["Records"][0]["body"])["attempt"] == "reminder"
    assert failed(process_approval_requests, reminder) == 0
    sent = emails()
    assert len(sent) == 4

    assert failed(process_approval_requests, initial) == 0  # SQS delivers the first one again, late
    assert emails() == sent
    reminded = [m for m in sent if m["subject"].startswith("Reminder:")]
    assert len(reminded) == 2
    statuses = {i["approval_id"]["S"]: i["status"]["S"] for i in approval_items(issue_id)}
    assert sorted(statuses[link_id(m["link"])] for m in sent) == ["pending"] * 2 + ["superseded"] * 2
    assert all(statuses[link_id(m["link"])] == "pending" for m in reminded)
    assert all(api.http.get(path(m["link"])).status_code == 200 for m in reminded)


def approve_to_publish(api) -> str:  # noqa: F811 - the fixture
    """A High Priority issue drafted (public reply), reviewed and approved; its id. The publish message waits."""
    issue_id = open_high_priority_issue()
    lead = next(m for m in next_step(0) if m["to"] == "pr-lead@aurelle.example")
    assert post(api, lead["link"], outcome="submitted", draft="Sorry.", channels="public_reply").status_code == 200
    for seen in (2, 3):  # legal, then management
        assert post(api, next_step(seen)[0]["link"], outcome="approved", comment="ok").status_code == 200
    return issue_id


def published_records(issue_id: str) -> tuple[list[str], dict]:
    outbox = client("dynamodb").scan(TableName=resources().outbox_table)["Items"]
    issue = client("dynamodb").get_item(
        TableName=resources().issues_table, Key={"issue_id": {"S": issue_id}}, ConsistentRead=True
    )["Item"]
    return [o["channel"]["S"] for o in outbox], issue


def test_a_publish_whose_record_fails_after_posting_is_recorded_by_the_redelivery(api):  # noqa: F811 - the fixture
    issue_id = approve_to_publish(api)
    message = wait_for_queue(resources().publish_queue)
    fail_calls(
        "dynamodb",
        "PutItem",
        times=1,
        when=lambda params: (
            params.get("TableName") == resources().audit_table and params["Item"]["type"]["S"] == "published"
        ),
    )
    assert failed(process_publish_requests, message) == 1  # posted, but its audit event failed
    assert failed(process_publish_requests, message) == 0
    assert failed(process_publish_requests, message) == 0  # and once more after success
    channels, issue = published_records(issue_id)
    assert channels == ["public_reply"]  # posted once
    assert audit_types(issue_id).count("published") == 1  # recorded once, by the redelivery
    assert issue["first_response_at"]["S"]


def test_a_publish_whose_callback_fails_once_posts_once_and_records_once(api):  # noqa: F811 - the fixture
    issue_id = approve_to_publish(api)
    message = wait_for_queue(resources().publish_queue)
    fail_calls("stepfunctions", "SendTaskSuccess", times=1)
    assert failed(process_publish_requests, message) == 1
    assert failed(process_publish_requests, message) == 0
    assert failed(process_publish_requests, message) == 0
    channels, issue = published_records(issue_id)
    assert channels == ["public_reply"] and issue["first_response_at"]["S"]
    assert audit_types(issue_id).count("published") == 1
