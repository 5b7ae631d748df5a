"""One report from every rank's: the findings with the ranks that saw them, the cross-rank checks
(RT011 replicas, RT012 batches, RT014 uneven gradients, RT015 hangs), and the values that differ
between ranks. Pure functions of what the ranks published."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace

from dllint.runtime import codes
from dllint.runtime.distributed.records import Place, Position, RankReport, Replicas
from dllint.runtime.instruments import _line_span
from dllint.runtime.script import TraceReport
from dllint.types import Diagnostic, RelatedLocation

# Values shown per difference, and differences of one kind, before "and N more".
SHOWN = 4
# Gradient norms and losses of two ranks differ beyond this relative amount.
VALUE_TOLERANCE = 1e-4


@dataclass
class DistributedTrace:
    world_size: int
    ranks: dict[int, RankReport]
    positions: dict[int, Position] = field(default_factory=dict)
    # Ranks that published no report, and what the launcher knows of their end.
    failures: dict[int, str] = field(default_factory=dict)
    findings: list[Diagnostic] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    # Values read from the job's store and not used: their seal or their form was wrong.
    refused: list[str] = field(default_factory=list)

    @property
    def base(self) -> TraceReport | None:
        """The lowest rank's trace, whose module table and curves the report shows."""
        return self.ranks[min(self.ranks)].trace if self.ranks else None

    @property
    def backend(self) -> str:
        return next((r.backend for r in self.ranks.values() if r.backend), "")

    @property
    def hooks_restored(self) -> bool:
        return all(report.hooks_restored for report in self.ranks.values())

    @property
    def incomplete(self) -> str:
        """Why the run did not check a complete step on every rank ("" when it did)."""
        # Failures come first failure first (the others usually follow from it).
        reasons = [f"rank {rank} {why}" for rank, why in self.failures.items()]
        for rank, report in sorted(self.ranks.items()):
            if report.hang is not None:
                reasons.append(f"rank {rank} waited in {report.hang.waiting} past the timeout"
                               if report.hang.waiting else f"rank {rank} ran past --timeout")
            elif report.trace.outcome == "ended":
                continue  # ended because another rank did: that rank is the reason
            elif report.trace.incomplete:
                reasons.append(f"rank {rank}: {report.trace.incomplete}")
        missing = [rank for rank in range(self.world_size)
                   if rank not in self.ranks and rank not in self.failures]
        if missing:
            reasons.append(f"no report from rank{'s' if len(missing) > 1 else ''} "
                           f"{_ranks(missing)}")
        return "; ".join(reasons)


def _ranks(ranks: list[int] | tuple[int, ...]) -> str:
    ranks = sorted(ranks)
    return ", ".join(map(str, ranks[:-1])) + f" and {ranks[-1]}" if len(ranks) > 1 else \
        str(ranks[0])


def _on(ranks: list[int]) -> str:
    return f"rank{'s' if len(ranks) > 1 else ''} {_ranks(ranks)}"


def _which(ranks: list[int], world_size: int) -> str:
    if len(ranks) == world_size:
        return f"all {world_size} ranks"
    return f"rank{'s' if len(ranks) > 1 else ''} {_ranks(ranks)}" + \
        (" only" if len(ranks) == 1 else "")


def _diagnostic(entry, message: str, place: Place, evidence: dict,
                related: list[tuple[Place, str]] = ()) -> Diagnostic:
    path, line = place
    return Diagnostic(entry.code, entry.name, message, entry.severity, path,
                      _line_span(path, line),
                      tuple(RelatedLocation(p, _line_span(p, n), note)
                            for (p, n), note in related if p != "<unknown>"),
                      evidence=evidence)


def _close(values: list[float], tolerance: float) -> bool:
    return max(values) - min(values) <= tolerance * max(abs(v) for v in values)


def rank_findings(reports: dict[int, RankReport], world_size: int) -> list[Diagnostic]:
    """Every rank's findings once, with the ranks that saw them (in the message and the
    evidence); the lowest rank's wording is kept."""
    seen: dict[tuple[str, str, int], tuple[Diagnostic, list[int]]] = {}
    for rank, report in sorted(reports.items()):
        for diagnostic in report.trace.diagnostics:
            key = (diagnostic.code, os.path.realpath(diagnostic.path), diagnostic.line)
            seen.setdefault(key, (diagnostic, []))[1].append(rank)
    return [replace(diagnostic, message=f"{diagnostic.message} [{_which(ranks, world_size)}]",
                    evidence={**diagnostic.evidence, "ranks": ranks})
            for diagnostic, ranks in seen.values()]


def replicas_diverge(reports: dict[int, RankReport]) -> list[Diagnostic]:
    """RT011: per optimizer, the first step after which a replicated parameter differs."""
    by_optimizer: dict[str, dict[int, Replicas]] = {}
    for rank, report in sorted(reports.items()):
        for replicas in report.replicas:
            by_optimizer.setdefault(replicas.optimizer, {})[rank] = replicas
    findings = []
    for optimizer, per_rank in by_optimizer.items():
        if len(per_rank) < 2:
            continue
        ranks = sorted(per_rank)
        indexes = [{name: i for i, name in enumerate(per_rank[r].names)} for r in ranks]
        names = [name for name in per_rank[ranks[0]].names if all(name in i for i in indexes)]

        def values(name: str, pick) -> list[float]:
            return [pick(per_rank[r])[index[name]] for r, index in zip(ranks, indexes)]

        def differing(pick) -> list[str]:
            found = []
            for name in names:
                numbers = values(name, pick)
                if all(math.isfinite(v) for v in numbers) and \
                        not _close(numbers, codes.REPLICA_TOLERANCE):
                    found.append(name)
            return found
        steps = min(len(per_rank[r].after) for r in ranks)
        for step in range(steps):
            diverged = differing(lambda replicas, step=step: replicas.after[step])
            if not diverged:
                continue
            first = diverged[0]
            quoted = ", ".join(f"{v:.6g} on rank {r}" for r, v in
                               zip(ranks, values(first, lambda r, step=step: r.after[step])))
            before = differing(lambda replicas: replicas.before)
            if before:
                cause = ("they already differed before the first step: the model is not wrapped "
                         "in DistributedDataParallel, which starts every rank from rank 0's "
                         "weights and averages the gradients")
            else:
                cause = ("they were equal before the first step, so the ranks applied different "
                         "updates: gradients are not averaged across ranks (wrap the model in "
                         "DistributedDataParallel, or all-reduce every gradient and divide by the "
                         "world size)")
            model = reports[ranks[0]].model_place
            findings.append(_diagnostic(
                codes.REPLICAS_DIVERGE,
                f"after step {step + 1} of {optimizer}, {len(diverged)} of {len(names)} "
                f"parameters differ across ranks (`{first}` norm: {quoted}); {cause}",
                per_rank[ranks[0]].step_location,
                {"optimizer": optimizer, "step": step + 1, "parameters": diverged[:20],
                 "differed_before_first_step": bool(before), "ranks": ranks},
                [(model, "the model is called here")] if model else []))
            break
    return findings


def same_batches(reports: dict[int, RankReport]) -> list[Diagnostic]:
    """RT012: ranks whose first training batches are identical."""
    groups: dict[tuple, list[int]] = {}
    for rank, report in sorted(reports.items()):
        if report.first_batch is not None and report.trace.steps:
            groups.setdefault(report.first_batch, []).append(rank)
    findings = []
    for (shape, _), ranks in groups.items():
        if len(ranks) < 2:
            continue
        report = reports[ranks[0]]
        plain = next((loader for loader in report.loaders
                      if loader.sampler != "DistributedSampler"), None)
        place = plain.place if plain else report.model_place or ("<unknown>", 1)
        if plain:
            where = (f"the DataLoader built here uses a {plain.sampler}: give it a "
                     "DistributedSampler (and `shuffle=False`, the sampler shuffles)")
        elif report.loaders:
            where = "each rank reads the same data in the same order"
        else:  # batches drawn by the script itself (nanoGPT's get_batch)
            where = ("each rank draws the same batches: seed each rank differently (seed + "
                     "rank), or split the data by rank")
        findings.append(_diagnostic(
            codes.SAME_BATCHES,
            f"ranks {_ranks(ranks)} trained on identical first batches (shape {shape}); {where}",
            place, {"ranks": ranks, "shape": shape},
            [(report.model_place, "the model gets the batch here")] if report.model_place else []))
    return findings


def uneven_gradients(reports: dict[int, RankReport]) -> list[Diagnostic]:
    """RT014: parameters with a gradient on some ranks only, layers run on some ranks only."""
    stepped = {rank: r for rank, r in reports.items() if r.trace.steps}
    if len(stepped) < 2:
        return []
    ranks = sorted(stepped)

    def uneven(pick) -> dict[str, list[int]]:
        holders: dict[str, list[int]] = {}
        for rank in ranks:
            for name in pick(stepped[rank]):
                holders.setdefault(name, []).append(rank)
        return {name: held for name, held in holders.items() if len(held) < len(ranks)}
    no_gradient = uneven(lambda report: report.no_gradient)
    skipped = uneven(lambda report: report.trained_modules)
    if not no_gradient and not skipped:
        return []
    parts = []
    if no_gradient:
        name, held = next(iter(no_gradient.items()))
        parts.append(f"{len(no_gradient)} parameters got no gradient on "
                     f"{_on(held)} but did on the others (`{name}`)")
    if skipped:
        name, held = next(iter(skipped.items()))
        others = [rank for rank in ranks if rank not in held]
        parts.append(f"the forward of `{name}` ran on {_on(held)} but not on {_on(others)}"
                     + (f" (and {len(skipped) - 1} more layers)" if len(skipped) > 1 else ""))
    report = stepped[ranks[0]]
    # A layer skipped on some ranks is skipped where the model is called (a branch on the rank
    # or its data); a gradient missing on some ranks shows at the backward.
    place = (report.model_place if skipped else report.gradient_place) or \
        report.model_place or ("<unknown>", 1)
    return [_diagnostic(
        codes.UNEVEN_GRADIENTS,
        "; ".join(parts) + ": DDP without `find_unused_parameters=True` then waits for gradients "
        "that never come, and with it the ranks that skipped the layer average in zeros",
        place, {"no_gradient_on_some_ranks": {k: v for k, v in list(no_gradient.items())[:20]},
                "run_on_some_ranks": {k: v for k, v in list(skipped.items())[:20]}})]


def collective_hangs(trace: DistributedTrace) -> list[Diagnostic]:
    """RT015: a rank that waited in a collective past the timeout, and where the others were."""
    findings = []
    for rank, report in sorted(trace.ranks.items()):
        hang = report.hang
        if hang is None:
            continue
        others = []
        related: list[tuple[Place, str]] = []
        for other in range(trace.world_size):
            if other == rank:
                continue
            position = trace.positions.get(other)
            if position is not None:
                others.append(f"rank {other} {position.describe()}")
                related.append((position.place, f"rank {other} is here"))
            elif other in trace.failures:
                others.append(f"rank {other} {trace.failures[other]}")
            elif other in trace.ranks:
                others.append(f"rank {other} had already ended ({trace.ranks[other].trace.detail})")
        if hang.waiting:
            message = (f"rank {rank} waited {hang.seconds:.1f} s in {hang.waiting} for ranks that "
                       f"did not join: " + "; ".join(others or ["no other rank said where it was"]))
        else:
            message = (f"rank {rank} ran past --timeout stuck in {hang.inside or 'code'} the "
                       f"timer cannot interrupt; " + "; ".join(others))
        findings.append(_diagnostic(
            codes.COLLECTIVE_HANG, message, hang.place,
            {"rank": rank, "waiting_in": hang.waiting, "seconds": round(hang.seconds, 3),
             "stack": [f"{p}:{n} in {f}" for p, n, f in hang.frames],
             "others": {str(r): p.describe() for r, p in trace.positions.items() if r != rank}},
            related))
    return findings


def differences(reports: dict[int, RankReport]) -> list[str]:
    """Per-rank losses, shapes and gradient norms, where ranks differ."""
    ranks = sorted(r for r, report in reports.items() if report.trace.steps)
    if len(ranks) < 2:
        return []
    lines = []
    curves: dict[str, dict[int, float]] = {}
    for rank in ranks:
        for curve in reports[rank].trace.curves:
            if curve.values:
                curves.setdefault(curve.optimizer, {})[rank] = curve.values[0]
    for optimizer, firsts in curves.items():
        numbers = list(firsts.values())
        if len(firsts) > 1 and all(math.isfinite(v) for v in numbers) and \
                not _close(numbers, VALUE_TOLERANCE):
            lines.append(f"first loss ({optimizer}): " +
                         ", ".join(f"{value:.4g} on rank {rank}" for rank, value in firsts.items()))
    shapes: list[str] = []
    rows = [{record.name: record for record in reports[r].trace.observations.modules.values()}
            for r in ranks]
    for name, record in rows[0].items():
        for part in ("inputs", "outputs"):
            seen = [getattr(row[name], part) for row in rows if name in row]
            if len(seen) == len(ranks) and len(set(seen)) > 1:
                shapes.append(f"`{name}` {part[:-1]}: " + ", ".join(
                    f"{value} on rank {rank}" for rank, value in zip(ranks, seen)))
    lines += shapes[:SHOWN] + ([f"… shapes differ in {len(shapes) - SHOWN} more places"]
                               if len(shapes) > SHOWN else [])
    norms: list[str] = []
    per_rank = [reports[r].trace.observations.gradient_norms for r in ranks]
    sharded = {name for r in ranks for name in reports[r].sharded}
    for name in per_rank[0]:
        if name in sharded:
            continue
        numbers = [norm.get(name) for norm in per_rank]
        if all(v is not None and math.isfinite(v) for v in numbers) and \
                not _close(numbers, VALUE_TOLERANCE):
            norms.append(f"gradient norm of `{name}`: " + ", ".join(
                f"{value:.4g} on rank {rank}" for rank, value in zip(ranks, numbers)))
    lines += norms[:SHOWN] + ([f"… gradient norms differ for {len(norms) - SHOWN} more "
                               "parameters"] if len(norms) > SHOWN else [])
    return lines


def merge_ranks(world_size: int, reports: dict[int, RankReport],
                positions: dict[int, Position] | None = None,
                failures: dict[int, str] | None = None,
                refused: list[str] | None = None) -> DistributedTrace:
    trace = DistributedTrace(world_size, reports, positions or {},
                             {r: why for r, why in (failures or {}).items() if r not in reports},
                             refused=list(refused or ()))
    findings = rank_findings(reports, world_size)
    uneven = uneven_gradients(reports)
    if uneven:
        # The per-rank "no gradient" finding is this one seen from one rank: said once.
        uneven_names = set(uneven[0].evidence["no_gradient_on_some_ranks"])
        findings = [d for d in findings if not (
            d.code == codes.GRADIENT_FLOW.code and d.evidence.get("no_gradient")
            and set(d.evidence["no_gradient"]) <= uneven_names)]
    findings += replicas_diverge(reports) + same_batches(reports) + uneven
    findings += collective_hangs(trace)
    trace.findings = sorted(findings, key=Diagnostic.sort_key)
    trace.differences = differences(reports)
    return trace
