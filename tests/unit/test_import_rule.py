"""The import rule: ``puhui.domain`` imports only the standard library and itself.

Checked twice — by an AST scan here and by import-linter's contracts (``make lint``) — and
both checks are shown to fail on a temporary copy of the source with a planted violation.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
FORBIDDEN = ("sqlalchemy", "fastapi", "starlette", "typer", "pydantic", "alembic", "httpx")


def domain_violations(src: Path) -> list[str]:
    """Every import in ``puhui/domain`` that is neither stdlib nor ``puhui.domain``."""
    problems = []
    for path in sorted((src / "puhui" / "domain").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                allowed = top in sys.stdlib_module_names or name.startswith("puhui.domain")
                if not allowed:
                    problems.append(f"{path.relative_to(src)}:{node.lineno} imports {name}")
    return problems


def test_domain_imports_only_stdlib_and_itself() -> None:
    assert domain_violations(SRC) == []


@pytest.fixture
def planted_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "src"
    shutil.copytree(SRC / "puhui", copy / "puhui", ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "puhui" / "domain" / "planted.py").write_text(
        "from puhui.adapters.db import tables\n\nTABLES = tables\n", encoding="utf-8"
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_scan_fails_on_a_planted_adapter_import(planted_copy: Path) -> None:
    problems = domain_violations(planted_copy / "src")
    assert problems == ["puhui/domain/planted.py:1 imports puhui.adapters.db"]


@pytest.mark.parametrize("module", FORBIDDEN[:3])
def test_the_scan_fails_on_framework_imports(planted_copy: Path, module: str) -> None:
    target = planted_copy / "src" / "puhui" / "domain" / "planted.py"
    target.write_text(f"import {module}\n", encoding="utf-8")
    assert domain_violations(planted_copy / "src") == [
        f"puhui/domain/planted.py:1 imports {module}"
    ]


def test_import_linter_breaks_its_contract_on_the_planted_copy(planted_copy: Path) -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    env = {"PYTHONPATH": str(planted_copy / "src"), "PATH": str(lint.parent)}
    broken = subprocess.run(
        [str(lint), "--no-cache"],
        cwd=planted_copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert broken.returncode != 0
    assert "The domain is pure" in broken.stdout and "BROKEN" in broken.stdout
    assert "puhui.domain.planted -> puhui.adapters" in broken.stdout
    (planted_copy / "src" / "puhui" / "domain" / "planted.py").unlink()
    kept = subprocess.run(
        [str(lint), "--no-cache"],
        cwd=planted_copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert kept.returncode == 0, kept.stdout
