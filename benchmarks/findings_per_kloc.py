"""Findings per 1,000 lines, per rule, on real repository trees: the precision side of the bar.

    python benchmarks/findings_per_kloc.py TREE [TREE ...] [--select CODES] [--list]

Lints each tree as a user would (`dllint TREE`, default rules unless --select), counts the
lines of the Python files and notebooks linted, and prints per tree and in total the findings
per rule and per 1,000 lines. --list prints every finding (path:line code message) so each one
can be read and classified as a real bug, harmless, or false.
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

from dllint.config import FileConfig, build_settings
from dllint.discovery import discover
from dllint.runner import run


def lines_of(files: list[str]) -> int:
    total = 0
    for path in files:
        try:
            total += Path(path).read_bytes().count(b"\n")
        except OSError:
            pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+")
    parser.add_argument("--select", default=None, help="comma-separated codes or prefixes")
    parser.add_argument("--list", action="store_true", help="print every finding")
    options = parser.parse_args()
    select = options.select.split(",") if options.select else None

    grand: collections.Counter[str] = collections.Counter()
    grand_lines = 0
    for tree in options.trees:
        root = Path(tree).resolve()
        settings = build_settings(FileConfig(root=root), select=select)
        files = discover([str(root)], settings).files
        lines = lines_of(files)
        result = run([str(root)], settings, use_cache=False)
        counts = collections.Counter(d.code for d in result.diagnostics)
        grand.update(counts)
        grand_lines += lines
        total = sum(counts.values())
        print(f"{root.name:<32} {len(files):6d} files {lines:9d} lines {total:5d} findings "
              f"{1000 * total / max(lines, 1):6.3f}/kLOC  "
              + " ".join(f"{code}:{count}" for code, count in sorted(counts.items())))
        if options.list:
            for d in result.diagnostics:
                print(f"    {Path(d.path).relative_to(root)}:{d.line} {d.code} {d.message[:110]}")
    total = sum(grand.values())
    print(f"{'TOTAL':<32} {'':6} {'':5} {grand_lines:9d} lines {total:5d} findings "
          f"{1000 * total / max(grand_lines, 1):6.3f}/kLOC")
    for code, count in sorted(grand.items()):
        print(f"    {code}: {count:4d}  {1000 * count / max(grand_lines, 1):.4f}/kLOC")


if __name__ == "__main__":
    main()
