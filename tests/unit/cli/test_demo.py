"""The demo's candidates and configuration: valid specs against the stack's own model servers,
and a policy and monitor config that the services accept."""

from pathlib import Path

from services.cli.iteration import TASK, specs, write_demo_configs
from services.deployer.domain.policy import Policy
from services.monitor.config import load_config
from shared.datasets import BUILTIN_TASKS


def test_demo_candidates_point_at_the_stack_model_servers() -> None:
    champion, challenger = specs({"smollm2": 18301, "gemma3": 18302})
    assert TASK in BUILTIN_TASKS and champion.task == challenger.task == TASK
    assert str(champion.endpoint).startswith("http://127.0.0.1:18301")
    assert str(challenger.endpoint).startswith("http://127.0.0.1:18302")
    assert (champion.model, challenger.model) == ("smollm2", "gemma3")


def test_demo_configs_are_valid_for_the_deployer_and_the_monitor(tmp_path: Path) -> None:
    import yaml

    env = write_demo_configs(tmp_path)
    policy = Policy.model_validate(yaml.safe_load(Path(env["CHALLENGER_DEPLOYER_POLICY"]).read_text()))
    assert policy.for_task(TASK).workload.eval_max_items == 40
    assert load_config(Path(env["CHALLENGER_MONITOR_CONFIG"])).window_size == 20
