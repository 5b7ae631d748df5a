"""Lines of source text as Python and the Language Server Protocol count them.

CPython's tokenizer, libcst's positions and LSP positions all break lines only at `\\r\\n`, `\\r`
and `\\n`. `str.splitlines()` also breaks at `\\v`, `\\f`, `\\x1c`-`\\x1e`, `\\x85`, `\\u2028` and
`\\u2029`, which are ordinary characters inside a Python line (a form feed between functions, a
`\\u2028` in a comment), so every line number after one of them would drift. Anything that maps a
line number of a finding, a fix or a comment to text uses `split_lines` instead.
"""

from __future__ import annotations

import re

# The line breaks of Python and LSP (captured, so that `split` keeps them).
LINE_BREAK = re.compile(r"(\r\n|\r|\n)")


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """Like `text.splitlines(keepends)`, but breaking only at `\\r\\n`, `\\r` and `\\n`."""
    parts = LINE_BREAK.split(text)  # line, break, line, break, ..., last line
    lines = parts[0::2]
    if keepends:
        lines = [line + end for line, end in zip(lines, [*parts[1::2], ""])]
    if lines[-1] == "":
        lines.pop()  # the text ends with a line break (or is empty): no line after it
    return lines
