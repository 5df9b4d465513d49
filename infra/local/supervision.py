"""The local stack's process supervision: start children, restart the stateless ones, stop them all.

* Each child runs in its own session (Ctrl-C in the terminal reaches only the supervisor, which stops the children
  in order), with SIGINT and SIGTERM at their defaults (a background job inherits SIGINT ignored), and, on Linux,
  ``PR_SET_PDEATHSIG``: if the supervisor is killed outright, the kernel kills its children too.
* Its output goes through a pipe and :class:`~infra.local.redaction.Redactor` into ``<log dir>/<name>.log``.
* A child marked restartable (the worker, ``chalice local``: they keep no state of their own) is started again when
  it exits, at most ``MAX_RESTARTS`` times a minute; moto holds all the state and is never restarted: if it dies,
  the stack stops with the reason.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from infra.local.redaction import Redactor

MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 60.0
PR_SET_PDEATHSIG = 1


class ChildExited(RuntimeError):
    """A child that must not be restarted (or restarted too often) exited."""


def _load_prctl() -> Callable[..., int] | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name, use_errno=True).prctl if name else None
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def _child_setup(parent_pid: int) -> Callable[[], None]:
    """Runs in the child between fork and exec: die with the parent, take signals at their defaults."""

    def setup() -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        if _PRCTL is not None:
            _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGKILL))
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return setup


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"status {code}"


@dataclass
class Child:
    name: str
    command: list[str]
    restartable: bool
    process: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)
    pump: threading.Thread | None = None


class Supervisor:
    def __init__(self, log_dir: Path, cwd: Path, environment: Callable[[], dict[str, str]], redactor: Redactor) -> None:
        self.log_dir, self.cwd, self.environment, self.redactor = log_dir, cwd, environment, redactor
        self.children: dict[str, Child] = {}

    @property
    def processes(self) -> dict[str, subprocess.Popen]:
        return {name: child.process for name, child in self.children.items() if child.process is not None}

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def spawn(self, name: str, command: list[str], *, restartable: bool = False) -> subprocess.Popen:
        child = self.children.get(name) or Child(name, command, restartable)
        self.children[name] = child
        log = open(self.log_path(name), "a" if child.process else "w", encoding="utf-8")  # noqa: SIM115
        # Signals held while the child is born and registered: a Ctrl-C then cannot leave it unrecorded.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            child.process = subprocess.Popen(
                command,
                cwd=self.cwd,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_child_setup(os.getpid()),
            )
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        child.pump = threading.Thread(
            target=self._pump, args=(child.process, log, self.redactor), daemon=True, name=f"log-{name}"
        )
        child.pump.start()
        return child.process

    @staticmethod
    def _pump(process: subprocess.Popen, log, redact: Redactor) -> None:
        """Copy the child's output into its log file, a line at a time, without any credential."""
        with log:
            for raw in iter(process.stdout.readline, b""):
                log.write(redact(raw.decode("utf-8", errors="replace")))
                log.flush()
            process.stdout.close()

    def exited(self) -> list[Child]:
        return [child for child in self.children.values() if child.process and child.process.poll() is not None]

    def restart_exited(self, announce: Callable[[str], None]) -> None:
        """Start again every restartable child that exited; raise ``ChildExited`` for any other."""
        for child in self.exited():
            code = child.process.returncode
            now = time.monotonic()
            child.restarts = [moment for moment in child.restarts if now - moment < RESTART_WINDOW_SECONDS]
            if not child.restartable or len(child.restarts) >= MAX_RESTARTS:
                reason = "" if not child.restartable else f" ({MAX_RESTARTS} restarts in a minute)"
                raise ChildExited(
                    f"{child.name} exited with {describe_exit(code)}{reason}; see {self.log_path(child.name)}"
                )
            child.restarts.append(now)
            old_pid = child.process.pid
            self._reap(child)
            with open(self.log_path(child.name), "a", encoding="utf-8") as log:
                log.write(f"--- supervisor: exited with {describe_exit(code)}; restarting ---\n")
            process = self.spawn(child.name, child.command, restartable=True)
            announce(
                f"  {child.name} (pid {old_pid}) exited with {describe_exit(code)}; restarted as pid "
                f"{process.pid}. moto and its state are untouched."
            )

    def _reap(self, child: Child) -> None:
        """Whatever the child left in its process group goes with it; its output is fully logged."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.process.pid, signal.SIGKILL)
        if child.pump:
            child.pump.join(timeout=5)

    def stop(self) -> None:
        """SIGTERM to every child's process group, newest first; SIGKILL what is still there after 10 s."""
        running = [child for child in reversed(list(self.children.values())) if child.process]
        for child in running:
            if child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGTERM)
        for child in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=10)
            self._reap(child)
            child.process.wait()
        self.children.clear()
