"""RT017: the training step does not fit, under `--memory-budget` or by a real out-of-memory
error. The verdict and the ranked changes are computed in `memory_advice.py` from the step's
`StepMemory`; this check knows where an out-of-memory error was raised and whether the
gradients are kept through forward, and files the finding."""

from __future__ import annotations

import os

from torch import nn

from dllint.runtime import codes, memory_advice
from dllint.runtime.checks.registry import register
from dllint.runtime.dispatch import Check, ModuleCall, TraceContext
from dllint.runtime.memory import tensor_bytes
from dllint.runtime.memory_advice import Judgement, OutOfMemory
from dllint.runtime.memory_model import ModuleMemory, PhasePeaks, StepMemory
from dllint.runtime.tracing import is_user_file

# The frames of nn.Module.__call__: their `self` is the module whose forward is running.
_MODULE_CALL_FRAMES = frozenset({"_call_impl", "_wrapped_call_impl"})
_OPTIMIZERS = f"{os.sep}torch{os.sep}optim{os.sep}"
_AUTOGRAD = (f"{os.sep}torch{os.sep}autograd{os.sep}", f"{os.sep}torch{os.sep}_tensor.py")


@register
class DoesNotFit(Check):
    code = codes.DOES_NOT_FIT
    events = frozenset({"on_forward"})

    def __init__(self, context: TraceContext) -> None:
        super().__init__(context)
        # Bytes of gradients still allocated when a forward after an optimizer step began
        # (zero_grad(set_to_none=False) keeps them); None until such a forward was seen.
        self.gradients_held_in_forward: int | None = None

    def on_forward(self, call: ModuleCall) -> None:
        if not call.root or not self.context.optimizer_steps or \
                self.gradients_held_in_forward is not None:
            return
        self.gradients_held_in_forward = sum(
            tensor_bytes(parameter.grad) for parameter in self.context.optimizer_parameters())

    def locate(self, error: BaseException) -> OutOfMemory:
        """Where an out-of-memory error was raised, read from its traceback: the innermost
        module whose forward was running, the phase, the user's line. Keeps no frame (they hold
        the failing step's tensors)."""
        module_name, phase, where = "", "", None
        traceback = error.__traceback__
        # From the outermost frame in: the first frame that shows a phase names it (a forward
        # recomputed inside backward is backward's); the innermost module call names the module.
        while traceback is not None:
            frame = traceback.tb_frame
            code = frame.f_code
            if code.co_name in _MODULE_CALL_FRAMES:
                module = frame.f_locals.get("self")
                if isinstance(module, nn.Module):
                    module_name = self.context.name_of(module)
                    phase = phase or "forward"
            elif code.co_name == "backward" and \
                    any(part in code.co_filename for part in _AUTOGRAD):
                phase = phase or "backward"
            elif _OPTIMIZERS in code.co_filename:
                phase = phase or "optimizer"
            if is_user_file(code.co_filename):
                where = (code.co_filename, traceback.tb_lineno)
            traceback = traceback.tb_next
        message = str(error)
        return OutOfMemory(message, phase, module_name, memory_advice.requested_bytes(message),
                           where)

    def judge(self, memory: StepMemory | None, budget: int | None,
              out_of_memory: OutOfMemory | None) -> Judgement | None:
        """The RT017 verdict on the traced step, filed as a finding when it does not fit."""
        judgement = memory_advice.judge(memory, budget, out_of_memory,
                                        gradients_held_in_forward=self.gradients_held_in_forward)
        if judgement is None:
            return None
        where = out_of_memory.where if out_of_memory is not None and out_of_memory.where \
            else self.context.root_location
        evidence = {"reason": judgement.reason, "peak_bytes": judgement.peak,
                    "phase": judgement.phase, "module": judgement.module,
                    "largest_batch": judgement.largest_batch,
                    "changes": [f"{advice.change}: {advice.saved_bytes}"
                                for advice in judgement.advice]}
        if budget is not None:
            evidence["budget_bytes"] = budget
        self.context.find(self.code, memory_advice.message(judgement), evidence, where)
        return judgement


def fallback_step_memory(context: TraceContext) -> StepMemory:
    """A minimal `StepMemory` for a trace in which the memory recorder (`memory.py`) saw no
    forward with gradients: parameters, gradients and optimizer state as they are at the end of
    the trace, no saved activations, and phase peaks from those sums."""
    by_module: dict[str, list[int]] = {}
    for name, parameter in context.model_parameters().values():
        owner = name.rsplit(".", 1)[0]
        sizes = by_module.setdefault(owner, [0, 0])
        sizes[0] += tensor_bytes(parameter)
        sizes[1] += tensor_bytes(parameter.grad)
    modules = tuple(ModuleMemory(name, "", parameters, gradients)
                    for name, (parameters, gradients) in by_module.items())
    optimizers = {id(o): o for o in [*context.created_optimizers, *context.optimizers.values()]}
    state = {}
    for number, (key, optimizer) in enumerate(optimizers.items(), 1):
        name = context.optimizer_names.get(key, f"{type(optimizer).__name__} #{number}")
        state[name] = tensor_bytes(list(optimizer.state.values()))
    parameters = sum(module.parameter_bytes for module in modules)
    gradients = sum(module.gradient_bytes for module in modules)
    peaks = PhasePeaks(forward=parameters, backward=parameters + gradients,
                       optimizer=parameters + gradients + sum(state.values()))
    return StepMemory(context.seen.device or "cpu", modules, state, peaks)
