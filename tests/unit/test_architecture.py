"""The floor plan holds: every service's domain is pure (no I/O library, directly or through
`shared`/`schemas`), and the service folders are alike. Read from the source (AST), so the
check needs no import and names the chain that breaks it."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("services", "shared", "schemas", "challenger")
IO_LIBRARIES = frozenset({
    "aiokafka", "kafka", "faust", "httpx", "aiohttp", "requests", "urllib3", "sqlalchemy", "sqlmodel", "alembic",
    "psycopg", "fastapi", "starlette", "uvicorn", "redis", "evidently", "opentelemetry", "prometheus_client",
    "subprocess", "socket", "sqlite3", "multiprocessing", "llama_cpp", "typer",
    "urllib.request", "http.client", "http.server",
})
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir()
                  if (p / "__main__.py").exists())


def module_path(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def imports_of(module: str) -> frozenset[str]:
    """Every module `module` imports at load time (TYPE_CHECKING blocks excluded)."""
    path = module_path(module)
    if path is None:
        return frozenset()
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, module, path.name == "__init__.py")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if module_path(f"{base}.{alias.name}"))
    return frozenset(found)


def io_chain(module: str) -> list[str] | None:
    """The import chain from `module` to an I/O library, or None when it reaches none."""
    seen: set[str] = set()
    stack: list[tuple[str, list[str]]] = [(module, [module])]
    while stack:
        current, chain = stack.pop()
        for imported in sorted(imports_of(current)):
            top = imported.split(".")[0]
            if top in IO_LIBRARIES or ".".join(imported.split(".")[:2]) in IO_LIBRARIES:
                return [*chain, imported]
            if top in OURS and imported not in seen:
                seen.add(imported)
                stack.append((imported, [*chain, imported]))
    return None


def domain_modules() -> list[str]:
    return sorted(".".join(p.relative_to(ROOT).with_suffix("").parts)
                  for p in (ROOT / "services").glob("*/domain/*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("module", domain_modules())
def test_domain_modules_import_no_io_library(module: str) -> None:
    chain = io_chain(module)
    assert chain is None, "a domain module reaches an I/O library: " + " -> ".join(chain or [])


@pytest.mark.parametrize("module", domain_modules())
def test_domain_modules_import_nothing_above_them(module: str) -> None:
    service = module.split(".")[1]
    above = [m for m in imports_of(module) if m.startswith(f"services.{service}.")
             and m.split(".")[2] in {"handlers", "adapters", "entrypoints", "bootstrap"}]
    assert not above, f"{module} imports {above}"


ROOT_ENTRIES = {"__init__.py", "__main__.py", "bootstrap.py", "config.py", "handlers.py", "handlers", "domain",
                "adapters", "entrypoints", "migrations"}
REQUIRED = ("bootstrap.py", "domain", "adapters", "entrypoints")


def _holds_python(path: Path) -> bool:
    return path.suffix == ".py" or (path.is_dir() and any(path.rglob("*.py")))


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_floor_plan(service: str) -> None:
    """entrypoints/ -> handlers -> domain/ (pure) -> adapters/, wired by bootstrap.py; nothing
    else at the root that holds code (data files such as a packaged policy may sit there)."""
    folder = ROOT / "services" / service
    assert all((folder / name).exists() for name in REQUIRED), f"{service} lacks one of {REQUIRED}"
    assert (folder / "handlers.py").exists() or (folder / "handlers").is_dir()
    stray = sorted(p.name for p in folder.iterdir()
                   if p.name not in ROOT_ENTRIES and p.name != "__pycache__" and _holds_python(p))
    assert not stray, f"services/{service} has code outside the floor plan: {stray}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_wired_by_the_kit(service: str) -> None:
    """One way to build and run a service: its bootstrap builds a kit Service; nothing uses the
    old string-keyed runtime."""
    source = (ROOT / "services" / service / "bootstrap.py").read_text()
    assert "def bootstrap(" in source and "(Service)" in source
    users = [str(p.relative_to(ROOT)) for p in (ROOT / "services").rglob("*.py") if "shared.runtime" in p.read_text()]
    assert not users, f"still on shared.runtime: {users}"
