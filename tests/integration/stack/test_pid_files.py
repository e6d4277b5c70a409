"""`down` stops what the pid files name, whole process groups, and never a stranger."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from shared.process import Proc, free_port, pid_alive, stop_pid_files

SLEEP = ["sleep", "60"]


def test_a_stale_pid_file_naming_another_program_is_left_alone(tmp_path: Path) -> None:
    stranger = subprocess.Popen(SLEEP, start_new_session=True)
    try:
        pid_file = tmp_path / "gone.pid"
        pid_file.write_text(f"{stranger.pid}\n/usr/bin/some-part-that-ran-before-a-reboot\n")

        stopped = stop_pid_files([pid_file], timeout=1)

        assert stopped == [] and stranger.poll() is None and not pid_file.exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_a_part_and_the_children_it_left_in_its_group_are_stopped(tmp_path: Path) -> None:
    # A shell that starts a grandchild and ignores SIGTERM itself: SIGKILL of the group must reach both.
    script = f"trap '' TERM; sleep 60 & echo $! > {tmp_path}/child.pid; wait"
    part = Proc(name="part", argv=["/bin/sh", "-c", script], port=free_port(), home=tmp_path)
    part.start()
    child_pid_file = tmp_path / "child.pid"
    deadline = time.monotonic() + 10
    while (not child_pid_file.exists() or not child_pid_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(child_pid_file.read_text())

    stopped = stop_pid_files([part.pid_path], timeout=1)

    assert stopped == [part.pid_path]
    assert part.popen is not None and part.popen.wait(5) is not None
    # SIGKILL is delivered when the grandchild next runs: on a busy machine it can still show as
    # running ('R') for a moment after its parent was reaped (a CI run caught it there).
    deadline = time.monotonic() + 10  # a guard against a hang, not a performance assertion
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)


def _gone(pid: int) -> bool:
    """Dead, or a zombie waiting for whoever adopted it to reap it."""
    try:
        return not pid_alive(pid) or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True
