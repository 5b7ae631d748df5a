"""Planted-bug recall per rule, framework and form: seeds x operators, linted, counted.

    python benchmarks/planted_forms.py [--rules DL002,DL003] [--seeds NAME,...]
                                       [--operators inline,helper,...] [--misses]
    python benchmarks/planted_forms.py --show SEED:OPERATOR

Each seed of benchmarks/planted/seeds/ (one buggy training program per rule and framework, its
producer and bug lines marked) is rewritten by each operator of benchmarks/planted/forms.py
that applies to it (the producer moved into a helper, a method, another file, a wrapper, a
notebook cell, ...). Every variant is written to a temporary folder of its own and that folder
is linted with the real runner, every rule selected. A variant counts as found when the
seed's rule reports a finding at a marked line (`# PRODUCER`, `# BUG`, or the moved producer),
or with a marked line as a related location. The output is the matrix (seed x operator:
`+` found, `-` missed, `.` the operator does not apply), recall per rule, per framework and
per operator, and the list of misses. `--show` prints the files of one variant instead (to
read a miss).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from planted.forms import OPERATORS, Seed, Variant, apply, load_seeds  # noqa: E402

from dllint.config import FileConfig, build_settings  # noqa: E402
from dllint.runner import run  # noqa: E402


@dataclass(frozen=True)
class Outcome:
    seed: Seed
    operator: str
    found: bool | None  # None: the operator does not apply to the seed


def lint_variant(variant: Variant) -> bool:
    """Whether the seed's rule reports the planted bug in the variant's folder."""
    with tempfile.TemporaryDirectory(prefix="planted-") as scratch:
        folder = Path(scratch)
        for name, text in variant.files.items():
            (folder / name).write_text(text, encoding="utf-8")
        settings = build_settings(FileConfig(root=folder), select=["ALL"])
        result = run([str(folder)], settings, use_cache=False, jobs=1)
    marked = variant.marked()
    for diagnostic in result.diagnostics:
        if diagnostic.code != variant.seed.rule:
            continue
        places = {(Path(diagnostic.path).name, diagnostic.cell, diagnostic.line)}
        places |= {(Path(related.path).name, related.cell, related.span.start_line)
                   for related in diagnostic.related}
        if places & marked:
            return True
    return False


def evaluate(seeds: list[Seed], operators: list[str]) -> list[Outcome]:
    outcomes = []
    for seed in seeds:
        for name in operators:
            variant = apply(seed, name)
            outcomes.append(Outcome(seed, name, None if variant is None
                                    else lint_variant(variant)))
    return outcomes


def recall_table(title: str, outcomes: list[Outcome], key) -> list[str]:
    planted, found = Counter(), Counter()
    for outcome in outcomes:
        if outcome.found is not None:
            planted[key(outcome)] += 1
            found[key(outcome)] += outcome.found
    lines = [f"{title:20} {'planted':>8} {'found':>6} {'recall':>7}"]
    for group in sorted(planted):
        lines.append(f"{group:20} {planted[group]:8} {found[group]:6} "
                     f"{found[group] / planted[group]:7.2f}")
    total, hits = sum(planted.values()), sum(found.values())
    if total:
        lines.append(f"{'all':20} {total:8} {hits:6} {hits / total:7.2f}")
    return lines


def report(outcomes: list[Outcome], seeds: list[Seed], operators: list[str],
           show_misses: bool) -> str:
    cell = {(o.seed.name, o.operator): o.found for o in outcomes}
    width = max(len(seed.name) for seed in seeds)
    lines = ["matrix (+ found, - missed, . does not apply); operators by column:"]
    lines += [f"  {index:2} {name}" for index, name in enumerate(operators, start=1)]
    lines.append(f"{'seed':{width}} " + " ".join(f"{index:>2}" for index in
                                               range(1, len(operators) + 1)))
    for seed in seeds:
        marks = [{None: ".", True: "+", False: "-"}[cell[(seed.name, name)]]
                 for name in operators]
        lines.append(f"{seed.name:{width}} " + " ".join(f"{mark:>2}" for mark in marks))
    lines.append("")
    lines += recall_table("rule", outcomes, lambda o: o.seed.rule)
    lines.append("")
    lines += recall_table("framework", outcomes, lambda o: o.seed.framework)
    lines.append("")
    lines += recall_table("operator", outcomes, lambda o: o.operator)
    misses = [o for o in outcomes if o.found is False]
    lines.append("")
    lines.append(f"misses: {len(misses)}")
    if show_misses:
        lines += [f"  {o.seed.rule} {o.seed.name} {o.operator}" for o in misses]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", help="comma-separated rule codes (default: every seed's)")
    parser.add_argument("--seeds", help="comma-separated seed names (file stems)")
    parser.add_argument("--operators", default=",".join(OPERATORS),
                        help="comma-separated operators (default: all)")
    parser.add_argument("--misses", action="store_true", help="list every miss")
    parser.add_argument("--show", metavar="SEED:OPERATOR",
                        help="print the files of one variant and whether it is found")
    options = parser.parse_args()
    seeds = load_seeds()
    if options.show:
        name, _, operator = options.show.partition(":")
        seed = next((seed for seed in seeds if seed.name == name), None)
        if seed is None or operator not in OPERATORS:
            parser.error(f"--show: no seed {name!r} or no operator {operator!r}")
        variant = apply(seed, operator)
        if variant is None:
            print(f"{operator} does not apply to {name}")
            return
        for file_name, source in variant.python_sources().items():
            print(f"==> {file_name}\n{source}")
        print("found" if lint_variant(variant) else "MISSED")
        return
    if options.rules:
        seeds = [seed for seed in seeds if seed.rule in options.rules.split(",")]
    if options.seeds:
        seeds = [seed for seed in seeds if seed.name in options.seeds.split(",")]
    operators = options.operators.split(",")
    unknown = set(operators) - set(OPERATORS)
    if unknown:
        parser.error(f"unknown operators: {', '.join(sorted(unknown))} "
                     f"(known: {', '.join(OPERATORS)})")
    if not seeds:
        parser.error("no seed matches")
    print(report(evaluate(seeds, operators), seeds, operators, options.misses))


if __name__ == "__main__":
    main()
