"""What ships: the wheel and the Docker image carry the product, never a test fake.

The package list is the one setuptools builds the wheel from (pyproject's
`[tool.setuptools.packages.find]`, expanded by setuptools itself), so a fake server moved back
under a shipped package, or `tests` matched by the include patterns, fails here."""

from __future__ import annotations

import ast
import re
import warnings
from functools import cache
from pathlib import Path

from setuptools.config.pyprojecttoml import read_configuration

ROOT = Path(__file__).resolve().parents[3]
TEST_ONLY = re.compile(r"fake|scripted|(^|[._])tests?($|[._])")


@cache
def shipped_packages() -> list[str]:
    with warnings.catch_warnings():  # setuptools calls [tool.setuptools] "beta"; the wheel build uses it anyway
        warnings.simplefilter("ignore")
        config = read_configuration(ROOT / "pyproject.toml", expand=True)
    return sorted(config["tool"]["setuptools"]["packages"])


def shipped_modules() -> list[str]:
    """Every module the wheel holds, dotted (`shared.process`, `challenger.stack.launcher`)."""
    modules = []
    for package in shipped_packages():
        folder = ROOT / package.replace(".", "/")
        modules += [f"{package}.{path.stem}" for path in sorted(folder.glob("*.py"))]
    return modules


def test_the_wheel_ships_the_product_packages() -> None:
    packages = shipped_packages()
    assert {"challenger.client", "challenger.stack", "schemas", "shared", "services.cli"} <= set(packages)
    assert "challenger.stack.launcher" in shipped_modules()
    assert "shared.process" in shipped_modules()


def test_the_wheel_ships_no_fake_server_and_no_tests() -> None:
    assert not [p for p in shipped_packages() if p.split(".")[0] in {"tests", "benchmarks"}]
    assert not [m for m in shipped_modules() if TEST_ONLY.search(m)]
    # the pattern itself catches what it is for
    assert all(TEST_ONLY.search(m) for m in ("shared.fakes.scripted_llm", "tests.support.x", "services.x.test_y"))
    assert not TEST_ONLY.search("services.loadtester.generator")


def test_every_data_file_of_a_shipped_package_ships() -> None:
    """The dashboard's app.js and style.css were left out of the wheel once: package-data named
    neither. Every non-Python file in a shipped package must match a package-data pattern."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        config = read_configuration(ROOT / "pyproject.toml", expand=True)
    patterns = config["tool"]["setuptools"]["package-data"][""]  # "*" (every package), as setuptools expands it
    missing = [str(path.relative_to(ROOT)) for package in shipped_packages()
               for path in sorted((ROOT / package.replace(".", "/")).iterdir())
               if path.is_file() and path.suffix not in {".py", ".pyc"} and not any(path.match(p) for p in patterns)]
    assert not missing, f"not in the wheel: {missing}"


def test_the_image_copies_exactly_the_shipped_packages() -> None:
    """`pip install .` in the image builds from what was copied: a shipped package left out breaks
    the services that import it (the monitor imports challenger.client); tests must stay out."""
    dockerfile = (ROOT / "infra/docker/Dockerfile").read_text()
    copied = {line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ")}
    top_level = {p.split(".")[0] for p in shipped_packages()}
    assert top_level <= copied, f"the image misses {top_level - copied}"
    assert not copied & {"tests", "benchmarks", "."}


def test_no_service_imports_the_embedded_stack() -> None:
    """The stack is the CLI's (`challenger up`); services and the runtime library run without it."""
    offenders = []
    for path in [*ROOT.glob("services/**/*.py"), *ROOT.glob("shared/**/*.py")]:
        if path.is_relative_to(ROOT / "services/cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.startswith("challenger.stack")]
    assert offenders == []
