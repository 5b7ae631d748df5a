"""Lint time against nesting depth: is a rule linear in the size of deeply nested loops?

    python benchmarks/scaling.py [--depths 12 25 50 96] [--repeat 3] [--select DL001]
    python benchmarks/scaling.py --chains [--lengths 4 8 12 16 20 40] [--repeat 3]

Generates, per depth N, one file of N nested loops, alternately numbered over a listing
(`for i3, f3 in enumerate(os.listdir(root)):`) and zipped (`for a4, b4 in zip(images, masks):`),
each body reading its own names and an outer loop's, and prints the median lint time of the
selected rules over --repeat runs, and that time divided by N. A rule that walks each loop's body
again once per enclosing loop shows time/N growing with N; a linear one keeps it flat.

With --chains, it times fluent method chains of N calls instead, each kind in a file of its own
and the builder also across two files (a builder class whose methods return `self` in one file,
`Builder().m0(0).m1(1)...` in another): every rule, no cache, one process. It prints the median
time per N and the ratio of the longest chain's time to the shortest's; linear work gives about
the ratio of the lengths (10x for 40 against 4), where the model once took exponential time.

Python allows at most 100 levels of indentation (CPython's tokenizer and libcst's), so depths
stop below 100.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from dllint.api import lint_paths, lint_source
from dllint.registry import all_rules


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


def builder_class(calls: int) -> str:
    methods = "".join(f"    def m{i}(self, x=None):\n        self.v{i} = x\n        return self\n\n"
                      for i in range(calls))
    return ("import torch.nn as nn\n\n\nclass Builder:\n    def __init__(self):\n"
            f"        self.layers = []\n\n{methods}    def build(self):\n"
            "        return nn.Sequential(*self.layers)\n")


def builder_chain(calls: int, imported: bool) -> str:
    chain = "".join(f".m{i}({i})" for i in range(calls))
    head = "from builder import Builder\n" if imported else ""
    return f"import torch\n{head}\nmodel = Builder(){chain}.build()\nout = model(torch.zeros(1))\n"


def keras_chain(calls: int) -> str:
    chain = "".join(f".add(tf.keras.layers.Dense({i}))" for i in range(calls))
    return f"import tensorflow as tf\n\nmodel = tf.keras.Sequential(){chain}\nmodel.fit(x, y)\n"


def pandas_chain(calls: int) -> str:
    steps = (".fillna(0)", ".dropna()", ".rename(columns=str)", ".astype('float32')")
    chain = "".join(steps[i % len(steps)] for i in range(calls))
    return ("import pandas as pd\nimport torch\n\n"
            f"frame = pd.read_csv('data.csv'){chain}\ninputs = torch.tensor(frame.values)\n")


CHAIN_KINDS = {
    "builder, one file": lambda n: {"train.py": builder_class(n) + builder_chain(n, False)},
    "builder, two files": lambda n: {"builder.py": builder_class(n),
                                     "train.py": builder_chain(n, True)},
    "keras .add chain": lambda n: {"train.py": keras_chain(n)},
    "pandas chain": lambda n: {"train.py": pandas_chain(n)},
}


def chain_seconds(files: dict[str, str], repeat: int) -> float:
    """Median time of linting the files as one project (phase one included), every rule."""
    select = [rule.code for rule in all_rules()]
    times = []
    with tempfile.TemporaryDirectory() as folder:
        for name, text in files.items():
            (Path(folder) / name).write_text(text)
        for _ in range(repeat):
            started = time.perf_counter()
            lint_paths([folder], select=select, jobs=1)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def chains(lengths: list[int], repeat: int) -> None:
    chain_seconds(CHAIN_KINDS["builder, two files"](2), 1)  # imports, rule registry
    print(f"fluent chains, every rule, one process  repeat: {repeat} (median)")
    print(f"{'kind':<20} " + " ".join(f"{f'N={n} (ms)':>12}" for n in lengths) +
          f" {f'{lengths[-1]}/{lengths[0]}':>8}")
    for kind, files_for in CHAIN_KINDS.items():
        seconds = [chain_seconds(files_for(n), repeat) for n in lengths]
        print(f"{kind:<20} " + " ".join(f"{s * 1000:>12.1f}" for s in seconds) +
              f" {seconds[-1] / seconds[0]:>7.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[12, 25, 50, 96])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--select", nargs="+", default=["DL001"])
    parser.add_argument("--chains", action="store_true", help="time fluent method chains")
    parser.add_argument("--lengths", type=int, nargs="+", default=[4, 8, 12, 16, 20, 40])
    options = parser.parse_args()
    if options.chains:
        chains(options.lengths, options.repeat)
        return
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
