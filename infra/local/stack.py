"""The local stack behind ``make run``: moto's server, the stage's resources, ``chalice local`` and the worker.

1. moto's server on 127.0.0.1:``MOTO_PORT`` with Step Functions execution switched on;
2. the stage's CloudFormation template from ``infra.template`` deployed to it (the same one AWS gets);
3. the contract secrets in its Parameter Store (an environment value wins, else a fresh random one);
4. the worker (``infra.local.worker``) and ``chalice local`` on 127.0.0.1:``API_PORT``, boto3 pointed at moto by
   ``AWS_ENDPOINT_URL``; then ``GET /health`` until it answers 200;
5. with ``REPLAY=1`` (default) the bundled sample stream, replayed over HTTP, and a summary of what happened.

It then serves until Ctrl-C or SIGTERM (also when started in the background, where SIGINT arrives ignored), which
stops every process it started. A worker or API that crashes is restarted (``supervision``); moto and its state stay.
Child output is logged to ``.run/logs`` without signed links or secrets (``redaction``); the console still prints each
approval link as it is emailed. Run: ``python -m infra.local.stack``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from infra.local.redaction import Redactor
from infra.local.supervision import ChildExited, Supervisor

ROOT = Path(__file__).resolve().parents[2]
RUN_DIR = ROOT / ".run"
STAGE = "local"
REGION = "us-east-1"


class StackError(RuntimeError):
    pass


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check, what: str, timeout: float = 60.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except StackError:
            raise
        except Exception as error:  # noqa: BLE001 - keep trying until the deadline
            last_error = error
        time.sleep(interval)
    raise StackError(f"timed out waiting for {what}" + (f" ({last_error})" if last_error else ""))


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:  # noqa: S310 (loopback)
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


@dataclass
class LocalStack:
    api_port: int = 8000
    moto_port: int = 5000
    worker_port: int = 8001
    public_base_url: str | None = None
    log_dir: Path = RUN_DIR / "logs"
    secrets: dict[str, str] = field(default_factory=dict)
    # The packaged template's functions' environment, resolved on moto (``deploy``): what every function sees.
    function_environment: dict[str, str] = field(default_factory=dict)
    # The consumed queues' visibility timeout instead of the template's (tests shorten it, so that what a killed
    # worker held comes back in seconds).
    queue_visibility_seconds: int | None = None

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(self.log_dir, ROOT, self.environment, Redactor(lambda: self.secrets.values()))

    @property
    def processes(self) -> dict[str, subprocess.Popen]:
        """The running children by name (a restarted child: its current process)."""
        return self.supervisor.processes

    @property
    def checkpoints_file(self) -> Path:
        """Where the worker keeps its stream positions, so a restarted worker resumes where the last one stopped."""
        return self.log_dir.parent / f"worker-checkpoints-{self.moto_port}.json"

    @property
    def template_file(self) -> Path:
        """The packaged template this stack was deployed from (``infra.package.sam_template``)."""
        return self.log_dir.parent / f"sam-{STAGE}-{self.moto_port}.json"

    @classmethod
    def from_environment(cls) -> "LocalStack":
        api_port = int(os.environ.get("API_PORT", "8000"))
        # LOCAL_RUN_DIR (default .run): where logs, secrets and worker checkpoints go, so tests can run stacks apart.
        run_dir = Path(os.environ.get("LOCAL_RUN_DIR") or RUN_DIR)
        return cls(api_port=api_port, moto_port=int(os.environ.get("MOTO_PORT", "5000")),
                   worker_port=int(os.environ.get("WORKER_PORT", str(api_port + 1))),
                   public_base_url=os.environ.get("PUBLIC_BASE_URL"), log_dir=run_dir / "logs")

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def base_url(self) -> str:
        """Where emailed links point (``PUBLIC_BASE_URL``, else the local API)."""
        return (self.public_base_url or self.api_url).rstrip("/")

    @property
    def worker_url(self) -> str:
        return f"http://127.0.0.1:{self.worker_port}"

    def environment(self) -> dict[str, str]:
        """What every child (and boto3 in this process) sees: AWS is moto; the stage is local."""
        env = dict(os.environ)
        env.update(self.function_environment)
        env.update({
            "AWS_ENDPOINT_URL": self.moto_url, "MOTO_PORT": str(self.moto_port),
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
            "STAGE": STAGE, "LOCAL_WORKER_URL": self.worker_url, "WORKER_PORT": str(self.worker_port),
            "PUBLIC_BASE_URL": self.public_base_url or self.api_url,
            "POWERTOOLS_METRICS_DISABLED": "true", "PYTHONUNBUFFERED": "1",
            "LOCAL_WORKER_CHECKPOINTS": str(self.checkpoints_file),
        })
        return env

    # -- lifecycle ----------------------------------------------------------------------------------------
    def start(self, echo=print) -> None:
        for name, port in (("API_PORT", self.api_port), ("MOTO_PORT", self.moto_port),
                           ("WORKER_PORT", self.worker_port)):
            if not port_is_free(port):
                raise StackError(f"port {port} ({name}) is in use on 127.0.0.1; set {name} to a free port")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoints_file.unlink(missing_ok=True)  # a fresh moto: streams start from their beginning
        self._spawn("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.moto_port)])
        wait_for(lambda: self.check_children() and http_status(f"{self.moto_url}/moto-api/") == 200, "moto's server")
        self._configure_moto()
        echo(f"  moto server       {self.moto_url}  (Step Functions execution on)")
        self.deploy()
        echo(f"  resources         stack {STAGE} from the packaged template ({len(self.deployment.not_created)} "
             f"resources moto cannot create: functions run in chalice local and the worker)")
        echo(f"  response plan     {self.upload_plan()}")
        if self.queue_visibility_seconds is not None:
            self.set_queue_visibility(self.queue_visibility_seconds)
        self._spawn("worker", [sys.executable, "-m", "infra.local.worker"], restartable=True)
        chalice = str(Path(sys.executable).parent / "chalice")
        self._spawn("api", [chalice, "local", "--host", "127.0.0.1", "--port", str(self.api_port),
                            "--stage", STAGE, "--no-autoreload"], restartable=True)
        wait_for(lambda: self.check_children() and http_status(f"{self.api_url}/health") == 200,
                 "GET /health to answer 200", timeout=90)
        echo(f"  api (chalice)     {self.api_url}  GET /health -> 200")
        echo(f"  worker            {self.worker_url}/status  (SQS pollers, schedules)")

    def set_queue_visibility(self, seconds: int) -> None:
        """Before the worker starts: a receive gives its messages the visibility the queue had when its long poll
        began, so a value changed while the worker polls misses the messages that poll takes."""
        sqs = self.client("sqs")
        for resource in self.deployment.template["Resources"].values():
            if resource["Type"] == "AWS::SQS::Queue" and "VisibilityTimeout" in resource["Properties"]:
                url = sqs.get_queue_url(QueueName=resource["Properties"]["QueueName"])["QueueUrl"]
                sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(seconds)})

    def client(self, service: str):
        """A boto3 client on this stack's moto (the supervisor leaves its own environment alone)."""
        import boto3

        return boto3.client(service, endpoint_url=self.moto_url, region_name=REGION, aws_access_key_id="testing",
                            aws_secret_access_key="testing", aws_session_token="testing")

    def _configure_moto(self) -> None:
        request = urllib.request.Request(f"{self.moto_url}/moto-api/config", method="POST",
                                         data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=5).close()  # noqa: S310 (loopback)

    def deploy(self) -> None:
        from infra.local.deploy import deploy_stack, seed_secrets

        self.deployment = deploy_stack(STAGE, self.client)
        # The worker reads its event sources' settings from the template the stack was deployed from.
        self.template_file.parent.mkdir(parents=True, exist_ok=True)
        self.template_file.write_text(json.dumps(self.deployment.template), encoding="utf-8")
        self.function_environment = {**self.deployment.environment, "LOCAL_SAM_TEMPLATE": str(self.template_file)}
        self.secrets = seed_secrets(STAGE, os.environ, self.client)
        self.subscribe_to_alerts()
        secrets_file = self.log_dir.parent / "local-secrets.env"
        secrets_file.parent.mkdir(parents=True, exist_ok=True)
        secrets_file.touch(mode=0o600)
        secrets_file.write_text("".join(f"{k}={v}\n" for k, v in self.secrets.items()), encoding="utf-8")

    ALERTS_READER = "social-response-local-ops-alerts"

    def subscribe_to_alerts(self) -> str:
        """What an ops subscriber does: an SQS queue on the alerts topic (raw delivery, attributes kept)."""
        from chalicelib.settings import Resources

        sqs, sns = self.client("sqs"), self.client("sns")
        url = sqs.create_queue(QueueName=self.ALERTS_READER)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        topic = sns.create_topic(Name=Resources.for_stage(STAGE).alerts_topic)["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        return url

    def alerts_received(self) -> list[dict]:
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=self.ALERTS_READER)["QueueUrl"]
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       MessageAttributeNames=["All"]).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return messages

    def upload_plan(self, path: Path = ROOT / "chalicelib" / "plans" / "default.yaml") -> str:
        """Upload the bundled plan as an operator would, through the CLI; answers what the CLI said."""
        done = subprocess.run([sys.executable, "-m", "chalicelib.cli", "plan", "upload", str(path), "--by",
                               "make-run@localhost"], cwd=ROOT, env=self.environment(), capture_output=True,
                              text=True, timeout=60)
        if done.returncode != 0:
            raise StackError(f"plan upload failed: {done.stdout}{done.stderr}")
        return done.stdout.strip().splitlines()[-1]

    def _spawn(self, name: str, command: list[str], restartable: bool = False) -> None:
        process = self.supervisor.spawn(name, command, restartable=restartable)
        time.sleep(0.1)
        if process.poll() is not None:
            raise StackError(f"{name} exited at once; see {self.supervisor.log_path(name)}")

    def check_children(self) -> bool:
        """True while every child runs; a child that exited during start-up is a failure worth naming at once."""
        for child in self.supervisor.exited():
            raise StackError(f"{child.name} exited with {child.process.returncode}; "
                             f"see {self.supervisor.log_path(child.name)}")
        return True

    def supervise(self, echo=print) -> None:
        """Restart a worker or API that exited (moto and its state are kept); moto exiting stops the stack."""
        try:
            self.supervisor.restart_exited(echo)
        except ChildExited as error:
            raise StackError(str(error)) from None

    def stop(self) -> None:
        self.supervisor.stop()
        self.checkpoints_file.unlink(missing_ok=True)

    def __enter__(self) -> "LocalStack":
        try:
            self.start(echo=lambda *_: None)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- what the pipeline did ----------------------------------------------------------------------------
    def queue_backlog(self) -> int:
        from chalicelib.settings import Resources

        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=Resources.for_stage(STAGE).ingest_queue)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return sum(int(value) for value in attributes.values())

    def stored_mentions(self) -> list[dict]:
        from chalicelib.settings import Resources

        return self.scan(Resources.for_stage(STAGE).mentions_table)

    def scan(self, table: str) -> list[dict]:
        from chalicelib.adapters.mentions_table import plain_item

        pages = self.client("dynamodb").get_paginator("scan").paginate(TableName=table)
        return [plain_item(item) for page in pages for item in page["Items"]]

    def issues(self) -> list[dict]:
        from chalicelib.settings import Resources

        return self.scan(Resources.for_stage(STAGE).issues_table)

    def wait_until_stored(self, keys: set[str], timeout: float = 120.0) -> list[dict]:
        """Every key stored and the ingest queue empty; gives up once the queue has not moved for ``timeout`` s
        (a loaded machine drains it slowly, which is no reason to stop the stack)."""
        last_backlog, last_move = None, time.monotonic()
        while True:
            backlog = self.queue_backlog()
            # Backlog first: a scan taken before the last message is processed would report a stale table.
            if backlog == 0:
                items = self.stored_mentions()
                if keys <= {item["pk"] for item in items}:
                    return items
            if backlog != last_backlog:
                last_backlog, last_move = backlog, time.monotonic()
            elif time.monotonic() - last_move > timeout:
                raise StackError(f"timed out waiting for {len(keys)} mentions to be stored "
                                 f"({backlog} messages left on the ingest queue)")
            self.supervise()  # a worker that crashes while the queue drains is restarted, not fatal
            time.sleep(0.5)


class Announcer:
    """Prints what people would see as it happens: each approval link as it is emailed, each reply published.

    Links are rebuilt from the approvals table with the run's signing key: the same links the emails carry
    (which moto keeps at /moto-api/data.json; polling that endpoint re-serializes all of moto's state, so not here).
    """

    def __init__(self, stack: "LocalStack", echo=print) -> None:
        self.stack, self.echo = stack, echo
        self.approvals_seen: set[str] = set()
        self.replies_seen: set[str] = set()

    def poll(self) -> None:
        from chalicelib.domain.links import link_path
        from chalicelib.settings import Resources

        names = Resources.for_stage(STAGE)
        # A link is printed once its email went out (an approval whose send failed is owed, not yet sent).
        fresh = [a for a in self.stack.scan(names.approvals_table)
                 if "person" in a and a.get("send_state", "sent") == "sent" and a["approval_id"] not in self.approvals_seen]
        routine = 0
        for approval in sorted(fresh, key=lambda a: a["created_at"]):
            self.approvals_seen.add(approval["approval_id"])
            if approval["protocol"] == "routine":
                routine += 1
                continue
            link = self.stack.base_url + link_path(self.stack.secrets["LINK_SIGNING_KEY"], approval["approval_id"],
                                                   approval["person"], int(approval["expires_at"]))
            self.echo(f"  email to {approval['person']}: {approval['step']} ({approval['attempt']}), "
                      f"{approval['protocol'].replace('_', ' ')} issue {approval['issue_id']}")
            self.echo(f"    {link}")
        if routine:
            self.echo(f"  ({routine} approval emails to customer service for routine issues; all mail is at "
                      f"{self.stack.moto_url}/moto-api/data.json)")
        for alert in self.stack.alerts_received():
            attributes = {k: v["StringValue"] for k, v in alert.get("MessageAttributes", {}).items()}
            try:
                body = json.loads(alert["Body"])
            except ValueError:
                body = {"subject": alert["Body"][:100]}
            self.echo(f"  ALERT on SNS [kind={attributes.get('kind')} severity={attributes.get('severity')} "
                      f"category={attributes.get('category')} team={attributes.get('team')}]: "
                      f"{body.get('subject') or body.get('message', '')[:100]}")
        for reply in self.stack.scan(names.outbox_table):
            if reply["outbox_id"] not in self.replies_seen:
                self.replies_seen.add(reply["outbox_id"])
                self.echo(f"  outbox: {reply['channel']} to {reply['platform']} {reply['recipient']} "
                          f"(issue {reply['issue_id']}): \"{reply['text'][:90]}\"")


def summarize(report, items: list[dict], echo=print) -> None:
    by_platform = Counter(item["platform"] for item in items)
    by_status = Counter(item.get("status") for item in items)
    sent = sum(report.statuses.values())
    echo("")
    echo(f"Replayed {sent} deliveries: " + ", ".join(f"{n}x HTTP {s}" for s, n in sorted(report.statuses.items()))
         + f"; {report.retries} were platform re-deliveries.")
    echo(f"Forged delivery (signed with a guessed secret) -> HTTP {report.forged_status}: refused, nothing stored.")
    echo(f"Stored {len(items)} mentions in DynamoDB (re-deliveries absorbed, none stored twice):")
    for platform, count in sorted(by_platform.items()):
        echo(f"  {platform:<12} {count:>4}")
    echo("  by status:   " + ", ".join(f"{status} {count}" for status, count in sorted(by_status.items())))
    edited = [item for item in items if item.get("edited_at")]
    if edited:
        echo(f"  edited:      {edited[0]['pk']} now reads \"{edited[0]['text'][-60:]}\"")


def summarize_issues(issues: list[dict], mentions: list[dict], echo=print) -> None:
    triaged = Counter(item.get("category", "(edit/removal only)") for item in mentions)
    echo("")
    echo("Triage (plan v1): " + ", ".join(f"{count} {category}" for category, count in triaged.most_common()))
    echo(f"Issues opened: {len(issues)} (folding {sum(int(i['mention_count']) for i in issues)} mentions)")
    rows = Counter((i["category"], i.get("team", "-"), i["severity"]) for i in issues)
    for (category, team, severity), count in sorted(rows.items()):
        echo(f"  {category:<17} {severity:<9} -> {team:<17} {count:>4}")
    biggest = sorted(issues, key=lambda i: (-int(i["mention_count"]), i["issue_id"]))[:2]
    urgent = [i for i in issues if i["category"] in ("high_priority", "crisis")][:3]
    for title, selection in (("Largest (folded duplicates):", biggest), ("High Priority and Crisis:", urgent)):
        echo(f"  {title}")
        for issue in selection:
            echo(f"    {issue['issue_id']}  {int(issue['mention_count'])} mentions, reach {int(issue['reach'])}, "
                 f"{issue['severity']}, assigned to {issue.get('assigned_to', '-')}")
            echo(f"      {issue['description'][:110]}")


def where_to_look(stack: LocalStack, echo=print) -> None:
    from chalicelib.settings import Resources

    names = Resources.for_stage(STAGE)
    echo("")
    echo("Where to look next:")
    echo(f"  {stack.api_url}/health                      the API's readiness")
    echo(f"  {stack.worker_url}/status                      what the worker processed")
    echo(f"  {stack.moto_url}/moto-api/                    moto's dashboard (tables, queues, emails)")
    echo(f"  AWS_ENDPOINT_URL={stack.moto_url} aws dynamodb scan --table-name {names.mentions_table}")
    echo(f"  AWS_ENDPOINT_URL={stack.moto_url} aws dynamodb scan --table-name {names.issues_table}")
    echo(f'  curl -H "Authorization: Bearer $OPS_ADMIN_TOKEN" "{stack.api_url}/issues?status=open"   the ops API')
    echo(f"  {stack.api_url}/openapi.json                the ops API's OpenAPI document")
    echo("  .run/local-secrets.env   the secrets this run signs with (OPS_ADMIN_TOKEN too);  .run/logs/   logs")


def main() -> int:
    stack = LocalStack.from_environment()
    print("Starting the local stack (moto, resources, worker, API) ...", flush=True)
    stopping = False

    def on_signal(signum, _frame):
        raise KeyboardInterrupt

    # Installed explicitly: a background job (``make run &``) starts with SIGINT ignored, and Python then leaves it so.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    try:
        stack.start()
        if os.environ.get("REPLAY", "1") == "1":
            from infra.local.replay import replay

            print("\nReplaying the sample stream (demo/sample_stream.jsonl) over HTTP ...", flush=True)
            report = replay(stack.api_url, stack.secrets)
            items = stack.wait_until_stored(report.expected_keys)
            summarize(report, items)
            summarize_issues(stack.issues(), items)
        where_to_look(stack)
        print("\nServing. Press Ctrl-C to stop everything. Approval emails and published replies appear below as "
              "they happen; open a link in your browser to act on a step.", flush=True)
        announcer = Announcer(stack)
        while True:
            stack.supervise(lambda line: print(line, flush=True))
            announcer.poll()
            time.sleep(2)
    except KeyboardInterrupt:
        stopping = True
    except StackError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second signal must not cut the clean-up
            signal.signal(signum, signal.SIG_IGN)
        stack.stop()
        if stopping:
            print("\nStopped: moto, worker and API are down.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
