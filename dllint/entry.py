"""The `dllint` command's entry point (the console script and `python -m dllint`).

`dllint --version` is answered here, before the command line interface is imported: that
import loads the whole linter (libcst, the rules, the cache), which costs ten times more than
the answer. Everything else goes to `dllint.cli`; an installation that lacks one of dllint's
own modules or of its required dependencies gets one `dllint: error:` line (exit status 2).
"""

from __future__ import annotations

import sys

from dllint import __version__

# What click's version_option prints for `dllint --version` (tests/test_startup.py compares them).
VERSION_MESSAGE = f"dllint, version {__version__}"


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        print(VERSION_MESSAGE)
        sys.exit(0)
    try:
        from dllint.cli import main as command_line
    except ModuleNotFoundError as error:
        from dllint.extras import broken_installation_message, is_broken_installation
        if not is_broken_installation(error):
            raise
        print(f"dllint: error: {broken_installation_message(error)}", file=sys.stderr)
        sys.exit(2)
    command_line(prog_name="dllint")
