"""The measurement corpus: a repository manifest, a fixed-hash split, held-out precision.

    python benchmarks/corpus.py split [--round N]
    python benchmarks/corpus.py export --dest DIR [--half tuning|held-out] [--round N]
                                      [--mirrors /work/.mirror] [--only owner/name,...]
    python benchmarks/corpus.py count --dest DIR --half held-out [--round N]
    python benchmarks/corpus.py lint --dest DIR --half held-out [--round N] [--select CODES]
                                    [--out FILE] [--only owner/name,...]
    python benchmarks/corpus.py merge --findings FILE --update FILE --only owner/name,...
    python benchmarks/corpus.py report --half held-out [--round N] [--findings FILE]
                                      [--classifications FILE]
    python benchmarks/corpus.py recall --dest DIR --half held-out [--round N] [--only owner/name,...]

`benchmarks/corpus/manifest.toml` lists each repository (owner/name), the commit measured, its
frameworks and its kind. `split` assigns each repository to the tuning or the held-out half by
the first byte of sha256("owner/name"): even is tuning, odd is held-out. The split depends on the
name alone, so adding a repository never moves another one. A repository whose code the team
already measured or tuned on (`seen_in` says where) is always in the tuning half. Rules are
tuned on the tuning half; figures are reported on the held-out half only.

Repositories come in rounds (`round` in the manifest, 1 when absent). Once the team has read a
round's held-out findings to classify them, that code is no longer unseen; a later round adds
repositories nobody here has read, and `--round N` restricts every command to round N, so that
the fresh held-out set is `--half held-out --round N` of the newest round. Without `--round`, a
command takes every round. With it, `lint` writes findings-HALF-roundN.jsonl by default and
`report` reads that file.

`export` writes each repository's recorded commit from its mirrored git directory
(MIRRORS/owner+name/repo, as the `fetch` tool leaves it) to DEST/owner+name; it needs no network.
`lint` lints each exported tree as a user would (default rules unless --select, the tree as the
configuration root), prints lines and findings per repository, per rule and per framework, and
writes every finding as one JSON line to `--out` (default benchmarks/corpus/findings-HALF.jsonl);
`--only` lints just the named repositories (write those to a separate `--out`, then `merge`).
`merge` replaces, in the findings file `--findings`, every finding of the `--only` repositories
by those of `--update` (a repository re-linted to no finding loses all its old ones).
A finding's key is repository, path, code and a hash of the flagged line's stripped text (plus
an occurrence number when that repeats), never the line number, so a key survives edits
elsewhere in the file. `report` joins the findings with `benchmarks/corpus/classifications.toml`
(one `[[finding]]` per key: verdict real | harmless | false and a one-line reason) and prints,
per rule and per framework, the share of false findings and of real-or-harmless ones among the
classified findings, then lists the findings nobody has classified yet. `recall` runs
benchmarks/planted_recall.py and planted_recall_frameworks.py on each tree of a half and sums
planted and found bugs per kind: the recall side, on the same held-out code.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent / "corpus"
MANIFEST = HERE / "manifest.toml"
CLASSIFICATIONS = HERE / "classifications.toml"
HALVES = ("tuning", "held-out")
KINDS = frozenset({"library", "training-scripts", "notebooks", "research-code"})
VERDICTS = ("real", "harmless", "false")
# Named by issue 23 as the repositories the rules were tuned or judged on: never in the corpus.
EXCLUDED = frozenset(name.lower() for name in (
    "huggingface/diffusers", "huggingface/accelerate", "pytorch/torchtune", "pytorch/ignite",
    "Lightning-AI/litgpt", "facebookresearch/dinov2", "google-research/big_vision",
    "google-deepmind/optax", "deepmind/optax", "google-deepmind/dm-haiku", "deepmind/dm-haiku",
    "keras-team/keras-io", "tensorflow/docs", "tensorflow/examples",
))
EXPORTED_MARK = ".corpus-commit"  # written into an exported tree: the commit it holds


@dataclass(frozen=True)
class Repository:
    name: str  # owner/name
    commit: str
    frameworks: tuple[str, ...]
    kind: str
    # Where the team already measured or tuned on this repository's code, if it did; such a
    # repository is no unseen code, so it is always in the tuning half.
    seen_in: str = ""
    # The round that added it to the corpus: a later round is code nobody had read when it came.
    round: int = 1

    @property
    def folder(self) -> str:
        return self.name.replace("/", "+")

    @property
    def half(self) -> str:
        return "tuning" if self.seen_in else half_of(self.name)


def half_of(name: str) -> str:
    """The half a repository belongs to, fixed by its name: sha256's first byte even is tuning."""
    return "tuning" if hashlib.sha256(name.encode("utf-8")).digest()[0] % 2 == 0 else "held-out"


def parse_manifest(text: str) -> list[Repository]:
    """The repositories of a manifest, checked: each field present and well formed, no name
    twice, none of the excluded repositories."""
    repositories = []
    seen: set[str] = set()  # names met so far
    for entry in tomllib.loads(text).get("repository", []):
        missing = [field for field in ("name", "commit", "frameworks", "kind") if field not in entry]
        if missing:
            raise ValueError(f"{entry.get('name', 'a repository')}: no {', '.join(missing)}")
        name, commit, kind = entry["name"], entry["commit"], entry["kind"]
        frameworks = tuple(entry["frameworks"])
        if name.count("/") != 1:
            raise ValueError(f"{name!r}: a repository is named owner/name")
        if len(commit) != 40 or any(c not in "0123456789abcdef" for c in commit):
            raise ValueError(f"{name}: commit {commit!r} is not 40 hex digits")
        if kind not in KINDS:
            raise ValueError(f"{name}: kind {kind!r} is not one of {sorted(KINDS)}")
        if not frameworks:
            raise ValueError(f"{name}: no frameworks")
        if name.lower() in EXCLUDED:
            raise ValueError(f"{name} is excluded from the corpus by issue 23")
        if name.lower() in seen:
            raise ValueError(f"{name} is listed twice")
        round_number = entry.get("round", 1)
        # bool is an int in Python: `round = true` is no round number
        if not isinstance(round_number, int) or isinstance(round_number, bool) \
                or round_number < 1:
            raise ValueError(f"{name}: round {round_number!r} is not a whole number from 1 up")
        seen.add(name.lower())
        repositories.append(Repository(name, commit, frameworks, kind, entry.get("seen_in", ""),
                                       round_number))
    return repositories


def load_manifest(path: Path = MANIFEST) -> list[Repository]:
    return parse_manifest(path.read_text(encoding="utf-8"))


def in_half(repositories: Iterable[Repository], half: str | None,
            round_number: int | None = None) -> list[Repository]:
    """The repositories of one half (None: both) and one round (None: every round)."""
    return [r for r in repositories if (half is None or r.half == half)
            and (round_number is None or r.round == round_number)]


def default_findings_path(half: str, round_number: int | None) -> Path:
    """Where `lint` writes and `report` reads a half's findings: one file per round when a round
    is chosen, so that the fresh round's figures never mix with a round already read."""
    suffix = f"-round{round_number}" if round_number is not None else ""
    return HERE / f"findings-{half}{suffix}.jsonl"


# ---------------------------------------------------------------------------------------- export

def _tree_entries(git_dir: Path, commit: str) -> list[tuple[str, str, str]]:
    """(mode, blob id, path) of every file the commit holds."""
    listing = subprocess.run(["git", f"--git-dir={git_dir}", "ls-tree", "-r", "-z", commit],
                             check=True, capture_output=True).stdout
    listing = listing.decode("utf-8", "surrogateescape")
    entries = []
    for record in filter(None, listing.split("\0")):
        meta, path = record.split("\t", 1)
        mode, kind, blob = meta.split()
        if kind == "blob":
            entries.append((mode, blob, path))
    return entries


def export(repository: Repository, mirrors: Path, dest: Path) -> tuple[Path, int, int]:
    """DEST/owner+name holding the recorded commit's files, from the mirrored git directory, and
    how many files were written and left out. A snapshot lacks its files of 4 MiB and more; they
    are left out (dllint skips files over 5 MiB anyway), as are symbolic links. A tree already
    exported at that commit is kept as it is."""
    tree = dest / repository.folder
    mark = tree / EXPORTED_MARK
    git_dir = mirrors / repository.folder / "repo"
    if (git_dir / ".git").is_dir():  # some snapshots come as a work tree's .git, not a bare one
        git_dir = git_dir / ".git"
    if mark.is_file() and mark.read_text().split()[0] == repository.commit:
        written, left_out = (int(n) for n in mark.read_text().split()[1:3])
        return tree, written, left_out
    if not git_dir.is_dir():
        raise FileNotFoundError(f"{repository.name}: no mirror at {git_dir} "
                                f"(fetch github:{repository.name})")
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    entries = [e for e in _tree_entries(git_dir, repository.commit) if e[0] in ("100644", "100755")]
    reader = subprocess.Popen(["git", f"--git-dir={git_dir}", "cat-file", "--batch"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    written = left_out = 0
    for _, blob, path in entries:
        reader.stdin.write(blob.encode() + b"\n")
        reader.stdin.flush()
        header = reader.stdout.readline().split()
        if len(header) < 3 or header[1] != b"blob":  # "<id> missing": not in the snapshot
            left_out += 1
            continue
        content = reader.stdout.read(int(header[2]))
        reader.stdout.read(1)  # the newline after the content
        target = tree / path
        if ".." in Path(path).parts:
            left_out += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        written += 1
    reader.stdin.close()
    reader.wait()
    mark.write_text(f"{repository.commit} {written} {left_out}\n")
    return tree, written, left_out


# ------------------------------------------------------------------------------------------ lint

def line_digest(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:12]


def finding_keys(findings: Sequence[dict]) -> list[str]:
    """A stable key per finding: repository|path|code|hash of the flagged line's stripped text,
    with #2, #3... on the second and later findings that would share one (in file order)."""
    keys = []
    seen: collections.Counter[str] = collections.Counter()
    for finding in findings:
        base = "|".join(finding[field] for field in ("repository", "path", "code", "line_hash"))
        seen[base] += 1
        keys.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return keys


def _flagged_line(path: Path, line: int, cell: int | None, cache: dict) -> str:
    """The text of the flagged line: of the file, or of the notebook cell's own source."""
    if path not in cache:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        if path.suffix == ".ipynb":
            try:
                cells = json.loads(text).get("cells", [])
            except (ValueError, AttributeError):
                cells = []
            cache[path] = [("".join(c.get("source", "")) if isinstance(c.get("source"), list)
                            else c.get("source", "")).splitlines() for c in cells]
        else:
            cache[path] = [text.splitlines()]
    lines_by_cell = cache[path]
    cell_index = (cell - 1) if cell is not None else 0
    if not 0 <= cell_index < len(lines_by_cell):
        return ""
    lines = lines_by_cell[cell_index]
    return lines[line - 1] if 1 <= line <= len(lines) else ""


# The import roots that say which framework a file uses; a finding counts for its file's.
FRAMEWORK_IMPORTS = {"torch": "pytorch", "torchvision": "pytorch", "tensorflow": "tensorflow",
                     "keras": "keras", "tf_keras": "keras", "jax": "jax", "flax": "flax"}
_IMPORT = re.compile(r"(?:^|[\s\"'])(?:import|from)\s+(" + "|".join(FRAMEWORK_IMPORTS) + r")\b",
                     re.MULTILINE)


def file_frameworks(text: str) -> tuple[str, ...]:
    """The frameworks a file (or a notebook's JSON) imports; ("none",) for framework-free code."""
    found = {FRAMEWORK_IMPORTS[root] for root in _IMPORT.findall(text)}
    return tuple(sorted(found)) or ("none",)


def tree_lines(root: Path, settings=None) -> tuple[int, collections.Counter[str],
                                                    dict[str, tuple[str, ...]]]:
    """Files dllint discovers in a tree, their lines (newlines; in all under key "", and per
    framework the file imports) and each file's frameworks, by path relative to the tree.
    Nothing is linted: `count` gives a half's size this way without reporting on its code."""
    from dllint.config import FileConfig, build_settings
    from dllint.discovery import discover

    root = root.resolve()
    settings = settings or build_settings(FileConfig(root=root))
    files = discover([str(root)], settings).files
    lines: collections.Counter[str] = collections.Counter()
    frameworks_of: dict[str, tuple[str, ...]] = {}
    for path in files:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        frameworks = file_frameworks(text)
        frameworks_of[Path(path).resolve().relative_to(root).as_posix()] = frameworks
        count = text.count("\n")
        lines[""] += count
        for framework in frameworks:
            lines[framework] += count
    return len(files), lines, frameworks_of


def count(repositories: Sequence[Repository], dest: Path) -> None:
    """Files and lines of each exported tree and of them all, per framework the files import:
    the size of a half, printed without linting it (the held-out half's findings stay unread)."""
    total_files = 0
    total: collections.Counter[str] = collections.Counter()
    for repository in repositories:
        tree = dest / repository.folder
        if not (tree / EXPORTED_MARK).is_file():
            raise FileNotFoundError(f"{tree} is not exported; run `corpus.py export` first")
        files, lines, _ = tree_lines(tree)
        total_files += files
        total.update(lines)
        print(f"{repository.name:<56} {files:5d} files {lines['']:9d} lines", flush=True)
    print(f"{'TOTAL':<56} {total_files:5d} files {total.pop('', 0):9d} lines "
          f"({len(repositories)} repositories)")
    for framework, lines in sorted(total.items()):
        print(f"    {framework:<12} {lines:9d} lines")


def lint_tree(repository: Repository, tree: Path, select: list[str] | None,
              jobs: int | None) -> tuple[int, collections.Counter[str], list[dict]]:
    """Files, lines (in all, key "", and per framework) and findings of one exported tree,
    linted as `dllint TREE` would."""
    from dllint.config import FileConfig, build_settings
    from dllint.runner import run

    root = tree.resolve()
    settings = build_settings(FileConfig(root=root), select=select)
    files, lines, frameworks_of = tree_lines(root, settings)
    result = run([str(root)], settings, jobs=jobs, use_cache=False)
    cache: dict = {}
    findings = []
    for d in result.diagnostics:
        path = Path(d.path)
        relative = path.resolve().relative_to(root).as_posix()
        text = _flagged_line(path, d.line, d.cell, cache)
        findings.append({"repository": repository.name, "path": relative, "code": d.code,
                         "line_hash": line_digest(text), "line": d.line, "cell": d.cell,
                         "message": d.message,
                         "frameworks": list(frameworks_of.get(relative, ("none",)))})
    for finding, key in zip(findings, finding_keys(findings)):
        finding["key"] = key
    return files, lines, findings


def lint(repositories: Sequence[Repository], dest: Path, select: list[str] | None,
         jobs: int | None, out: Path) -> None:
    per_rule: collections.Counter[str] = collections.Counter()
    per_framework: collections.Counter[str] = collections.Counter()
    lines_per_framework: collections.Counter[str] = collections.Counter()
    total_lines = total_files = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as stream:
        for repository in repositories:
            tree = dest / repository.folder
            if not (tree / EXPORTED_MARK).is_file():
                raise FileNotFoundError(f"{tree} is not exported; run `corpus.py export` first")
            files, file_lines, findings = lint_tree(repository, tree, select, jobs)
            lines = file_lines.pop("")
            total_files += files
            total_lines += lines
            counts = collections.Counter(f["code"] for f in findings)
            per_rule.update(counts)
            lines_per_framework.update(file_lines)
            for finding in findings:
                if not is_engine_notice(finding["code"]):
                    per_framework.update(finding["frameworks"])
            for finding in findings:
                stream.write(json.dumps(finding, sort_keys=True) + "\n")
            stream.flush()
            print(f"{repository.name:<56} {files:5d} files {lines:8d} lines "
                  f"{len(findings):4d} findings  "
                  + " ".join(f"{code}:{n}" for code, n in sorted(counts.items())), flush=True)
    total = sum(per_rule.values())
    print(f"{'TOTAL':<56} {total_files:5d} files {total_lines:8d} lines {total:4d} findings "
          f"{1000 * total / max(total_lines, 1):.4f}/kLOC ({len(repositories)} repositories)")
    print("per rule:")
    for code, count in sorted(per_rule.items()):
        print(f"    {code}: {count:4d}  {1000 * count / max(total_lines, 1):.4f}/kLOC")
    print("per framework (of the file: what it imports; a file can count for several), "
          "engine notices (DL9xx) left out:")
    for framework, lines in sorted(lines_per_framework.items()):
        count = per_framework[framework]
        print(f"    {framework:<12} {lines:8d} lines {count:4d} findings "
              f"{1000 * count / max(lines, 1):.4f}/kLOC")
    print(f"findings written to {out}")


# ---------------------------------------------------------------------------------------- report

def merge(findings: Sequence[dict], update: Sequence[dict], relinted: Iterable[str],
          order: Sequence[str]) -> list[dict]:
    """`findings` with every finding of the re-linted repositories replaced by `update`'s,
    in the manifest's order of repositories (`order`)."""
    relinted = set(relinted)
    stray = sorted({f["repository"] for f in update} - relinted)
    if stray:
        raise ValueError(f"the update holds findings of repositories not named by --only: "
                         f"{', '.join(stray)}")
    kept = [f for f in findings if f["repository"] not in relinted] + list(update)
    rank = {name: index for index, name in enumerate(order)}
    return sorted(kept, key=lambda f: rank.get(f["repository"], len(rank)))  # stable sort


def parse_classifications(text: str) -> dict[str, tuple[str, str]]:
    """key -> (verdict, reason), from `[[finding]]` tables with key, verdict and reason."""
    verdicts: dict[str, tuple[str, str]] = {}
    for entry in tomllib.loads(text).get("finding", []):
        key, verdict, reason = entry["key"], entry["verdict"], entry.get("reason", "")
        if verdict not in VERDICTS:
            raise ValueError(f"{key}: verdict {verdict!r} is not one of {VERDICTS}")
        if not reason.strip():
            raise ValueError(f"{key}: a verdict needs a one-line reason")
        if key in verdicts:
            raise ValueError(f"{key} is classified twice")
        verdicts[key] = (verdict, reason)
    return verdicts


@dataclass
class Tally:
    real: int = 0
    harmless: int = 0
    false: int = 0
    unclassified: int = 0

    def add(self, verdict: str | None) -> None:
        setattr(self, verdict or "unclassified", getattr(self, verdict or "unclassified") + 1)

    @property
    def classified(self) -> int:
        return self.real + self.harmless + self.false

    @property
    def false_share(self) -> float | None:
        return self.false / self.classified if self.classified else None

    @property
    def kept_share(self) -> float | None:
        """Real or harmless among the classified: the findings that point at the pattern."""
        return (self.real + self.harmless) / self.classified if self.classified else None

    @property
    def real_share(self) -> float | None:
        return self.real / self.classified if self.classified else None


def tally(findings: Sequence[dict], verdicts: dict[str, tuple[str, str]],
          frameworks: dict[str, tuple[str, ...]],
          ) -> tuple[dict[str, Tally], dict[str, Tally], Tally]:
    """Per rule, per framework (a finding counts for each framework its file imports, or, in
    findings written without that, each of its repository's), total."""
    per_rule: dict[str, Tally] = collections.defaultdict(Tally)
    per_framework: dict[str, Tally] = collections.defaultdict(Tally)
    total = Tally()
    for finding in findings:
        verdict = verdicts.get(finding["key"], (None, ""))[0]
        per_rule[finding["code"]].add(verdict)
        for framework in finding.get("frameworks") or frameworks.get(finding["repository"], ()):
            per_framework[framework].add(verdict)
        total.add(verdict)
    return dict(per_rule), dict(per_framework), total


def tally_by_repository_framework(findings: Sequence[dict], verdicts: dict[str, tuple[str, str]],
                                  frameworks: dict[str, tuple[str, ...]]) -> dict[str, Tally]:
    """Per framework the manifest gives the finding's repository: a Keras repository's finding
    in a helper that imports only numpy still counts for Keras here."""
    per_framework: dict[str, Tally] = collections.defaultdict(Tally)
    for finding in findings:
        verdict = verdicts.get(finding["key"], (None, ""))[0]
        for framework in frameworks.get(finding["repository"], ()):
            per_framework[framework].add(verdict)
    return dict(per_framework)


def _share(value: float | None) -> str:
    return "   -  " if value is None else f"{100 * value:5.1f}%"


def _table(title: str, rows: dict[str, Tally], total: Tally) -> list[str]:
    lines = [f"{title:<12} {'found':>5} {'real':>5} {'harml':>5} {'false':>5} {'uncl':>5}"
             f"  {'false/all':>9} {'real+harml/all':>14} {'real/all':>8}"]
    for name, t in sorted(rows.items()) + [("TOTAL", total)]:
        lines.append(f"{name:<12} {t.classified + t.unclassified:5d} {t.real:5d} {t.harmless:5d} "
                     f"{t.false:5d} {t.unclassified:5d}  {_share(t.false_share):>9} "
                     f"{_share(t.kept_share):>14} {_share(t.real_share):>8}")
    return lines


def is_engine_notice(code: str) -> bool:
    """DL9xx: the engine's own codes (a file that does not parse, is too large...), which claim
    no bug in the code and so are no part of precision."""
    return code.startswith("DL9")


def _default_codes() -> set[str]:
    from dllint.rule_table import RULE_TABLE
    return {entry.code for entry in RULE_TABLE if entry.enabled_by_default}


def report(findings: Sequence[dict], verdicts: dict[str, tuple[str, str]],
           repositories: Sequence[Repository]) -> list[str]:
    frameworks = {r.name: r.frameworks for r in repositories}
    # A findings file can hold more repositories than the half and round asked for (a lint of
    # every round); only the chosen ones are counted, and the others are said to be left out.
    outside = collections.Counter(f["repository"] for f in findings
                                  if f["repository"] not in frameworks)
    findings = [f for f in findings if f["repository"] in frameworks]
    notices = collections.Counter(f["code"] for f in findings if is_engine_notice(f["code"]))
    # A classified engine notice that is still reported is not stale, though it is not counted.
    found_keys = {f["key"] for f in findings}
    findings = [f for f in findings if not is_engine_notice(f["code"])]
    per_rule, per_framework, total = tally(findings, verdicts, frameworks)
    lines = ["found: every finding; the shares are of the classified ones (real+harml+false)"]
    lines += _table("rule", per_rule, total) + [""]
    lines += ["per framework of the flagged file (what it imports):"]
    lines += _table("framework", per_framework, total) + [""]
    lines += ["per framework of the repository (the manifest's frameworks):"]
    lines += _table("framework", tally_by_repository_framework(findings, verdicts, frameworks),
                    total)
    distinct: dict[tuple[str, str], str | None] = {}
    for f in findings:  # the same code on the same line text: a copied notebook, a translation
        distinct.setdefault((f["code"], f["line_hash"]), verdicts.get(f["key"], (None, ""))[0])
    counted = collections.Counter(distinct.values())
    classified = sum(counted[v] for v in VERDICTS)
    if classified:
        shares = ", ".join(f"{v} {counted[v]} ({100 * counted[v] / classified:.1f}%)"
                           for v in VERDICTS)
        lines += ["", f"distinct (code, line text) pairs: {len(distinct)}, "
                      f"classified {classified}: {shares}"]
    unclassified = [f for f in findings if f["key"] not in verdicts]
    if unclassified:
        lines += ["", f"unclassified ({len(unclassified)}):"]
        for f in unclassified:
            where = f"{f['path']}:{f['line']}" + (f" (cell {f['cell']})" if f.get("cell") else "")
            lines.append(f"    {f['key']}  {where}  {f['message'][:100]}")
    if notices:
        lines += ["", "engine notices (no bug claimed, not counted above): "
                  + " ".join(f"{code}:{n}" for code, n in sorted(notices.items()))]
    # A verdict of an opt-in rule (DL501, classified from a `lint --select` run) is stale only
    # in a findings file that holds that rule's findings: a default lint never looked for it.
    linted_codes = _default_codes() | {f["code"] for f in findings}
    stale = sorted(k for k in verdicts if k not in found_keys and k.split("|", 1)[0] in frameworks
                   and k.split("|", 1)[0] in {f["repository"] for f in findings}
                   and (k.split("|")[2] in linted_codes or is_engine_notice(k.split("|")[2])))
    if stale:
        lines += ["", f"classified but no longer found ({len(stale)}):"]
        lines += [f"    {k}" for k in stale]
    if outside:
        lines += ["", f"left out: {sum(outside.values())} findings of {len(outside)} repositories "
                      "outside the chosen half and round: " + ", ".join(sorted(outside))]
    return lines


# ---------------------------------------------------------------------------------------- recall

RECALL_SCRIPTS = ("planted_recall.py", "planted_recall_frameworks.py")
_RECALL_ROW = re.compile(r"^(\S+)\s+(DL\d{3})\s+(\d+)\s+(\d+)\s+[\d.]+$")


def parse_recall(output: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(kind, rule) -> (planted, found), from the table a planted_recall script prints."""
    rows = {}
    for line in output.splitlines():
        match = _RECALL_ROW.match(line.strip())
        if match:
            kind, rule, planted, found = match.groups()
            rows[(kind, rule)] = (int(planted), int(found))
    return rows


def recall(repositories: Sequence[Repository], dest: Path) -> None:
    """Plants bugs into each exported tree (both planted_recall scripts: PyTorch kinds, and
    Keras / TensorFlow / JAX kinds) and prints planted and found per repository and in total."""
    total: collections.Counter[tuple[str, str]] = collections.Counter()
    found_total: collections.Counter[tuple[str, str]] = collections.Counter()
    for repository in repositories:
        tree = dest / repository.folder
        rows: dict[tuple[str, str], tuple[int, int]] = {}
        for script in RECALL_SCRIPTS:
            completed = subprocess.run([sys.executable, str(HERE.parent / script), str(tree)],
                                       capture_output=True, text=True, check=True)
            rows.update(parse_recall(completed.stdout))
        for key, (planted, found) in rows.items():
            total[key] += planted
            found_total[key] += found
        print(f"{repository.name:<56} " + (" ".join(f"{kind}:{found}/{planted}" for (kind, _), (
            planted, found) in sorted(rows.items())) or "nothing to plant"), flush=True)
    print(f"{'kind':24} {'rule':6} {'planted':>8} {'found':>6} {'recall':>7}")
    for (kind, rule), planted in sorted(total.items()):
        print(f"{kind:24} {rule:6} {planted:8} {found_total[(kind, rule)]:6} "
              f"{found_total[(kind, rule)] / planted:7.2f}")
    planted, found = sum(total.values()), sum(found_total.values())
    if planted:
        print(f"{'all':24} {'':6} {planted:8} {found:6} {found / planted:7.2f}")


def read_findings(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


# ------------------------------------------------------------------------------------------ main

def _only(repositories: list[Repository], only: str | None) -> list[Repository]:
    """The repositories `--only` names (all when it is not given); a name that is not in the
    half is refused rather than silently linting nothing."""
    if not only:
        return repositories
    wanted = set(only.split(","))
    missing = sorted(wanted - {r.name for r in repositories})
    if missing:
        raise SystemExit(f"corpus.py: error: --only names repositories not in this half: "
                         f"{', '.join(missing)}")
    return [r for r in repositories if r.name in wanted]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    commands = parser.add_subparsers(dest="command", required=True)
    splitting = commands.add_parser("split", help="print each repository's half")
    exporting = commands.add_parser("export", help="export the recorded commits from the mirrors")
    exporting.add_argument("--dest", type=Path, required=True)
    exporting.add_argument("--half", choices=HALVES)
    exporting.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    exporting.add_argument("--only", help="comma-separated owner/name: just these repositories")
    counting = commands.add_parser("count", help="files and lines of one half's exported "
                                   "trees, per framework, without linting them")
    counting.add_argument("--dest", type=Path, required=True)
    counting.add_argument("--half", choices=HALVES, required=True)
    linting = commands.add_parser("lint", help="lint one half's exported trees")
    linting.add_argument("--dest", type=Path, required=True)
    linting.add_argument("--half", choices=HALVES, required=True)
    linting.add_argument("--select", help="comma-separated codes or prefixes (default rules)")
    linting.add_argument("--jobs", type=int, default=None)
    linting.add_argument("--out", type=Path)
    linting.add_argument("--only", help="comma-separated owner/name: just these repositories")
    merging = commands.add_parser("merge", help="replace re-linted repositories' findings")
    merging.add_argument("--findings", type=Path, required=True)
    merging.add_argument("--update", type=Path, required=True)
    merging.add_argument("--only", required=True,
                         help="comma-separated owner/name: the repositories re-linted")
    recalling = commands.add_parser("recall", help="planted-bug recall on one half's trees")
    recalling.add_argument("--dest", type=Path, required=True)
    recalling.add_argument("--half", choices=HALVES, required=True)
    recalling.add_argument("--only", help="comma-separated owner/name: just these repositories")
    reporting = commands.add_parser("report", help="precision of one half's classified findings")
    reporting.add_argument("--half", choices=HALVES, required=True)
    reporting.add_argument("--findings", type=Path)
    reporting.add_argument("--classifications", type=Path, default=CLASSIFICATIONS)
    for command in (splitting, exporting, counting, linting, recalling, reporting):
        command.add_argument("--round", type=int, dest="round_number", metavar="N",
                             help="only the repositories of round N (default: every round)")
    options = parser.parse_args(argv)
    try:
        repositories = load_manifest(options.manifest)
    except (OSError, ValueError, tomllib.TOMLDecodeError) as error:
        parser.error(f"manifest {options.manifest}: {error}")
    rounds = sorted({r.round for r in repositories})
    round_number = getattr(options, "round_number", None)  # `merge` takes no round
    if round_number is not None and round_number not in rounds:
        parser.error(f"--round {round_number}: the manifest has rounds "
                     + ", ".join(map(str, rounds)))

    if options.command == "split":
        for half in HALVES:
            chosen = in_half(repositories, half, round_number)
            per_round = collections.Counter(r.round for r in chosen)
            print(f"{half}: {len(chosen)} repositories"
                  + (" (" + ", ".join(f"round {n}: {per_round[n]}" for n in sorted(per_round))
                     + ")" if len(per_round) > 1 else ""))
            for r in chosen:
                print(f"    {r.name:<56} {r.kind:<17} {','.join(r.frameworks)}"
                      + (f"  round {r.round}" if len(rounds) > 1 else "")
                      + (f"  (seen: {r.seen_in})" if r.seen_in else ""))
        return 0
    if options.command == "export":
        for r in _only(in_half(repositories, options.half, round_number), options.only):
            tree, written, left_out = export(r, options.mirrors, options.dest)
            print(f"{r.name:<56} {r.commit[:12]} -> {tree}  {written} files"
                  + (f", {left_out} not in the snapshot (4 MiB and over) or links"
                     if left_out else ""),
                  flush=True)
        return 0
    if options.command == "count":
        count(in_half(repositories, options.half, round_number), options.dest)
        return 0
    if options.command == "recall":
        recall(_only(in_half(repositories, options.half, round_number), options.only), options.dest)
        return 0
    if options.command == "merge":
        relinted = options.only.split(",")
        unknown = sorted(set(relinted) - {r.name for r in repositories})
        if unknown:
            parser.error(f"--only names repositories not in the manifest: {', '.join(unknown)}")
        try:
            merged = merge(read_findings(options.findings), read_findings(options.update),
                           relinted, [r.name for r in repositories])
        except ValueError as problem:
            parser.error(str(problem))
        with options.findings.open("w", encoding="utf-8") as stream:
            for finding in merged:
                stream.write(json.dumps(finding, sort_keys=True) + "\n")
        print(f"{options.findings}: {len(merged)} findings")
        return 0
    findings_path = getattr(options, "findings", None) or getattr(options, "out", None) \
        or default_findings_path(options.half, round_number)
    if options.command == "lint":
        select = options.select.split(",") if options.select else None
        chosen = _only(in_half(repositories, options.half, round_number), options.only)
        lint(chosen, options.dest, select, options.jobs, findings_path)
        return 0
    verdicts = (parse_classifications(options.classifications.read_text(encoding="utf-8"))
                if options.classifications.exists() else {})
    findings = read_findings(findings_path)
    print("\n".join(report(findings, verdicts,
                           in_half(repositories, options.half, round_number))))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except FileNotFoundError as error:  # a tree not exported, a mirror or findings file missing
        print(f"corpus.py: error: {error}", file=sys.stderr)
        sys.exit(2)
