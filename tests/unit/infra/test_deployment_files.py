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


def test_compose_gateway_and_its_callers_read_the_key_env_file_and_never_turn_auth_off() -> None:
    for name in ("gateway", "evaluator", "loadtester"):
        assert "gateway.env" in COMPOSE["services"][name]["env_file"], name
    for name, svc in COMPOSE["services"].items():
        assert "CHALLENGER_GATEWAY_AUTH" not in svc.get("environment", {}), name
    assert "gateway.env" in (ROOT / ".gitignore").read_text().split()


def _deployments() -> dict[str, dict]:
    docs = list(yaml.safe_load_all((ROOT / "infra/k8s/challenger.yaml").read_text()))
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}


def _secret_refs(deployment: dict) -> dict[str, dict]:
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    return {e["name"]: e["valueFrom"]["secretKeyRef"] for e in env if "secretKeyRef" in e.get("valueFrom", {})}


def test_kubernetes_requires_the_keys_secret_that_gateway_keys_creates() -> None:
    made = subprocess.run([sys.executable, "infra/gateway_keys.py", "--k8s", "team-a"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    secret = yaml.safe_load(made.stdout)
    deployments = _deployments()
    wanted = {"gateway": "CHALLENGER_GATEWAY_API_KEY_HASHES", "evaluator": "CHALLENGER_GATEWAY_API_KEY",
              "loadtester": "CHALLENGER_GATEWAY_API_KEY"}
    for name, variable in wanted.items():
        ref = _secret_refs(deployments[name])[variable]
        assert ref["optional"] is False and ref["name"] == secret["metadata"]["name"], name
        assert ref["key"] in secret["stringData"], name
        assert secret["metadata"]["namespace"] == deployments[name]["metadata"]["namespace"]
    for name, deployment in deployments.items():
        env = {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert "CHALLENGER_GATEWAY_AUTH" not in env, name


def test_generated_keys_authenticate_and_only_their_digests_reach_the_gateway() -> None:
    from services.gateway.domain.auth import ApiKeys

    made = subprocess.run([sys.executable, "infra/gateway_keys.py", "--env", "team-a", "ci"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    plain = dict(line.split(": ", 1) for line in made.stderr.splitlines() if line.startswith(("team-a:", "ci:")))
    assert set(plain) == {"team-a", "ci"} and all(key not in made.stdout for key in plain.values())
    env = dict(line.split("=", 1) for line in made.stdout.splitlines())
    assert set(env) == {"CHALLENGER_GATEWAY_API_KEY_HASHES", "CHALLENGER_GATEWAY_API_KEY"}
    keys = ApiKeys.from_config("", env["CHALLENGER_GATEWAY_API_KEY_HASHES"])
    assert {keys.client(f"Bearer {key}") for key in plain.values()} == {"team-a", "ci"}
    assert keys.client(f"Bearer {env['CHALLENGER_GATEWAY_API_KEY']}") == "challenger-staging"  # the services' own


def test_grafana_is_provisioned_next_to_prometheus_from_current_dashboards() -> None:
    grafana = COMPOSE["services"]["grafana"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    assert mounts["./infra/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load((ROOT / "infra/grafana/provisioning/dashboards/challenger.yml").read_text())
    assert mounts["./infra/grafana/dashboards"] == provider["providers"][0]["options"]["path"]
    [source] = yaml.safe_load((ROOT / "infra/grafana/provisioning/datasources/prometheus.yml").read_text())[
        "datasources"]
    assert source["url"] == "http://prometheus:9090" and "prometheus" in COMPOSE["services"]
    for board in (ROOT / "infra/grafana/dashboards").glob("*.json"):
        for panel in json.loads(board.read_text())["panels"]:
            assert panel["datasource"]["uid"] == source["uid"], f"{board.name}: {panel['title']}"
    check = subprocess.run([sys.executable, "infra/grafana/render.py", "--check"], cwd=ROOT)
    assert check.returncode == 0, "run python infra/grafana/render.py"
