"""SGLang launch command and Kubernetes manifest rendered from a candidate spec."""

from __future__ import annotations

import pytest
import yaml

from schemas.candidate import CandidateSpec
from services.deployer.adapters import sglang_launch as sl


def sglang_spec(**launch) -> CandidateSpec:
    return CandidateSpec(name="qwen-awq", model="qwen2.5-7b", task="support", engine="sglang", quantization="awq",
                         launch={"model_path": "/models/Qwen2.5-7B-AWQ", "port": 30001, "tp": 2,
                                 "mem_fraction_static": 0.85, **launch})


def test_launch_command_carries_every_launch_field():
    argv = sl.launch_argv(sglang_spec(extra_args=["--enable-torch-compile"]), python="python")
    assert argv[:3] == ["python", "-m", "sglang.launch_server"]
    flags = dict(zip(argv[3::2], argv[4::2], strict=False))
    assert flags["--model-path"] == "/models/Qwen2.5-7B-AWQ" and flags["--port"] == "30001"
    assert flags["--tp"] == "2" and flags["--quantization"] == "awq" and flags["--mem-fraction-static"] == "0.85"
    assert flags["--served-model-name"] == "qwen2.5-7b" and argv[-1] == "--enable-torch-compile"


def test_optional_flags_are_left_out_when_unset():
    spec = CandidateSpec(name="x", model="m", task="t", engine="sglang", launch={"model_path": "/m"})
    cmd = sl.launch_command(spec)
    assert "--quantization" not in cmd and "--mem-fraction-static" not in cmd and "--tp 1" in cmd


def test_manifest_is_a_deployment_and_service_with_health_probes():
    docs = list(yaml.safe_load_all(sl.render_manifest(sglang_spec(), "Cand_42/v1", namespace="llm")))
    deployment, service = (d for d in docs if d)
    assert deployment["kind"] == "Deployment" and service["kind"] == "Service"
    assert deployment["metadata"]["name"] == "sglang-cand-42-v1" and deployment["metadata"]["namespace"] == "llm"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == sl.launch_argv(sglang_spec(), python="python3")
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"
    assert service["spec"]["ports"][0]["port"] == 30001
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_non_sglang_candidates_have_no_launch():
    spec = CandidateSpec(name="x", model="m", task="t", engine="openai", endpoint="http://h:1/v1")
    with pytest.raises(ValueError, match="no SGLang launch spec"):
        sl.launch_argv(spec)


def test_local_start_explains_when_sglang_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(sl, "sglang_installed", lambda: False)
    with pytest.raises(sl.SglangUnavailable, match="sglang is not installed"):
        sl.start_local(sglang_spec(), "c1", tmp_path)
