from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dllint.api import settings_for
from dllint.config import FileConfig, build_settings

REPO = Path(__file__).resolve().parent.parent
TEST_DATA = REPO / "tests" / "data"


@pytest.fixture
def run_cli(tmp_path):
    """Run the real `dllint` command in a subprocess, as a user or CI would."""

    def run(*args: str, cwd: Path | None = None, stdin: bytes | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        environment = {**os.environ, "NO_COLOR": "1", **(env or {})}
        environment.pop("DLLINT_FORMAT", None) if "DLLINT_FORMAT" not in (env or {}) else None
        return subprocess.run([sys.executable, "-m", "dllint", *args], cwd=cwd or tmp_path,
                              input=stdin, capture_output=True, env=environment, timeout=120)

    return run


def isolated_settings(root: Path, **options):
    return build_settings(FileConfig(root=root), **options)


__all__ = ["REPO", "TEST_DATA", "isolated_settings", "settings_for"]
