"""RT006: parameters without gradients, all-zero, vanishing or exploding gradients, and an
optimizer step that changed no weight.

Gradient flow is judged over every step run, not the first alone: a zero-initialized residual
branch gets zero gradients on step one only. The first step's gradient norms are read here,
so a non-finite one is reported here too, as RT001 (the first non-finite value).

Parameters without a gradient are reported per module (the outermost module all of whose
trained parameters got none), and why is told apart from what the first training step showed:
- the module was never called (an auxiliary head switched off), or it was called but its output
  never reaches the loss (BERT's pooler under a token-level loss), or it ran under no_grad: a
  warning, since that is often deliberate, naming the module and the remedy;
- its output reaches the loss and still no gradient came back: the path is cut (`.detach()`,
  `.data`, `torch.no_grad`, an integer cast, argmax), an error naming where.
"Reaches the loss": the module's output node is in the autograd graph of a backpropagated loss
(one bounded walk per backward, `tracing.graph_nodes`). A cut leaves no trace in that graph, so
the first step's cuts are recorded where they happen (a watched torch function whose result has
no gradient though an input has one, or a module called under no_grad on such an input), and a
cut counts when its result is consumed by the step's computation with gradients (a module call,
a watched operation or a training loss reading it): the module outputs above a consumed cut
are found by a walk from the cut's input.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass

import torch
from torch import nn

from dllint.runtime import codes, dispatch
from dllint.runtime.checks.registry import register
from dllint.runtime.checks.rt007_mode import CONSUMING_FUNCTIONS, storages
from dllint.runtime.dispatch import Check, LossCall, ModuleCall, StepEvent, TorchCall
from dllint.runtime.tracing import fingerprints, graph_nodes, norms, unwrapped, user_location
from dllint.types import Severity

_DISPATCHING = {os.path.abspath(__file__), os.path.abspath(dispatch.__file__)}
Tensor = torch.Tensor
# Functions whose result carries no gradient back to their input: how each reads in a finding.
CUTS = {
    Tensor.detach: "`.detach()`", torch.detach: "`torch.detach`",
    Tensor.data.__get__: "`.data`",
    Tensor.argmax: "`argmax`", torch.argmax: "`argmax`", Tensor.argmin: "`argmin`",
    torch.argmin: "`argmin`", Tensor.long: "an integer cast (`.long()`)",
    Tensor.int: "an integer cast (`.int()`)", Tensor.bool: "a cast to bool",
    Tensor.to: "a cast (`.to`)", Tensor.type: "a cast (`.type`)",
}


@dataclass
class ModuleUse:
    """What the first training step showed of one module with trainable parameters."""
    calls: int = 0
    calls_with_grad: int = 0
    reached_loss: bool = False  # its output is in a backpropagated loss's graph
    cut_inside: tuple[str, int] | None = None  # grad on, and its output has no gradient
    cut_after: tuple[str, int, str] | None = None  # (path, line, how) of a consumed cut


@dataclass
class Cut:
    """A point of this step where a tensor with gradients became one without."""
    sources: list  # the autograd nodes of the inputs that carried gradients
    results: dict[int, torch.Tensor]  # the result's tensors by storage (kept alive)
    where: tuple[str, int]
    how: str
    consumed: bool = False


@register
class GradientFlow(Check):
    code = codes.GRADIENT_FLOW
    events = frozenset({"on_forward_output", "on_torch_call", "on_loss", "on_backward",
                        "on_step_limit", "on_step", "on_step_done", "on_end"})
    torch_functions = frozenset(CUTS) | CONSUMING_FUNCTIONS

    def __init__(self, context) -> None:
        super().__init__(context)
        # Parameters without gradient (or with an all-zero one) so far, by id: (name, parameter).
        self.pending_no_gradient: dict[int, tuple[str, torch.Tensor]] = {}
        self.pending_zero_gradient: dict[int, tuple[str, torch.Tensor]] = {}
        self.gradient_location: tuple[str, int] | None = None
        self.weights_before: dict[int, tuple[float, float]] = {}
        # By optimizer id: whether a step changed a weight yet, the steps judged, those with
        # every learning rate 0, where the first one ran, the last learning rates.
        self.update_judged: dict[int, dict] = {}
        self.extended_for_lr = False
        self.first_step_changed: bool | None = None
        # Parameters judged for "no gradient" (trainable, in a stepping optimizer), by id.
        self.judged: set[int] = set()
        # How modules with trainable parameters were used, by module id (every call counted;
        # the rest from the steps that run every check), and this step's module outputs by
        # autograd node id, (node, module id), and cuts.
        self.uses: dict[int, ModuleUse] = {}
        self.trainable: dict[int, bool] = {}
        self.step_outputs: dict[int, tuple[object, int]] = {}
        self.cuts: list[Cut] = []

    # ---- how modules are used (why a parameter gets no gradient) ----------------------------

    def has_trainable(self, module: nn.Module) -> bool:
        key = id(module)
        if key not in self.trainable:
            self.trainable[key] = any(p.requires_grad for p in module.parameters())
        return self.trainable[key]

    def on_forward_output(self, call: ModuleCall, output) -> None:
        module = call.module
        trainable = self.has_trainable(module)
        use = self.uses.setdefault(id(module), ModuleUse()) if trainable else None
        if use is not None:
            use.calls += 1
        if not self.context.full_checks:
            return
        grad_enabled = torch.is_grad_enabled()
        inputs = storages([*call.args, *call.kwargs.values()])
        outputs = storages([output])
        if self.cuts:
            self.follow_cuts(inputs, outputs, grad_enabled)
        if not grad_enabled and any(t.grad_fn is not None for t in inputs.values()):
            # `with torch.no_grad(): z = self.proj(h)`: h's gradient path ends here.
            self.add_cut(inputs, outputs, f"`{self.context.name_of(module)}` called under "
                                          "`torch.no_grad`")
        if use is None or not grad_enabled:
            return
        use.calls_with_grad += 1
        nodes = [t.grad_fn for t in outputs.values() if t.grad_fn is not None]
        for node in nodes:
            self.step_outputs[id(node)] = (node, id(module))
        if outputs and not nodes and use.cut_inside is None:
            use.cut_inside = user_location()

    def on_torch_call(self, call: TorchCall) -> None:
        grad_enabled = torch.is_grad_enabled()
        if grad_enabled and not self.cuts and call.func not in CUTS:
            return  # the common case: an operation with gradients, no cut to follow yet
        if _called_by_tracer():
            return  # the other checks' reads (`output.detach()`) are no cut of the user's
        inputs = storages([*call.args, *call.kwargs.values()])
        results = storages([call.result])
        if not inputs or not results:
            return
        if self.cuts:
            self.follow_cuts(inputs, results, grad_enabled)
        if (call.func in CUTS or not grad_enabled) and \
                not any(t.requires_grad for t in results.values()):
            self.add_cut(inputs, results, CUTS.get(call.func, "`torch.no_grad`"))

    def follow_cuts(self, inputs: dict[int, torch.Tensor], results: dict[int, torch.Tensor],
                    grad_enabled: bool) -> None:
        """A computation that reads a cut's result: with gradients, it consumes the cut; without
        (`x.detach().long()`, a frozen embedding of argmax indices), its result carries the cut
        on."""
        if any(t.requires_grad for t in results.values()):
            if grad_enabled:
                self.consume(inputs)
            return
        for cut in self.cuts:
            if cut.results.keys() & inputs.keys():
                cut.results.update(results)

    def add_cut(self, inputs: dict[int, torch.Tensor], results: dict[int, torch.Tensor],
                how: str) -> None:
        sources = [t.grad_fn for t in inputs.values() if t.grad_fn is not None]
        if sources and results:
            self.cuts.append(Cut(sources, results, user_location(), how))

    def on_loss(self, call: LossCall) -> None:
        if self.cuts and call.training:
            self.consume(storages([*call.args, *call.kwargs.values()]))

    def consume(self, inputs: dict[int, torch.Tensor]) -> None:
        """A cut is consumed when a computation with gradients reads its result. Only inputs
        without gradients count: `.detach()` and `.data` share their input's storage, and the
        uncut tensor (which requires grad) is read by its own consumers."""
        if not self.cuts or not inputs:
            return
        cut_inputs = {key for key, tensor in inputs.items() if not tensor.requires_grad}
        for cut in self.cuts:
            if not cut.consumed and cut.results.keys() & cut_inputs:
                cut.consumed = True

    def on_backward(self, tensor: torch.Tensor) -> None:
        """The loss's graph, walked once: the module outputs in it reach the loss; of the others,
        those above a cut that the step consumed reach it only through that cut."""
        if not self.step_outputs:
            return
        reached = graph_nodes(tensor.grad_fn, set(self.step_outputs))
        for node_id in reached & self.step_outputs.keys():
            self.uses[self.step_outputs[node_id][1]].reached_loss = True
        remaining = {node_id for node_id, (_, module) in self.step_outputs.items()
                     if not self.uses[module].reached_loss and
                     self.uses[module].cut_after is None}
        for cut in self.cuts:
            if not cut.consumed or not remaining:
                continue
            above = set().union(*(graph_nodes(source, remaining) for source in cut.sources))
            for node_id in above & remaining:
                use = self.uses[self.step_outputs[node_id][1]]
                use.cut_after = use.cut_after or (*cut.where, cut.how)
            remaining -= above

    def on_step_limit(self, step: StepEvent) -> None:
        if step.closure is None:
            self.recheck_gradients(step.optimizer)  # this last backward's gradients
        elif self.pending_for(step.optimizer) and not self.context.extended_for_closure:
            # The gradients to judge by appear only inside a step: allow one more.
            self.context.extended_for_closure = True
            self.context.max_steps += 1
        judged = self.update_judged.get(id(step.optimizer))
        if judged and judged["steps"] == judged["zero_lr_steps"] and not self.extended_for_lr:
            # Every step so far ran at a learning rate of 0: a warm-up from 0 moves the
            # weights one step later, so allow one more before judging.
            self.extended_for_lr = True
            self.context.max_steps += 1

    def on_step(self, step: StepEvent) -> None:
        if step.count == 0:
            if step.closure is None:
                self.check_gradients(step.optimizer)
        elif step.closure is None:
            self.recheck_gradients(step.optimizer)
        self.fingerprint_before_step(step)

    def fingerprint_before_step(self, step: StepEvent) -> None:
        """Whether a step changes weights is judged over every step run (a warm-up starts at a
        learning rate of 0), on the groups whose learning rate is not 0; an optimizer is read
        only until one of its steps changed a weight."""
        judged = self.update_judged.setdefault(
            id(step.optimizer), {"changed": False, "steps": 0, "zero_lr_steps": 0,
                                 "where": None, "learning_rates": []})
        if judged["changed"]:
            return
        judged["steps"] += 1
        judged["where"] = judged["where"] or user_location()
        learning_rates = [float(group.get("lr", 0.0)) for group in step.optimizer.param_groups]
        judged["learning_rates"] = learning_rates
        parameters = [p for group, lr in zip(step.optimizer.param_groups, learning_rates)
                      if lr != 0 for p in group["params"]]
        if not parameters:
            judged["zero_lr_steps"] += 1
        self.weights_before = dict(zip((id(p) for p in parameters), fingerprints(parameters)))

    def on_step_done(self, step: StepEvent) -> None:
        self.step_outputs, self.cuts = {}, []
        if step.closure is not None:
            if step.count == 0:
                self.check_gradients(step.optimizer)
            else:
                self.recheck_gradients(step.optimizer)
        judged = self.update_judged.get(id(step.optimizer))
        if judged is None or judged["changed"]:
            return
        before, self.weights_before = self.weights_before, {}
        parameters = [p for group in step.optimizer.param_groups for p in group["params"]
                      if id(p) in before]
        changed = any(after != before[id(p)]
                      for p, after in zip(parameters, fingerprints(parameters)))
        judged["changed"] = changed
        if step.count == 0 and self.first_step_changed is None:
            self.first_step_changed = changed

    def check_gradients(self, optimizer) -> None:
        """The first step's gradients: their norms (read back at once), and candidates for "no
        gradient" / "all-zero gradient", which are judged over every step run (see `on_end`)."""
        context = self.context
        optimizer_ids = {id(p) for group in optimizer.param_groups for p in group["params"]}
        stepping_now = {key: value for key, value in context.model_parameters().items()
                        if key in optimizer_ids}
        if self.gradient_location is None:
            self.gradient_location = user_location()
        with_gradient = []
        for key, (name, parameter) in stepping_now.items():
            if not parameter.requires_grad:
                continue
            self.judged.add(key)
            if parameter.grad is None:
                context.seen.no_gradient.append(name)
                self.pending_no_gradient[key] = (name, parameter)
            else:
                with_gradient.append((key, name, parameter))
        gradient_norms = norms([parameter.grad for _, _, parameter in with_gradient])
        for (key, name, parameter), norm in zip(with_gradient, gradient_norms):
            context.seen.gradient_norms[name] = norm
            if not math.isfinite(norm) and not context.seen_non_finite:
                context.seen_non_finite = True
                context.find(codes.NON_FINITE, f"gradient of `{name}` is {norm}",
                             {"parameter": name})
            elif norm == 0 and parameter.dim() > 1:
                # Biases are left out: a bias feeding batch norm gets no gradient, rightly.
                self.pending_zero_gradient[key] = (name, parameter)
        weights = {name for name, parameter in stepping_now.values() if parameter.dim() > 1}
        finite = {n: v for n, v in context.seen.gradient_norms.items()
                  if math.isfinite(v) and v > 0 and n in weights}
        if finite:
            tiny = [n for n, v in finite.items() if v < codes.VANISHING_GRADIENT]
            huge = [n for n, v in finite.items() if v > codes.EXPLODING_GRADIENT]
            if tiny:
                context.find(self.code, f"vanishing gradients (norm < "
                                        f"{codes.VANISHING_GRADIENT}) in {', '.join(tiny[:5])}",
                             {"norms": {n: finite[n] for n in tiny[:20]}})
            if huge:
                context.find(self.code, f"exploding gradients (norm > "
                                        f"{codes.EXPLODING_GRADIENT}) in {', '.join(huge[:5])}",
                             {"norms": {n: finite[n] for n in huge[:20]}})

    def pending_for(self, optimizer) -> list[int]:
        own = {id(p) for group in optimizer.param_groups for p in group["params"]}
        return [key for key in (*self.pending_no_gradient, *self.pending_zero_gradient)
                if key in own]

    def recheck_gradients(self, optimizer) -> None:
        """A later step's gradients clear the candidates that now got a (non-zero) gradient:
        costs nothing once none is left, else one read for all of them."""
        pending = self.pending_for(optimizer)
        if not pending:
            return
        holding = []
        for key in pending:
            name, parameter = self.pending_no_gradient.get(key) or \
                self.pending_zero_gradient[key]
            if parameter.grad is not None:
                holding.append((key, parameter))
        for (key, parameter), norm in zip(holding, norms([p.grad for _, p in holding])):
            if key in self.pending_no_gradient:
                name, _ = self.pending_no_gradient.pop(key)
                if norm == 0 and parameter.dim() > 1:
                    self.pending_zero_gradient[key] = (name, parameter)
            elif norm != 0:
                del self.pending_zero_gradient[key]

    def on_end(self) -> None:
        context = self.context
        steps = f"{context.seen.steps} step{'s' if context.seen.steps != 1 else ''}"
        zero = [name for name, _ in self.pending_zero_gradient.values()]
        explained = self.report_modules_without_gradient(steps)
        no_gradient = [name for key, (name, _) in self.pending_no_gradient.items()
                       if key not in explained]
        if no_gradient:
            context.find(self.code, f"{len(no_gradient)} trainable parameters got no gradient in "
                                    f"{steps} ({', '.join(no_gradient[:5])}): a detached branch "
                                    "or an unused layer",
                         {"no_gradient": no_gradient[:20]}, self.gradient_location)
        if zero and not context.constant_loss:
            context.find(self.code, f"all-zero gradients in every one of {steps} for "
                                    f"{', '.join(zero[:5])}",
                         {"zero_gradient": zero[:20]}, self.gradient_location)
        context.seen.zero_gradient = zero
        self.report_unchanged_weights()

    def silent_modules(self) -> list[tuple[str, nn.Module, list[int]]]:
        """The outermost modules all of whose judged parameters got no gradient: (name, module,
        their parameters' ids), in the order the models list them."""
        pending = self.pending_no_gradient
        found: list[tuple[str, nn.Module, list[int]]] = []
        for root in self.context.roots.values():
            if isinstance(root, nn.modules.loss._Loss):
                continue
            covered: list[str] = []
            for _, module in unwrapped(root).named_modules():
                name = self.context.name_of(module)
                keys = [id(p) for p in module.parameters() if id(p) in self.judged]
                if not keys or not all(key in pending for key in keys) or \
                        any(name.startswith(outer + ".") for outer in covered):
                    continue
                covered.append(name)
                found.append((name, module, keys))
        return found

    def report_modules_without_gradient(self, steps: str) -> set[int]:
        """One finding per module whose parameters got no gradient, saying why; the ids of the
        parameters these findings cover."""
        context, explained = self.context, set()
        for name, module, keys in self.silent_modules():
            if any(key in explained for key in keys):
                continue  # one module shared by two models
            explained.update(keys)
            inner = [(other, use) for other, use in
                     ((m, self.uses.get(id(m))) for m in module.modules()) if use is not None]
            uses = [use for _, use in inner]
            count = f"{len(keys)} trainable parameter{'s' if len(keys) != 1 else ''}"
            kind = type(unwrapped(module)).__name__
            severity, related, cause = Severity.WARNING, (), ""
            cut = next((use.cut_after for use in uses if use.cut_after), None)
            cut_inside = next((use.cut_inside for use in uses if use.cut_inside), None) or \
                next((self.gradient_location for m, use in inner
                      if m is module and use.reached_loss), None)
            if cut is not None:
                path, line, how = cut
                severity, cause = None, "cut"
                related = ((path, line, f"the gradient path is cut here, by {how}"),)
                message = (f"`{name}` ({kind}) reaches the loss only through {how} at "
                           f"{_short(path)}:{line}, which cuts the gradient path: its {count} "
                           f"got no gradient in {steps}")
            elif cut_inside is not None:
                severity, cause = None, "cut-inside"
                related = ((*cut_inside, "called here"),)
                message = (f"`{name}` ({kind}) is called with gradients on and its output is "
                           f"used, yet its {count} got no gradient in {steps}: the gradient "
                           "path is cut inside its forward (`.detach()`, `.data`, "
                           "`torch.no_grad`, an integer cast)")
            elif not any(use.calls for use in uses):
                cause = "never-called"
                message = (f"`{name}` ({kind}) was never called in {steps}, so its {count} got "
                           "no gradient: remove it, or freeze it (`requires_grad_(False)`, or "
                           "leave it out of the optimizer; under DDP, "
                           "`find_unused_parameters=True`), or leave it if it is unused on "
                           "purpose")
            elif not any(use.calls_with_grad for use in uses):
                if not module.training:
                    # In eval and run under no_grad: a frozen feature extractor, frozen twice
                    # on purpose (a linear probe's backbone); the optimizer skips its weights.
                    continue
                cause = "no-grad"
                message = (f"`{name}` ({kind}) ran under `torch.no_grad` in {steps}, so its "
                           f"{count} in the optimizer got no gradient: if it is frozen on "
                           "purpose, say so (`requires_grad_(False)`, or leave it out of the "
                           "optimizer); else call it outside no_grad")
            else:
                cause = "output-unused"
                message = (f"`{name}` ({kind}) is called, but its output never reaches the "
                           f"loss, so its {count} got no gradient in {steps}: remove it or "
                           "its call, or freeze it (`requires_grad_(False)`, or leave it out "
                           "of the optimizer; under DDP, `find_unused_parameters=True`), or "
                           "leave it if its output is meant for something else")
            parameters = [self.pending_no_gradient[key][0] for key in keys]
            evidence = {"module": name, "cause": cause, "no_gradient": parameters[:20]}
            if cut is not None:
                evidence["cut"] = f"{_short(cut[0])}:{cut[1]}"
            context.find(self.code, message, evidence, self.gradient_location, severity,
                         related, subject=name)
        return explained

    def report_unchanged_weights(self) -> None:
        context = self.context
        if context.constant_loss:
            return
        for key, judged in self.update_judged.items():
            if judged["changed"] or not judged["steps"]:
                continue
            steps = f"{judged['steps']} step{'s' if judged['steps'] != 1 else ''}"
            severity = None
            if judged["zero_lr_steps"] == judged["steps"]:
                message = (f"the optimizer step changed no weight: the learning rate was 0 in "
                           f"every one of {steps} traced (a long warm-up from 0? trace more "
                           "steps with --steps)")
                severity = Severity.WARNING
            else:
                message = (f"the optimizer step changed no weight in {steps} (zero gradients "
                           "or a zero learning rate)")
            context.find(self.code, message, {"learning_rates": judged["learning_rates"],
                                              "steps": judged["steps"]},
                         judged["where"], severity,
                         subject=context.optimizer_names.get(key, ""))


_TRACER_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep
_TORCH_ROOT = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep


def _called_by_tracer() -> bool:
    """Whether the torch call being watched was made by dllint itself (a check reading a
    module's output in its hook), not by the traced script or a library it uses: the first
    frame outside the dispatcher, this check and torch decides."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(_TORCH_ROOT) or filename in _DISPATCHING:
            frame = frame.f_back
            continue
        return filename.startswith(_TRACER_ROOT)
    return False


def _short(path: str) -> str:
    return path.rsplit("/", 1)[-1]
