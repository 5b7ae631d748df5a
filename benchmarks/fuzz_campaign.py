"""A long fuzz campaign: generated and mutated modules through lint and --fix.

    python benchmarks/fuzz_campaign.py [--grammar 10000] [--nodes 2000] [--mutations 3000]

For each module: linting must not crash (no DL999, no exception), and when fixes apply, the
fixed text must parse, be idempotent, and change nothing outside the fixes' edits. Prints the
number of modules, lines, outcomes and violations per source, and the time taken.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import hypothesmith  # noqa: E402
from fuzzing import Violation, check, mutated_fixture  # noqa: E402


def campaign(name: str, strategy, count: int) -> None:
    outcomes: Counter = Counter()
    violations: list[str] = []
    lines = 0
    started = time.perf_counter()

    @settings(max_examples=count, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(source: str) -> None:
        nonlocal lines
        lines += source.count("\n")
        try:
            outcomes[check(source)] += 1
        except Violation as violation:
            outcomes["VIOLATION"] += 1
            if len(violations) < 5:
                violations.append(f"{violation}\n--- source ---\n{source[:400]}")
        except Exception as error:  # noqa: BLE001 - counted and shown: that is the point
            outcomes["EXCEPTION"] += 1
            if len(violations) < 5:
                violations.append(f"{type(error).__name__}: {error}\n{source[:400]}")

    run()
    elapsed = time.perf_counter() - started
    total = sum(outcomes.values())
    print(f"{name:<12} modules {total:>6}  lines {lines:>8}  {elapsed:7.1f} s  "
          + "  ".join(f"{key}: {value}" for key, value in sorted(outcomes.items())))
    for violation in violations:
        print("  !", violation.replace("\n", "\n    "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grammar", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=2_000)
    parser.add_argument("--mutations", type=int, default=3_000)
    options = parser.parse_args()
    campaign("grammar", hypothesmith.from_grammar(), options.grammar)
    campaign("libcst nodes", hypothesmith.from_node(), options.nodes)
    campaign("mutations", mutated_fixture(), options.mutations)


if __name__ == "__main__":
    main()
