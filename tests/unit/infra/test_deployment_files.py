"""The many-machine files stay valid: docker-compose.yml against the Compose Specification
schema (vendored from docker-compose 1.29.2, Apache-2.0), every service it runs exists in
the code, and the Kubernetes manifests are up to date and probed."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = ["registry", "gateway", "evaluator", "loadtester", "prompt_optimizer", "deployer", "monitor"]


def test_compose_file_matches_the_compose_spec() -> None:
    schema = json.loads((ROOT / "tests/fixtures/compose_spec.json").read_text())
    jsonschema.validate(COMPOSE, schema)


def test_compose_runs_every_service_and_the_infrastructure() -> None:
    names = set(COMPOSE["services"])
    assert {"kafka", "postgres", "redis", "otel-collector", "jaeger", "prometheus"} <= names
    assert set(SERVICES) <= names
    assert any("sglang.launch_server" in " ".join(s.get("command", [])) for s in COMPOSE["services"].values())


def test_every_service_command_names_a_runnable_module() -> None:
    for name, svc in COMPOSE["services"].items():
        command = svc.get("command") or []
        if command[:2] == ["python", "-m"] and command[2].startswith("services."):
            module = command[2] + ".__main__"
            assert importlib.util.find_spec(module) is not None, f"compose service {name}: no module {module}"


def test_files_mounted_into_containers_exist() -> None:
    for name, svc in COMPOSE["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"compose service {name} mounts missing {source}"
    assert (ROOT / "infra/docker/Dockerfile").exists()


def test_kubernetes_manifests_are_current_and_probed() -> None:
    check = subprocess.run([sys.executable, "infra/k8s/render.py", "--check"], cwd=ROOT)
    assert check.returncode == 0, "run python infra/k8s/render.py"
    docs = list(yaml.safe_load_all((ROOT / "infra/k8s/challenger.yaml").read_text()))
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert len(deployments) == len(SERVICES)
    for d in deployments:
        container = d["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        module = container["command"][2] + ".__main__"
        assert importlib.util.find_spec(module) is not None, f"k8s {d['metadata']['name']}: no module {module}"
