"""The stack's plan: ports from env, start order, the env each child gets. No process starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from challenger.stack import launcher
from challenger.stack.launcher import StackConfig, phases
from challenger.stack.parts import duplicate_ports, ports
from challenger.stack.services import stack_env
from shared.ports import DEFAULT_PORTS, port_of
from shared.process import ProcessError

HOME = Path("/tmp/challenger-plan")


def test_ports_default_and_move_with_challenger_part_port() -> None:
    env = {"CHALLENGER_PROMPT_OPTIMIZER_PORT": "9103"}

    assert port_of("prompt_optimizer", env) == 9103
    assert port_of("registry", env) == DEFAULT_PORTS["registry"] == 8000


@pytest.mark.parametrize(("raw", "says"), [("x", "is not a port number"), ("70000", "outside 1..65535")])
def test_a_bad_port_variable_is_named(raw: str, says: str) -> None:
    with pytest.raises(ProcessError, match=f"CHALLENGER_BROKER_PORT.*{says}"):
        ports({"CHALLENGER_BROKER_PORT": raw})


def test_two_parts_on_one_port_are_both_named() -> None:
    assert duplicate_ports({"broker": 1, "registry": 1, "gateway": 2}) == ["port 1 is given to broker and registry"]


def test_phases_start_the_broker_then_models_and_registry_then_the_rest() -> None:
    cfg = StackConfig(HOME, dict(DEFAULT_PORTS), None, models=(),
                      services=("gateway", "registry", "monitor"))

    names = [[p.name for p in phase] for phase in phases(cfg)]

    assert names == [["broker"], ["registry"], ["gateway", "monitor"]]


def test_without_models_no_model_port_is_claimed() -> None:
    cfg = StackConfig.from_env(HOME, with_models=False, environ={})

    assert "smollm2" not in cfg.used_ports() and cfg.used_ports()["broker"] == 19092


def test_children_find_each_other_and_keep_their_own_database_by_default() -> None:
    ports = dict(DEFAULT_PORTS) | {"broker": 1234}

    env = stack_env(HOME, ports, None)

    assert env["CHALLENGER_KAFKA_BOOTSTRAP"] == "127.0.0.1:1234"
    assert env["CHALLENGER_REGISTRY_PORT"] == "8000" and env["CHALLENGER_HOME"] == str(HOME)
    assert env["CHALLENGER_SMOLLM2_URL"] == "http://127.0.0.1:8301/v1"
    assert "DATABASE_URL" not in env
    assert stack_env(HOME, ports, "postgresql://db/x")["DATABASE_URL"] == "postgresql://db/x"


def test_a_service_listens_where_the_plan_says() -> None:
    cfg = StackConfig(HOME, dict(DEFAULT_PORTS) | {"monitor": 4321}, None, models=(), services=("monitor",))

    [monitor] = phases(cfg)[2]

    assert monitor.env["PORT"] == "4321" and monitor.health_url == "http://127.0.0.1:4321/health"
    assert monitor.argv[1:] == ["-m", "services.monitor"]


def test_the_demo_stack_runs_its_gateway_without_keys_unless_the_operator_gives_some() -> None:
    ports = dict(DEFAULT_PORTS)

    assert stack_env(HOME, ports, None, environ={})["CHALLENGER_GATEWAY_AUTH"] == "off"
    given = stack_env(HOME, ports, None, environ={"CHALLENGER_GATEWAY_API_KEYS": "me:sk-1"})
    assert "CHALLENGER_GATEWAY_AUTH" not in given
    assert "CHALLENGER_GATEWAY_AUTH" not in stack_env(HOME, ports, None, environ={"CHALLENGER_GATEWAY_AUTH": "on"})


def test_up_says_when_the_demo_gateway_runs_without_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    notes: list[str] = []

    class Notes(launcher.Quiet):
        def note(self, message: str) -> None:
            notes.append(message)

    monkeypatch.setattr(launcher, "preflight", lambda cfg: None)
    monkeypatch.setattr(launcher, "phases", lambda cfg: [])  # nothing starts
    for name in ("CHALLENGER_GATEWAY_API_KEYS", "CHALLENGER_GATEWAY_API_KEY_HASHES", "CHALLENGER_GATEWAY_AUTH"):
        monkeypatch.delenv(name, raising=False)
    cfg = StackConfig(tmp_path, dict(DEFAULT_PORTS), None, models=(), services=("gateway",))

    launcher.up(cfg, Notes())
    monkeypatch.setenv("CHALLENGER_GATEWAY_API_KEYS", "me:sk-1")
    launcher.up(cfg, Notes())

    assert len(notes) == 1 and "authentication is OFF" in notes[0] and "CHALLENGER_GATEWAY_API_KEYS" in notes[0]
