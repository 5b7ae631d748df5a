"""Parse each text once per run: phase one's tree is handed to phase two in the same process.

A run summarises the files first (phase one) and lints them second (phase two); both need the
libcst tree, and a libcst parse is the largest single cost of a run. Phase one keeps its trees
here, under a memory budget, and phase two takes them back out. The key is the text itself, so
a file that changed in between (or a fix's new text) is simply parsed again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # libcst is imported by the first parse: a run answered from the cache has none
    import libcst as cst

# A tree takes about 65 times its source's size in memory: 16 MB of source is about 1 GB.
BUDGET_BYTES = 16_000_000

_trees: dict[str, cst.Module] = {}
_held = 0


def parse(text: str) -> cst.Module:
    """The tree of `text`: the one kept for it, if any (it is then released), else a new one."""
    global _held
    module = _trees.pop(text, None)
    if module is not None:
        _held -= len(text)
        return module
    import libcst

    return libcst.parse_module(text)


def parse_and_keep(text: str) -> cst.Module:
    """Parse `text` and keep its tree for the next `parse` of the same text, within the budget."""
    global _held
    module = parse(text)
    if _held + len(text) <= BUDGET_BYTES:
        _trees[text] = module
        _held += len(text)
    return module


def release() -> None:
    """Drop every tree still held (files that phase two never asked for)."""
    global _held
    _trees.clear()
    _held = 0
