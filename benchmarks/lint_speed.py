"""Lint a tree cold and warm, and compare with a bare libcst parse of the same files.

    python benchmarks/lint_speed.py PATH [--repeat 3] [--jobs N]

Prints files, lines, cold (no cache) and warm (cache filled) wall time, files/s and lines/s,
and the same for `libcst.parse_module` over every file in one process, the floor any libcst
linter pays. Figures are medians over --repeat runs: machines here are shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import libcst
from importlib import metadata

from dllint.config import FileConfig, build_settings
from dllint.discovery import discover
from dllint.runner import run


def median_time(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def row(label: str, seconds: float, files: int, lines: int) -> str:
    return (f"{label:<28} {seconds:8.2f} s {files / seconds:10.0f} files/s "
            f"{lines / seconds:12.0f} lines/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    options = parser.parse_args()

    cache_dir = Path(tempfile.mkdtemp(prefix="dllint-bench-"))
    config = FileConfig(root=Path(options.path).resolve(), cache_dir=str(cache_dir))
    settings = build_settings(config)
    files = discover([options.path], settings).files
    texts = [Path(path).read_bytes() for path in files]
    lines = sum(text.count(b"\n") for text in texts)
    print(f"tree: {options.path}\nfiles: {len(files)}  lines: {lines}  jobs: {options.jobs}  "
          f"cpus: {os.cpu_count()}  python: {sys.version.split()[0]}  libcst: {metadata.version('libcst')}")

    def cold_parallel():
        run([options.path], settings, jobs=options.jobs, use_cache=False)

    def cold_serial():
        run([options.path], settings, jobs=1, use_cache=False)

    def bare_parse():
        for text in texts:
            try:
                libcst.parse_module(text)
            except libcst.ParserSyntaxError:
                pass

    result = run([options.path], settings, jobs=options.jobs, use_cache=True)  # fill the cache

    def warm():
        run([options.path], settings, jobs=options.jobs, use_cache=True)

    findings = len(result.diagnostics)
    parse = median_time(bare_parse, options.repeat)
    serial = median_time(cold_serial, options.repeat)
    parallel = median_time(cold_parallel, options.repeat)
    warm_time = median_time(warm, options.repeat)
    print(f"findings: {findings}")
    print(row("bare libcst parse (1 proc)", parse, len(files), lines))
    print(row("dllint cold, 1 job", serial, len(files), lines))
    print(row(f"dllint cold, {options.jobs} jobs", parallel, len(files), lines))
    print(row("dllint warm (cache)", warm_time, len(files), lines))
    print(f"ratios: cold 1 job / bare parse = {serial / parse:.2f}; "
          f"cold {options.jobs} jobs / bare parse = {parallel / parse:.2f}; "
          f"warm / cold = {warm_time / parallel:.3f}")
    shutil.rmtree(cache_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
