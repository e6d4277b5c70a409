"""SGLang targets: the launch command and Kubernetes manifest rendered from a candidate's
LaunchSpec, a local process where sglang is installed, and the /health check that must
pass before any route points at it."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import shlex
import sys
from pathlib import Path
from string import Template

import httpx
import yaml

from schemas.candidate import CandidateSpec, Engine, LaunchSpec
from shared.process import Proc, http_ok, stop_pid_file

TEMPLATES = Path(__file__).resolve().parents[3] / "infra" / "sglang"
DEFAULT_IMAGE = "lmsysorg/sglang:v0.5.4-cu126"


class SglangUnavailable(RuntimeError):
    """sglang cannot run here; the message says what to do instead."""


class NotServing(RuntimeError):
    """A target did not pass its health check, so no route may point at it."""


def _launch(spec: CandidateSpec) -> LaunchSpec:
    if spec.engine != Engine.sglang or spec.launch is None:
        raise ValueError(f"candidate {spec.name!r} has no SGLang launch spec (engine={spec.engine})")
    return spec.launch


def launch_argv(spec: CandidateSpec, *, python: str = sys.executable, host: str = "0.0.0.0") -> list[str]:
    launch = _launch(spec)
    argv = [python, "-m", "sglang.launch_server", "--model-path", launch.model_path, "--host", host,
            "--port", str(launch.port), "--tp", str(launch.tp), "--served-model-name", spec.model]
    if spec.quantization:
        argv += ["--quantization", spec.quantization]
    if launch.mem_fraction_static is not None:
        argv += ["--mem-fraction-static", f"{launch.mem_fraction_static:g}"]
    return argv + list(launch.extra_args)


def launch_command(spec: CandidateSpec) -> str:
    return shlex.join(launch_argv(spec, python="python"))


def k8s_name(candidate_id: str) -> str:
    """A DNS-1123 label for the candidate (lowercase, [a-z0-9-], at most 63 chars)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", candidate_id.lower()).strip("-")
    return ("sglang-" + slug)[:63].rstrip("-")


def render_manifest(spec: CandidateSpec, candidate_id: str, *, image: str = DEFAULT_IMAGE,
                    namespace: str = "challenger", replicas: int = 1) -> str:
    """Deployment + Service YAML with /health startup, readiness and liveness probes."""
    launch = _launch(spec)
    text = Template((TEMPLATES / "deployment.yaml.tmpl").read_text()).substitute(
        name=k8s_name(candidate_id), namespace=namespace, candidate_id=candidate_id, image=image,
        replicas=replicas, port=launch.port, gpus=launch.tp,
        command=json.dumps(launch_argv(spec, python="python3")))
    docs = [d for d in yaml.safe_load_all(text) if d]
    kinds = sorted(d["kind"] for d in docs)
    if kinds != ["Deployment", "Service"]:
        raise ValueError(f"template rendered {kinds}, expected a Deployment and a Service")
    return text


def sglang_installed() -> bool:
    return importlib.util.find_spec("sglang") is not None


def local_url(spec: CandidateSpec) -> str:
    return f"http://127.0.0.1:{_launch(spec).port}"


def local_proc(spec: CandidateSpec, candidate_id: str, home: Path) -> Proc:
    url = local_url(spec)
    return Proc(name=k8s_name(candidate_id), argv=launch_argv(spec, host="127.0.0.1"), port=_launch(spec).port,
                home=home, health=lambda: http_ok(f"{url}/health"), start_timeout=900.0)


def start_local(spec: CandidateSpec, candidate_id: str, home: Path) -> Proc:
    """Start SGLang as a local process and wait for /health; clear error where it cannot run."""
    if not sglang_installed():
        raise SglangUnavailable(
            f"sglang is not installed in {sys.executable}; it needs a CUDA GPU host "
            f"(pip install 'sglang[all]'), or run the rendered manifest: challenger sglang manifest")
    proc = local_proc(spec, candidate_id, home)
    proc.start()
    proc.wait_healthy()
    return proc


def stop_local(candidate_id: str, home: Path) -> bool:
    return stop_pid_file(home / "run" / f"{k8s_name(candidate_id)}.pid")


async def healthy(base_url: str, timeout_s: float = 3.0) -> bool:
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            return (await client.get(f"{base_url.rstrip('/')}/health")).status_code == 200
    except httpx.HTTPError:
        return False


async def ensure_serving(spec: CandidateSpec, candidate_id: str, home: Path) -> None:
    """For SGLang targets: /health must answer 200 before routing; start a launch spec locally
    when nothing answers. Other engines are left to the gateway's fallback chain."""
    if spec.engine != Engine.sglang:
        return
    url = str(spec.endpoint).rstrip("/") if spec.endpoint else local_url(spec)
    if await healthy(url):
        return
    if spec.launch is None:
        raise NotServing(f"{url}/health did not answer 200; not routing to {candidate_id}")
    await asyncio.to_thread(start_local, spec, candidate_id, home)
