"""Lint time and peak memory against the size of real trees, cold and warm, with a linear fit.

    python benchmarks/scaling_corpus.py CORPUS --dest FOLDER [--points NAME[+NAME...] ...]
        [--jobs N] [--parse] [--markdown]

CORPUS is a folder of exported repositories, one folder each (`benchmarks/corpus.py export`
writes them). Each point is one repository, or several joined with `+` (the large points: real
trees of a million lines are rare), copied with their `.py` and `.pyi` files only (notebooks'
JSON lines would not be lines of code) into DEST/<point>/, beside an empty `[tool.dllint]`
configuration so every point is linted with the defaults. Without --points, the default points
below are used (those not in CORPUS are skipped).

Per point, `dllint` runs as a child process: cold (an empty cache, which the run fills, as a
first run does) and then warm (the same command again, everything from the cache). Peak memory
is the largest resident set of the run's processes (`os.wait4`'s `ru_maxrss` covers the child
and the workers it waited for). With --parse, a child process also parses every file with
libcst, the floor any libcst linter pays, and the cold/parse ratio is printed. Then a least-
squares fit of time against lines: slope (seconds per 1,000 lines), intercept and R², and the
exponent k of time ~ lines^k (log-log fit), for cold and warm. A linear tool has k near 1 and
its time per 1,000 lines flat across the points.

The machines here are shared: run it when the machine is quiet, and compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# From about 10,000 to about 1,100,000 lines in the corpus of issue 23 (benchmarks/corpus/).
DEFAULT_POINTS = (
    "google-deepmind+rlax",
    "lucidrains+vit-pytorch",
    "patrick-kidger+equinox",
    "EleutherAI+gpt-neox",
    "google-research+t5x",
    "facebookresearch+detectron2",
    "keras-team+keras-cv",
    "huggingface+pytorch-image-models",
    "google-research+scenic",
    "keras-team+tf-keras",
    "keras-team+tf-keras+AI-Hypercomputer+maxtext",
    "microsoft+LoRA+keras-team+tf-keras+AI-Hypercomputer+maxtext+keras-team+keras-hub",
)
SOURCE_SUFFIXES = (".py", ".pyi")


@dataclass
class Measurement:
    point: str
    files: int
    lines: int
    cold: float
    warm: float
    peak_mb: float
    findings_cold: int
    findings_warm: int
    parse: float | None = None


def repositories(point: str, corpus: Path) -> list[Path]:
    """The repository folders of a point: `a+b+c+d` is `a+b` and `c+d` when those folders exist
    (a repository's folder is named owner+name)."""
    parts = point.split("+")
    if len(parts) % 2:
        raise SystemExit(f"point {point!r}: expected owner+name[+owner+name...]")
    folders = [corpus / f"{parts[i]}+{parts[i + 1]}" for i in range(0, len(parts), 2)]
    missing = [str(folder) for folder in folders if not folder.is_dir()]
    if missing:
        raise FileNotFoundError(", ".join(missing))
    return folders


def assemble(point: str, corpus: Path, dest: Path) -> tuple[Path, list[Path]]:
    """Copy the point's source files into DEST/<point>/ (once); returns the folder and files."""
    folder = dest / point
    marker = folder / ".assembled"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        for repository in repositories(point, corpus):
            for source in sorted(repository.rglob("*")):
                if source.suffix in SOURCE_SUFFIXES and source.is_file() \
                        and not source.is_symlink():
                    target = folder / repository.name / source.relative_to(repository)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, target)
        (folder / "pyproject.toml").write_text("[tool.dllint]\n")
        marker.write_text("")
    files = sorted(path for path in folder.rglob("*")
                   if path.suffix in SOURCE_SUFFIXES and path.is_file())
    return folder, files


def timed_child(command: list[str], cwd: Path) -> tuple[float, int, str]:
    """Wall time, peak resident set (KiB) of the child and the processes it waited for, stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)  # not Popen.wait: it gives no rusage
        elapsed = time.perf_counter() - started
        child.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code not in (0, 1):  # 1: findings
            raise RuntimeError(f"{' '.join(command)} exited {code}: "
                               f"{err.read().decode(errors='replace')[-2000:]}")
        return elapsed, usage.ru_maxrss, out.read().decode(errors="replace")


PARSE_EVERY_FILE = """
import sys, libcst
for path in sys.argv[1:]:
    try:
        libcst.parse_module(open(path, "rb").read())
    except (libcst.ParserSyntaxError, RecursionError):
        pass
"""


def measure(point: str, corpus: Path, dest: Path, jobs: int, parse: bool) -> Measurement:
    folder, files = assemble(point, corpus, dest)
    lines = sum(path.read_bytes().count(b"\n") for path in files)
    shutil.rmtree(folder / ".dllint_cache", ignore_errors=True)
    command = [sys.executable, "-m", "dllint", "check", ".", "--jobs", str(jobs),
               "--format", "json", "--exit-zero"]
    cold, cold_peak, cold_out = timed_child(command, folder)
    warm, warm_peak, warm_out = timed_child(command, folder)
    parse_time = None
    if parse:
        parse_time, _, _ = timed_child([sys.executable, "-c", PARSE_EVERY_FILE,
                                        *map(str, files)], folder)
    return Measurement(point, len(files), lines, cold, warm, max(cold_peak, warm_peak) / 1024,
                       cold_out.count('"code":'), warm_out.count('"code":'), parse_time)


def linear_fit(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least squares y = slope * x + intercept; returns slope, intercept and R²."""
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
    slope = sxy / sxx if sxx else 0.0
    intercept = mean_y - slope * mean_x
    total = sum((y - mean_y) ** 2 for y in ys)
    residual = sum((y - (slope * x + intercept)) ** 2 for x, y in zip(xs, ys))
    return slope, intercept, 1.0 - residual / total if total else 1.0


def growth_exponent(xs: list[float], ys: list[float]) -> float:
    """k in y ~ x^k, the slope of the log-log least-squares fit: 1 for linear work, 2 for
    quadratic. R² alone hides a curve when one large point dominates the fit; this does not.
    (The start-up time, the same at every point, pulls k a little below 1.)"""
    return linear_fit([math.log(x) for x in xs], [math.log(y) for y in ys])[0]


def table(rows: list[Measurement], markdown: bool) -> str:
    with_parse = any(row.parse is not None for row in rows)
    header = ["point", "files", "lines", "cold (s)", "cold s/kLOC", "warm (s)", "peak MB",
              "findings"]
    if with_parse:
        header += ["parse (s)", "cold/parse"]
    body = []
    for row in rows:
        cells = [row.point.replace("+", "/", 1) if row.point.count("+") == 1 else
                 " + ".join(f"{a}/{b}" for a, b in zip(*[iter(row.point.split("+"))] * 2)),
                 f"{row.files:,}", f"{row.lines:,}", f"{row.cold:.1f}",
                 f"{row.cold / row.lines * 1000:.3f}", f"{row.warm:.2f}", f"{row.peak_mb:.0f}",
                 str(row.findings_cold) if row.findings_cold == row.findings_warm
                 else f"{row.findings_cold} cold, {row.findings_warm} warm"]
        if with_parse:
            cells += [f"{row.parse:.1f}", f"{row.cold / row.parse:.2f}"] if row.parse else ["", ""]
        body.append(cells)
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines)
    widths = [max(len(str(cells[i])) for cells in [header, *body]) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).rjust(width) for cell, width in zip(cells, widths))
                     for cells in [header, *body])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="folder of exported repositories")
    parser.add_argument("--dest", type=Path, required=True,
                        help="folder for the assembled trees (reused across runs)")
    parser.add_argument("--points", nargs="+", default=None,
                        help="repositories, or several joined with + (default: a 10 k to 1.1 M "
                             "line series from benchmarks/corpus)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--parse", action="store_true", help="also time a bare libcst parse")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    options = parser.parse_args()
    if not options.corpus.is_dir():
        parser.error(f"no such folder: {options.corpus}")
    points = options.points
    if points is None:
        points = [point for point in DEFAULT_POINTS
                  if all((options.corpus / name).is_dir() for name in _names(point))]
    options.dest.mkdir(parents=True, exist_ok=True)
    print(f"python {sys.version.split()[0]}, jobs {options.jobs}, cpus {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f} at start", flush=True)
    rows: list[Measurement] = []
    for point in points:
        try:
            row = measure(point, options.corpus, options.dest, options.jobs, options.parse)
        except FileNotFoundError as error:
            parser.error(f"point {point}: no such repository folder: {error}")
        rows.append(row)
        print(f"  {point}: {row.lines:,} lines, cold {row.cold:.1f} s, warm {row.warm:.2f} s, "
              f"peak {row.peak_mb:.0f} MB", flush=True)
    rows.sort(key=lambda row: row.lines)
    print(table(rows, options.markdown))
    if len(rows) >= 2:
        klines = [row.lines / 1000 for row in rows]
        for label, times in (("cold", [row.cold for row in rows]),
                             ("warm", [row.warm for row in rows])):
            slope, intercept, r_squared = linear_fit(klines, times)
            exponent = growth_exponent(klines, times)
            print(f"{label}: {slope:.4f} s per 1,000 lines + {intercept:.2f} s, "
                  f"R² = {r_squared:.4f}, time ~ lines^{exponent:.2f}, over {len(rows)} points "
                  f"({rows[0].lines:,} to {rows[-1].lines:,} lines)")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


def _names(point: str) -> list[str]:
    parts = point.split("+")
    return [f"{parts[i]}+{parts[i + 1]}" for i in range(0, len(parts) - 1, 2)]


if __name__ == "__main__":
    main()
