"""Step Functions: start and stop protocol executions, and resume a waiting step (the callback)."""

from __future__ import annotations

import json
from contextlib import suppress
from typing import Any

from chalicelib.adapters.aws import client
from chalicelib.services.errors import StepCallbackFailed, WorkflowUnavailable

__all__ = ["StepCallbackFailed", "StepFunctionsWorkflows", "WorkflowUnavailable"]


class StepFunctionsWorkflows:
    """Implements :class:`chalicelib.services.ports.Workflows` (and starts and stops runs for the protocols)."""

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> bool:
        """Start once: a second start with the same name (a stream retry) is not an error. True when started."""
        sfn = client("stepfunctions")
        try:
            sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))
        except sfn.exceptions.ExecutionAlreadyExists:
            return False
        return True

    def stop(self, execution_arn: str, cause: str) -> None:
        """Stop the execution if it runs; one that ended (or never started) is left as it is."""
        sfn = client("stepfunctions")
        with suppress(sfn.exceptions.ExecutionDoesNotExist, sfn.exceptions.InvalidArn):
            # an ended run keeps its status (moto would mark even a SUCCEEDED one ABORTED): rare, so one read more
            if sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING":
                sfn.stop_execution(executionArn=execution_arn, cause=cause[:250])

    def ended(self, execution_arn: str) -> str | None:
        """How the run ended (``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``, ``ABORTED``), or None while it runs; a run it
        cannot describe now (throttled, an id it does not know) counts as not known to have ended."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            status = str(client("stepfunctions").describe_execution(executionArn=execution_arn)["status"])
        except (ClientError, BotoCoreError):
            return None
        return None if status == "RUNNING" else status

    def answered_with(self, execution_arn: str, task_token: str, output: dict[str, Any]) -> bool | None:
        """Whether the run's task that waited for ``task_token`` finished with ``output``, from the run's history
        (GetExecutionHistory): True, it did; False, it ended otherwise, the run ended without it, or the run (or
        the task) is not known; None when Step Functions cannot answer now, or the task still reads as waiting."""
        from botocore.exceptions import BotoCoreError, ClientError

        if not execution_arn:
            return False  # no run recorded for the token: nothing can show the answer arrived
        sfn = client("stepfunctions")
        try:
            pages = sfn.get_paginator("get_execution_history").paginate(
                # 1,000 events a page, the most the API gives: a long protocol run in a few calls, not tens
                executionArn=execution_arn,
                includeExecutionData=True,
                PaginationConfig={"PageSize": 1000},
            )
            events = [event for page in pages for event in page["events"]]
        except (sfn.exceptions.ExecutionDoesNotExist, sfn.exceptions.InvalidArn):
            return False
        except (ClientError, BotoCoreError):  # throttled past botocore's retries, a 5xx, the network
            return None
        return task_answered(events, task_token, output)

    def resume(self, task_token: str, output: dict[str, Any]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        sfn = client("stepfunctions")
        try:
            sfn.send_task_success(taskToken=task_token, output=json.dumps(output))
        except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken, sfn.exceptions.TaskDoesNotExist) as error:
            raise StepCallbackFailed(type(error).__name__) from error
        except (ClientError, BotoCoreError) as error:  # throttled past botocore's retries, a 5xx, the network
            raise WorkflowUnavailable(type(error).__name__) from error

    def fail(self, task_token: str, error: str, cause: str) -> None:
        sfn = client("stepfunctions")
        try:
            sfn.send_task_failure(taskToken=task_token, error=error[:256], cause=cause[:32768])
        except (sfn.exceptions.TaskTimedOut, sfn.exceptions.InvalidToken, sfn.exceptions.TaskDoesNotExist) as refused:
            raise StepCallbackFailed(type(refused).__name__) from refused


_TASK_ENDS = ("TaskSucceeded", "TaskFailed", "TaskTimedOut", "TaskSubmitFailed", "TaskStartFailed")
_RUN_ENDS = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut")


def task_answered(events: list[dict[str, Any]], task_token: str, output: dict[str, Any]) -> bool | None:
    """:meth:`StepFunctionsWorkflows.answered_with` on a run's history events: the task is the one whose scheduled
    parameters carry ``task_token`` (a retried send schedules a new task, with a new token); its end is the task
    event whose ``previousEventId`` chain leads back to it."""
    by_id = {event["id"]: event for event in events}
    ours = {
        event["id"]
        for event in events
        if event["type"] == "TaskScheduled"
        and _carries(event.get("taskScheduledEventDetails", {}).get("parameters", ""), task_token)
    }
    if not ours:
        return False  # the run never waited for this token
    for event in events:
        if event["type"] not in _TASK_ENDS or _scheduled_by(event, by_id) not in ours:
            continue
        if event["type"] != "TaskSucceeded":
            return False  # timed out or failed: the answer came too late
        details = event.get("taskSucceededEventDetails", {})
        if details.get("outputDetails", {}).get("truncated"):
            return True  # the token is used once (the link's answer): a success with it is that answer
        try:
            return bool(json.loads(details.get("output", "")) == output)
        except ValueError:
            return False
    return False if any(event["type"] in _RUN_ENDS for event in events) else None


def _scheduled_by(event: dict[str, Any], by_id: dict[int, dict[str, Any]]) -> int | None:
    """The id of the TaskScheduled event ``event`` follows from (Scheduled, Started, Submitted, then its end)."""
    seen = 0
    while event and seen < 10:
        if event["type"] == "TaskScheduled":
            return int(event["id"])
        event = by_id.get(event.get("previousEventId", 0), {})
        seen += 1
    return None


def _carries(parameters: str, task_token: str) -> bool:
    """Whether a task's parameters (JSON) carry ``task_token`` as a value."""
    try:
        found: list[Any] = [json.loads(parameters)]
    except ValueError:
        return False
    while found:
        value = found.pop()
        if value == task_token:
            return True
        if isinstance(value, dict):
            found.extend(value.values())
        elif isinstance(value, list):
            found.extend(value)
    return False
