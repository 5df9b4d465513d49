"""Cold start per handler, measured as Lambda runs it (issue 14): ``python -m bench.coldstart [--runs N]``.

For every function of the packaged template (``make package``: ``build/<stage>/deployment.zip`` with its
unchecked-hash ``.pyc``, see ``infra.package.compile_bytecode``), a fresh interpreter:

* sees the unzipped package first on ``sys.path`` (Lambda's ``/var/task``), then the runtime's libraries (boto3 and
  botocore, which the package leaves out as Lambda provides them); ``-S``, so no ``.pth`` of the dev install adds
  the working tree;
* runs with ``PYTHONDONTWRITEBYTECODE=1`` on a read-only copy of the package, as Lambda's disk is read-only: what
  the package does not ship compiled is compiled again on every cold start (the run checks nothing was written);
* imports the handler's module and handles ONE event of its kind against moto's server (a separate process, so
  the child imports nothing of moto): a signed generic webhook through the API handler, the SQS message that
  webhook queued for ``process_mentions``, the issues-stream record it wrote for ``start_protocols``, the approval
  message the started protocol queued for ``request_approvals`` (a made-up one when the protocol queued none),
  a publish request for ``publish_replies``, and a scheduled event for each schedule.

Baseline, in the same kind of process: ``import boto3`` plus one DynamoDB call (``GetItem`` on the mentions
table). Each figure is the median of ``--runs`` fresh processes, as a ratio to the baseline's median. Also
``import app`` alone against ``import boto3`` alone, from the package with and without its bytecode.

Written to ``bench/results/coldstart.json``; ``bench/bench.py`` runs it in its own process (it points boto3 at
moto's server, which the in-process benches must not see).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
OUT = RESULTS / "coldstart.json"
STAGE = "test"  # the resources' names on moto; the code in the zip is the same for every stage
RUNS = 3
IMPORT_APP_TARGET = 0.9

# The child: timed from before the first import to the handler's answer. json/resource come after the timing.
PROBE = """
import sys, time
started = time.perf_counter()
sys.path[:0] = [{package!r}]
sys.path.append({runtime!r})
{body}
elapsed = time.perf_counter() - started
import json
# VmHWM: this process's peak RSS since exec (ru_maxrss would carry the forking parent's over exec on Linux)
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"seconds": elapsed, "answer": answer, "peak_rss_mb": peak_kb / 1024}}, default=str))
"""
# As Lambda's runtime resolves a handler: the module before the last dot, then its attribute.
HANDLER_BODY = """
import importlib
answer = getattr(importlib.import_module({module!r}), {attribute!r})({event!r}, Context({name!r}))
"""
CONTEXT = """
class Context:
    def __init__(self, name):
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + name
        self.memory_limit_in_mb = 512
        self.aws_request_id = "00000000-0000-0000-0000-000000000000"
        self.log_group_name = "/aws/lambda/" + name
        self.log_stream_name = "cold"

    def get_remaining_time_in_millis(self):
        return 60000
"""
BOTO3_BODY = """
import boto3
answer = boto3.client("dynamodb").get_item(TableName={table!r}, Key={key!r})["ResponseMetadata"]["HTTPStatusCode"]
"""

HIGH_PRIORITY_TEXTS = [
    "@aurelle the dye from my Alba boots burned my skin, I have a rash and my lawyer says I can sue",
    "My Lina trench coat leaked dye all over the car seats. Taking @aurelle to court over this",
    "@aurelle charged my card three times for one order and hung up on me twice. I will sue for fraud",
    "The sole of the Nova sneakers came off on the stairs, I fell and broke my wrist. Hospital bill is on you",
    "Your Sienna handbag buckle snapped and cut my daughter's hand, she needed stitches. This is a safety hazard",
    "@aurelle my parcel was stolen by your courier and support calls me a liar. Seeing you in small claims court",
    "The coat I bought from @aurelle gave my son hives all over his arms. Doctor says it's the fabric finish",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(check, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


def unpack(archive: Path, into: Path, with_bytecode: bool = True) -> Path:
    """The zip as Lambda unpacks it, made read-only (files 0444, folders 0555)."""
    with zipfile.ZipFile(archive) as opened:
        for info in opened.infolist():
            if not with_bytecode and info.filename.endswith(".pyc"):
                continue
            opened.extract(info, into)
    for path in sorted(into.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    into.chmod(0o555)
    return into


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _make_writable(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


class Runner:
    """Fresh interpreters on the unpacked package, boto3 pointed at moto's server."""

    def __init__(self, package: Path, environment: dict[str, str]) -> None:
        self.package = package
        self.environment = {**environment, "PYTHONDONTWRITEBYTECODE": "1"}
        self.environment.pop("PYTHONPYCACHEPREFIX", None)
        self.runtime = sysconfig.get_paths()["purelib"]  # boto3, botocore: what Lambda's runtime provides

    def run(self, body: str) -> dict[str, Any]:
        code = PROBE.format(package=str(self.package), runtime=self.runtime, body=body)
        done = subprocess.run(
            [sys.executable, "-S", "-c", code],
            cwd=self.package,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"cold start child failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def handler(self, handler: str, function: str, event: dict[str, Any]) -> dict[str, Any]:
        module, attribute = handler.rsplit(".", 1)
        return self.run(CONTEXT + HANDLER_BODY.format(module=module, attribute=attribute, event=event, name=function))


class Stack:
    """moto's server with the stage's resources, the plan and the secrets: what the functions talk to."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Stack:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(lambda: urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2).status == 200, "moto's server")
        request = urllib.request.Request(
            f"{self.url}/moto-api/config",
            method="POST",
            headers={"Content-Type": "application/json"},
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        )
        urllib.request.urlopen(request, timeout=5).close()  # noqa: S310 (loopback)
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.url,
                "STAGE": STAGE,
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
            }
        )
        from infra.local.deploy import deploy_stack, seed_secrets

        deployment = deploy_stack(STAGE)
        self.secrets = seed_secrets(STAGE, {})
        self.template = deployment.template
        self.environment = {**os.environ, **deployment.environment}
        for name in self.secrets:  # the functions read their secrets from Parameter Store, as deployed
            self.environment.pop(name, None)
        from chalicelib.adapters.plans import DynamoPlanStore
        from chalicelib.settings import resources

        plan = (ROOT / "chalicelib" / "plans" / "default.yaml").read_text(encoding="utf-8")
        DynamoPlanStore(resources().plans_table).upload(plan, "coldstart@localhost")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a busy machine: its threads may not stop in time
                self.process.kill()
                self.process.wait(timeout=30)

    def functions(self) -> dict[str, dict[str, Any]]:
        """Logical id -> (handler, function name, event kind) of every function in the template."""
        out = {}
        for logical, resource in self.template["Resources"].items():
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            props = resource["Properties"]
            kinds = {event["Type"] for event in props.get("Events", {}).values()} or {"Api"}
            out[logical] = {
                "handler": props["Handler"],
                "kind": sorted(kinds)[0],
                "queue": next(
                    (e["Properties"].get("Queue") for e in props.get("Events", {}).values() if e["Type"] == "SQS"), None
                ),
            }
        return out


def webhook_event(text: str, index: int, secrets: dict[str, str]) -> dict[str, Any]:
    """API Gateway's proxy event for one signed delivery to ``POST /webhooks/generic`` (the route as app.py names
    its path parameter)."""
    import app
    from chalicelib.platforms import generic

    route = next(path for path in app.app.routes if path.startswith("/webhooks/{"))
    parameter = route[route.index("{") + 1 : route.index("}")]
    body = json.dumps(
        {
            "platform": "x",
            "id": f"cold-{index}-{time.time_ns()}",
            "created_at": datetime.now(timezone.utc).isoformat(),
            "text": text,
            "author": {
                "id": f"a{index}",
                "handle": f"customer{index}",
                "name": "C",
                "followers": 120,
                "verified": False,
            },
        }
    )
    headers = {
        "Content-Type": "application/json",
        "Host": "example.execute-api.us-east-1.amazonaws.com",
        **generic.sign(body.encode(), secrets.__getitem__, datetime.now(timezone.utc)),
    }
    return {
        "resource": route,
        "path": "/webhooks/generic",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {parameter: "generic"},
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": route,
            "httpMethod": "POST",
            "stage": "api",
            "path": "/api/webhooks/generic",
            "requestId": f"r{index}",
            "identity": {"sourceIp": "203.0.113.9"},
            "accountId": "123456789012",
        },
    }


def take_message(queue: str, wait: float) -> dict[str, Any] | None:
    """One message of ``queue`` as Lambda's SQS event, deleted from the queue (as a successful poll would)."""
    from chalicelib.adapters.aws import client
    from infra.local.event_sources import sqs_event

    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    deadline = time.monotonic() + wait
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1, AttributeNames=["All"]).get(
            "Messages", []
        )
        if got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
            return sqs_event(got, arn, "us-east-1")
        if time.monotonic() > deadline:
            return None


class IssueStream:
    """The issues table's stream, read from where the last read stopped."""

    def __init__(self) -> None:
        from chalicelib.adapters.aws import client
        from chalicelib.settings import resources

        self.streams = client("dynamodbstreams")
        table = client("dynamodb").describe_table(TableName=resources().issues_table)["Table"]
        self.arn = table["LatestStreamArn"]
        self.after: dict[str, str | None] = {}

    def new_inserts(self) -> list[dict[str, Any]]:
        from infra.local.worker import read_stream_batch

        shards = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        records = []
        for shard in shards:
            batch = read_stream_batch(self.streams, self.arn, shard["ShardId"], self.after.get(shard["ShardId"]), 100)
            if batch:
                self.after[shard["ShardId"]] = batch[-1]["dynamodb"]["SequenceNumber"]
            records += batch
        return [r for r in records if r["eventName"] == "INSERT"]


def scheduled_event(function: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "cold",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{function}"],
        "detail": {},
    }


def made_up_step(issue_id: str) -> dict[str, Any]:
    """An approval message as the compiled protocol sends it, when the started protocol sent none in time."""
    return {
        "issue_id": issue_id,
        "category": "high_priority",
        "protocol": "high_priority",
        "step": "draft",
        "action": "draft",
        "role": "social_media",
        "people": ["social-lead@aurelle.example"],
        "attempt": "1",
        "sla_minutes": 30,
        "outcomes": ["approve", "reject"],
        "task_token": "cold-start-token",
        "execution": "cold-start",
    }


def _summary(samples: list[dict[str, Any]], baseline_s: float) -> dict[str, Any]:
    seconds = statistics.median(s["seconds"] for s in samples)
    return {
        "median_ms": round(1000 * seconds, 1),
        "ratio_to_boto3_plus_call": round(seconds / baseline_s, 2),
        "runs_ms": [round(1000 * s["seconds"], 1) for s in samples],
        "peak_rss_mb": round(statistics.median(s["peak_rss_mb"] for s in samples), 1),
        "answer": samples[-1]["answer"],
    }


def measure(archive: Path, runs: int = RUNS) -> dict[str, Any]:
    from chalicelib.settings import resources

    with tempfile.TemporaryDirectory(prefix="coldstart-") as folder, Stack() as stack:
        package = unpack(archive, Path(folder) / "task")
        sources_only = unpack(archive, Path(folder) / "task-sources", with_bytecode=False)
        before = _listing(package), _listing(sources_only)
        runner, plain = Runner(package, stack.environment), Runner(sources_only, stack.environment)
        table = resources().mentions_table
        from chalicelib.adapters.aws import client

        key_schema = client("dynamodb").describe_table(TableName=table)["Table"]["KeySchema"]
        key = {k["AttributeName"]: {"S": "cold#none"} for k in key_schema}
        baseline: list[dict[str, Any]] = []  # one per round, beside the handlers: a busy machine slows both alike

        functions = stack.functions()
        # by the handler's function name (``app.process_mentions`` -> ``process_mentions``)
        by_handler = {f["handler"].rsplit(".", 1)[1]: (logical, f) for logical, f in functions.items()}
        samples: dict[str, list[dict[str, Any]]] = {}
        notes: dict[str, str] = {}
        stream = IssueStream()
        stream.new_inserts()  # the plan upload and set-up: not ours to replay
        approvals: list[dict[str, Any]] = []

        def handle(handler: str, event: dict[str, Any]) -> None:
            logical, function = by_handler[handler]
            sample = runner.handler(function["handler"], logical, event)
            samples.setdefault(handler, []).append(sample)
            print(
                f"  {handler}: {1000 * sample['seconds']:.0f} ms, answered {str(sample['answer'])[:160]}",
                file=sys.stderr,
                flush=True,
            )

        names = resources()
        for index in range(runs):
            text = HIGH_PRIORITY_TEXTS[index % len(HIGH_PRIORITY_TEXTS)]
            baseline.append(runner.run(BOTO3_BODY.format(table=table, key=key)))
            if "app" in by_handler:
                handle("app", webhook_event(text, index, stack.secrets))
            message = take_message(names.ingest_queue, wait=10)
            if message and "process_mentions" in by_handler:
                handle("process_mentions", message)
            inserts = _wait(stream.new_inserts, "the issue's stream record", timeout=20)
            for handler, (_, function) in by_handler.items():  # start_protocols and any other stream reader
                if function["kind"] == "DynamoDB":
                    handle(handler, {"Records": inserts[:1]})
            step = take_message(names.approval_queue, wait=15)
            if step is None:
                notes["request_approvals"] = "the started protocol queued no approval in 15 s: a made-up step message"
                image = inserts[0]["dynamodb"].get("NewImage", {})
                issue = next((v["S"] for k, v in image.items() if k in ("issue_id", "id") and "S" in v), "iss-cold")
                step = {
                    "Records": [
                        {
                            "messageId": f"m{index}",
                            "receiptHandle": "r",
                            "body": json.dumps(made_up_step(issue)),
                            "attributes": {},
                            "messageAttributes": {},
                            "md5OfBody": "",
                            "eventSource": "aws:sqs",
                            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:x",
                            "awsRegion": "us-east-1",
                        }
                    ]
                }
            approvals.append(json.loads(step["Records"][0]["body"]))
            if "request_approvals" in by_handler:
                handle("request_approvals", step)
            if "publish_replies" in by_handler:
                request = approvals[-1]
                body = {
                    "issue_id": request["issue_id"],
                    "protocol": request.get("protocol", "high_priority"),
                    "channels": ["x"],
                    "draft": "We are sorry; our team has written to you.",
                    "approved_by": "pr-lead@aurelle.example",
                    "task_token": request["task_token"],
                    "execution": request.get("execution", "cold-start"),
                }
                event = json.loads(json.dumps(step))
                event["Records"][0]["body"] = json.dumps(body)
                handle("publish_replies", event)
            for handler, (_, function) in by_handler.items():
                if function["kind"] == "Schedule":
                    handle(handler, scheduled_event(handler))
        for handler, (_, function) in by_handler.items():
            if handler not in samples:
                notes[handler] = f"not measured: no event of kind {function['kind']} is made for it here"

        import_app, import_boto3, import_app_sources = [], [], []
        for _ in range(runs):  # interleaved, for the same reason
            import_app.append(runner.run("import app\nanswer = None"))
            import_boto3.append(runner.run("import boto3\nanswer = None"))
            import_app_sources.append(plain.run("import app\nanswer = None"))
        written = (_listing(package) - before[0]) | (_listing(sources_only) - before[1])
        _make_writable(Path(folder))
    baseline_s = statistics.median(s["seconds"] for s in baseline)
    boto3_s = statistics.median(s["seconds"] for s in import_boto3)
    app_s = statistics.median(s["seconds"] for s in import_app)
    sources_s = statistics.median(s["seconds"] for s in import_app_sources)
    return {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "package": str(archive.relative_to(ROOT) if archive.is_relative_to(ROOT) else archive),
        "runs": runs,
        "how": "fresh `python -S` per sample, PYTHONDONTWRITEBYTECODE=1, the unzipped package read-only and first on "
        "sys.path, boto3 from the runtime; one event handled against moto's server; median of the runs",
        "baseline_boto3_plus_dynamodb_get_item_ms": round(1000 * baseline_s, 1),
        "baseline_runs_ms": [round(1000 * s["seconds"], 1) for s in baseline],
        "baseline_peak_rss_mb": round(statistics.median(s["peak_rss_mb"] for s in baseline), 1),
        "handlers": {h: _summary(s, baseline_s) for h, s in samples.items()},
        "notes": notes,
        "import_app_ms": round(1000 * app_s, 1),
        "import_boto3_ms": round(1000 * boto3_s, 1),
        "import_app_ratio": round(app_s / boto3_s, 2),
        "import_app_ratio_target_max": IMPORT_APP_TARGET,
        "import_app_without_bytecode_ms": round(1000 * sources_s, 1),
        "import_app_without_bytecode_ratio": round(sources_s / boto3_s, 2),
        "files_written_into_the_package": sorted(written),
    }


def build_package(build: Path) -> Path:
    """``make package``'s zip (dev stage: the code is the same for every stage), built into ``build``."""
    from infra.package import package

    package("dev", build)
    return build / "dev" / "deployment.zip"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--zip", help="an existing deployment.zip (default: build one as make package does)")
    args = parser.parse_args()
    if args.zip:
        results = measure(Path(args.zip).resolve(), args.runs)
    else:
        with tempfile.TemporaryDirectory(prefix="coldstart-build-") as build:
            results = measure(build_package(Path(build)), args.runs)
            results["package"] = "make package (dev), built for this run"
    RESULTS.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
