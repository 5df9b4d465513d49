"""The local stack behind ``make run``: moto's server, the stage's resources, ``chalice local`` and the worker.

1. moto's server on 127.0.0.1:``MOTO_PORT``;
2. on it, the stage's packaged template, the contract secrets and the response plan (``provisioning``);
3. the worker (``infra.local.worker``) and ``chalice local`` on 127.0.0.1:``API_PORT``, boto3 pointed at moto by
   ``AWS_ENDPOINT_URL``; then ``GET /health`` until it answers 200;
4. with ``REPLAY=1`` (default) the bundled sample stream, replayed over HTTP, and a summary of what happened.

It then serves until Ctrl-C or SIGTERM (also when started in the background, where SIGINT arrives ignored), which
stops every process it started. A worker or API that crashes is restarted (``supervision``); moto and its state stay.
Child output is logged to ``.run/logs`` without signed links or secrets (``redaction``); the console (``console``)
still prints each approval link as it is emailed. What the stack holds is read through ``inspection``.
Run: ``python -m infra.local.stack``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from infra.local import console, provisioning
from infra.local.common import REGION, ROOT, STAGE, StackError
from infra.local.inspection import StackInspection
from infra.local.redaction import Redactor
from infra.local.supervision import ChildExited, Supervisor

__all__ = ["REGION", "ROOT", "STAGE", "LocalStack", "StackError", "free_port", "port_is_free"]

RUN_DIR = ROOT / ".run"


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
class LocalStack(StackInspection):
    """One stack: its ports and run directory, the environment its children get, their start, supervision and stop.
    What it holds is read through :class:`~infra.local.inspection.StackInspection`, which it is."""

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
    def from_environment(cls) -> LocalStack:
        api_port = int(os.environ.get("API_PORT", "8000"))
        # LOCAL_RUN_DIR (default .run): where logs, secrets and worker checkpoints go, so tests can run stacks apart.
        run_dir = Path(os.environ.get("LOCAL_RUN_DIR") or RUN_DIR)
        return cls(
            api_port=api_port,
            moto_port=int(os.environ.get("MOTO_PORT", "5000")),
            worker_port=int(os.environ.get("WORKER_PORT", str(api_port + 1))),
            public_base_url=os.environ.get("PUBLIC_BASE_URL"),
            log_dir=run_dir / "logs",
        )

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
        env.update(
            {
                "AWS_ENDPOINT_URL": self.moto_url,
                "MOTO_PORT": str(self.moto_port),
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "STAGE": STAGE,
                "LOCAL_WORKER_URL": self.worker_url,
                "WORKER_PORT": str(self.worker_port),
                "PUBLIC_BASE_URL": self.public_base_url or self.api_url,
                "POWERTOOLS_METRICS_DISABLED": "true",
                "PYTHONUNBUFFERED": "1",
                "LOCAL_WORKER_CHECKPOINTS": str(self.checkpoints_file),
            }
        )
        return env

    # -- lifecycle ----------------------------------------------------------------------------------------
    def start(self, echo=print) -> None:
        for name, port in (
            ("API_PORT", self.api_port),
            ("MOTO_PORT", self.moto_port),
            ("WORKER_PORT", self.worker_port),
        ):
            if not port_is_free(port):
                raise StackError(f"port {port} ({name}) is in use on 127.0.0.1; set {name} to a free port")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoints_file.unlink(missing_ok=True)  # a fresh moto: streams start from their beginning
        self._spawn(
            "moto", [sys.executable, "-m", "infra.local.moto_server", "-H", "127.0.0.1", "-p", str(self.moto_port)]
        )
        wait_for(lambda: self.check_children() and http_status(f"{self.moto_url}/moto-api/") == 200, "moto's server")
        provisioning.switch_on_step_functions(self.moto_url)
        echo(f"  moto server       {self.moto_url}  (Step Functions execution on)")
        self.deploy()
        echo(
            f"  resources         stack {STAGE} from the packaged template ({len(self.deployment.not_created)} "
            f"resources moto cannot create: functions run in chalice local and the worker)"
        )
        echo(f"  response plan     {provisioning.upload_plan(self.environment())}")
        if self.queue_visibility_seconds is not None:  # before the worker polls (see set_queue_visibility)
            provisioning.set_queue_visibility(self.client, self.deployment.template, self.queue_visibility_seconds)
        self._spawn("worker", [sys.executable, "-m", "infra.local.worker"], restartable=True)
        chalice = str(Path(sys.executable).parent / "chalice")
        self._spawn(
            "api",
            [
                chalice,
                "local",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.api_port),
                "--stage",
                STAGE,
                "--no-autoreload",
            ],
            restartable=True,
        )
        wait_for(
            lambda: self.check_children() and http_status(f"{self.api_url}/health") == 200,
            "GET /health to answer 200",
            timeout=90,
        )
        echo(f"  api (chalice)     {self.api_url}  GET /health -> 200")
        echo(f"  worker            {self.worker_url}/status  (SQS pollers, schedules)")

    def deploy(self) -> None:
        """The resources, secrets and alerts subscriber on moto (``provisioning``), remembered for the children."""
        provisioned = provisioning.provision(
            STAGE, self.client, os.environ, self.template_file, self.log_dir.parent / "local-secrets.env"
        )
        self.deployment, self.secrets = provisioned.deployment, provisioned.secrets
        self.function_environment = provisioned.function_environment

    def _spawn(self, name: str, command: list[str], restartable: bool = False) -> None:
        process = self.supervisor.spawn(name, command, restartable=restartable)
        time.sleep(0.1)
        if process.poll() is not None:
            raise StackError(f"{name} exited at once; see {self.supervisor.log_path(name)}")

    def check_children(self) -> bool:
        """True while every child runs; a child that exited during start-up is a failure worth naming at once."""
        for child in self.supervisor.exited():
            raise StackError(
                f"{child.name} exited with {child.process.returncode}; see {self.supervisor.log_path(child.name)}"
            )
        return True

    def while_waiting(self) -> None:
        self.supervise()  # a worker that crashes while the queue drains is restarted, not fatal

    def supervise(self, echo=print) -> None:
        """Restart a worker or API that exited (moto and its state are kept); moto exiting stops the stack."""
        try:
            self.supervisor.restart_exited(echo)
        except ChildExited as error:
            raise StackError(str(error)) from None

    def stop(self) -> None:
        self.supervisor.stop()
        self.checkpoints_file.unlink(missing_ok=True)

    def __enter__(self) -> LocalStack:
        try:
            self.start(echo=lambda *_: None)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopRequested(BaseException):
    """Ctrl-C, SIGTERM or SIGHUP: stop the stack.

    Not a KeyboardInterrupt: CPython (3.11) marks the interpreter to end by SIGINT whenever exactly a
    KeyboardInterrupt leaves code that ``exec`` runs from a string, even one caught later. ``dataclasses`` and
    ``namedtuple`` build their methods so while a module is first imported, as the console's first poll does just
    after "Serving."; a stack stopped there printed "Stopped" and still exited -2 (1 run in 13)."""


def stop_on_signals() -> None:
    """SIGINT, SIGTERM and SIGHUP raise :class:`StopRequested` in the main thread, once: the first one ignores all
    three from then on, so a second signal cannot cut the clean-up short. Installed explicitly: a background job
    (``make run &``) starts with SIGINT ignored, and Python then leaves it so."""

    def on_signal(signum, _frame):
        for each in STOP_SIGNALS:
            signal.signal(each, signal.SIG_IGN)
        raise StopRequested(signal.Signals(signum).name)

    for signum in STOP_SIGNALS:
        signal.signal(signum, on_signal)


def main() -> int:
    stack = LocalStack.from_environment()
    print(console.STARTING, flush=True)
    stopping = False
    try:
        stop_on_signals()
        stack.start()
        if os.environ.get("REPLAY", "1") == "1":
            from infra.local.replay import replay

            print(console.REPLAYING, flush=True)
            report = replay(stack.api_url, stack.secrets)
            items = stack.wait_until_stored(report.expected_keys)
            console.summarize(report, items)
            console.summarize_issues(stack.issues(), items)
            from infra.local.walkthrough import follow_up, walk_through

            walked = walk_through(stack, echo=lambda line: print(line, flush=True))
            if walked:
                follow_up(stack, walked["issue_id"], echo=lambda line: print(line, flush=True))
        console.where_to_look(stack)
        print(console.SERVING, flush=True)
        announcer = console.Announcer(stack)
        while True:
            stack.supervise(lambda line: print(line, flush=True))
            announcer.poll()
            time.sleep(2)
    except StopRequested:
        stopping = True
    except StackError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    finally:
        for signum in STOP_SIGNALS:  # a signal must not cut the clean-up short
            signal.signal(signum, signal.SIG_IGN)
        stack.stop()
        if stopping:
            print(console.STOPPED, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
