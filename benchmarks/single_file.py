"""What `dllint ONE_FILE` costs in a large project, now that a file is judged with its project.

    python benchmarks/single_file.py PROJECT FILE [--repeat 3]

The project is copied to a temporary folder (the cache is written there, never into PROJECT)
and marked as a project root (a pyproject.toml). Each figure is the median wall time of
`dllint` run as a command, over --repeat runs:

- one file, cold: no cache, so phase one summarises every file of the project that passes the
  summary gate;
- one file, warm: the project's summaries come from the cache (the whole tree was linted
  before), so the run hashes the project's files and lints the one file from the cache;
- one file, edited: as warm, but the named file changed since, so it is summarised and linted;
- the whole tree, cold and warm, for comparison.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DLLINT = [sys.executable, "-m", "dllint"]


def timed(arguments: list[str], folder: Path) -> float:
    started = time.perf_counter()
    subprocess.run([*DLLINT, *arguments, "-q", "--exit-zero"], cwd=folder, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def median(action, repeat: int) -> float:
    return statistics.median(action() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project")
    parser.add_argument("file", help="a file of PROJECT, relative to it")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dllint-single-"))
    try:
        tree = work / "project"
        shutil.copytree(options.project, tree, symlinks=True,
                        ignore=shutil.ignore_patterns(".git", ".dllint_cache"))
        if not (tree / "pyproject.toml").exists():
            (tree / "pyproject.toml").write_text("[project]\nname = 'measured'\n")
        cache = tree / ".dllint_cache"
        count = sum(1 for _ in tree.rglob("*.py"))
        print(f"project: {options.project} ({count} .py files)  file: {options.file}  "
              f"repeat: {options.repeat}  cpus: {os.cpu_count()}")

        def cold(arguments: list[str]) -> float:
            shutil.rmtree(cache, ignore_errors=True)
            return timed(arguments, tree)

        one_cold = median(lambda: cold([options.file]), options.repeat)
        tree_cold = median(lambda: cold(["."]), options.repeat)
        timed(["."], tree)  # fill the cache
        one_warm = median(lambda: timed([options.file], tree), options.repeat)
        tree_warm = median(lambda: timed(["."], tree), options.repeat)
        target = tree / options.file
        original = target.read_text(encoding="utf-8")

        def edited() -> float:
            target.write_text(original + f"\n# edit {time.perf_counter_ns()}\n", encoding="utf-8")
            return timed([options.file], tree)

        one_edited = median(edited, options.repeat)
        print(f"{'one file, cold':<24} {one_cold:7.2f} s")
        print(f"{'one file, warm':<24} {one_warm:7.2f} s")
        print(f"{'one file, edited':<24} {one_edited:7.2f} s")
        print(f"{'whole tree, cold':<24} {tree_cold:7.2f} s")
        print(f"{'whole tree, warm':<24} {tree_warm:7.2f} s")
        print(f"one file / whole tree: cold {one_cold / tree_cold:.2f}, "
              f"warm {one_warm / tree_warm:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
