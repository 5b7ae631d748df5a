"""Rerun every `$ dllint ...` example in README.md and write its real output into the README.

An output block is a fenced block whose first line is `$ dllint ARGS`; the rest of the block is
what that command prints, run from the repository root with no colour and 100 columns.
tests/test_readme.py reruns each block the same way and fails when the README has drifted.
Timings (`0.42 s`), process ids (`pid 4242`) and the repository's absolute path are masked
on both sides.

    python scripts/update_readme_outputs.py           # rewrite README.md
    python scripts/update_readme_outputs.py --check   # exit 1 when a block is out of date
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
BLOCK = re.compile(r"^```\n\$ (dllint [^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
WIDTH = "100"


@dataclass(frozen=True)
class OutputBlock:
    command: str  # `dllint ...` as written in the README
    shown: str  # the output the README shows
    start: int  # offsets of the output inside the README text
    end: int


def output_blocks(text: str) -> list[OutputBlock]:
    return [OutputBlock(match.group(1), match.group(2), match.start(2), match.end(2))
            for match in BLOCK.finditer(text)]


def run(command: str) -> str:
    """What the command prints (stdout, then stderr), masked."""
    arguments = shlex.split(command)[1:]
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("DLLINT_FORMAT", "FORCE_COLOR")}
    environment.update(NO_COLOR="1", COLUMNS=WIDTH, PYTHONHASHSEED="0")
    result = subprocess.run([sys.executable, "-m", "dllint", *arguments], cwd=REPO,
                            capture_output=True, text=True, env=environment, timeout=600)
    return mask(result.stdout + result.stderr)


def mask(text: str) -> str:
    text = text.replace(str(REPO) + os.sep, "")
    text = re.sub(r"\b\d+\.\d+ s\b", "<t> s", text)
    text = re.sub(r"\bpid \d+", "pid <n>", text)  # a distributed run's rank processes
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def main() -> int:
    text = README.read_text(encoding="utf-8")
    stale = 0
    for block in reversed(output_blocks(text)):  # from the end, so offsets stay valid
        actual = run(block.command)
        if mask(block.shown) != actual:
            stale += 1
            print(f"out of date: $ {block.command}")
            text = text[:block.start] + actual + text[block.end:]
    if "--check" in sys.argv[1:]:
        return 1 if stale else 0
    README.write_text(text, encoding="utf-8")
    print(f"{stale} block(s) rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
