"""``python -m infra.local.stack`` as ``make run &`` starts it: in the background (stdin /dev/null, its own session,
SIGINT ignored as a shell gives it to background jobs). Its supervisor restarts a killed worker and API and keeps
moto's state; every schedule fires without error; SIGTERM and SIGINT each stop every process it started; its log
files carry no link signature and no secret."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from infra.local import deliveries
from infra.local.replay import http, keys_of, load_rows, post_delivery, shift_to_now
from infra.local.stack import ROOT, LocalStack, free_port

pytestmark = pytest.mark.e2e


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def descendants(pid: int) -> dict[int, str]:
    """Every process under ``pid`` (children, grandchildren ...), with its command line."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, IndexError):  # gone meanwhile
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                try:
                    found[child] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except (FileNotFoundError, ProcessLookupError):
                    found[child] = ""
                frontier.append(child)
    return found


def wait_until(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = condition()
        except Exception:  # noqa: BLE001 - not up yet
            result = None
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


class BackgroundStack:
    """The stack's own process, started as a shell starts ``make run &``; its console collected line by line."""

    def __init__(self, run_dir: Path) -> None:
        self.inspect = LocalStack(
            api_port=free_port(), moto_port=free_port(), worker_port=free_port(), log_dir=run_dir / "logs"
        )
        self.run_dir = run_dir
        environment = {
            **os.environ,
            "API_PORT": str(self.inspect.api_port),
            "REPLAY": "0",
            "MOTO_PORT": str(self.inspect.moto_port),
            "WORKER_PORT": str(self.inspect.worker_port),
            "LOCAL_RUN_DIR": str(run_dir),
        }
        for name in ("AWS_ENDPOINT_URL", "STAGE"):
            environment.pop(name, None)

        def as_a_background_job() -> None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGQUIT, signal.SIG_IGN)

        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.local.stack"],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=as_a_background_job,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        wait_until(
            lambda: any(line.startswith("Serving.") for line in self.lines) or self.process.poll() is not None,
            "the stack to serve",
            timeout=180,
        )
        assert self.process.poll() is None, "".join(self.lines)
        self.inspect.secrets = dict(
            line.strip().split("=", 1)
            for line in (run_dir / "local-secrets.env").read_text().splitlines()
            if "=" in line
        )

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def child(self, marker: str) -> int:
        (pid,) = [
            pid
            for pid, command in descendants(self.process.pid).items()
            if marker in command and "infra.local.stack" not in command
        ]
        return pid

    def worker_status(self) -> dict:
        return json.loads(http("GET", f"{self.inspect.worker_url}/status").body)

    def stop_with(self, signum: int) -> dict[int, str]:
        """Send ``signum``; answer the processes that were under the stack (all must be gone)."""
        before = descendants(self.process.pid)
        assert {"infra.local.moto_server", "infra.local.worker", "chalice"} <= {
            marker
            for marker in ("infra.local.moto_server", "infra.local.worker", "chalice")
            if any(marker in command for command in before.values())
        }
        os.kill(self.process.pid, signum)
        assert self.process.wait(timeout=60) == 0, self.output()
        return before

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def background_stack(tmp_path):
    stack = BackgroundStack(tmp_path)
    yield stack
    stack.kill()


def stream_records(local: LocalStack) -> int:
    """How many records the issues table's stream holds (what a worker reading from the start would process)."""
    from chalicelib.settings import Resources

    table = Resources.for_stage("local").issues_table
    arn = local.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams, total = local.client("dynamodbstreams"), 0
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        total += len(streams.get_records(ShardIterator=iterator, Limit=1000)["Records"])
    return total


def delivery_of(text_start: str) -> dict:
    rows = shift_to_now(load_rows(), datetime.now(timezone.utc))
    return deliveries.build(next(row for row in rows if row["text"].startswith(text_start)))


def test_killed_worker_and_api_are_restarted_state_kept_schedules_fire_and_sigterm_stops_all(background_stack):
    stack = background_stack
    local = stack.inspect
    # a High Priority mention: an issue on the stream, a protocol, approval emails with signed links
    threat = delivery_of("The dye from the Alba boots burned my skin")
    assert post_delivery(local.api_url, threat, local.secrets).status == 200
    local.wait_until_stored(keys_of(threat), timeout=60)
    wait_until(lambda: stack.worker_status()["counts"].get("start_protocols.processed"), "the issues stream read")
    issues_before = {issue["issue_id"] for issue in local.issues()}
    assert issues_before

    # the worker dies mid-run: restarted, moto's state untouched, the stream not read again from its start
    worker = stack.child("infra.local.worker")
    read_before_the_kill = stack.worker_status()["counts"]["start_protocols.processed"]
    os.kill(worker, signal.SIGKILL)
    wait_until(
        lambda: f"worker (pid {worker}) exited with signal SIGKILL; restarted" in stack.output(),
        "the supervisor to restart the worker",
        timeout=30,
    )
    wait_until(lambda: http("GET", f"{local.worker_url}/ready").status == 200, "the new worker", timeout=30)
    assert stack.child("infra.local.worker") != worker
    time.sleep(3)  # long enough for a worker that lost its stream position to replay the stream
    read_since = stack.worker_status()["counts"].get("start_protocols.processed", 0)
    assert read_before_the_kill + read_since <= stream_records(local), "the new worker read old records again"
    jacket = delivery_of("Ordered the Cortez denim jacket")
    assert post_delivery(local.api_url, jacket, local.secrets).status == 200
    stored = {item["pk"] for item in local.wait_until_stored(keys_of(jacket), timeout=60)}
    assert keys_of(threat) | keys_of(jacket) <= stored
    assert issues_before <= {issue["issue_id"] for issue in local.issues()}

    # the API dies: restarted on the same port
    api = stack.child("chalice")
    os.kill(api, signal.SIGKILL)
    wait_until(lambda: f"api (pid {api}) exited with signal SIGKILL; restarted" in stack.output(), "api restart")
    wait_until(lambda: http("GET", f"{local.api_url}/health").status == 200, "GET /health after the restart")

    # every schedule the app defines fires, through the control port, with no error
    schedules = stack.worker_status()["schedules"]
    assert {"check_slas", "check_dead_letter_queues", "send_alert_digest"} <= set(schedules)
    for name in schedules:
        answer = http("POST", f"{local.worker_url}/schedules/{name}")
        assert answer.status == 200, (name, answer.body)
    status = stack.worker_status()
    assert status["errors"] == [] and all(status["counts"][f"{name}.succeeded"] >= 1 for name in schedules)

    # requests that carry signatures and tokens, as an approver's browser and X's CRC check send them
    signature = "9f" * 32
    assert http("GET", f"{local.api_url}/approvals/AbCdEfGhIjKlMnOpQrStUv?exp=1999999999&sig={signature}").status < 500
    assert http("GET", f"{local.api_url}/webhooks/x?crc_token=crc-value-42").status == 200

    before = stack.stop_with(signal.SIGTERM)
    assert "Stopped: moto, worker and API are down." in stack.output()
    assert not [pid for pid in before if alive(pid)], {pid: before[pid] for pid in before if alive(pid)}

    logs = {path.name: path.read_text() for path in (stack.run_dir / "logs").glob("*.log")}
    assert {"moto.log", "worker.log", "api.log"} <= set(logs)
    assert "/approvals/<redacted>?exp=<redacted>&sig=<redacted>" in logs["api.log"]  # the request was logged ...
    for name, text in logs.items():  # ... without its signature, and no secret anywhere
        assert not re.search(r"sig=(?!<redacted>)", text), name
        assert signature not in text and "crc-value-42" not in text, name
        assert not [secret for secret in local.secrets.values() if secret in text], name


def test_sigint_to_a_background_stack_stops_everything(background_stack):
    before = background_stack.stop_with(signal.SIGINT)
    assert "Stopped: moto, worker and API are down." in background_stack.output()
    assert not [pid for pid in before if alive(pid)]


# The code a signal interrupts as dataclasses build a class's methods on its module's first import (``exec`` of a
# string), which is what the stack's console does in its first poll, right after "Serving.".
INTERRUPTED_IN_EXEC = """
import signal, sys
from infra.local.stack import StopRequested, stop_on_signals

stop_on_signals()
try:
    print("ready", flush=True)
    exec("import time\\nwhile True: time.sleep(0.01)")
except StopRequested:
    print("stopped", flush=True)
    print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN, flush=True)
sys.exit(0)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_that_lands_in_code_run_by_exec_still_ends_in_a_clean_exit(signum, tmp_path):
    """Why a stack that printed "Stopped" exited -2 (killed by SIGINT): its handler raised KeyboardInterrupt, and
    CPython ends a process by SIGINT once exactly a KeyboardInterrupt has left code ``exec`` ran from a string, even
    one caught and handled afterwards. The stack's own StopRequested is no KeyboardInterrupt; its first signal also
    ignores the next ones, so they cannot cut the clean-up short."""
    (tmp_path / "interrupted_in_exec.py").write_text(INTERRUPTED_IN_EXEC)
    process = subprocess.Popen(  # run as the stack is, by -m (CPython's exit by SIGINT is that path's)
        [sys.executable, "-m", "interrupted_in_exec"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as a background job starts
    )
    assert process.stdout.readline() == "ready\n"
    os.kill(process.pid, signum)
    assert process.wait(timeout=30) == 0
    assert process.stdout.read() == "stopped\nTrue\n"
