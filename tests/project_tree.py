"""A private copy of the project, for tests that run ``python -m analysis`` as a user would.

The command line finds every folder from the package's own location (``analysis/config.py``),
so a copy of the package with its notebooks and raw data is a project of its own: what its
commands write stays inside it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from analysis import config

COPIED = ("analysis", "notebooks", "data/raw", "benchmarks/results", "requirements.lock",
          "pyproject.toml")


def copy_project(target: Path) -> Path:
    """Copy the code, notebooks and inputs of the project (no outputs) into ``target``."""
    for relative in COPIED:
        source, destination = config.PROJECT_ROOT / relative, target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination,
                            ignore=shutil.ignore_patterns("__pycache__", "microdata"))
        else:
            shutil.copy2(source, destination)
    return target


def environment(tree: Path, **variables: str) -> dict[str, str]:
    """The environment of a command run in ``tree``: its kernels import the copy's package
    too (they start in ``notebooks/``, where ``python -m`` would not find it)."""
    return {**os.environ, "PYTHONPATH": str(tree), **variables}


def command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "analysis", *arguments]


def run(tree: Path, *arguments: str, timeout: float = 300, **variables: str):
    """Run ``python -m analysis <arguments>`` in ``tree`` and wait for it."""
    return subprocess.run(command(*arguments), cwd=tree, env=environment(tree, **variables),
                          capture_output=True, text=True, timeout=timeout)
