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


# The fast tier (`pytest -m "not slow"`, for development) leaves out these modules: each runs
# torch training scripts, starts language servers or subprocesses by the dozen, or generates
# large inputs. The full suite (`pytest`, which `.ci/run` runs) includes them. A single slow
# test elsewhere is marked `@pytest.mark.slow` where it is defined.
SLOW_MODULES = frozenset({
    "test_runtime", "test_trace_distributed", "test_trace_exits", "test_trace_real",
    "test_trace_report", "test_trace_restore", "test_overfit", "test_distributed_store",
    "test_lsp", "test_lsp_robustness", "test_lsp_stream", "test_lsp_workspace",
    "test_fuzz", "test_linear_time", "test_scaling_corpus", "test_corpus", "test_cold_work",
    "test_workers", "test_readme", "test_pre_commit", "test_file_budget", "test_entry_points",
    "test_planted_forms", "test_progress",
})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.stem in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True, scope="session")
def _no_silent_exit_of_the_test_session():
    """`os._exit` in the test process itself (dllint trace ends its process that way when a
    script leaves workers running, e.g. torch.compile's) would end the whole session with status
    0 and no summary, so CI would pass on a truncated run. In the session's own process it raises
    instead; in a process a test forked it exits as usual."""
    session = os.getpid()
    real_exit = os._exit

    def guarded_exit(status: int) -> None:
        if os.getpid() == session:
            raise RuntimeError(f"os._exit({status}) in the test process: it would end the test "
                               "session silently; run that code in a subprocess")
        real_exit(status)

    os._exit = guarded_exit
    yield
    os._exit = real_exit
