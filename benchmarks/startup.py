"""What dllint costs before it does any work: `dllint --version`, `import dllint.runtime.codes`
(what listing the rules without torch loads), `import libcst` alone (the floor of any run that
parses a file) and the pre-commit hook on a 5-file commit.

    python benchmarks/startup.py [--runs 15] [--ref HEAD~3] [--tree]

Each figure is the median over --runs runs of a fresh process, as wall time and as the CPU time
(user + system) of the process: on a busy machine the wall time mostly measures the other
processes, the CPU time much less so. `python -c pass` is measured too, as the floor.

The code measured is a copy of this checkout's `dllint/` and `rules/` (uncommitted changes
included); with --ref, also the same files at a git revision, run in turn with the checkout's
runs (so both see the same load), and the ratio ref / checkout is printed. Each copy is run from
PYTHONPATH with its bytecode cached (PYTHONPYCACHEPREFIX, one warm-up run), as an installed
package would be, whatever PYTHONDONTWRITEBYTECODE says; with --no-bytecode, every run compiles
dllint's modules from source again, as an editable install does under PYTHONDONTWRITEBYTECODE=1.

The pre-commit figure runs the hook's entry (`dllint check --force-exclude`, from
.pre-commit-hooks.yaml) on the five files of fixtures/static/clean_project in a git repository,
each file edited before each run (a line appended), as in a commit that changed them: their
cache entries are stale, the rest of the cache is warm. "from the cache" runs it again on the
same five files unchanged: every answer is a cache hit (a commit of files linted before, or the
hook run twice). With --tree, also `dllint check dllint` on dllint's own package folder, with
--no-cache and then with the cache filled (fewer runs: each takes seconds).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROJECT = REPO / "fixtures" / "static" / "clean_project"
COUNT_MODULES = ("import sys, dllint.runtime.codes; "
                 "print(sum(name.startswith('dllint') for name in sys.modules), "
                 "len(sys.modules), 'libcst' in sys.modules)")


def hook_entry() -> list[str]:
    """The hook's command after `dllint`, read from .pre-commit-hooks.yaml."""
    for line in (REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8").splitlines():
        key, _, value = line.strip().partition(":")
        if key == "entry":
            words = value.split()
            assert words[0] == "dllint", words
            return words[1:]
    raise SystemExit("no entry in .pre-commit-hooks.yaml")


def copy_tree(destination: Path, ref: str | None) -> Path:
    """dllint/ and rules/ (as dllint/rules, where the wheel puts them) from the checkout or `ref`."""
    destination.mkdir(parents=True)
    if ref is None:
        shutil.copytree(REPO / "dllint", destination / "dllint",
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(REPO / "rules", destination / "dllint" / "rules",
                        ignore=shutil.ignore_patterns("__pycache__"))
    else:
        archive = subprocess.run(["git", "archive", ref, "dllint", "rules"], cwd=REPO,
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(destination)], input=archive, check=True)
        (destination / "rules").rename(destination / "dllint" / "rules")
    return destination


class Measured:
    """Runs commands with one copy of dllint first on the path and records their cost."""

    def __init__(self, label: str, tree: Path, bytecode: Path | None) -> None:
        self.label = label
        self.tree = tree  # also the working folder: the checkout's dllint/ is not on the path
        self.environment = {**os.environ, "PYTHONPATH": str(tree), "NO_COLOR": "1"}
        if bytecode is None:
            self.environment["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            self.environment["PYTHONPYCACHEPREFIX"] = str(bytecode)
            self.environment.pop("PYTHONDONTWRITEBYTECODE", None)
        self.environment.pop("DLLINT_FORMAT", None)
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}
        found = self.output([sys.executable, "-c", "import dllint; print(dllint.__file__)"])
        if not found.startswith(str(tree)):
            raise SystemExit(f"{label}: dllint was imported from {found}, not from {tree}")

    def output(self, command: list[str], cwd: Path | None = None) -> str:
        return subprocess.run(command, cwd=cwd or self.tree, env=self.environment,
                              capture_output=True,
                              text=True).stdout.strip()

    def run(self, name: str, command: list[str], cwd: Path | None = None) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd or self.tree, env=self.environment,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        self.wall.setdefault(name, []).append(wall)
        self.cpu.setdefault(name, []).append(cpu)


def commit_repository(folder: Path) -> list[str]:
    folder.mkdir()
    for file in sorted(PROJECT.glob("*.py")):
        shutil.copy(file, folder / file.name)
    (folder / "pyproject.toml").write_text("[project]\nname = 'bench'\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    subprocess.run(["git", "add", "-A"], cwd=folder, check=True)
    return sorted(file.name for file in folder.glob("*.py"))


def edit(folder: Path, files: list[str], run: int) -> None:
    for name in files:
        with open(folder / name, "a", encoding="utf-8") as file:
            file.write(f"# edit {run}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--ref", help="also measure dllint at this git revision")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="compile dllint's modules from source in every run")
    parser.add_argument("--tree", action="store_true",
                        help="also lint dllint's own package folder, cold and from the cache")
    options = parser.parse_args()
    entry = hook_entry()
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        def bytecode(label: str) -> Path | None:
            return None if options.no_bytecode else scratch / f"bytecode-{label}"

        subjects = [Measured("checkout", copy_tree(scratch / "checkout", None),
                             bytecode("checkout"))]
        if options.ref:
            subjects.insert(0, Measured(options.ref, copy_tree(scratch / "ref", options.ref),
                                        bytecode("ref")))
        repositories = {subject.label: scratch / f"commit-{index}"
                        for index, subject in enumerate(subjects)}
        files = {label: commit_repository(folder) for label, folder in repositories.items()}
        commands = {
            "python -c pass": ([sys.executable, "-c", "pass"], None),
            "dllint --version": ([sys.executable, "-m", "dllint", "--version"], None),
            "import dllint.runtime.codes": ([sys.executable, "-c", COUNT_MODULES], None),
            # What every run that parses a file pays before dllint does anything of its own.
            "import libcst": ([sys.executable, "-c", "import libcst"], None),
        }
        for run in range(options.runs + 1):  # run 0 warms the bytecode cache and dllint's cache
            for subject in subjects:
                for name, (command, cwd) in commands.items():
                    subject.run(name, command, cwd)
                folder = repositories[subject.label]
                edit(folder, files[subject.label], run)
                hook = [sys.executable, "-m", "dllint", *entry, *files[subject.label]]
                subject.run("pre-commit, 5 files", hook, folder)
                subject.run("pre-commit, 5 files, from the cache", hook, folder)
                if options.tree and run <= max(3, options.runs // 3):
                    own = [sys.executable, "-m", "dllint", "check", "dllint"]
                    subject.run("dllint check dllint, no cache", [*own, "--no-cache"])
                    subject.run("dllint check dllint, from the cache", own)
        for subject in subjects:
            modules = subject.output([sys.executable, "-c", COUNT_MODULES]).split()
            print(f"{subject.label}: import dllint.runtime.codes loads {modules[0]} dllint "
                  f"modules, {modules[1]} modules in all, libcst: {modules[2]}")
    print(f"\nmedians of {options.runs} runs (seconds; Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; bytecode "
          f"{'compiled in every run' if options.no_bytecode else 'cached'})")
    header = f"{'':30}" + "".join(f"{subject.label + ' wall':>18}{subject.label + ' cpu':>18}"
                                  for subject in subjects)
    if len(subjects) == 2:
        header += f"{'ratio wall':>12}{'ratio cpu':>12}"
    print(header)
    for name in subjects[0].wall:
        row = f"{name:30}"
        medians = []
        for subject in subjects:
            wall = statistics.median(subject.wall[name][1:])
            cpu = statistics.median(subject.cpu[name][1:])
            medians.append((wall, cpu))
            row += f"{wall:18.3f}{cpu:18.3f}"
        if len(subjects) == 2:
            (ref_wall, ref_cpu), (wall, cpu) = medians
            row += f"{ref_wall / wall:12.2f}{ref_cpu / max(cpu, 1e-3):12.2f}"
        print(row)


if __name__ == "__main__":
    main()
