"""The local stack's supervisor on plain child processes: restarts, refusals, clean stops, death with the parent,
and redacted logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from infra.local.redaction import Redactor
from infra.local.supervision import MAX_RESTARTS, ChildExited, Supervisor

SLEEPER = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(600)"]


def alive(pid: int) -> bool:
    """Running (a zombie, or a pid no longer there, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def supervisor(tmp_path):
    supervising = Supervisor(tmp_path, tmp_path, lambda: dict(os.environ), Redactor(lambda: ["the-secret-value"]))
    yield supervising
    supervising.stop()


def test_a_killed_restartable_child_is_started_again_and_said_so(supervisor):
    first = supervisor.spawn("worker", SLEEPER, restartable=True)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    said: list[str] = []
    supervisor.restart_exited(said.append)
    second = supervisor.processes["worker"]
    assert second.pid != first.pid and second.poll() is None
    assert said == [
        f"  worker (pid {first.pid}) exited with signal SIGKILL; restarted as pid {second.pid}. "
        f"moto and its state are untouched."
    ]
    assert wait_until(lambda: "up" in supervisor.log_path("worker").read_text().split("restarting ---")[-1])
    log = supervisor.log_path("worker").read_text()
    assert log.count("up") == 2 and "exited with signal SIGKILL; restarting" in log  # one log across restarts


def test_a_child_that_keeps_crashing_is_given_up_after_the_restart_budget(supervisor):
    supervisor.spawn("api", [sys.executable, "-c", "raise SystemExit(3)"], restartable=True)
    with pytest.raises(ChildExited, match=f"api exited with status 3 \\({MAX_RESTARTS} restarts in a minute\\)"):
        for _ in range(MAX_RESTARTS + 1):
            wait_until(lambda: supervisor.exited())
            supervisor.restart_exited(lambda _: None)


def test_a_stateful_child_is_never_restarted(supervisor):
    moto = supervisor.spawn("moto", SLEEPER)
    os.kill(moto.pid, signal.SIGKILL)
    moto.wait()
    with pytest.raises(ChildExited, match="moto exited with signal SIGKILL"):
        supervisor.restart_exited(lambda _: None)


def test_stop_ends_every_child_and_its_own_children(supervisor, tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    parent = textwrap.dedent(f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(600)
    """)
    process = supervisor.spawn("api", [sys.executable, "-c", parent], restartable=True)
    assert wait_until(lambda: pid_file.exists() and pid_file.read_text())
    grandchild = int(pid_file.read_text())
    supervisor.stop()
    assert not alive(process.pid) and wait_until(lambda: not alive(grandchild))


def test_child_output_reaches_its_log_without_links_or_secrets(supervisor):
    chatter = [
        sys.executable,
        "-c",
        "print('GET /approvals/abcDEF123456?exp=17&sig=ffeeddccbbaa99887766 200'); "
        "print('using the-secret-value', flush=True); import time; time.sleep(600)",
    ]
    supervisor.spawn("api", chatter)
    assert wait_until(lambda: "using" in supervisor.log_path("api").read_text())
    log = supervisor.log_path("api").read_text()
    assert "sig=ffee" not in log and "the-secret-value" not in log and "abcDEF123456" not in log
    assert "GET /approvals/<redacted>?exp=<redacted>&sig=<redacted> 200" in log


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_children_die_with_a_supervisor_killed_outright(tmp_path):
    pid_file = tmp_path / "child.pid"
    program = textwrap.dedent(f"""
        import os, sys, time
        from pathlib import Path
        from infra.local.redaction import Redactor
        from infra.local.supervision import Supervisor
        supervisor = Supervisor(Path({str(tmp_path)!r}), Path({str(tmp_path)!r}), lambda: dict(os.environ),
                                Redactor())
        child = supervisor.spawn("worker", [sys.executable, "-c", "import time; time.sleep(600)"])
        Path({str(pid_file)!r}).write_text(str(child.pid))
        time.sleep(600)
    """)
    root = Path(__file__).resolve().parents[2]
    outer = subprocess.Popen([sys.executable, "-c", program], cwd=root, start_new_session=True)
    try:
        assert wait_until(lambda: pid_file.exists() and pid_file.read_text(), timeout=20)
        child = int(pid_file.read_text())
        assert alive(child)
        os.kill(outer.pid, signal.SIGKILL)  # no clean-up runs in the supervisor
        outer.wait()
        assert wait_until(lambda: not alive(child)), "the child outlived its supervisor"
    finally:
        if outer.poll() is None:
            outer.kill()
