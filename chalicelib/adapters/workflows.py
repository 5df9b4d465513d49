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
