"""Lint time against nesting depth: is a rule linear in the size of deeply nested loops?

    python benchmarks/scaling.py [--depths 12 25 50 96] [--repeat 3] [--select DL001]

Generates, per depth N, one file of N nested loops, alternately numbered over a listing
(`for i3, f3 in enumerate(os.listdir(root)):`) and zipped (`for a4, b4 in zip(images, masks):`),
each body reading its own names and an outer loop's, and prints the median lint time of the
selected rules over --repeat runs, and that time divided by N. A rule that walks each loop's body
again once per enclosing loop shows time/N growing with N; a linear one keeps it flat.

Python allows at most 100 levels of indentation (CPython's tokenizer and libcst's), so depths
stop below 100.
"""

from __future__ import annotations

import argparse
import statistics
import time

from dllint.api import lint_source


def nested_loops(depth: int) -> str:
    lines = ["import os", "", "def load(root, images, masks, labels):"]
    for level in range(depth):
        indent = "    " * (level + 1)
        if level % 2 == 0:
            lines.append(f"{indent}for i{level}, f{level} in enumerate(os.listdir(root)):")
            lines.append(f"{indent}    labels.append((f{level}, i{level}))")
        else:
            lines.append(f"{indent}for a{level}, b{level} in zip(images, masks):")
            lines.append(f"{indent}    use(a{level}, i{level - 1})")
    lines.append(f"{'    ' * (depth + 1)}pass")
    return "\n".join(lines) + "\n"


def median_seconds(source: str, select: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        lint_source(source, "nested.py", select=select)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[12, 25, 50, 96])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--select", nargs="+", default=["DL001"])
    options = parser.parse_args()
    if max(options.depths) >= 100:
        parser.error("Python allows at most 100 levels of indentation: use depths below 100")
    lint_source(nested_loops(2), "warmup.py", select=options.select)  # imports, rule registry
    print(f"rules: {' '.join(options.select)}  repeat: {options.repeat} (median)")
    print(f"{'N':>5} {'lines':>6} {'time (ms)':>10} {'time/N (ms)':>12}")
    for depth in options.depths:
        source = nested_loops(depth)
        seconds = median_seconds(source, options.select, options.repeat)
        print(f"{depth:>5} {source.count(chr(10)):>6} {seconds * 1000:>10.1f} "
              f"{seconds * 1000 / depth:>12.3f}")


if __name__ == "__main__":
    main()
