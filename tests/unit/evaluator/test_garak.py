"""garak's configuration and the reading of its report (a real garak 0.17.1 report, trimmed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.events.evaluations import GarakScan
from services.evaluator.domain.garak import GarakReportError, family_of, garak_config, summarize

REPORT = Path(__file__).parent / "data" / "garak_report.jsonl"
PROBES = ["encoding.InjectBase64", "dan.Dan_11_0", "promptinject.HijackHateHumans"]


def test_each_family_takes_its_probes_worst_detector() -> None:
    summary = summarize(REPORT.read_text().splitlines(), PROBES)
    assert summary.garak_version == "0.17.1"
    assert set(summary.families) == {"dan", "encoding", "promptinject"}
    dan = summary.families["dan"]
    assert (dan.attack_success_rate, dan.attempts) == (1.0, 1)  # dan.DAN passed, MitigationBypass failed
    assert dan.probes[0].detector == "mitigation.MitigationBypass"
    assert summary.families["encoding"].attack_success_rate == 0.0
    assert summary.families["promptinject"].attack_success_rate == pytest.approx(4 / 6)


def test_a_family_weights_its_probes_by_attempts() -> None:
    rows = ['{"entry_type": "eval", "probe": "encoding.InjectHex", "detector": "d", "passed": 9, "fails": 1, '
            '"total_evaluated": 10}',
            '{"entry_type": "eval", "probe": "encoding.InjectROT13", "detector": "d", "passed": 0, "fails": 2, '
            '"total_evaluated": 2}']
    family = summarize(rows, ["encoding"]).families["encoding"]
    assert family.attempts == 12
    assert family.attack_success_rate == pytest.approx(3 / 12)


def test_a_report_without_evaluations_is_an_error() -> None:
    with pytest.raises(GarakReportError, match="no evaluated probe"):
        summarize(['{"entry_type": "init", "garak_version": "0.17.1"}'], PROBES)
    with pytest.raises(GarakReportError, match="line 1 is not JSON"):
        summarize(["{oops"], PROBES)


def test_config_points_garak_at_the_route_without_the_key() -> None:
    scan = GarakScan(probes=["dan.Dan_11_0", "encoding"], prompt_cap=5, max_tokens=32)
    config = garak_config(scan, base_url="http://127.0.0.1:8080/v1", model="staging/sentiment", report_prefix="x")
    generator = config["plugins"]["generators"]["openai"]["OpenAICompatible"]
    assert generator["uri"] == "http://127.0.0.1:8080/v1/"
    assert generator["model"] == config["plugins"]["target_name"] == "staging/sentiment"
    assert "api_key" not in generator
    assert config["plugins"]["probe_spec"] == "dan.Dan_11_0,encoding"
    assert config["run"]["soft_probe_prompt_cap"] == 5


def test_family_of() -> None:
    assert family_of("probes.dan.Dan_11_0") == family_of("dan") == "dan"
