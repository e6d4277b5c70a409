"""Start, health-check and stop one child process, with its log and pid file.

The runtime's one way to run a child process: the embedded stack (`challenger.stack`) starts
its parts with it and the deployer starts a local SGLang server with it, so it lives here
rather than in the stack package, which no service imports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx


class ProcessError(RuntimeError):
    """A child process (a stack part, a local model server) could not start, or the stack has
    no such part; the message names it and says why."""


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        return httpx.get(url, timeout=timeout).status_code < 500
    except httpx.HTTPError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    name: str
    argv: list[str]
    port: int
    home: Path
    health: Callable[[], bool] | None = None
    env: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    health_url: str | None = None
    start_timeout: float = 60.0
    popen: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.home / "logs" / f"{self.name}.log"

    @property
    def pid_path(self) -> Path:
        return self.home / "run" / f"{self.name}.pid"

    def start(self) -> None:
        if port_open("127.0.0.1", self.port):
            raise ProcessError(f"{self.name}: port {self.port} is already taken; free it or choose another port")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.pid_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env},
            start_new_session=True,
        )
        # Second line: the program, so a stale pid file (after a reboot) never stops a stranger.
        self.pid_path.write_text(f"{self.popen.pid}\n{self.argv[0]}\n")

    def wait_healthy(self, progress: Callable[[str], None] | None = None) -> None:
        check = self.health or (lambda: probe(self.port, self.health_url))
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise ProcessError(f"{self.name} exited with code {self.popen.returncode}; "
                                 f"last log lines:\n{tail(self.log_path)}")
            if check():
                return
            time.sleep(0.2)
        raise ProcessError(f"{self.name} was not healthy after {self.start_timeout:.0f}s; "
                         f"see {self.log_path}:\n{tail(self.log_path)}")

    def stop(self, timeout: float = 10.0) -> None:
        stop_pid_file(self.pid_path, timeout)

    def record(self) -> dict[str, object]:
        """What the state file keeps about this part (enough for `status` and `down`)."""
        return {"name": self.name, "pid": self.popen.pid if self.popen else None, "port": self.port,
                "url": self.url, "health_url": self.health_url, "log": str(self.log_path),
                "pid_file": str(self.pid_path)}


def probe(port: int, health_url: str | None, timeout: float = 1.0) -> bool:
    """Healthy: the health URL answers below 500, or (without one) the port accepts connections."""
    return http_ok(health_url, timeout) if health_url else port_open("127.0.0.1", port, timeout)


def tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def pid_alive(pid: int) -> bool:
    """Running: a killed part whose parent has not reaped it yet (a zombie) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def stop_pid_file(pid_path: Path, timeout: float = 10.0) -> bool:
    """Stop one part; True if something was running."""
    return bool(stop_pid_files([pid_path], timeout))


def stop_pid_files(pid_paths: list[Path], timeout: float = 10.0) -> list[Path]:
    """SIGTERM every part's process group at once, wait for all together, then SIGKILL the
    groups (which also reaches any child a leader left behind). Returns the parts that ran."""
    running = {path: pid for path in pid_paths if (pid := _take_pid(path)) and pid_alive(pid)}
    for pid in running.values():
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid_alive(pid) for pid in running.values()):
        for pid in running.values():
            _reap(pid)
        time.sleep(0.1)
    for pid in running.values():
        _signal_group(pid, signal.SIGKILL)
        _reap(pid)
    return list(running)


def kill_group(pid: int, timeout: float = 10.0) -> None:
    """SIGKILL a part's process group now (no SIGTERM first: this is how a crash looks) and
    wait until the leader is gone."""
    _signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.05)


def _zombie(pid: int) -> bool:
    """Dead but not yet reaped by a parent that is not us."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _take_pid(pid_path: Path) -> int:
    """The pid in the file (removing it), or 0 if none or if that pid now runs another program."""
    if not pid_path.exists():
        return 0
    lines = pid_path.read_text().split("\n")
    pid_path.unlink()
    pid = int(lines[0]) if lines[0].strip().isdigit() else 0
    program = lines[1].strip() if len(lines) > 1 else ""
    return pid if pid and (not program or _runs(pid, program)) else 0


def _runs(pid: int, program: str) -> bool:
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.exists():
        return True  # no /proc (macOS): trust the pid file
    try:
        return cmdline.read_bytes().split(b"\0")[0].decode(errors="replace") == program
    except OSError:
        return False


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Parts run with start_new_session, so each leads its own group (pgid == pid)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
