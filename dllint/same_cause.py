"""One cause, one finding, across the files of a run.

Apart from the engine (dllint/engine.py), which makes the findings, because a run whose files all
come from the cache merges their findings too, and must not import the engine (libcst) for that.
"""

from __future__ import annotations

from dataclasses import replace

from dllint.types import Diagnostic, FileResult, RelatedLocation

SAME_CAUSE = "the same cause is used here too"


def merge_same_cause(results: list[FileResult]) -> list[FileResult]:
    """Across the files of a run: findings reported at uses of one cause in another file (a
    model with a sigmoid in model.py, fed to BCELoss in train.py and evaluate.py) become one
    finding, the first, with the other uses as related locations."""
    groups: dict[tuple, list[Diagnostic]] = {}
    for result in results:
        for diagnostic in result.diagnostics:
            cause = diagnostic.cause
            if cause is not None and cause.path != diagnostic.path:
                groups.setdefault((diagnostic.code, cause.path, cause.span), []).append(diagnostic)
    replaced: dict[int, Diagnostic | None] = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        group.sort(key=Diagnostic.sort_key)
        first, others = group[0], group[1:]
        uses = tuple(RelatedLocation(other.path, other.span, SAME_CAUSE, other.cell)
                     for other in others)
        replaced[id(first)] = replace(first, related=first.related + uses)
        replaced.update((id(other), None) for other in others)
    if not replaced:
        return results
    merged = []
    for result in results:
        kept = tuple(replaced.get(id(d), d) for d in result.diagnostics)
        merged.append(replace(result, diagnostics=tuple(d for d in kept if d is not None)))
    return merged
