"""The runtime corpus of issue 25: `dllint trace` on realistic training scripts, clean and buggy.

    python benchmarks/runtime_corpus.py [--half tuning|held-out|both] [--only NAME,...]
        [--steps 2] [--timeout 180] [--jobs 1] [--out FINDINGS.jsonl]

The scripts are fixtures/runtime/real/corpus/*.py; benchmarks/runtime_corpus/manifest.toml lists
each one with the RT codes it should get (`expect = []` for a clean script), optionally `also`:
codes that a buggy script's bug rightly causes too (counted neither as caught nor as false), its
frameworks and its half. The halves are fixed by the file name alone: the first byte of sha256(name) even is
"tuning", odd is "held-out" (`half_of`), so adding a script never moves another. Checks are tuned
on the tuning half; the held-out half is the result.

Every script runs in its own subprocess: `python -m dllint trace SCRIPT --format json -o FILE
--no-static --device cpu --steps N --timeout T` (the runtime findings only; the static rules are
measured by benchmarks/corpus.py), with a wall-clock limit of T + 60 s around it. Per half it
prints: clean scripts with any runtime finding (and with one at error level), the false findings
per code (every finding on a clean script, and on a buggy script every code it neither expects
nor lists in `also`),
the bugs caught (every expected code reported) out of the buggy scripts, and the scripts that
crashed (the trace is incomplete, or dllint itself failed) or timed out. `--steps` defaults to 2 so
that a missing zero_grad (RT009) has a second backward to show in. `--out` writes one JSON line
per script (record "script") and per finding (record "finding"); `--from` reads such a file back
and prints its summary against the current manifest, without tracing anything (after an edit of
`expect` or `also`).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fixtures" / "runtime" / "real" / "corpus"
MANIFEST = ROOT / "benchmarks" / "runtime_corpus" / "manifest.toml"
HALVES = ("tuning", "held-out")
FRAMEWORKS = frozenset({"pytorch", "transformers", "lightning", "accelerate", "peft", "diffusers"})
RUNTIME_CODE = re.compile(r"RT0(0[1-9]|1[0-5])")
# Exit statuses of `dllint trace`: 0 nothing found, 1 findings, 3 the trace is incomplete.
TRACED, FOUND, INCOMPLETE = 0, 1, 3
# Seconds allowed beyond --timeout before the subprocess is killed (dllint's own start and exit).
TIMEOUT_SLACK = 60.0


class ManifestError(ValueError):
    """The manifest does not describe the corpus: a field missing or malformed, a name twice."""


@dataclasses.dataclass(frozen=True)
class Script:
    name: str
    expect: tuple[str, ...]
    frameworks: tuple[str, ...]
    patterns: tuple[str, ...]
    half: str
    also: tuple[str, ...] = ()

    @property
    def path(self) -> Path:
        return CORPUS / self.name

    @property
    def clean(self) -> bool:
        return not self.expect


@dataclasses.dataclass
class Outcome:
    """One script's trace: its status and its runtime findings (dicts of the JSON report)."""

    script: Script
    status: str  # "traced" | "crashed" | "timed out"
    detail: str
    findings: list[dict]
    seconds: float

    @property
    def codes(self) -> set[str]:
        return {finding["code"] for finding in self.findings}

    def false_findings(self) -> list[dict]:
        rightful = set(self.script.expect) | set(self.script.also)
        return [finding for finding in self.findings if finding["code"] not in rightful]

    @property
    def caught(self) -> bool:
        return bool(self.script.expect) and set(self.script.expect) <= self.codes


def half_of(name: str) -> str:
    """The half a script belongs to, fixed by its file name: sha256's first byte even is tuning."""
    return "tuning" if hashlib.sha256(name.encode("utf-8")).digest()[0] % 2 == 0 else "held-out"


def _strings(entry: dict, field: str, where: str) -> tuple[str, ...]:
    value = entry.get(field)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ManifestError(f"{where}: `{field}` must be a list of strings")
    return tuple(value)


def parse_manifest(text: str) -> list[Script]:
    """The scripts of a manifest, checked field by field; a name may appear once."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"not valid TOML: {error}") from None
    scripts: list[Script] = []
    seen: set[str] = set()
    for index, entry in enumerate(data.get("script", [])):
        where = f"script #{index + 1}"
        name = entry.get("name")
        if not isinstance(name, str) or not name.endswith(".py") or "/" in name:
            raise ManifestError(f"{where}: `name` must be a file name ending in .py")
        where = f"script {name}"
        if name in seen:
            raise ManifestError(f"{where}: listed twice")
        seen.add(name)
        expect = _strings(entry, "expect", where)
        also = _strings(entry, "also", where) if "also" in entry else ()
        for field, codes in (("expect", expect), ("also", also)):
            for code in codes:
                if not RUNTIME_CODE.fullmatch(code):
                    raise ManifestError(f"{where}: `{field}` holds {code!r}, not a runtime code "
                                        "RT001-RT015")
        if also and not expect:
            raise ManifestError(f"{where}: `also` is for a buggy script; a clean one expects []")
        frameworks = _strings(entry, "frameworks", where)
        if not frameworks or set(frameworks) - FRAMEWORKS:
            raise ManifestError(f"{where}: `frameworks` must name some of {sorted(FRAMEWORKS)}")
        half = entry.get("half")
        if half not in HALVES:
            raise ManifestError(f"{where}: `half` must be one of {HALVES}")
        scripts.append(Script(name, expect, frameworks, _strings(entry, "patterns", where), half,
                              also))
    return scripts


def load_manifest(path: Path = MANIFEST) -> list[Script]:
    return parse_manifest(path.read_text(encoding="utf-8"))


def trace_command(script: Script, report: Path, steps: int, timeout: float) -> list[str]:
    return [sys.executable, "-m", "dllint", "trace", str(script.path), "--format", "json",
            "-o", str(report), "--no-static", "--device", "cpu", "--steps", str(steps),
            "--timeout", str(timeout)]


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def outcome_of(script: Script, returncode: int, report_text: str, stderr: str,
               seconds: float) -> Outcome:
    """Reads one trace's exit status and JSON report into an Outcome."""
    if returncode not in (TRACED, FOUND, INCOMPLETE):
        return Outcome(script, "crashed", f"dllint exited {returncode}: {_last_line(stderr)}",
                       [], seconds)
    try:
        report = json.loads(report_text)
    except json.JSONDecodeError:
        return Outcome(script, "crashed", f"no JSON report (exit {returncode}): "
                       f"{_last_line(stderr)}", [], seconds)
    findings = [diagnostic for diagnostic in report.get("diagnostics", [])
                if RUNTIME_CODE.fullmatch(str(diagnostic.get("code", "")))]
    if returncode == INCOMPLETE or not report.get("complete", False):
        reason = report.get("incomplete_reason") or report.get("detail") or "incomplete"
        status = "timed out" if report.get("outcome") == "timeout" else "crashed"
        return Outcome(script, status, f"{reason}: {_last_line(report.get('user_traceback') or '')}",
                       findings, seconds)
    return Outcome(script, "traced", report.get("detail", ""), findings, seconds)


def run_script(script: Script, steps: int, timeout: float) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="dllint-runtime-corpus-") as folder:
        report = Path(folder) / "report.json"
        started = time.perf_counter()
        try:
            completed = subprocess.run(trace_command(script, report, steps, timeout), cwd=ROOT,
                                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                       timeout=timeout + TIMEOUT_SLACK)
        except subprocess.TimeoutExpired:
            return Outcome(script, "timed out", f"killed after {timeout + TIMEOUT_SLACK:g} s", [],
                           time.perf_counter() - started)
        seconds = time.perf_counter() - started
        text = report.read_text(encoding="utf-8") if report.exists() else ""
        return outcome_of(script, completed.returncode, text, completed.stderr, seconds)


@dataclasses.dataclass
class Summary:
    """The figures of one half."""

    half: str
    clean: int
    clean_flagged: int
    clean_flagged_error: int
    false_by_code: dict[str, tuple[int, int]]  # code -> (findings, scripts)
    buggy: int
    caught: int
    missed: list[str]
    failed: list[str]  # "name: crashed|timed out (detail)"


def summarize(half: str, outcomes: list[Outcome]) -> Summary:
    clean = [o for o in outcomes if o.script.clean]
    buggy = [o for o in outcomes if not o.script.clean]
    false_by_code: dict[str, tuple[int, int]] = {}
    for outcome in outcomes:
        per_code: dict[str, int] = {}
        for finding in outcome.false_findings():
            per_code[finding["code"]] = per_code.get(finding["code"], 0) + 1
        for code, count in per_code.items():
            findings, scripts = false_by_code.get(code, (0, 0))
            false_by_code[code] = (findings + count, scripts + 1)
    return Summary(
        half=half, clean=len(clean),
        clean_flagged=sum(bool(o.findings) for o in clean),
        clean_flagged_error=sum(any(f.get("severity") == "error" for f in o.findings)
                                for o in clean),
        false_by_code=dict(sorted(false_by_code.items())),
        buggy=len(buggy), caught=sum(o.caught for o in buggy),
        missed=[f"{o.script.name} (expects {', '.join(o.script.expect)}; got "
                f"{', '.join(sorted(o.codes)) or 'nothing'})" for o in buggy if not o.caught],
        failed=[f"{o.script.name}: {o.status} ({o.detail})" for o in outcomes
                if o.status != "traced"])


def render(summary: Summary) -> str:
    lines = [f"== {summary.half} half ==",
             f"clean scripts with a runtime finding: {summary.clean_flagged}/{summary.clean} "
             f"(at error level: {summary.clean_flagged_error}/{summary.clean})",
             f"bugs caught (expected code reported): {summary.caught}/{summary.buggy}"]
    if summary.false_by_code:
        lines.append("false findings per code (findings in scripts):")
        lines += [f"  {code}: {findings} in {scripts}"
                  for code, (findings, scripts) in summary.false_by_code.items()]
    else:
        lines.append("false findings per code: none")
    if summary.missed:
        lines.append("bugs missed:")
        lines += [f"  {missed}" for missed in summary.missed]
    lines.append(f"crashed or timed out: {len(summary.failed)}")
    lines += [f"  {failed}" for failed in summary.failed]
    return "\n".join(lines)


def records(outcome: Outcome) -> list[dict]:
    """The JSON lines of one script: its outcome, then each runtime finding."""
    script = outcome.script
    lines = [{"record": "script", "script": script.name, "half": script.half,
              "expect": list(script.expect), "status": outcome.status, "detail": outcome.detail,
              "codes": sorted(outcome.codes), "caught": outcome.caught,
              "seconds": round(outcome.seconds, 1)}]
    for finding in outcome.findings:
        lines.append({"record": "finding", "script": script.name, "half": script.half,
                      "code": finding["code"], "severity": finding.get("severity"),
                      "line": finding.get("line"), "message": finding.get("message"),
                      "expected": finding["code"] in script.expect})
    return lines


def read_records(lines: list[str], scripts: list[Script]) -> list[Outcome]:
    """The outcomes stored by --out, judged against `scripts` (the current manifest); a script
    no longer in the manifest, or a line that is not a record, is a ManifestError."""
    by_name = {script.name: script for script in scripts}
    outcomes: dict[str, Outcome] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            name, kind = record["script"], record["record"]
            if name not in by_name:
                raise ManifestError(f"line {number}: {name} is not in the manifest")
            if kind == "script":
                outcomes[name] = Outcome(by_name[name], record["status"], record["detail"], [],
                                         float(record["seconds"]))
            elif kind == "finding":
                outcomes[name].findings.append({key: record[key] for key in
                                                ("code", "severity", "line", "message")})
            else:
                raise ManifestError(f"line {number}: unknown record {kind!r}")
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            if isinstance(error, ManifestError):
                raise
            raise ManifestError(f"line {number}: not a record written by --out ({error})") from None
    return list(outcomes.values())


def select(scripts: list[Script], half: str, only: str | None) -> list[Script]:
    """The scripts of `half` ("both" for all), narrowed to the names in `only` (comma-separated);
    a name not in the manifest is a ManifestError."""
    chosen = [s for s in scripts if half == "both" or s.half == half]
    if only:
        names = {name.strip() for name in only.split(",") if name.strip()}
        unknown = names - {s.name for s in scripts}
        if unknown:
            raise ManifestError(f"not in the manifest: {', '.join(sorted(unknown))}")
        chosen = [s for s in chosen if s.name in names]
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--half", choices=(*HALVES, "both"), default="both")
    parser.add_argument("--only", help="comma-separated script names (of the chosen half)")
    parser.add_argument("--steps", type=int, default=2, help="optimizer steps per trace")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per script")
    parser.add_argument("--jobs", type=int, default=1, help="scripts traced at once")
    parser.add_argument("--out", type=Path, help="write JSON lines of every outcome and finding")
    parser.add_argument("--from", dest="source", type=Path,
                        help="summarize the JSON lines of an earlier --out instead of tracing")
    args = parser.parse_args(argv)
    try:
        scripts = select(load_manifest(), args.half, args.only)
        if args.source:
            chosen = {script.name for script in scripts}
            lines = args.source.read_text(encoding="utf-8").splitlines()
            stored = [o for o in read_records(lines, load_manifest()) if o.script.name in chosen]
    except ManifestError as error:
        where = args.source if args.source and "line " in str(error) else MANIFEST.relative_to(ROOT)
        print(f"runtime_corpus: error: {where}: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"runtime_corpus: error: {error}", file=sys.stderr)
        return 2
    if args.source:
        for half in HALVES:
            in_half = [o for o in stored if o.script.half == half]
            if in_half:
                print(render(summarize(half, in_half)))
                print()
        return 0
    outcomes: list[Outcome] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_script, s, args.steps, args.timeout) for s in scripts]
        for future in futures:
            outcome = future.result()
            outcomes.append(outcome)
            print(f"  {outcome.script.half:8} {outcome.script.name:48} {outcome.status:9} "
                  f"{outcome.seconds:6.1f} s  {', '.join(sorted(outcome.codes)) or '-'}",
                  file=sys.stderr, flush=True)
    if args.out:
        with args.out.open("w", encoding="utf-8") as out:
            for outcome in outcomes:
                for record in records(outcome):
                    out.write(json.dumps(record) + "\n")
    for half in HALVES:
        in_half = [o for o in outcomes if o.script.half == half]
        if in_half:
            print(render(summarize(half, in_half)))
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
