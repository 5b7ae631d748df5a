"""A command whose extra is missing says which and how to install it (exit 2), before any work;
a missing module of dllint itself is a broken installation, not a missing extra (issue 26)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from click.testing import CliRunner

from dllint import extras
from dllint.cli import main
from dllint.install_hint import install_command


def test_a_missing_torch_is_the_missing_runtime_extra():
    message = extras.import_failure(ModuleNotFoundError("No module named 'torch'", name="torch"),
                                    "dllint trace", "runtime")
    assert message == (f"dllint trace needs torch (No module named 'torch'): "
                       f"{install_command('runtime')}")


def test_a_missing_module_of_dllint_is_a_broken_installation():
    error = ModuleNotFoundError("No module named 'dllint.runtime.distributed'",
                                name="dllint.runtime.distributed")
    message = extras.import_failure(error, "dllint trace", "runtime")
    assert message == ("this installation of dllint is incomplete (No module named "
                       "'dllint.runtime.distributed'); reinstall dllint")
    assert extras.is_broken_installation(error)
    assert extras.is_broken_installation(ModuleNotFoundError("", name="libcst._nodes"))


def test_an_installed_extra_that_does_not_import_is_not_called_missing():
    """torch too old for a name dllint imports, or a part of torch missing: installing torch
    again is not the answer."""
    too_old = ImportError("cannot import name 'register_module_forward_hook' from 'torch'",
                          name="torch")
    assert extras.import_failure(too_old, "dllint trace", "runtime") == (
        "dllint trace could not import torch: cannot import name "
        "'register_module_forward_hook' from 'torch'")
    part = ModuleNotFoundError("No module named 'torch.distributed'", name="torch.distributed")
    assert "needs torch" not in extras.import_failure(part, "dllint trace", "runtime")
    assert not extras.is_broken_installation(too_old)


def test_lsp_names_pygls_for_any_of_its_modules():
    for module in ("pygls", "lsprotocol"):
        message = extras.import_failure(
            ModuleNotFoundError(f"No module named '{module}'", name=module), "dllint lsp", "lsp")
        assert message.startswith(f"dllint lsp needs pygls (No module named '{module}'): pip ")


def test_trace_without_torch_says_so_in_one_line(tmp_path):
    """torch hidden from a real `dllint trace` process, as if it were not installed."""
    script = tmp_path / "train.py"
    script.write_text("print('ran')\n", encoding="utf-8")
    launcher = textwrap.dedent(f"""
        import sys

        class HideTorch:
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] == "torch":
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

        sys.meta_path.insert(0, HideTorch())
        from dllint.entry import main
        sys.argv = ["dllint", "trace", {str(script)!r}]
        main()
    """)
    result = subprocess.run([sys.executable, "-c", launcher], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 2, result.stderr
    assert result.stderr == (f"dllint: error: dllint trace needs torch (No module named "
                             f"'torch'): {install_command('runtime')}\n")
    assert "ran" not in result.stdout


def test_plot_without_matplotlib_stops_before_the_script_runs(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    script = tmp_path / "train.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n", encoding="utf-8")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what find_spec reads as not installed
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    result = CliRunner().invoke(main, ["trace", str(script), "--plot", str(tmp_path / "p.png")])
    assert result.exit_code == 2, result.output
    assert result.output == f"dllint: error: --plot needs matplotlib: {install_command('plot')}\n"
    assert not marker.exists()
