"""`challenger kill` and `restart` on the state file: a crash is a SIGKILL of the whole group;
a part that is unknown or not running is named, with the parts there are."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from challenger.stack.launcher import StackConfig, kill, restart
from challenger.stack.parts import DEFAULT_PORTS
from challenger.stack.state import write_state
from shared.process import ProcessError, pid_alive


def _state(home: Path, pid: int) -> None:
    write_state(home, {"home": str(home), "parts": [{"name": "evaluator", "pid": pid, "port": 1, "url": None,
                                                      "health_url": None, "log": "", "pid_file": ""}]})


def test_kill_sigkills_the_whole_group_as_a_crash_would(tmp_path: Path) -> None:
    # the leader ignores SIGTERM, so only a SIGKILL of the group stops it and its child
    part = subprocess.Popen(["/bin/sh", "-c", "trap '' TERM; sleep 60 & wait"], start_new_session=True)
    try:
        _state(tmp_path, part.pid)

        assert kill(tmp_path, "evaluator") == part.pid

        assert part.wait(5) == -9 and not pid_alive(part.pid)
        with pytest.raises(ProcessError, match="evaluator is not running"):
            kill(tmp_path, "evaluator")
    finally:
        part.kill()
        part.wait()


def test_unknown_parts_and_a_missing_stack_are_named(tmp_path: Path) -> None:
    cfg = StackConfig(tmp_path, dict(DEFAULT_PORTS), None, models=())
    with pytest.raises(ProcessError, match="no stack is running from"):
        restart(cfg, "evaluator")

    _state(tmp_path, 0)
    with pytest.raises(ProcessError, match="no part 'registr' in the stack .*; parts: evaluator"):
        kill(tmp_path, "registr")
