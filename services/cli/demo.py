"""`challenger demo`: start the stack, then submit the demo candidates through the registry API:
SmolLM2 (instruct) as the champion of a built-in task and Gemma-3 (base) as its challenger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import typer
from rich.console import Console

from schemas.candidate import CandidateSpec, Decoding
from services.cli.admin_token import read_admin_token
from shared.settings import Settings
from shared.stack.parts import ports
from shared.stack.state import read_state, running_parts

DEMO_TASK = "capitals"
console = Console()


def demo_specs(ports: dict[str, int]) -> tuple[CandidateSpec, CandidateSpec]:
    """(champion, challenger) against the stack's own llama.cpp servers."""
    decoding = Decoding(temperature=0.0, max_tokens=32, seed=7)
    champion = CandidateSpec(name="smollm2-135m-instruct", model="smollm2", version="0.1.2", task=DEMO_TASK,
                             engine="llamacpp", endpoint=f"http://127.0.0.1:{ports['smollm2']}/v1",
                             quantization="Q4_1", decoding=decoding, tags={"demo": "champion"})
    challenger = CandidateSpec(name="gemma-3-270m", model="gemma3", version="1.0.0", task=DEMO_TASK,
                               engine="llamacpp", endpoint=f"http://127.0.0.1:{ports['gemma3']}/v1",
                               quantization="Q4_K_M", decoding=decoding, tags={"demo": "challenger"})
    return champion, challenger


def submit(api: httpx.Client, spec: CandidateSpec) -> dict[str, Any]:
    """Submit once: a candidate with the same demo name on the task is reused."""
    existing = api.get("/api/v1/candidates", params={"task": spec.task, "tag": "demo"})
    existing.raise_for_status()
    for candidate in existing.json():
        if candidate["name"] == spec.name:
            return dict(candidate)
    response = api.post("/api/v1/candidates", json=spec.model_dump(mode="json", exclude_none=True))
    _check(response, f"submitting {spec.name}")
    return dict(response.json())


def crown(api: httpx.Client, task: str, candidate_id: str) -> None:
    _check(api.put(f"/api/v1/tasks/{task}/champion", json={"candidate_id": candidate_id}),
           f"making {candidate_id} the champion of {task}")


def _check(response: httpx.Response, doing: str) -> None:
    if response.is_error:
        console.print(f"[red]✗ {doing}: HTTP {response.status_code}: {response.text[:500]}[/]")
        raise typer.Exit(1)


def run_demo(assigned: dict[str, int]) -> list[dict[str, Any]]:
    registry = f"http://127.0.0.1:{assigned['registry']}"
    token = read_admin_token(Settings().home.resolve())
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    champion_spec, challenger_spec = demo_specs(assigned)
    with httpx.Client(base_url=registry, headers=headers, timeout=30) as api:
        champion = submit(api, champion_spec)
        crown(api, DEMO_TASK, champion["id"])
        challenger = submit(api, challenger_spec)
    _report(registry, champion, challenger)
    return [champion, challenger]


def _report(registry: str, champion: dict[str, Any], challenger: dict[str, Any]) -> None:
    console.print(f"\n[bold]demo[/] on task [bold]{DEMO_TASK}[/]:")
    for role, c in (("champion", champion), ("challenger", challenger)):
        console.print(f"  {role:<10} {c['name']:<24} id={c['id']} stage={c['stage']}")
        console.print(f"             scorecard: {registry}/api/v1/candidates/{c['id']}/scorecard", soft_wrap=True)
    console.print(f"registry API docs: {registry}/docs")
    console.print(f"follow the challenger live: challenger watch --candidate {challenger['id']} --from-beginning",
                  soft_wrap=True)


def running_stack() -> dict[str, Any] | None:
    home = Settings().home.resolve()
    if not running_parts(home):
        return None
    console.print(f"using the stack already running from {home}")
    return read_state(home)


def register(app: typer.Typer, start_stack: Callable[[bool], dict[str, Any]], no_models_option: Any) -> None:
    @app.command("demo")
    def demo(no_models: bool = no_models_option) -> None:
        """Start the stack (or use the running one) and submit the demo champion (SmolLM2) and challenger (Gemma-3)."""
        state = running_stack() or start_stack(not no_models)
        if not any(p["name"] == "registry" for p in state["parts"]):
            console.print("[yellow]the registry is not built yet: nothing to submit[/]")
            raise typer.Exit(1)
        run_demo(ports())
