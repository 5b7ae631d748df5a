"""benchmarks/scaling_corpus.py: points made of repositories, the linear fit, and one real run of
the benchmark on a tiny corpus (so the script keeps working; its figures are not checked)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("scaling_corpus",
                                               ROOT / "benchmarks" / "scaling_corpus.py")
scaling = importlib.util.module_from_spec(_spec)
sys.modules["scaling_corpus"] = scaling  # its dataclass looks its module up there
_spec.loader.exec_module(scaling)


def test_linear_fit_recovers_a_line_and_the_exponent_tells_a_curve():
    xs = [10.0, 20.0, 50.0, 100.0, 1000.0]
    slope, intercept, r_squared = scaling.linear_fit(xs, [0.2 * x + 3 for x in xs])
    assert slope == pytest.approx(0.2) and intercept == pytest.approx(3)
    assert r_squared == pytest.approx(1.0)
    assert scaling.growth_exponent(xs, [0.2 * x for x in xs]) == pytest.approx(1.0)
    # One large point makes R² of a quadratic look linear; the exponent does not.
    assert scaling.linear_fit(xs, [x * x for x in xs])[2] > 0.99
    assert scaling.growth_exponent(xs, [x * x for x in xs]) == pytest.approx(2.0)


def test_a_point_joins_repositories_and_copies_only_their_sources(tmp_path):
    corpus = tmp_path / "corpus"
    for name, body in (("a+one", "x = 1\n"), ("b+two", "y = 2\nz = 3\n")):
        (corpus / name / "pkg").mkdir(parents=True)
        (corpus / name / "pkg" / "m.py").write_text(body)
        (corpus / name / "notes.ipynb").write_text("{}\n")
    folder, files = scaling.assemble("a+one+b+two", corpus, tmp_path / "dest")
    assert [path.relative_to(folder).as_posix() for path in files] == \
        ["a+one/pkg/m.py", "b+two/pkg/m.py"]
    assert (folder / "pyproject.toml").read_text() == "[tool.dllint]\n"
    with pytest.raises(FileNotFoundError):
        scaling.repositories("a+one+c+three", corpus)


def test_the_benchmark_runs_and_prints_a_row_per_point_and_the_fit(tmp_path):
    corpus = tmp_path / "corpus"
    for name, copies in (("a+small", 1), ("b+large", 3)):
        (corpus / name).mkdir(parents=True)
        for index in range(copies):
            (corpus / name / f"m{index}.py").write_text(
                "import glob\nimages = glob.glob('*.png')\nmasks = sorted(glob.glob('*.m'))\n"
                "pairs = list(zip(images, masks))\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "scaling_corpus.py"), str(corpus),
         "--dest", str(tmp_path / "dest"), "--points", "a+small", "b+large", "--jobs", "1",
         "--markdown"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| point | files | lines | cold (s)")
    assert rows[1].startswith("| a/small | 1 | 4 |") and rows[2].startswith("| b/large | 3 | 12 |")
    # One DL001 finding per file, the same cold and warm.
    assert rows[1].endswith("| 1 |") and rows[2].endswith("| 3 |")
    assert "cold: " in result.stdout and "R² = 1.0000, time ~ lines^" in result.stdout
