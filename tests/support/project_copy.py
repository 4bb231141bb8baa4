"""Throwaway copies of the project, for tests that change code and run the real tools on it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from .processes import BIN, ROOT, project_env

IGNORED = shutil.ignore_patterns(
    ".venv", "var", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".import_linter_cache", "*.egg-info",
    "*.sqlite3", "build",
)


def copy_project(destination: Path) -> Path:
    """Copy the project's sources (no virtualenv, no data, no git) into ``destination``."""
    shutil.copytree(ROOT, destination, ignore=IGNORED, symlinks=True)  # keeps .importlinter -> importlinter.ini
    return destination


def copy_env(project: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for tools run in a copy: its own packages, its SQLite files beside it."""
    return project_env(
        {
            "SEAMS_VAR_DIR": str(project.parent / "var"),
            "PYTHONDONTWRITEBYTECODE": "1",  # no stale .pyc when a file is rewritten within the same second
            "COLUMNS": "300",  # import-linter wraps its report to the terminal width; keep chains on one line
            **(extra or {}),
        },
        cwd=project,
    )


def run_tool(name: str, args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a console script of this virtualenv (``lint-imports``) or ``manage.py`` in a copy."""
    command = [sys.executable, "manage.py", *args] if name == "manage.py" else [str(BIN / name), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


_TITLED_BLOCK = re.compile(r'```python title="(?P<path>[^"]+)"\n(?P<code>.*?)```', re.S)


def titled_code_blocks(markdown: str) -> dict[str, str]:
    """The ```python title="path"``` blocks of a document, by path, in order."""
    return {m["path"]: m["code"] for m in _TITLED_BLOCK.finditer(markdown)}
