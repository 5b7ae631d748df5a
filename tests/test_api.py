"""The Python API returns the same Diagnostic objects the reports are made from."""

from __future__ import annotations

import os
import sys

import dllint
from dllint import Diagnostic, lint_paths, lint_source

sys.path.insert(0, os.path.dirname(__file__))
from helpers import CLEAN, PAIRED_LISTINGS  # noqa: E402


def test_lint_source():
    diagnostics = lint_source(PAIRED_LISTINGS, "model/data.py")
    assert [(d.code, d.path, d.line, d.column) for d in diagnostics] == [
        ("DL001", "model/data.py", 2, 10)]
    assert isinstance(diagnostics[0], Diagnostic)
    assert diagnostics[0].related[0].span.start_line == 4
    assert lint_source(CLEAN) == []
    assert lint_source(PAIRED_LISTINGS, select=["DL9"]) == []


def test_lint_paths_walks_directories(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text(PAIRED_LISTINGS)
    (tmp_path / "pkg" / "b.pyi").write_text(PAIRED_LISTINGS)
    (tmp_path / "pkg" / "notes.txt").write_text(PAIRED_LISTINGS)
    found = lint_paths([tmp_path])
    assert sorted(os.path.basename(d.path) for d in found) == ["a.py", "b.pyi"]


def test_static_analysis_never_imports_or_runs_the_code(tmp_path):
    marker = tmp_path / "executed"
    (tmp_path / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nimport glob\n"
        "a = glob.glob('x')\nb = glob.glob('y')\nzip(a, b)\n")
    assert [d.code for d in lint_paths([tmp_path])] == ["DL001", "DL001"]
    assert not marker.exists()
    assert "evil" not in sys.modules


def test_package_exports():
    assert set(dllint.__all__) >= {"lint_source", "lint_paths", "Diagnostic", "__version__"}


def test_match_statements_with_imports_inside_cases():
    source = (
        "match backend:\n"
        "    case 'glob':\n"
        "        from glob import glob as find\n"
        "    case _:\n"
        "        import os\n"
        "a = find('x')\nb = find('y')\nprint(list(zip(a, b)))\n"
    )
    assert [d.code for d in lint_source(source)] == ["DL001", "DL001"]


def test_a_crash_in_the_semantic_layer_is_one_diagnostic(monkeypatch):
    from dllint.semantic import imports

    def broken(module):
        raise AttributeError("simulated bug")

    monkeypatch.setattr(imports.ImportMap, "from_module", staticmethod(broken))
    assert [(d.code, "simulated bug" in d.message) for d in lint_source(PAIRED_LISTINGS)] == [
        ("DL999", True)]
