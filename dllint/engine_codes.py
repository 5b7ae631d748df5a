"""Codes the engine itself reports: files it could not analyse, unused suppressions, its own crashes.

They are documented like rules (`dllint explain DL903`) but belong to no rule module, since no
rule's traversal can produce them.
"""

from __future__ import annotations

from dataclasses import dataclass

from dllint.types import Severity


@dataclass(frozen=True)
class EngineCode:
    code: str
    name: str
    summary: str
    severity: Severity
    doc: str

    def documentation(self) -> str:
        return self.doc


IO_ERROR = EngineCode(
    "DL900", "io-error", "A file or directory could not be read.", Severity.ERROR,
    "## What it does\nReports a path that exists but could not be read (permissions, a broken "
    "symlink, a symlink loop, a directory that cannot be listed), and a path that is not a "
    "regular file (a FIFO, a device such as `/dev/zero`, a socket), which is never opened: "
    "reading it could wait forever or never end.\n\n## Why is this bad?\nThe file was not "
    "checked; a clean run would be a false reassurance.",
)
DECODE_ERROR = EngineCode(
    "DL901", "decode-error", "A file is not valid text in its declared encoding.", Severity.ERROR,
    "## What it does\nReports a file whose bytes do not decode as UTF-8 or as the encoding its "
    "coding cookie (PEP 263) declares, or whose cookie names a codec that is not a text "
    "encoding (`rot13`, `hex`, `zlib`).\n\n## Why is this bad?\nPython itself will refuse "
    "to import it; dllint could not check it.",
)
BINARY_FILE = EngineCode(
    "DL902", "binary-file", "A file contains NUL bytes and is not Python source.", Severity.ERROR,
    "## What it does\nReports a file named like Python source whose content is binary "
    "(it contains NUL bytes).\n\n## Why is this bad?\nIt cannot be Python source; it was not "
    "checked.",
)
SYNTAX_ERROR = EngineCode(
    "DL903", "syntax-error", "A file does not parse as Python 3.", Severity.ERROR,
    "## What it does\nReports a file that does not parse, at the position of the error.\n\n"
    "## Why is this bad?\nThe file was not checked (Python 2 code is reported here too).",
)
FILE_TOO_LARGE = EngineCode(
    "DL904", "file-too-large", "A file is larger than `max-file-size` and was skipped.",
    Severity.WARNING,
    "## What it does\nReports a file larger than the configured `max-file-size` (default 5 MiB), "
    "which is skipped: such files are almost always generated.\n\n## Why is this bad?\nThe file "
    "was not checked. Raise `max-file-size` in `[tool.dllint]` to check it, or exclude it.",
)
UNUSED_SUPPRESSION = EngineCode(
    "DL905", "unused-suppression", "A suppression comment suppresses nothing.", Severity.WARNING,
    "## What it does\nWith `--report-unused-suppressions`, reports a `# dllint: ignore[...]` or "
    "`# noqa: DL...` comment whose codes matched no finding on its line.\n\n## Why is this "
    "bad?\nStale suppressions hide the next real finding on that line.",
)
MALFORMED_SUPPRESSION = EngineCode(
    "DL910", "malformed-suppression", "A suppression comment is not in a form dllint reads.",
    Severity.WARNING,
    "## What it does\nReports a comment that looks like a suppression but is not one dllint "
    "reads, or that reads differently from what it seems to say, with what to write instead:\n\n"
    "- `# dllint: noqa: DL001`, `# dllint: disable=DL001`, `# dllint: noqa` (a file-level "
    "`noqa` as ruff writes it): after `dllint:` only `ignore` and `file-ignore` are directives; "
    "these suppress nothing.\n"
    "- `# dllint: ignore DL001`, `# noqa DL001`: codes without their brackets or colon; the "
    "comment suppresses every code on the line, not only DL001.\n"
    "- `# dllint: ignore[DL001` (unclosed), `# dllint: ignore[]`, `# noqa:` with no code: "
    "the first suppresses every code, the others nothing.\n"
    "- `# dllint: ignore[DL01]`: a code that no rule, engine check or runtime check has.\n\n"
    "## Example\n```python\nfiles = glob.glob('*.png')  # dllint: noqa: DL001\n```\n\n"
    "## Use instead\n```python\nfiles = glob.glob('*.png')  # dllint: ignore[DL001]\n```\n\n"
    "## Why is this bad?\nThe finding it was written to silence is still reported, or "
    "others it was not meant for are silenced, and nothing says so (ruff warns about its own "
    "malformed `# noqa` comments for the same reason). It is a finding rather than a line on "
    "standard error so that the editor, pre-commit and every report format show it at its line. "
    "It is not itself suppressed by the comment it is about; `ignore = [\"DL910\"]` switches "
    "it off.",
)
NOTEBOOK_ERROR = EngineCode(
    "DL906", "notebook-error", "A notebook could not be read as a Python notebook.",
    Severity.ERROR,
    "## What it does\nReports an `.ipynb` file that is not valid JSON, nests JSON too deeply, "
    "is not in nbformat 4 (nbformat 3 is not read), has a field of the wrong type for nbformat "
    "4 (the message names it, such as `cells[0].source`), or runs a kernel other than Python."
    "\n\n## Why is this bad?\nThe notebook was not checked.",
)
TOO_DEEP = EngineCode(
    "DL907", "too-deeply-nested", "A file nests code too deeply to be analysed; skipped.",
    Severity.WARNING,
    "## What it does\nReports a file whose code nests so deeply (usually generated code: "
    "expressions or blocks thousands of levels deep) that analysing it would exhaust Python's "
    "stack. The file is skipped.\n\n## Why is this bad?\nThe file was not checked. Exclude "
    "generated files, or split the expression.",
)
OVER_BUDGET = EngineCode(
    "DL909", "file-over-budget", "A file would take more time or memory than its budget; skipped.",
    Severity.WARNING,
    "## What it does\nReports a file whose analysis would exceed, or did exceed, its budget, "
    "and skips it; the run goes on with the other files. The budgets are `file-time-budget` "
    "(seconds per file, default 10) and `file-memory-budget` (MiB per worker process, default "
    "4096), set in `[tool.dllint]`; `--file-time-budget` overrides the first.\n\nBefore a "
    "file is parsed, one linear pass over its tokens reports, from every entry point alike, "
    "the shapes that libcst parses in super-linear time: an expression of more than 1,000 "
    "operators or calls in a row (a generated `1 + 1 + ...`) or a file of more characters than 100,000 per second of `file-time-budget` (brackets nested more than 200 deep, which "
    "libcst parses in quadratic time too, are DL903: CPython refuses them). When "
    "files are linted by worker processes (`--jobs` above 1 and 16 files or more), a worker "
    "that spends longer than `file-time-budget` on one file is stopped and the file reported; "
    "on Linux, a file that needs more than `file-memory-budget` is reported too. The message "
    "says which budget was exceeded.\n\n## Why is this bad?\nThe file was not checked. Such "
    "files are almost always generated: exclude them, or raise the budget (an over-budget "
    "result is never cached, so the next run tries again).",
)
FIX_NOT_WRITTEN = EngineCode(
    "DL908", "fix-not-written", "`--fix` could not write a file's fixes.", Severity.ERROR,
    "## What it does\nWith `--fix`, reports a file whose fixes were not written, and why: the "
    "file is read-only, it changed while dllint was running, it is not a regular file, the fixed "
    "text cannot be encoded in the file's encoding, or the write failed. The findings listed for "
    "the file are those of its text on disk, and the run exits with status 2.\n\n## Why is this "
    "bad?\nThe file was not fixed. A read-only file is never written: make it writable to fix "
    "it.",
)
INTERNAL_ERROR = EngineCode(
    "DL999", "internal-error", "dllint crashed while analysing a file.", Severity.ERROR,
    "## What it does\nReports a crash inside dllint or one of its rules, with the exception. "
    "The run goes on and exits with status 2.\n\n## Why is this bad?\nIt is a bug in dllint: "
    "please report it with the file that triggers it.",
)

ENGINE_CODES: dict[str, EngineCode] = {
    entry.code: entry
    for entry in (IO_ERROR, DECODE_ERROR, BINARY_FILE, SYNTAX_ERROR, FILE_TOO_LARGE,
                  UNUSED_SUPPRESSION, NOTEBOOK_ERROR, TOO_DEEP, FIX_NOT_WRITTEN, OVER_BUDGET,
                  MALFORMED_SUPPRESSION, INTERNAL_ERROR)
}
