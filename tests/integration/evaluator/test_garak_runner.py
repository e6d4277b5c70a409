"""The garak runner's subprocess plumbing, with a stand-in for garak's own process (the real
garak needs its own multi-GB venv: `make garak-smollm2` runs it for real, outside CI).

The stand-in is a python executable that, like `python -m garak --config FILE`, reads the
config, checks what garak would need (the key in its env var, offline mode, the XDG dirs) and
writes a report.jsonl where garak writes it."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from schemas.events.evaluations import GarakScan
from services.evaluator.adapters.garak_runner import GarakRunner, GarakUnavailable

REPORT = Path(__file__).parents[2] / "unit" / "evaluator" / "data" / "garak_report.jsonl"

STAND_IN = """#!{python}
import os, sys, time, yaml
from pathlib import Path
assert sys.argv[1:4] == ["-m", "garak", "--config"], sys.argv
config = yaml.safe_load(open(sys.argv[4]))
assert os.environ["OPENAICOMPATIBLE_API_KEY"] == "sk-staging"
assert os.environ["HF_HUB_OFFLINE"] == "1"
assert config["plugins"]["generators"]["openai"]["OpenAICompatible"]["uri"] == "http://127.0.0.1:9/v1/"
Path(os.environ["CALLS"]).open("a").write("called\\n")
if os.environ.get("HANG"):
    time.sleep(60)
if os.environ.get("FAIL"):
    sys.exit(3)
out = Path(os.environ["XDG_DATA_HOME"]) / "garak" / "garak_runs"
out.mkdir(parents=True)
(out / (config["reporting"]["report_prefix"] + ".report.jsonl")).write_text(open({report!r}).read())
"""


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(STAND_IN.format(python=sys.executable, report=str(REPORT)))
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CALLS", str(tmp_path / "calls"))
    return python


SCAN = GarakScan(probes=["dan.Dan_11_0", "encoding.InjectBase64"], timeout_s=20)


async def _scan(runner: GarakRunner, run_id: str = "eval-1"):
    return await runner.scan(SCAN, base_url="http://127.0.0.1:9", model="staging/t", api_key="sk-staging",
                             run_id=run_id)


async def test_a_scan_reads_garaks_report_and_is_not_repeated(stand_in: Path, tmp_path: Path) -> None:
    runner = GarakRunner(stand_in, tmp_path / "runs")
    summary = await _scan(runner)
    assert summary.families["dan"].attack_success_rate == 1.0
    assert summary.report_uri and summary.report_uri.endswith("scan.report.jsonl")
    assert await _scan(runner) == summary  # a restarted evaluation reads the finished scan back
    assert (tmp_path / "calls").read_text().count("called") == 1


async def test_failures_say_why(stand_in: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(GarakUnavailable, match="garak is not installed at .*make garak"):
        await _scan(GarakRunner(tmp_path / "nowhere" / "python", tmp_path / "runs"))
    monkeypatch.setenv("FAIL", "1")
    with pytest.raises(GarakUnavailable, match="exited with 3; see .*garak.log"):
        await _scan(GarakRunner(stand_in, tmp_path / "runs"), "eval-2")


async def test_a_hung_scan_is_killed_at_its_timeout(stand_in: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANG", "1")
    runner = GarakRunner(stand_in, tmp_path / "runs")
    with pytest.raises(GarakUnavailable, match="did not finish within 1 s"):
        await runner.scan(SCAN.model_copy(update={"timeout_s": 1.0}), base_url="http://127.0.0.1:9/v1",
                          model="staging/t", api_key="sk-staging", run_id="eval-3")
