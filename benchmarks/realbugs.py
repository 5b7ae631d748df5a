"""Recall on real bugs: bugs public repositories fixed in their own history, linted at the parent.

    python benchmarks/realbugs.py split [--round N]
    python benchmarks/realbugs.py recall --half tuning|held-out [--round N]
                                        [--mirrors /work/.mirror] [--only ID,...] [-v]
    python benchmarks/realbugs.py fixed --half tuning|held-out [--round N] [--mirrors /work/.mirror]

`benchmarks/realbugs/manifest.toml` lists each bug: the repository, the fix commit, its parent
(the buggy version), the file, the buggy lines in the parent, the rule codes a reader expects
(the class of the bug, whatever dllint reports today), the framework, a one-line description and
the source. No source code of those repositories is stored here: `recall` materialises the file
at the parent commit, with the other Python files of its folder and of the packages of that
folder it imports (cross-file context), from the
mirrored git directory MIRRORS/owner+name/repo (as the `fetch` tool leaves it) into a temporary
directory, lints that folder as `dllint FOLDER` would, and counts the bug found when a finding of
an expected code, or one of its related locations, lands in the bug's file on a buggy line ±2 or
on a line the fix changed (or on a line ±2 that `elsewhere` lists in another file of the folder,
where the fix in one file cures a symptom in another) (for a fix that only inserts lines, the lines either side of the
insertion). `fixed` does the same on the fix commit: a finding of an expected code that is still
there, on a changed line or a buggy line's place after the fix, is listed (the fix did not silence
it, or the rule flags the fixed form).

`split` assigns each bug to the tuning or the held-out half by the first byte of
sha256("owner/name@fix:path"): even is tuning, odd is held-out. Rules are tuned on the tuning
half's misses; the held-out half is run once, at the end, and reported as the result.

Bugs come in rounds (`round` in the manifest, 1 when absent): once a round's held-out half has
been run and its misses read, it is seen, and a later round adds bugs nobody has tuned on.
`--round N` restricts every command to round N; without it a command takes every round. The
half of a bug depends on its key alone, never on its round or on the other bugs.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent / "realbugs"
MANIFEST = HERE / "manifest.toml"
HALVES = ("tuning", "held-out")
FRAMEWORKS = frozenset({"pytorch", "keras", "tensorflow", "jax", "numpy"})
LINE_SLACK = 2  # a finding this many lines from a buggy line still points at the bug
_SHA = re.compile(r"[0-9a-f]{40}")
_CODE = re.compile(r"DL\d{3}")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.MULTILINE)
_FIELDS = {"repository": str, "fix": str, "parent": str, "path": str, "lines": list,
           "codes": list, "framework": str, "description": str, "source": str}


class ManifestError(ValueError):
    """A manifest entry that is missing a field or holds a malformed one."""


@dataclass(frozen=True)
class Bug:
    repository: str
    fix: str
    parent: str
    path: str
    lines: tuple[int, ...]
    codes: tuple[str, ...]
    framework: str
    description: str
    source: str
    in_corpus: bool = False
    # Buggy lines in other files of the same folder (the fix is in `path`, the symptom there).
    elsewhere: tuple[tuple[str, tuple[int, ...]], ...] = ()
    # The round that added the bug: a later round holds bugs nobody had read when it came.
    round: int = 1

    @property
    def key(self) -> str:
        return f"{self.repository}@{self.fix}:{self.path}"

    @property
    def half(self) -> str:
        return half_of(self.key)

    def git_dir(self, mirrors: Path) -> Path:
        """The mirrored git directory: MIRRORS/owner+name/repo, or its .git when it has a work tree."""
        repo = mirrors / self.repository.replace("/", "+") / "repo"
        return repo / ".git" if (repo / ".git").is_dir() else repo


def half_of(key: str) -> str:
    """The half a bug belongs to, fixed by its key: sha256's first byte even is tuning."""
    return "tuning" if hashlib.sha256(key.encode("utf-8")).digest()[0] % 2 == 0 else "held-out"


def parse_manifest(text: str) -> list[Bug]:
    """The bugs of a manifest, checked: every field present and well formed, no key twice."""
    bugs: list[Bug] = []
    seen: set[str] = set()
    for index, entry in enumerate(tomllib.loads(text).get("bug", []), start=1):
        where = f"bug {index}"
        for name, kind in _FIELDS.items():
            if not isinstance(entry.get(name), kind):
                raise ManifestError(f"{where}: `{name}` missing or not a {kind.__name__}")
        for name in ("fix", "parent"):
            if not _SHA.fullmatch(entry[name]):
                raise ManifestError(f"{where}: `{name}` is not a 40-digit commit: {entry[name]!r}")
        if not entry["lines"] or not all(isinstance(n, int) and n > 0 for n in entry["lines"]):
            raise ManifestError(f"{where}: `lines` must list positive line numbers")
        if not entry["codes"] or not all(isinstance(c, str) and _CODE.fullmatch(c)
                                         for c in entry["codes"]):
            raise ManifestError(f"{where}: `codes` must list rule codes like DL001")
        if entry["framework"] not in FRAMEWORKS:
            raise ManifestError(f"{where}: framework {entry['framework']!r} is not one of "
                                f"{', '.join(sorted(FRAMEWORKS))}")
        if entry["repository"].count("/") != 1:
            raise ManifestError(f"{where}: repository must be owner/name")
        elsewhere = entry.get("elsewhere", {})
        folder = entry["path"].rpartition("/")[0]
        if not isinstance(elsewhere, dict) or not all(
                isinstance(lines, list) and lines and all(isinstance(n, int) and n > 0 for n in lines)
                and name.rpartition("/")[0] == folder for name, lines in elsewhere.items()):
            raise ManifestError(f"{where}: `elsewhere` must map files of the bug's folder to "
                                f"positive line numbers")
        round_number = entry.get("round", 1)
        # bool is an int in Python: `round = true` is no round number
        if not isinstance(round_number, int) or isinstance(round_number, bool) \
                or round_number < 1:
            raise ManifestError(f"{where}: round {round_number!r} is not a whole number from 1 up")
        bug = Bug(entry["repository"], entry["fix"], entry["parent"], entry["path"],
                  tuple(entry["lines"]), tuple(entry["codes"]), entry["framework"],
                  entry["description"], entry["source"], bool(entry.get("in_corpus", False)),
                  tuple((name, tuple(lines)) for name, lines in sorted(elsewhere.items())),
                  round_number)
        if bug.key in seen:
            raise ManifestError(f"{where}: {bug.key} listed twice")
        seen.add(bug.key)
        bugs.append(bug)
    return bugs


def load_manifest(path: Path = MANIFEST) -> list[Bug]:
    return parse_manifest(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Hunk:
    """One hunk of `git diff -U0 parent fix`: `old_count` lines from `old_start` in the parent
    became `new_count` lines from `new_start` in the fix (a count of 0: the start is the line
    before the insertion or deletion point)."""
    old_start: int
    old_count: int
    new_start: int
    new_count: int


def parse_hunks(diff: str) -> list[Hunk]:
    return [Hunk(int(a), int(b) if b else 1, int(c), int(d) if d else 1)
            for a, b, c, d in _HUNK.findall(diff)]


def changed_lines(hunks: Iterable[Hunk], side: str) -> set[int]:
    """Lines of the parent (`side` "old") or of the fix ("new") that the fix changed; where a
    hunk has no line on that side, the lines either side of the point where it applies."""
    lines: set[int] = set()
    for hunk in hunks:
        start, count = ((hunk.old_start, hunk.old_count) if side == "old"
                        else (hunk.new_start, hunk.new_count))
        lines.update(range(start, start + count) if count else (start, start + 1))
    return lines


def map_to_fixed(line: int, hunks: Sequence[Hunk]) -> int:
    """Where a parent line sits in the fixed file: shifted by the hunks above it; a line the fix
    rewrote maps to the start of its replacement."""
    shift = 0
    for hunk in hunks:
        if hunk.old_count and hunk.old_start <= line < hunk.old_start + hunk.old_count:
            return max(hunk.new_start, 1)
        if line >= hunk.old_start + max(hunk.old_count, 1):
            shift += hunk.new_count - hunk.old_count
    return line + shift


Finding = tuple[str, str, int, frozenset]  # (code, path in the folder, line, {(path, line)})


def is_found(codes: Iterable[str], targets: dict[str, set[int]], findings: Iterable[Finding]
             ) -> list[Finding]:
    """The findings of an expected code whose line, or one of whose related locations, is one of
    the target lines of its file (`targets`: path in the folder -> lines)."""
    codes = set(codes)
    hits = []
    for code, found_path, line, related in findings:
        if code not in codes:
            continue
        places = {(found_path, line)} | set(related)
        if any(n in targets.get(p, ()) for p, n in places):
            hits.append((code, found_path, line, related))
    return hits


def targets_of(lines: Iterable[int], changed: set[int]) -> set[int]:
    near = {n + delta for n in lines for delta in range(-LINE_SLACK, LINE_SLACK + 1)}
    return near | changed


def git(mirror: Path, *args: str) -> bytes:
    completed = subprocess.run(["git", f"--git-dir={mirror}", *args], capture_output=True)
    if completed.returncode:
        raise RuntimeError(f"git {' '.join(args)} in {mirror}: "
                           f"{completed.stderr.decode('utf-8', 'replace').strip()}")
    return completed.stdout


_IMPORTED = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", re.MULTILINE)
PACKAGE_FILES_LIMIT = 300  # a package imported from the bug's folder, copied up to this many files


def materialise(mirror: Path, commit: str, path: str, dest: Path) -> Path:
    """Write `path` at `commit` under `dest`, with the Python files of its folder and of the
    packages of that folder it imports (`from condrop import ConcreteDropout`, a `condrop/`
    beside it): the cross-file context a user's run would have. Returns the file."""
    folder = path.rpartition("/")[0]
    prefix = f"{folder}/" if folder else ""
    listing = git(mirror, "ls-tree", "-z", commit, prefix or ".").decode("utf-8", "replace")
    names = {path}
    packages = []
    for entry in filter(None, listing.split("\0")):
        meta, _, name = entry.partition("\t")
        if meta.split()[1] == "blob" and name.endswith(".py"):
            names.add(name)
        elif meta.split()[1] == "tree":
            packages.append(name)
    text = git(mirror, "show", f"{commit}:{path}").decode("utf-8", "replace")
    imported = set(_IMPORTED.findall(text))
    for package in packages:
        if package.rpartition("/")[2] in imported:
            files = git(mirror, "ls-tree", "-r", "-z", "--name-only", commit, f"{package}/")
            names.update([name for name in files.decode("utf-8", "replace").split("\0")
                          if name.endswith(".py")][:PACKAGE_FILES_LIMIT])
    for name in names:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(git(mirror, "show", f"{commit}:{name}"))
    return dest / path


def lint_folder(folder: Path) -> list[Finding]:
    from dllint.config import FileConfig, build_settings
    from dllint.runner import run

    root = folder.resolve()
    settings = build_settings(FileConfig(root=root))
    result = run([str(root)], settings, use_cache=False, jobs=1)

    def relative(name: str) -> str:
        path = Path(name).resolve()
        return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)

    return [(d.code, relative(d.path), d.line,
             frozenset((relative(r.path), r.span.start_line) for r in d.related))
            for d in result.diagnostics]


@dataclass
class Outcome:
    bug: Bug
    hits: list[Finding]
    others: list[Finding]  # findings of an expected code elsewhere in the bug's file
    error: str | None = None


def measure(bug: Bug, mirrors: Path, version: str) -> Outcome:
    """Lint the bug's folder at the parent (`version` "parent") or at the fix ("fix")."""
    mirror = bug.git_dir(mirrors)
    try:
        hunks = parse_hunks(git(mirror, "diff", "-U0", bug.parent, bug.fix, "--", bug.path)
                            .decode("utf-8", "replace"))
        with tempfile.TemporaryDirectory(prefix="realbug-") as temp:
            commit = bug.parent if version == "parent" else bug.fix
            materialise(mirror, commit, bug.path, Path(temp))
            findings = lint_folder(Path(temp))
    except RuntimeError as error:
        return Outcome(bug, [], [], str(error))
    if version == "parent":
        targets = {bug.path: targets_of(bug.lines, changed_lines(hunks, "old"))}
    else:
        targets = {bug.path: targets_of([map_to_fixed(n, hunks) for n in bug.lines],
                                        changed_lines(hunks, "new"))}
    # Lines elsewhere are parent lines; a fix confined to `path` leaves them where they were.
    for name, lines in bug.elsewhere:
        targets[name] = targets_of(lines, set())
    hits = is_found(bug.codes, targets, findings)
    others = [f for f in findings if f[0] in bug.codes and f[1] == bug.path and f not in hits]
    return Outcome(bug, hits, others)


def _ratio(found: int, total: int) -> str:
    return f"{found}/{total} = {found / total:.2f}" if total else "0/0"


def report(outcomes: Sequence[Outcome], half: str, version: str, verbose: bool) -> None:
    measured = [o for o in outcomes if o.error is None]
    found = [o for o in measured if o.hits]
    verb = "found" if version == "parent" else "still flagged after the fix"
    print(f"half: {half}, bugs: {len(outcomes)}, measured: {len(measured)}")
    print(f"{verb}: {_ratio(len(found), len(measured))}")
    for title, key in (("per rule", lambda b: b.codes), ("per framework", lambda b: (b.framework,))):
        totals: collections.Counter[str] = collections.Counter()
        hits: collections.Counter[str] = collections.Counter()
        for outcome in measured:
            for name in key(outcome.bug):
                totals[name] += 1
                hits[name] += bool(outcome.hits)
        print(f"\n{title}:")
        for name in sorted(totals):
            print(f"  {name:12} {_ratio(hits[name], totals[name])}")
    listed = [o for o in measured if (not o.hits if version == "parent" else o.hits)]
    print("\nmisses:" if version == "parent" else "\nstill flagged:")
    for outcome in listed:
        bug = outcome.bug
        print(f"  {bug.repository} {bug.fix[:10]} {bug.path}:{','.join(map(str, bug.lines))} "
              f"{'/'.join(bug.codes)} -- {bug.description}")
        if verbose:
            shown = outcome.hits if version == "fix" else outcome.others
            for code, path, line, _ in shown:
                print(f"      {code} at {path}:{line}")
    for outcome in outcomes:
        if outcome.error:
            print(f"  not measured: {outcome.bug.key}: {outcome.error}")


def in_half(bugs: Iterable[Bug], half: str | None, round_number: int | None = None) -> list[Bug]:
    """The bugs of one half (None: both) and one round (None: every round)."""
    return [b for b in bugs if (half is None or b.half == half)
            and (round_number is None or b.round == round_number)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {"split": sub.add_parser("split")}
    for name in ("recall", "fixed"):
        command = commands[name] = sub.add_parser(name)
        command.add_argument("--half", choices=HALVES, required=True)
        command.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
        command.add_argument("--only", help="comma-separated bug keys or fix-commit prefixes")
        command.add_argument("-v", "--verbose", action="store_true")
    for command in commands.values():
        command.add_argument("--round", type=int, dest="round_number", metavar="N",
                             help="only the bugs of round N (default: every round)")
    options = parser.parse_args(argv)
    try:
        bugs = load_manifest()
    except (ManifestError, tomllib.TOMLDecodeError) as error:
        print(f"realbugs: error: {MANIFEST}: {error}", file=sys.stderr)
        return 2
    rounds = sorted({b.round for b in bugs})
    if options.round_number is not None and options.round_number not in rounds:
        parser.error(f"--round {options.round_number}: the manifest has rounds "
                     + ", ".join(map(str, rounds)))
    if options.command == "split":
        for half in HALVES:
            chosen = in_half(bugs, half, options.round_number)
            per_round = collections.Counter(b.round for b in chosen)
            print(f"{half}: {len(chosen)} bugs in {len({b.repository for b in chosen})} "
                  f"repositories"
                  + (" (" + ", ".join(f"round {n}: {per_round[n]}" for n in sorted(per_round))
                     + ")" if len(per_round) > 1 else ""))
            for bug in chosen:
                print(f"  {bug.key}  {'/'.join(bug.codes)} {bug.framework}"
                      + (f"  round {bug.round}" if len(rounds) > 1 else ""))
        return 0
    chosen = in_half(bugs, options.half, options.round_number)
    if options.only:
        wanted = options.only.split(",")
        chosen = [b for b in chosen if any(b.key == w or b.fix.startswith(w) for w in wanted)]
    version = "parent" if options.command == "recall" else "fix"
    outcomes = [measure(bug, options.mirrors, version) for bug in chosen]
    report(outcomes, options.half if options.round_number is None
           else f"{options.half}, round {options.round_number}", version, options.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
