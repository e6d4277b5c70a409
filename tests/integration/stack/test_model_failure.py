"""A model server that cannot load its weights fails `up` with a message naming the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from challenger.stack.models import model_proc
from shared.process import ProcessError, free_port, pid_alive


def test_corrupt_weights_name_the_model_and_show_its_log(tmp_path: Path) -> None:
    weights = tmp_path / "broken.gguf"
    weights.write_bytes(b"GGUF but not really")
    proc = model_proc("smollm2", tmp_path, free_port(), threads=1, weights=weights)
    proc.start()
    try:
        with pytest.raises(ProcessError) as info:
            proc.wait_healthy()
    finally:
        proc.stop()

    assert str(info.value).startswith("model-smollm2 exited with code")
    assert "broken.gguf" in str(info.value)  # the log tail says which file failed
    assert proc.popen is not None and not pid_alive(proc.popen.pid)
