"""Faults injected into the app's AWS calls, and the sample stream run in process with and without them.

* :class:`FaultInjector` registers botocore event handlers on the clients the app uses
  (``chalicelib.adapters.aws.client``) and makes a seeded share of DynamoDB, SQS, SNS, SES and Step Functions calls
  fail, two ways:

  - ``before-call``: the call answers a throttling or 5xx error at once, past botocore's retries, so *our* code
    sees the exception and must cope (report the record as failed, give a claim back, answer 503, ...);
  - ``before-send``: the HTTP answer is a 500 or a throttling error, which botocore's retry handler retries, as it
    does against AWS.

  Only the app's clients get the handlers: what the harness (or a test) reads to count outcomes goes through
  clients of its own, and moto's Step Functions interpreter calls AWS through its own clients too.
* :func:`run_stream`: moto in process with the stage deployed, the sample stream replayed through
  ``chalice.test.Client`` (``infra.local.replay`` with an in-process transport that retries 5xx answers as the
  platforms do), and Lambda's event source mappings played by :class:`InProcessLambda` (the local worker's own
  ``poll_once`` for the queues) until nothing moves; then :func:`count_outcomes`.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

SERVICES = ("dynamodb", "sqs", "sns", "ses", "stepfunctions")
# What AWS answers when it is overloaded or failing: (HTTP status, error code), per service.
ERRORS = {
    "dynamodb": [
        (400, "ProvisionedThroughputExceededException"),
        (400, "ThrottlingException"),
        (500, "InternalServerError"),
    ],
    "sqs": [(400, "ThrottlingException"), (500, "InternalError")],
    "sns": [(400, "Throttling"), (500, "InternalError")],
    "ses": [(400, "Throttling"), (500, "InternalFailure")],
    "stepfunctions": [(400, "ThrottlingException"), (500, "ServiceUnavailable")],
}
# The test stage and the local stack run the same account as moto's default.
ACCOUNT, REGION = "123456789012", "us-east-1"


class _Body:
    """The raw body botocore's parsers read (``AWSResponse.raw``)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def _error_body(protocol: str, status: int, code: str) -> bytes:
    if protocol in ("json", "smithy-rpc-v2-cbor"):
        return json.dumps({"__type": code, "message": f"injected {code}"}).encode()
    kind = "Receiver" if status >= 500 else "Sender"
    return (
        f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>injected {code}</Message>"
        f"</Error><RequestId>injected</RequestId></ErrorResponse>"
    ).encode()


AT_LEAST_ONCE = ("ses", "sns")


@dataclass
class FaultInjector:
    """A seeded share of the app's AWS calls fail; ``before_call_share`` of those past botocore's retries."""

    rate: float = 0.10
    seed: int = 8
    before_call_share: float = 0.5
    services: tuple[str, ...] = SERVICES
    injected: Counter = field(default_factory=Counter)  # (service, operation, "raised"|"retried", code)
    calls: Counter = field(default_factory=Counter)  # (service, operation)
    enabled: bool = True

    def __post_init__(self) -> None:
        # One sequence per service: a service's faults do not shift with how many calls the others made.
        self._randoms = {service: random.Random(f"{self.seed}:{service}") for service in SERVICES}
        self._lock = threading.Lock()
        self._installed: list[tuple[Any, str, Callable]] = []

    def _draw(self, service: str) -> tuple[bool, bool, tuple[int, str]]:
        draw = self._randoms[service]
        with self._lock:  # one sequence of draws per service, whichever thread calls
            fail = draw.random() < self.rate
            raised = draw.random() < self.before_call_share
            error = draw.choice(ERRORS[service])
        return fail, raised, error

    def _before_call(self, model, **_: Any):
        from botocore.awsrequest import AWSResponse

        service = model.service_model.service_name
        self.calls[(service, model.name)] += 1
        if not self.enabled:
            return None
        fail, raised, (status, code) = self._draw(service)
        if not fail:
            return None
        # moto in process carries out a request whose HTTP answer is then failed, so a "retried" fault is really an
        # answer lost after the work was done. SES and SNS take no idempotency key: nobody can tell a lost answer
        # from a failed send there (on AWS too), so their faults are raised before the call goes out.
        raised = raised or service in AT_LEAST_ONCE
        if not raised:
            # Fail the HTTP exchange instead: botocore retries it as it would against AWS.
            self._pending_send.add(threading.get_ident(), service)
            return None
        self.injected[(service, model.name, "raised", code)] += 1
        parsed = {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "injected"},
        }
        return AWSResponse("https://injected", status, {}, _Body(b"")), parsed

    def _before_send(self, request, **kwargs: Any):
        from botocore.awsrequest import AWSResponse

        service = self._pending_send.take(threading.get_ident())
        if service is None:
            return None
        with self._lock:
            status, code = self._randoms[service].choice(ERRORS[service])
        self.injected[(service, kwargs.get("event_name", "").rsplit(".", 1)[-1], "retried", code)] += 1
        protocol = self._protocols.get(service, "json")
        headers = (
            {"x-amzn-ErrorType": code, "Content-Type": "application/x-amz-json-1.0"}
            if protocol == "json"
            else {"Content-Type": "text/xml"}
        )
        return AWSResponse(request.url, status, headers, _Body(_error_body(protocol, status, code)))

    def install(self, clients: dict[str, Any]) -> FaultInjector:
        """Register on each client (its own copy of botocore's event emitter, so no other client is touched)."""
        self._pending_send = _PendingSends()
        self._protocols = {}
        for service, aws_client in clients.items():
            if service not in self.services:
                continue
            self._protocols[service] = aws_client.meta.service_model.protocol
            service_id = aws_client.meta.service_model.service_id.hyphenize()
            for event, handler in (
                (f"before-call.{service_id}", self._before_call),
                (f"before-send.{service_id}", self._before_send),
            ):
                # First: moto's in-process stub answers at before-send too, and the first answer wins.
                aws_client.meta.events.register_first(event, handler, unique_id=f"fault-{event}")
                self._installed.append((aws_client, event, handler))
        return self

    def uninstall(self) -> None:
        for aws_client, event, _handler in self._installed:
            aws_client.meta.events.unregister(event, unique_id=f"fault-{event}")
        self._installed.clear()

    def summary(self) -> dict[str, Any]:
        by_kind: Counter = Counter()
        for (service, _op, how, _code), n in self.injected.items():
            by_kind[f"{service}.{how}"] += n
        total_calls = sum(self.calls.values())
        return {
            "calls": total_calls,
            "faults": sum(self.injected.values()),
            "by_service": dict(sorted(by_kind.items())),
            "share": round(sum(self.injected.values()) / total_calls, 3) if total_calls else 0.0,
        }


class _PendingSends:
    """Which thread's next HTTP exchange to fail (decided at before-call, where the operation is known)."""

    def __init__(self) -> None:
        self._by_thread: dict[int, str] = {}
        self._lock = threading.Lock()

    def add(self, thread: int, service: str) -> None:
        with self._lock:
            self._by_thread[thread] = service

    def take(self, thread: int) -> str | None:
        with self._lock:
            return self._by_thread.pop(thread, None)


def app_clients() -> dict[str, Any]:
    """The clients the app's adapters use (created now and cached, as a warm Lambda has them)."""
    from chalicelib.adapters.aws import client

    return {service: client(service) for service in SERVICES}


def own_client(service: str) -> Any:
    """A client for counting and for playing AWS's own parts: never the app's, so never faulted."""
    import boto3

    return boto3.client(service, region_name=REGION)


# -- Lambda's event source mappings, in process ------------------------------------------------------------------
class InProcessLambda:
    """What AWS does around the app's handlers, in this process: the local worker's queue step for every SQS
    handler, and for the issues table's stream a reader that runs each batch through the worker's
    ``stream_runner`` (the deployment's retry, bisect and on-failure settings); nothing else.

    The worker's ``poll_once`` is reused as is; only its SQS client is swapped for one of the harness's own,
    since receiving and deleting are Lambda's calls, not the app's. The queues' visibility timeout is set to 0:
    a failed record comes back at once instead of after 120 s (time compressed; the receive count, and so the
    DLQ after ``maxReceiveCount`` tries, is as on AWS). Because on AWS that timeout is longer than any send
    claim's lease (60 s), a redelivery always finds the leases of the failed try over: before redelivering, the
    driver ages the leases in the stage's tables to match (what those 120 s would have done to them).
    """

    LEASE_ATTRIBUTES = ("send_lease", "lease_until")

    def __init__(self) -> None:
        from infra.local.worker import Worker

        self.worker = Worker()
        self.worker.sqs = own_client("sqs")
        self.queues = []
        for source in self.worker.queues:
            url = self.worker.sqs.get_queue_url(QueueName=source.queue)["QueueUrl"]
            arn = self.worker.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            self.worker.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})
            self.queues.append((source, url, arn))
        self.positions: dict[str, str] = {}
        self.stream_dropped = 0

    def _visible(self, url: str) -> int:
        attributes = self.worker.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    def pump_queues(self) -> int:
        moved = 0
        for source, url, arn in self.queues:
            if self._visible(url):
                failed_before = self.worker.counts.get(f"{source.name}.failed", 0)
                with contextlib.redirect_stderr(io.StringIO()):  # the worker prints each crashed batch
                    moved += self.worker.poll_once(source, url, arn)
                if self.worker.counts.get(f"{source.name}.failed", 0) > failed_before:
                    self.age_leases()
        return moved

    def age_leases(self) -> None:
        dynamodb = own_client("dynamodb")
        for table in dynamodb.list_tables()["TableNames"]:
            key = [k["AttributeName"] for k in dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]]
            for attribute in self.LEASE_ATTRIBUTES:
                pages = dynamodb.get_paginator("scan").paginate(
                    TableName=table,
                    FilterExpression="attribute_exists(#lease)",
                    ExpressionAttributeNames={"#lease": attribute},
                )
                for item in (item for page in pages for item in page["Items"]):
                    dynamodb.update_item(
                        TableName=table,
                        Key={k: item[k] for k in key},
                        UpdateExpression="SET #lease = :over",
                        ExpressionAttributeNames={"#lease": attribute},
                        ExpressionAttributeValues={":over": {"N": "0"}},
                    )

    def pump_streams(self) -> int:
        from infra.local.worker import read_stream_batch

        dynamodb, streams = own_client("dynamodb"), _streams_client()
        moved = 0
        for source in self.worker.streams:
            table = source.stream_arn.split(":table/", 1)[1].split("/", 1)[0]
            stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
            for shard in streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
                shard_id = shard["ShardId"]
                records = read_stream_batch(
                    streams, stream_arn, shard_id, self.positions.get(shard_id), source.batch_size
                )
                if not records:
                    continue
                runner = self.worker.stream_runner(source, stream_arn)
                runner.sleep = lambda _seconds: None  # Lambda's backoff between retries, compressed
                with contextlib.redirect_stderr(io.StringIO()):
                    _processed, discarded = runner.run(records, shard_id)
                self.stream_dropped += discarded
                self.positions[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
                moved += len(records)
        return moved

    def drain(
        self, quiet_rounds: int = 4, pause: float = 0.25, timeout: float = 90.0, watch_executions: bool = False
    ) -> None:
        """Until nothing moved for ``quiet_rounds`` rounds in a row (Step Functions runs in moto's threads, so
        a state machine's next message can come a moment after the last handler returned). With
        ``watch_executions``, the executions' histories must also stand still over those rounds: on a loaded
        machine a state machine can take longer than the quiet rounds between a callback and its next message;
        so every running execution must also be waiting for a callback (its last event ``TaskSubmitted``), which is
        where each protocol rests, however slow the machine is."""
        deadline = time.monotonic() + timeout
        quiet = 0
        progress = self.execution_progress() if watch_executions else None
        while quiet < quiet_rounds:
            if time.monotonic() > deadline:
                raise TimeoutError("the pipeline did not settle")
            moved = self.pump_queues() + self.pump_streams()
            if watch_executions:
                now = self.execution_progress()
                at_rest = now == progress and all(last == "TaskSubmitted" for _, last in now.values())
                moved += not at_rest
                progress = now
            quiet = 0 if moved else quiet + 1
            if not moved:
                time.sleep(pause)

    @staticmethod
    def execution_progress() -> dict[str, tuple[int, str]]:
        """Each running execution's number of history events (it grows while a state machine is between two
        states) and its last event's type."""
        sfn = own_client("stepfunctions")
        progress = {}
        for machine in sfn.list_state_machines()["stateMachines"]:
            pages = sfn.get_paginator("list_executions").paginate(
                stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
            )
            for page in pages:
                for execution in page["executions"]:
                    events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)
                    last = events["events"][-1]["type"] if events["events"] else "NotStarted"  # just listed
                    progress[execution["executionArn"]] = (len(events["events"]), last)
        return progress


def _streams_client() -> Any:
    import boto3
    from botocore.config import Config

    # moto serves streams on the account-less endpoint only (as chalicelib.adapters.aws does).
    return boto3.client("dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled"))


# -- what a run produced, in terms that do not depend on the run's random ids ---------------------------------------
def count_outcomes(
    client_for: Callable[[str], Any], names, emails: list[dict[str, str]], alerts: list[dict[str, str]]
) -> dict[str, Any]:
    """Mentions, issues, emails, alerts, audit events, approvals and executions of one run.

    Issues are named by the mentions they fold (their ids carry a random part); everything else is counted by
    what it is about, so two runs of the same stream compare equal exactly when nothing was lost or doubled.
    """
    from chalicelib.adapters.mentions_table import plain_item

    dynamodb = client_for("dynamodb")

    def scan(table: str) -> list[dict[str, Any]]:
        pages = dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        return [plain_item(item) for page in pages for item in page["Items"]]

    mentions = scan(names.mentions_table)
    folded: dict[str, set[str]] = {}
    for mention in mentions:
        if mention.get("issue_id"):
            folded.setdefault(mention["issue_id"], set()).add(mention["pk"])
    issues = scan(names.issues_table)
    name_of = {}
    for issue in issues:
        members = folded.get(issue["issue_id"], set()) | set(issue.get("linked_mentions") or [])
        if str(issue.get("rule", "")).startswith("surge:"):
            # a surge's Crisis by its rule, in its emails and alerts too: which mentions it links depends on when a
            # batch was counted (see issue_shapes below), not on anything lost or doubled
            name_of[issue["issue_id"]] = issue["rule"]
        else:
            name_of[issue["issue_id"]] = ",".join(sorted(members)) or issue.get("rule", "?")

    def anonymous(text: str) -> str:
        import re

        return re.sub(r"iss-\d{8}T\d{6}-[0-9a-f]+", lambda m: "issue[" + name_of.get(m.group(0), "?")[:60] + "]", text)

    sfn = client_for("stepfunctions")
    executions: Counter = Counter()
    for machine in sfn.list_state_machines()["stateMachines"]:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"]):
            for execution in page["executions"]:
                history = sfn.get_execution_history(
                    executionArn=execution["executionArn"], reverseOrder=True, maxResults=30
                )["events"]
                entered = next(
                    (e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e), "-"
                )
                executions[(machine["name"], execution["status"], entered)] += 1
    return {
        "mentions": len(mentions),
        "mention_states": sorted(
            (m["pk"], m.get("status", "-"), m.get("category", "-"), bool(m.get("issue_id"))) for m in mentions
        ),
        "issues": len(issues),
        # A surge's Crisis is named by its rule: which mentions it links, and its count, depend on when a batch
        # was counted (a record retried after a fault lands in a later batch), not on anything being lost.
        "issue_shapes": sorted(
            (i["category"], i["severity"], "surge", i["rule"])
            if str(i.get("rule", "")).startswith("surge:")
            else (i["category"], i["severity"], int(i["mention_count"]), name_of[i["issue_id"]])
            for i in issues
        ),
        "emails": len(emails),
        "email_shapes": sorted(Counter((e["to"], anonymous(e["subject"])) for e in emails).items()),
        "alerts": len(alerts),
        "alert_shapes": sorted(Counter((a.get("kind"), a.get("category"), a.get("severity")) for a in alerts).items()),
        "audit_events": sorted(Counter(a["type"] for a in scan(names.audit_table)).items()),
        "approvals": sorted(
            Counter(
                (a.get("protocol"), a.get("step"), a.get("person"), a.get("attempt"))
                for a in scan(names.approvals_table)
                if "person" in a
            ).items()
        ),
        "executions": sorted(executions.items()),
    }


# -- one run of the sample stream, in process ----------------------------------------------------------------------
PLATFORM_TRIES = 20  # platforms redeliver an answer of 5xx (X, Meta and Trustpilot retry for hours)


@dataclass
class RunResult:
    outcomes: dict[str, Any]
    statuses: Counter
    server_errors: int  # 5xx answers the platforms then retried
    faults: dict[str, Any]
    dead_letters: dict[str, int]
    stream_dropped: int
    seconds: float


@contextlib.contextmanager
def in_process_transport(test_client, answers: Counter) -> Iterator[None]:
    """``infra.local.replay``'s HTTP, through ``chalice.test.Client``; a 5xx is redelivered as platforms do."""
    from infra.local import replay

    def http(method: str, url: str, body: bytes | None = None, headers=None) -> replay.HttpAnswer:
        path = "/" + url.split("://", 1)[-1].split("/", 1)[-1] if "://" in url else url
        for _attempt in range(PLATFORM_TRIES):
            answer = test_client.http.request(method, path, headers=dict(headers or {}), body=body or b"")
            answers[answer.status_code] += 1
            if answer.status_code < 500:
                break
        return replay.HttpAnswer(answer.status_code, answer.body.decode("utf-8", "replace"))

    original = replay.http
    replay.http = http
    try:
        yield
    finally:
        replay.http = original


def _sent_emails() -> list[dict[str, str]]:
    from moto.ses.models import ses_backends

    return [
        {"to": m.destinations["ToAddresses"][0], "subject": m.subject}
        for m in ses_backends[ACCOUNT][REGION].sent_messages
    ]


def _alert_reader(names) -> str:
    sqs, sns = own_client("sqs"), own_client("sns")
    url = sqs.create_queue(QueueName="fault-run-ops-alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name=names.alerts_topic)["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return url


def read_alerts(url: str, sqs=None) -> list[dict[str, str]]:
    sqs = sqs or own_client("sqs")
    out = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
        "Messages", []
    ):
        for message in batch:
            out.append({k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return out


def dead_letters(names, sqs=None) -> dict[str, int]:
    sqs = sqs or own_client("sqs")
    out = {}
    for queue in sqs.list_queues().get("QueueUrls", []):
        if queue.rsplit("/", 1)[-1].endswith("dlq") or "dead" in queue:
            attributes = sqs.get_queue_attributes(
                QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            out[queue.rsplit("/", 1)[-1]] = sum(int(v) for v in attributes.values())
    return out


def run_stream(
    rows: list[dict[str, Any]], faults: FaultInjector | None = None, stage: str = "test", batch: int = 25
) -> RunResult:
    """Replay ``rows`` (the sample stream's shape) in process, draining the pipeline every ``batch`` deliveries,
    with ``faults`` on the app's clients; count what came out.

    Expects the environment of the test stage (``tests/conftest.py`` sets it) and no moto running yet.
    """
    from chalice.test import Client
    from moto import mock_aws

    from bench.moto_transactions import item_level_rollback
    from chalicelib.settings import Resources
    from infra.local import replay
    from infra.local.deploy import deploy_stack, seed_secrets
    from tests.conftest import forget_cached_adapters

    started = time.monotonic()
    forget_cached_adapters()
    answers: Counter = Counter()
    # DynamoDB's cost model for transactions (moto as shipped deep-copies every table per transaction item).
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        item_level_rollback(),
        contextlib.redirect_stdout(io.StringIO()),
    ):  # the app's structured logs: not this report
        deploy_stack(stage)
        secrets = seed_secrets(stage, {})
        names = Resources.for_stage(stage)
        alerts_url = _alert_reader(names)
        import app

        lambdas = InProcessLambda()
        clients = app_clients()
        if faults is not None:
            faults.install(clients)
        try:
            with Client(app.app, stage_name=stage) as test_client, in_process_transport(test_client, answers):
                # The replay in slices, the pipeline drained between them (as the worker keeps up with traffic).
                original_stream = replay.stream

                def stream_with_drains(shifted, seed: int = 7):
                    for n, item in enumerate(original_stream(shifted, seed)):
                        if n and n % batch == 0:
                            lambdas.drain(quiet_rounds=1, pause=0.05)
                        yield item

                replay.stream = stream_with_drains
                try:
                    report = replay.replay("http://in-process", secrets, rows, echo=lambda *_: None)
                finally:
                    replay.stream = original_stream
                lambdas.drain(watch_executions=True)
        finally:
            if faults is not None:
                faults.uninstall()
        outcomes = count_outcomes(own_client, names, _sent_emails(), read_alerts(alerts_url))
        outcomes["replay_statuses"] = sorted(report.statuses.items())
        outcomes["forged_status"] = report.forged_status
        result = RunResult(
            outcomes=outcomes,
            statuses=answers,
            server_errors=sum(n for status, n in answers.items() if status >= 500),
            faults=faults.summary() if faults else {},
            dead_letters=dead_letters(names),
            stream_dropped=lambdas.stream_dropped,
            seconds=time.monotonic() - started,
        )
    forget_cached_adapters()
    return result
