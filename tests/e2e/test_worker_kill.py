"""A worker killed (SIGKILL) mid-replay changes nothing: the same mentions, issues, emails, alerts, audit events,
approvals and waiting protocols as a clean run of the same stream on a fresh stack.

Both runs replay the same slice of the sample stream over HTTP to their own local stack (``make run``'s). In the
second, the worker is killed while it processes; the stack's supervisor (``LocalStack.supervise``, which
``make run`` calls every two seconds) restarts it, and SQS redelivers what the dead worker held once the
visibility timeout is over. That timeout is shortened to ``VISIBILITY`` seconds on both stacks (the deployed one
is six times the function timeout) so the test waits seconds, not minutes; the stack sets it before its worker
polls (``LocalStack.queue_visibility_seconds``), since a receive gives its messages the visibility the queue had
when its long poll began.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import datetime, timezone

import pytest

from bench.faults import count_outcomes, dead_letters
from infra.local.replay import load_rows, replay, shift_to_now
from infra.local.stack import LocalStack, free_port
from tests.e2e.test_log_scan import sent_emails

pytestmark = pytest.mark.e2e

ROWS = load_rows()[240:]  # a few ordinary mentions, then the demo: campaign, thread, influencer, legal threat, surge
VISIBILITY = 8


def backlog(stack: LocalStack) -> int:
    """Messages on the app's queues, in flight included (the DLQs and the alert reader apart)."""
    sqs = stack.client("sqs")
    total = 0
    for url in sqs.list_queues(QueueNamePrefix="social-response-local-").get("QueueUrls", []):
        if url.endswith(("-dlq", "-ops-alerts")):
            continue
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        total += sum(int(value) for value in attributes.values())
    return total


def settle(
    stack: LocalStack,
    expected_keys: set[str],
    alerts: list[dict],
    quiet_seconds: float = 2 * VISIBILITY + 2,
    timeout: float = 150.0,
) -> dict:
    """Wait until the mentions are stored, every queue is empty and nothing changed for ``quiet_seconds`` (longer
    than a redelivery takes); then count."""
    from chalicelib.settings import Resources

    stack.wait_until_stored(expected_keys, timeout=timeout)
    names = Resources.for_stage("local")
    deadline, last, quiet_since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        stack.supervise(echo=lambda *_: None)  # as make run's loop does: a dead worker comes back
        alerts += [
            {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()} for m in stack.alerts_received()
        ]
        emails = [
            {"to": e.get("destinations", {}).get("ToAddresses", [""])[0], "subject": e.get("subject", "")}
            for e in sent_emails(stack)
        ]
        now = count_outcomes(stack.client, names, emails, list(alerts))
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_seconds and backlog(stack) == 0:
            return now
        time.sleep(1)
    raise AssertionError("the stack did not settle")


def test_the_shortened_visibility_is_in_place_before_the_worker_polls(tmp_path):
    """ReceiveMessage gives a message the visibility its queue had when the long poll began: a visibility shortened
    while the worker already polled left the first message it took in flight for the template's 360 s (the
    worker-kill run then never settled). So the stack sets it before it starts the worker."""
    from chalicelib.settings import Resources

    names = Resources.for_stage("local")
    consumed = (names.ingest_queue, names.approval_queue, names.publish_queue)
    at_worker_start: dict[str, str] = {}

    class Recording(LocalStack):
        def _spawn(self, name: str, command: list[str], restartable: bool = False) -> None:
            if name == "worker":
                sqs = self.client("sqs")
                for queue in consumed:
                    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
                    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
                    at_worker_start[queue] = attributes["Attributes"]["VisibilityTimeout"]
            super()._spawn(name, command, restartable=restartable)

    stack = Recording(
        api_port=free_port(),
        moto_port=free_port(),
        worker_port=free_port(),
        log_dir=tmp_path / "logs",
        queue_visibility_seconds=VISIBILITY,
    )
    with stack:
        assert at_worker_start == dict.fromkeys(consumed, str(VISIBILITY))


def run(tmp_path, name: str, kill: bool) -> tuple[dict, dict]:
    stack = LocalStack(
        api_port=free_port(),
        moto_port=free_port(),
        worker_port=free_port(),
        log_dir=tmp_path / name / "logs",
        queue_visibility_seconds=VISIBILITY,
    )
    with stack:
        rows = shift_to_now(ROWS, datetime.now(timezone.utc))
        worker = stack.processes["worker"]
        killed = threading.Event()

        def kill_when_busy() -> None:
            # Mid-batch: once the worker has taken messages off the ingest queue and not yet finished them.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not killed.is_set():
                sqs = stack.client("sqs")
                url = sqs.get_queue_url(QueueName="social-response-local-ingest")["QueueUrl"]
                in_flight = int(
                    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])[
                        "Attributes"
                    ]["ApproximateNumberOfMessagesNotVisible"]
                )
                if in_flight:
                    worker.send_signal(signal.SIGKILL)
                    killed.set()
                    return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_when_busy, daemon=True) if kill else None
        if killer:
            killer.start()
        report = replay(stack.api_url, stack.secrets, rows, echo=lambda *_: None)
        if killer:
            killer.join(timeout=70)
        assert set(report.statuses) == {200}, report.statuses
        alerts: list[dict] = []
        outcomes = settle(stack, report.expected_keys, alerts)
        from chalicelib.settings import Resources

        facts = {
            "killed": killed.is_set(),
            "worker_pid_before": worker.pid,
            "worker_pid_after": stack.processes["worker"].pid,
            "dead_letters": dead_letters(Resources.for_stage("local"), stack.client("sqs")),
        }
        return outcomes, facts


def test_killing_the_worker_mid_batch_loses_and_doubles_nothing(tmp_path):
    clean, _ = run(tmp_path, "clean", kill=False)
    killed, facts = run(tmp_path, "killed", kill=True)

    assert facts["killed"], "the worker was never caught with messages in flight"
    assert facts["worker_pid_after"] != facts["worker_pid_before"]  # the supervisor restarted it
    assert not any(facts["dead_letters"].values()), facts["dead_letters"]
    assert clean["mentions"] == len(ROWS) and clean["issues"] > 0 and clean["emails"] > 0 and clean["alerts"] > 0
    for kind in (
        "mentions",
        "mention_states",
        "issues",
        "issue_shapes",
        "audit_events",
        "approvals",
        "email_shapes",
        "alert_shapes",
        "executions",
    ):
        assert killed[kind] == clean[kind], kind
