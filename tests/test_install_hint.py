"""Hints for a missing extra name a pip command that installs *this* copy of dllint."""

from __future__ import annotations

import json
import shlex

from dllint import install_hint

from conftest import REPO


def test_from_a_checkout_the_hint_installs_the_checkout():
    command = install_hint.install_command("lsp")
    assert command == f"pip install -e '{REPO}[lsp]'"
    target = shlex.split(command)[-1]
    assert (REPO / "pyproject.toml").is_file() and target.startswith(str(REPO))


def test_runtime_hint_names_the_cpu_wheel_route():
    assert install_hint.TORCH_CPU_INDEX in install_hint.install_command("runtime")


class FakeDistribution:
    def __init__(self, recorded):
        self.recorded = recorded

    def read_text(self, name):
        return json.dumps(self.recorded) if name == "direct_url.json" else None


def test_from_a_vcs_install_the_hint_pins_the_same_commit(monkeypatch):
    monkeypatch.setattr(install_hint, "_source_checkout", lambda: None)
    monkeypatch.setattr(install_hint.metadata, "distribution", lambda name: FakeDistribution(
        {"url": "https://github.com/acme/dllint", "vcs_info": {"vcs": "git", "commit_id": "abc123"}}))
    assert install_hint.install_command("plot") == \
        "pip install 'dllint[plot] @ git+https://github.com/acme/dllint@abc123'"


def test_from_a_local_wheel_or_path_the_hint_reuses_that_url(monkeypatch):
    monkeypatch.setattr(install_hint, "_source_checkout", lambda: None)
    monkeypatch.setattr(install_hint.metadata, "distribution", lambda name: FakeDistribution(
        {"url": "file:///src/dllint", "dir_info": {}}))
    assert install_hint.install_command("lsp") == "pip install 'dllint[lsp] @ file:///src/dllint'"
