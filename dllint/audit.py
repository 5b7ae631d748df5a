"""`dllint audit PATH`: a self-contained report a team lead can read about inherited code.

HTML (one file, inline CSS, no scripts, no external requests) or Markdown: findings per rule and
per folder, the worst files, then every finding with its code frame and the rule's explanation;
with `--trace SCRIPT`, the runtime report of one traced training step and its picture.
"""

from __future__ import annotations

import base64
import datetime
import html
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from dllint import __version__
from dllint.lines import split_lines
from dllint.registry import lookup
from dllint.source import read_bytes
from dllint.types import Diagnostic


@dataclass
class AuditData:
    target: str  # what the title names: the audited paths
    files: int
    lines: int
    diagnostics: list[Diagnostic]  # static findings and, with --trace, the runtime ones
    trace_text: str = ""
    trace_png: bytes | None = None
    generated: str = field(default_factory=lambda: datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))
    paths: Sequence[str] = ()  # the audited paths (default: target); files are named from their folder
    # The linted text of each file with findings, by path, for code frames (files are not read).
    sources: Mapping[str, str] = field(default_factory=dict)

    def by_rule(self) -> list[tuple[str, int]]:
        return Counter(d.code for d in self.diagnostics).most_common()

    def by_folder(self) -> list[tuple[str, int]]:
        return Counter(os.path.dirname(self.relative(d.path)) or "." for d in self.diagnostics
                       ).most_common()

    def worst_files(self, count: int = 10) -> list[tuple[str, int]]:
        return Counter(self.relative(d.path) for d in self.diagnostics).most_common(count)

    def base(self) -> str:
        """The folder holding every audited path: findings are named relative to it."""
        folders = [os.path.abspath(path if os.path.isdir(path) else os.path.dirname(path) or ".")
                   for path in (self.paths or (self.target,))]
        try:
            return os.path.commonpath(folders)
        except ValueError:  # paths on different Windows drives
            return os.getcwd()

    def relative(self, path: str) -> str:
        """`path` from the audited folder, else from the current directory (a traced script
        elsewhere), else as it is."""
        for base in (self.base(), os.getcwd()):
            try:
                relative = os.path.relpath(path, base)
            except ValueError:
                continue
            if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
                return relative
        return path


def _section(documentation: str, title: str) -> str:
    match = re.search(rf"## {re.escape(title)}\n(.*?)(?=\n## |\Z)", documentation, re.S)
    return match.group(1).strip() if match else ""


# A Markdown code span: a run of backticks, then text, then a run of the same length.
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)


def inline_html(text: str) -> str:
    """`text` escaped for HTML, its Markdown code spans (`x`) shown as <code>x</code>."""

    def code(match: re.Match[str]) -> str:
        content = match.group(2)
        if len(content) > 2 and content[0] == content[-1] == " " and content.strip():
            content = content[1:-1]  # `` `x` `` holds a backtick-delimited x
        return f"<code>{content}</code>"

    return _CODE_SPAN.sub(code, html.escape(text))


def _frame(data: AuditData, diagnostic: Diagnostic,
           context: int = 2) -> list[tuple[int, str, bool]]:
    if diagnostic.cell is not None:
        return []
    lines = split_lines(data.sources.get(diagnostic.path, ""))
    start = max(1, diagnostic.line - context)
    end = min(len(lines), diagnostic.span.end_line + context)
    return [(number, lines[number - 1], diagnostic.line <= number <= diagnostic.span.end_line)
            for number in range(start, end + 1)]


def _location(data: AuditData, diagnostic: Diagnostic) -> str:
    where = data.relative(diagnostic.path)
    if diagnostic.cell is not None:
        where += f":cell {diagnostic.cell}"
    return f"{where}:{diagnostic.line}:{diagnostic.column}"


STYLE = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;margin:0 auto;max-width:1100px;
padding:24px;color:#1d1f23;background:#fff}
h1{font-size:26px;margin-bottom:4px}h2{margin-top:36px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666}.cards{display:flex;gap:16px;flex-wrap:wrap;margin:16px 0}
.card{border:1px solid #ddd;border-radius:8px;padding:12px 18px;min-width:120px}
.card b{display:block;font-size:26px}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:6px 10px;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f6f7f9}.bar{background:#d9534f;height:10px;border-radius:3px}
.finding{border:1px solid #e3e3e3;border-radius:8px;margin:14px 0;padding:12px 16px}
.finding h3{margin:0 0 6px;font-size:16px}.code{font-family:ui-monospace,Menlo,Consolas,monospace}
pre{background:#f6f8fa;border-radius:6px;padding:10px;overflow-x:auto;font-size:13px;margin:8px 0}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:90%;background:#f0f2f5;
padding:1px 4px;border-radius:4px}
.hit{background:#ffe8e6;display:inline-block;width:100%}.sev-error{color:#c9302c}.sev-warning{color:#b8860b}
.sev-info{color:#31708f}.why{color:#444;font-size:14px}.related{color:#555;font-size:14px}
img{max-width:100%}
"""


def render_html(data: AuditData) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           f"<title>dllint audit: {e(data.target)}</title>", f"<style>{STYLE}</style></head><body>",
           f"<h1>dllint audit: {e(data.target)}</h1>",
           f"<p class='meta'>dllint {e(__version__)} · {e(data.generated)}</p>",
           "<div class='cards'>",
           f"<div class='card'><b>{data.files}</b>files</div>",
           f"<div class='card'><b>{data.lines:,}</b>lines</div>",
           f"<div class='card'><b>{len(data.diagnostics)}</b>findings</div>",
           f"<div class='card'><b>{len(data.by_rule())}</b>rules hit</div></div>"]
    if not data.diagnostics:
        out.append("<p>No findings.</p>")
    else:
        most = max(count for _, count in data.by_rule())
        out.append("<h2>Findings per rule</h2><table><tr><th>code</th><th>rule</th>"
                   "<th>findings</th><th></th></tr>")
        for code, count in data.by_rule():
            entry = lookup(code)
            name = entry.name if entry else ""
            summary = entry.summary if entry else ""
            out.append(f"<tr><td class='code'><a href='#{e(code)}'>{e(code)}</a></td>"
                       f"<td><b>{e(name)}</b><br><span class='meta'>{inline_html(summary)}</span></td>"
                       f"<td>{count}</td><td style='width:30%'><div class='bar' "
                       f"style='width:{100 * count / most:.0f}%'></div></td></tr>")
        out.append("</table><h2>Findings per folder</h2><table><tr><th>folder</th><th>findings</th></tr>")
        out += [f"<tr><td class='code'>{e(folder)}</td><td>{count}</td></tr>"
                for folder, count in data.by_folder()]
        out.append("</table><h2>Worst files</h2><table><tr><th>file</th><th>findings</th></tr>")
        out += [f"<tr><td class='code'>{e(file)}</td><td>{count}</td></tr>"
                for file, count in data.worst_files()]
        out.append("</table><h2>All findings</h2>")
        seen_codes = set()
        for diagnostic in data.diagnostics:
            anchor = "" if diagnostic.code in seen_codes else f" id='{e(diagnostic.code)}'"
            seen_codes.add(diagnostic.code)
            entry = lookup(diagnostic.code)
            why = _section(entry.documentation(), "Why is this bad?") if entry else ""
            instead = _section(entry.documentation(), "Use instead") if entry else ""
            out.append(f"<div class='finding'{anchor}><h3><span class='code sev-"
                       f"{e(diagnostic.severity.value)}'>{e(diagnostic.code)}</span> "
                       f"<span class='code'>{e(_location(data, diagnostic))}</span></h3>"
                       f"<div>{inline_html(diagnostic.message)}</div>")
            frame = _frame(data, diagnostic)
            if frame:
                body = "".join(f"<span class='{'hit' if hit else ''}'>{number:>5} | {e(text)}</span>\n"
                               for number, text, hit in frame)
                out.append(f"<pre class='code'>{body}</pre>")
            for related in diagnostic.related:
                cell = f":cell {related.cell}" if related.cell else ""
                out.append(f"<div class='related'>↳ {e(data.relative(related.path))}{cell}:"
                           f"{related.span.start_line}: {inline_html(related.message)}</div>")
            if why:
                out.append(f"<p class='why'><b>Why it matters.</b> {inline_html(why)}</p>")
            if instead:
                out.append(f"<details><summary>What to write instead</summary><pre class='code'>"
                           f"{e(instead.replace('```python', '').replace('```', '').strip())}</pre>"
                           "</details>")
            out.append("</div>")
    if data.trace_text:
        out.append(f"<h2>Runtime trace</h2><pre class='code'>{e(data.trace_text)}</pre>")
        if data.trace_png:
            encoded = base64.b64encode(data.trace_png).decode()
            out.append(f"<img alt='gradient flow and loss curves' src='data:image/png;base64,{encoded}'>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render_markdown(data: AuditData) -> str:
    out = [f"# dllint audit: {data.target}", "",
           f"dllint {__version__} · {data.generated} · {data.files} files · {data.lines:,} lines · "
           f"{len(data.diagnostics)} findings", ""]
    if data.diagnostics:
        out += ["## Findings per rule", "", "| code | rule | findings |", "|---|---|---|"]
        for code, count in data.by_rule():
            entry = lookup(code)
            out.append(f"| {code} | {entry.name if entry else ''} | {count} |")
        out += ["", "## Findings per folder", "", "| folder | findings |", "|---|---|"]
        out += [f"| `{folder}` | {count} |" for folder, count in data.by_folder()]
        out += ["", "## Worst files", "", "| file | findings |", "|---|---|"]
        out += [f"| `{file}` | {count} |" for file, count in data.worst_files()]
        out += ["", "## All findings", ""]
        for diagnostic in data.diagnostics:
            entry = lookup(diagnostic.code)
            out += [f"### {diagnostic.code} `{_location(data, diagnostic)}`", "", diagnostic.message, ""]
            frame = _frame(data, diagnostic)
            if frame:
                out += ["```python", *(f"{text}" for _, text, _ in frame), "```", ""]
            out += [f"- related: `{data.relative(r.path)}:{r.span.start_line}` {r.message}"
                    for r in diagnostic.related]
            why = _section(entry.documentation(), "Why is this bad?") if entry else ""
            if why:
                out += ["", f"**Why it matters.** {why}", ""]
    else:
        out.append("No findings.")
    if data.trace_text:
        out += ["", "## Runtime trace", "", "```", data.trace_text.rstrip(), "```"]
    return "\n".join(out) + "\n"


def count_lines(paths: Sequence[str], max_size: int) -> int:
    """Lines of the files that were linted: through `read_bytes`, so a FIFO or a device is not
    opened and a file over `max_size` (skipped by the linter too) is not read."""
    total = 0
    for path in paths:
        data = read_bytes(path, max_size)
        if not isinstance(data, Diagnostic):
            total += data.count(b"\n")
    return total
