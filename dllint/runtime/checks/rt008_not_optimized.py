"""RT008: parameters of the model that belong to no optimizer (layers kept in a plain list, a
head replaced after the optimizer was built). Judged once, at the first step's gradients."""

from __future__ import annotations

from dllint.runtime import codes
from dllint.runtime.checks.registry import register
from dllint.runtime.dispatch import Check, StepEvent
from dllint.runtime.tracing import shape_of, unwrapped


@register
class NotOptimized(Check):
    code = codes.NOT_OPTIMIZED
    events = frozenset({"on_step", "on_step_done"})

    def on_step(self, step: StepEvent) -> None:
        if step.count == 0 and step.closure is None:
            self.check(step)

    def on_step_done(self, step: StepEvent) -> None:
        # With a closure the gradients exist only after the step.
        if step.count == 0 and step.closure is not None:
            self.check(step)

    def check(self, step: StepEvent) -> None:
        context = self.context
        if context.optimizer_steps:
            return  # another optimizer stepped first: judged then
        in_optimizer = {id(p) for p in context.optimizer_parameters()}
        # A gradient, not requires_grad alone: a teacher, an EMA copy or a target network run
        # under no_grad keeps requires_grad=True and is rightly in no optimizer.
        missing = [(name, p) for key, (name, p) in context.model_parameters().items()
                   if key not in in_optimizer and p.requires_grad and p.grad is not None]
        if not missing:
            return
        unregistered = [n for n, _ in missing if "(not registered)" in n]
        listed = ", ".join(f"{n} {shape_of(p)}" for n, p in missing[:6])
        evidence = {"parameters": [f"{n} {shape_of(p)}" for n, p in missing][:20]}
        related = ()
        if unregistered:
            message = (f"{len(unregistered)} parameters belong to layers the model calls but "
                       "does not register (kept in a plain list or dict?): they are in no "
                       "optimizer and never updated; use nn.ModuleList / nn.ModuleDict")
            evidence["attributes"] = self.plain_holders()
        else:
            message = (f"{len(missing)} trainable parameters are in no optimizer ({listed}): "
                       "they are never updated (was a layer replaced after the optimizer was "
                       "built?)")
            if id(step.optimizer) in context.optimizer_created:
                created_path, created_line = context.optimizer_created[id(step.optimizer)]
                related = ((created_path, created_line, "the optimizer is built here"),)
        context.find(self.code, message, evidence, related=related)

    def plain_holders(self) -> list[str]:
        """The attributes of the models that hold unregistered layers in a plain list, tuple or
        dict (`hidden` for `self.hidden = [nn.Linear(...)]`)."""
        unregistered = {id(module) for module in self.context.unregistered.values()}
        holders = []
        for root in self.context.roots.values():
            for owner in unwrapped(root).modules():
                for attribute, value in vars(owner).items():
                    items = value.values() if isinstance(value, dict) else value \
                        if isinstance(value, (list, tuple)) else ()
                    if any(id(item) in unregistered for item in items):
                        holders.append(attribute)
        return sorted(set(holders))
