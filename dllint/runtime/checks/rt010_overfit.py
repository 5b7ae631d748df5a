"""RT010: the verdict of training on one batch (--overfit K).

The batch is captured and replayed by `recorders.OverfitReplay`, the loss curves are recorded
by `recorders.LossCurves`, and `overfit.judge` gives each curve its verdict; this check turns
the verdicts into findings, at the loss line, after the run.
"""

from __future__ import annotations

from dllint.runtime import codes
from dllint.runtime.checks.registry import register
from dllint.runtime.dispatch import Check
from dllint.runtime.tracing import line_span
from dllint.types import Diagnostic, RelatedLocation, Severity


@register
class OverfitVerdict(Check):
    code = codes.OVERFIT
    events = frozenset()  # judged after the run, from the curves

    def findings(self, curve_keys, curves, loss_location) -> list[Diagnostic]:
        """One finding per judged curve; `curve_keys` are the optimizers' ids, in the order of
        `curves` (objects with `optimizer`, `values` and `verdict`); `loss_location(key)` is the
        line of the loss that fed that optimizer's first step (None when unknown)."""
        findings = []
        created = self.context.optimizer_created
        for key, curve in zip(curve_keys, curves):
            name, values, verdict = curve.optimizer, curve.values, curve.verdict
            if verdict is None:
                continue
            path, line = loss_location(key) or created.get(key, ("<unknown>", 1))
            related = []
            if key in created:
                created_path, created_line = created[key]
                related.append(RelatedLocation(created_path, line_span(created_path, created_line),
                                               f"{name} built here"))
            step = max(1, len(values) // 50)
            findings.append(Diagnostic(
                self.code.code, self.code.name, f"{name}: {verdict.describe()}",
                Severity.INFO if verdict.kind == "passes" else Severity.ERROR, path,
                line_span(path, line), tuple(related),
                evidence={"verdict": verdict.kind, "start": verdict.start, "end": verdict.end,
                          "lowest": verdict.lowest, "steps": verdict.steps,
                          "next_step": verdict.next_step, "curve": values[::step]}))
        return findings
