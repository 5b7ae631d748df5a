"""What one poll of `dllint --watch` costs: a `stat` of every watched path (the linted files,
their folders and the configuration names those folders may hold), every `POLL_SECONDS`.

    python benchmarks/watch_poll.py [--files 1000 10000] [--per-folder 50] [--repeat 20]

For each tree size it makes that many empty .py files in a temporary folder (`--per-folder` to
a folder), and prints the number of paths watched, the median time of one `snapshot` over
--repeat polls, the share of a poll interval that is, and the ratio to the smallest tree's time
per path (near 1 when a poll is linear in the tree).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from dllint import watch


def tree(root: Path, files: int, per_folder: int) -> list[str]:
    paths = []
    for index in range(files):
        folder = root / f"pkg{index // per_folder}"
        folder.mkdir(exist_ok=True)
        path = folder / f"module{index}.py"
        path.write_text("")
        paths.append(str(path))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--per-folder", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20)
    options = parser.parse_args()
    print(f"{'files':>8} {'paths':>8} {'median poll ms':>15} {'% of interval':>14} "
          f"{'us per path':>12} {'ratio':>6}")
    base = None
    for files in options.files:
        with tempfile.TemporaryDirectory() as folder:
            paths = watch.watched_paths(tree(Path(folder), files, options.per_folder), [folder])
            times = []
            for _ in range(options.repeat):
                started = time.perf_counter()
                watch.snapshot(paths)
                times.append(time.perf_counter() - started)
            poll = statistics.median(times)
            per_path = poll / len(paths)
            base = base or per_path
            print(f"{files:>8} {len(paths):>8} {poll * 1000:>15.2f} "
                  f"{100 * poll / watch.POLL_SECONDS:>13.1f}% {per_path * 1e6:>12.2f} "
                  f"{per_path / base:>6.2f}")


if __name__ == "__main__":
    main()
