"""The structs, the retry policy, the SSE parser and the protocols import no HTTP library, so
a domain module that builds requests stays pure (issue 17: domain imports no I/O)."""

import subprocess
import sys

import pytest

IO_LIBRARIES = ("aiohttp", "httpx", "requests", "urllib3")
PURE = ["shared.engines", "shared.engines.types", "shared.engines.retry", "shared.engines.sse",
        "shared.engines.openai", "shared.engines.sglang", "shared.scoring.prompting", "shared.scoring.judge",
        "services.evaluator.domain.plan"]


@pytest.mark.parametrize("module", PURE)
def test_importing_pulls_no_http_library(module):
    probe = f"import sys, {module}; print(' '.join(m for m in {IO_LIBRARIES!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_client_names_still_come_from_the_package():
    from shared.engines import EngineClient, client_for
    from shared.engines.client import EngineClient as Direct

    assert EngineClient is Direct and client_for("sglang", "http://h:1/v1", "m").base_url == "http://h:1"
