"""An owed answer is called "too late" only when the run shows it was: an answer that reached Step Functions and
then could not clear its owed mark (a throttled UpdateItem), or that a resent form passes on while the schedule
does, finished its step. The approver sees it accepted; the audit trail records no ``step_too_late``; the run's
history (GetExecutionHistory, through ``Workflows.answered_with``) decides. The service on the suite's fakes and
on the DynamoDB adapter (moto); the adapter's history reading on moto's executed protocol and on AWS-shaped
histories."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from chalicelib.domain.approval import Answer, Refused
from chalicelib.services.approvals import ApprovalDeps, pass_on_owed_answers, request_step
from tests.unit.test_approvals import NOW, _deps, _post, _step

ANSWER = Answer("submitted", draft="We are on it.", channels=("public_reply",))
LATER = NOW + timedelta(minutes=5)
NOTHING = {"passed_on": 0, "too_late": 0, "passed_on_elsewhere": 0, "still_unavailable": 0}


def _throttle_once(deps: ApprovalDeps) -> None:
    """The next ``callback_delivered`` (one UpdateItem) is throttled past botocore's retries."""
    store = deps.approvals
    real = store.callback_delivered

    def throttled(approval) -> None:
        store.callback_delivered = real  # type: ignore[method-assign]
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, "UpdateItem")

    store.callback_delivered = throttled  # type: ignore[method-assign]


def _events(deps: ApprovalDeps) -> list[str]:
    return sorted(event.type for event in deps.issues.events.values())


def _owed(deps: ApprovalDeps) -> int:
    return len(deps.approvals.owed_since(NOW + timedelta(days=1)))


def _answer_taken_but_mark_kept(deps: ApprovalDeps) -> str:
    """The approver's POST resumes the run; clearing the owed mark is throttled. The link."""
    link = request_step(_step(), deps, NOW)[0]
    _throttle_once(deps)
    assert _post(deps, link, ANSWER) == "submitted"  # accepted: not a 500 for bookkeeping behind a resumed run
    assert len(deps.workflows.resumed) == 1 and _owed(deps) == 1
    return link


def test_an_answer_that_resumed_the_run_is_accepted_and_never_recorded_too_late_when_its_mark_was_not_cleared():
    deps = _deps()
    _answer_taken_but_mark_kept(deps)
    # the schedule finds it owed; Step Functions refuses the callback as done (this answer finished the task)
    assert pass_on_owed_answers(deps, LATER) == {**NOTHING, "passed_on_elsewhere": 1}
    assert "step_too_late" not in _events(deps) and _owed(deps) == 0
    assert len(deps.workflows.resumed) == 1
    assert pass_on_owed_answers(deps, LATER + timedelta(minutes=5)) == NOTHING


def test_the_answer_stays_owed_and_nothing_is_recorded_while_the_runs_history_cannot_be_read():
    deps = _deps()
    _answer_taken_but_mark_kept(deps)
    deps.workflows.history_unavailable = 1
    assert pass_on_owed_answers(deps, LATER) == {**NOTHING, "still_unavailable": 1}
    assert "step_too_late" not in _events(deps) and _owed(deps) == 1
    assert pass_on_owed_answers(deps, LATER + timedelta(minutes=5)) == {**NOTHING, "passed_on_elsewhere": 1}
    assert _owed(deps) == 0 and "step_too_late" not in _events(deps)


def test_a_resent_form_racing_the_schedule_is_told_its_answer_stands():
    """The 503 page says "send the form again": the second POST runs while the schedule's SendTaskSuccess has
    succeeded and its mark is not cleared yet."""
    deps = _deps()
    deps.workflows.unavailable_times = 1
    link = request_step(_step(), deps, NOW)[0]
    with pytest.raises(Refused) as first:
        _post(deps, link, ANSWER)
    assert first.value.status == 503
    real_resume = deps.workflows.resume
    second: list[object] = []

    def resume(token: str, output: dict) -> None:
        real_resume(token, output)  # the schedule's callback reached Step Functions
        if not second:
            second.append("running")
            try:
                second[0] = _post(deps, link, replace(ANSWER, draft="again"), NOW + timedelta(minutes=3))
            except Refused as refused:
                second[0] = (refused.status, refused.message)

    deps.workflows.resume = resume  # type: ignore[method-assign]
    assert pass_on_owed_answers(deps, NOW + timedelta(minutes=3)) == {**NOTHING, "passed_on": 1}
    assert second == ["submitted"]  # not a 409 saying the answer "did not change the protocol"
    assert len(deps.workflows.resumed) == 1 and deps.workflows.resumed[0][1]["draft"] == "We are on it."
    assert "step_too_late" not in _events(deps) and _owed(deps) == 0


def test_an_owed_answer_whose_step_timed_out_is_still_too_late_once():
    deps = _deps()
    deps.workflows.unavailable_times = 1
    link = request_step(_step(), deps, NOW)[0]
    with pytest.raises(Refused):
        _post(deps, link, ANSWER)
    deps.workflows.finished.add("token-1")  # the step timed out (the history shows no success with this answer)
    with pytest.raises(Refused) as late:
        _post(deps, link, ANSWER, LATER)
    assert late.value.status == 409 and _events(deps).count("step_too_late") == 1 and _owed(deps) == 0
    assert pass_on_owed_answers(deps, LATER + timedelta(minutes=5)) == NOTHING


def test_on_the_dynamodb_store_a_throttled_mark_leaves_no_false_record(aws):
    from chalicelib.adapters.approvals_table import DynamoApprovals
    from chalicelib.adapters.aws import client
    from chalicelib.settings import resources

    names = resources()
    deps = replace(_deps(), approvals=DynamoApprovals(names.approvals_table, names.audit_table))
    link = _answer_taken_but_mark_kept(deps)
    approval_id = link.split("/approvals/")[1].split("?")[0]
    assert deps.approvals.execution_of(deps.approvals.get(approval_id)) == "exec-1"
    assert pass_on_owed_answers(deps, LATER) == {**NOTHING, "passed_on_elsewhere": 1}
    item = client("dynamodb").get_item(TableName=names.approvals_table, Key={"approval_id": {"S": approval_id}})
    assert "callback_error" not in item["Item"] and "callback_owed" not in item["Item"]
    types = [
        i["type"]["S"]
        for i in client("dynamodb").scan(TableName=names.audit_table)["Items"]
        if i.get("issue_id", {}).get("S") == "iss-1"
    ]
    assert "step_submitted" in types and "step_too_late" not in types


# -- the adapter: the run's history -------------------------------------------------------------------------------
def test_step_functions_history_tells_a_taken_answer_from_another_or_a_waiting_step(aws):
    from chalicelib.adapters.aws import client
    from chalicelib.adapters.workflows import StepFunctionsWorkflows
    from chalicelib.settings import resources
    from tests.helpers import wait_for_queue
    from tests.integration.test_approval_flow import open_high_priority_issue

    open_high_priority_issue()
    body = json.loads(wait_for_queue(resources().approval_queue)["Records"][0]["body"])
    token, execution = body["task_token"], body["execution"]
    workflows = StepFunctionsWorkflows()
    answer = {"outcome": "submitted", "actor": "pr-lead@aurelle.example", "comment": "", "draft": "We are on it."}
    assert workflows.answered_with(execution, token, answer) is None  # the step still waits: cannot tell yet
    workflows.resume(token, answer)
    deadline = time.monotonic() + 10
    while workflows.answered_with(execution, token, answer) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workflows.answered_with(execution, token, answer) is True
    assert workflows.answered_with(execution, token, {**answer, "draft": "another"}) is False
    assert workflows.answered_with(execution, "a-token-this-run-never-had", answer) is False
    assert workflows.answered_with(execution.replace(":iss-", ":none-"), token, answer) is False  # no such run
    assert workflows.answered_with("", token, answer) is False
    client("stepfunctions").stop_execution(executionArn=execution, cause="test")


def _task(first: int, token: str, end: dict) -> list[dict]:
    """A waitForTaskToken task's events as AWS records them, ``end`` last (its previousEventId chain)."""
    parameters = json.dumps({"QueueUrl": "q", "MessageBody": {"task_token": token, "step": "draft"}})
    return [
        {
            "id": first,
            "previousEventId": first - 1,
            "type": "TaskScheduled",
            "taskScheduledEventDetails": {"parameters": parameters},
        },
        {"id": first + 1, "previousEventId": first, "type": "TaskStarted"},
        {"id": first + 2, "previousEventId": first + 1, "type": "TaskSubmitted"},
        {"id": first + 3, "previousEventId": first + 2, **end},
    ]


def _succeeded(output: dict, truncated: bool = False) -> dict:
    details = {"output": json.dumps(output), "outputDetails": {"truncated": truncated}}
    return {"type": "TaskSucceeded", "taskSucceededEventDetails": details}


def test_history_reading_follows_each_task_to_its_own_end():
    from chalicelib.adapters.workflows import task_answered

    answer = {"outcome": "approved", "draft": "Thank you"}
    timed_out = {"type": "TaskTimedOut", "taskTimedOutEventDetails": {"error": "States.Timeout"}}
    # the step timed out; its escalation (a new token) was answered: the first token's answer is too late
    history = _task(2, "t1", timed_out) + _task(10, "t2", _succeeded(answer))
    assert task_answered(history, "t1", answer) is False
    assert task_answered(history, "t2", answer) is True
    assert task_answered(history, "t2", {**answer, "draft": "other"}) is False
    assert task_answered(_task(2, "t1", _succeeded({}, truncated=True)), "t1", answer) is True
    waiting = _task(2, "t1", timed_out)[:3]
    assert task_answered(waiting, "t1", answer) is None
    assert task_answered([*waiting, {"id": 9, "previousEventId": 4, "type": "ExecutionAborted"}], "t1", answer) is False
