"""DL101: a training loop that steps the optimizer without ever clearing the gradients."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, Rule, Valid


class MissingZeroGrad(Rule):
    """
    ## What it does
    Flags a loop that calls `backward()` and `optimizer.step()` (directly, through local helper
    functions, or through methods of its class called on `self`) but never `zero_grad()` (nor
    sets `.grad = None`, nor clears `.grad.zero_()` by hand, nor calls a `zero_grad(params)`
    function) anywhere in its body. With
    several optimizers (a GAN), also flags one that steps while only the others are zeroed
    (`opt_g.zero_grad()` but never `opt_d.zero_grad()` nor `discriminator.zero_grad()`).

    A loop whose every iteration builds the optimizer anew, over parameters also built in that
    iteration (a test that makes a fresh model per setting), carries no gradient from one
    iteration to the next and is not flagged.

    ## Why is this bad?
    PyTorch adds each backward pass's gradients to the ones already there. Without zeroing, every
    step applies the sum of all previous gradients: the effective learning rate grows step after
    step, and training diverges or crawls with nothing to point at the cause.

    ## Example
    ```python
    for inputs, targets in loader:
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
    ```

    ## Use instead
    ```python
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
    ```

    ## References
    The runtime check RT009 observes the same bug in a traced step.
    """

    code = "DL101"
    name = "missing-zero-grad"
    summary = "Training loop steps the optimizer without zeroing gradients"
    requires_any = ("backward",)
    uses_model = True

    VALID = [
        Valid("""
            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                optimizer.step()
        """),
        Valid("""
            for x, y in loader:
                loss_fn(model(x), y).backward()
                optimizer.step()
                model.zero_grad(set_to_none=True)
        """),
        Valid("""
            for step, (x, y) in enumerate(loader):
                (loss_fn(model(x), y) / 4).backward()
                if (step + 1) % 4 == 0:
                    optimizer.step()
                    optimizer.zero_grad()
        """),
        Valid("""
            def closure():
                optimizer.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                return loss

            for epoch in range(10):
                optimizer.step(closure)
        """),
        Valid("""
            def train_step(x, y):
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                optimizer.step()

            for x, y in loader:
                train_step(x, y)
        """),
        Valid("""
            for x, y in loader:
                loss_fn(model(x), y).backward()
                optimizer.step()
                for parameter in model.parameters():
                    parameter.grad = None
        """),
        Valid("""
            for x in loader:
                encoded = encoder(x)
                print(encoded.sum().item())
                scheduler.step()
        """),
        Valid("""
            import torch
            opt_g = torch.optim.Adam(generator.parameters())
            opt_d = torch.optim.Adam(discriminator.parameters())
            for real in loader:
                opt_d.zero_grad()
                d_loss = discriminator_loss(discriminator(real), discriminator(generator(noise())))
                d_loss.backward()
                opt_d.step()
                opt_g.zero_grad()
                g_loss = -discriminator(generator(noise())).mean()
                g_loss.backward()
                opt_g.step()
        """),
        Valid("""
            import torch
            opt_g = torch.optim.Adam(gan.generator.parameters())
            opt_d = torch.optim.Adam(gan.discriminator.parameters())
            for real in loader:
                gan.zero_grad()
                discriminator_loss(gan, real).backward()
                opt_d.step()
                gan.zero_grad()
                generator_loss(gan).backward()
                opt_g.step()
        """),
        Valid("""
            import torch
            from torch import optim
            netD_optimizer = optim.Adam(netD.parameters())
            netG_optimizer = optim.Adam(netG.parameters())
            for real, _ in loader:
                netD.zero_grad()
                criterion(netD(real), ones).backward()
                netD_optimizer.step()
                netG.zero_grad()
                criterion(netD(netG(noise)), ones).backward()
                netG_optimizer.step()
        """),
        Valid("""
            import torch.distributed.autograd as dist_autograd

            def run_trainer(model, opt, batches):
                for inputs, target in batches:
                    with dist_autograd.context() as context_id:
                        loss = criterion(model(inputs), target)
                        dist_autograd.backward(context_id, [loss])
                        opt.step(context_id)
        """),
        # The step method zeroes the gradients itself, wherever it is called from.
        Valid("""
            import torch.nn.functional as F

            class Trainer:
                def __init__(self, model, optimizer):
                    self.model = model
                    self.optimizer = optimizer

                def train_step(self, x, y):
                    self.optimizer.zero_grad()
                    loss = F.cross_entropy(self.model(x), y)
                    loss.backward()
                    self.optimizer.step()

                def fit(self, loader):
                    for x, y in loader:
                        self.train_step(x, y)

            trainer = Trainer(model, optimizer)
            for x, y in loader:
                trainer.train_step(x, y)
        """),
        # The gradients are zeroed in a method the loop calls on self.
        Valid("""
            class Trainer:
                def reset_gradients(self):
                    self.optimizer.zero_grad(set_to_none=True)

                def fit(self, loader):
                    for x, y in loader:
                        self.reset_gradients()
                        self.criterion(self.model(x), y).backward()
                        self.optimizer.step()
        """),
        # Gradients cleared by hand on the tensors the optimizer updates.
        Valid("""
            import torch
            w = torch.zeros(3, requires_grad=True)
            optimizer = torch.optim.SGD([w], lr=0.1)
            for _ in range(100):
                ((w - target) ** 2).sum().backward()
                optimizer.step()
                w.grad.detach_()
                w.grad.zero_()
        """),
        Valid("""
            for x, y in loader:
                loss_fn(model(x), y).backward()
                optimizer.step()
                for p in model.parameters():
                    if p.grad is not None:
                        p.grad.data.zero_()
        """),
        Valid("""
            for x, y in loader:
                loss_fn(model(x), y).backward()
                optimizer.step()
                for p in model.parameters():
                    p.grad = None
        """),
        # A gradient-clearing function of another file, named for what it does.
        Valid("""
            from .fp16_util import zero_grad

            class Trainer:
                def run_step(self, batch):
                    zero_grad(self.model_params)
                    self.loss(batch).backward()
                    self.opt.step()

                def run_loop(self):
                    for batch in self.data:
                        self.run_step(batch)
        """),
        # Each setting gets its own network and optimizer: no gradient outlives an iteration.
        Valid("""
            import torch
            for width, depth in settings:
                probe = build_network(width, depth)
                weights = {k: v for k, v in probe.named_parameters() if v.requires_grad}
                probe(sample).sum().backward()
                sgd = torch.optim.SGD(weights.values(), lr=1.0)
                sgd.step()
        """),
    ]
    INVALID = [
        # Twin of the fresh network per setting: the optimizer is new each iteration, but the
        # network built once keeps adding gradients across iterations.
        Invalid("""
            import torch
            probe = build_network(8, 2)
            for rate in rates:
                weights = {k: v for k, v in probe.named_parameters() if v.requires_grad}
                probe(sample).sum().backward()
                sgd = torch.optim.SGD(weights.values(), lr=rate)
                sgd.step()
        """, line=7, related_lines=(5,)),
        # Twin of the hand-cleared gradient: zero_() on the weights themselves clears nothing
        # that backward() adds to.
        Invalid("""
            import torch
            w = torch.zeros(3, requires_grad=True)
            optimizer = torch.optim.SGD([w], lr=0.1)
            for _ in range(100):
                ((w - target) ** 2).sum().backward()
                optimizer.step()
                w.detach().zero_()
        """, line=6),
        # Twin of the imported zero_grad: a helper of another file that only logs the gradients.
        Invalid("""
            from .fp16_util import log_grad_norm

            for batch in data:
                loss(batch).backward()
                log_grad_norm(model_params)
                opt.step()
        """, line=6),
        # A loop that calls a method stepping without zero_grad, inside the class or outside it.
        Invalid("""
            import torch.nn.functional as F

            class Trainer:
                def __init__(self, model, optimizer):
                    self.model = model
                    self.optimizer = optimizer

                def train_step(self, x, y):
                    loss = F.cross_entropy(self.model(x), y)
                    loss.backward()
                    self.optimizer.step()

                def fit(self, loader):
                    for x, y in loader:
                        self.train_step(x, y)

            trainer = Trainer(model, optimizer)
            for x, y in loader:
                trainer.train_step(x, y)
        """, line=15, related_lines=(15,), more_lines=(19,)),
        # One bug, one finding: the batch loop lacks zero_grad; the epoch loop that calls it is
        # not a second finding.
        Invalid("""
            def train(model, loader, criterion, optimizer, epochs):
                for epoch in range(epochs):
                    loss = train_epoch(model, loader, criterion, optimizer)

            def train_epoch(model, loader, criterion, optimizer):
                for x, y in loader:
                    loss = criterion(model(x), y)
                    loss.backward()
                    optimizer.step()
                return loss.item()
        """, line=9, related_lines=(8,)),
        Invalid("""
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
        """, line=4, related_lines=(3,)),
        Invalid("""
            import torch
            opt = torch.optim.Adam(model.parameters())
            for epoch in range(10):
                for x, y in loader:
                    criterion(model(x), y).backward()
                    opt.step()
        """, line=6, related_lines=(5,)),
        Invalid("""
            def train_step(x, y):
                loss_fn(model(x), y).backward()
                optimizer.step()

            for x, y in loader:
                train_step(x, y)
        """, line=6, related_lines=(6,)),
        Invalid("""
            optimizer.zero_grad()
            for x, y in loader:
                loss_fn(model(x), y).backward()
                optimizer.step()
        """, line=4, related_lines=(3,)),
        Invalid("""
            step = 0
            while step < 1000:
                loss = loss_fn(model(batch), target)
                loss.backward()
                self.optimizer.step()
                step += 1
        """, line=5, related_lines=(4,)),
        Invalid("""
            import torch
            g_opt = torch.optim.Adam(generator.parameters())
            for noise in batches:
                g_loss = -discriminator(generator(noise)).mean()
                g_loss.backward()
                g_opt.step()
        """, line=6, related_lines=(5,)),
        Invalid("""
            import torch
            opt_g = torch.optim.Adam(generator.parameters())
            opt_d = torch.optim.Adam(discriminator.parameters())
            for real in loader:
                d_loss = discriminator_loss(discriminator(real), discriminator(generator(noise())))
                d_loss.backward()
                opt_d.step()
                opt_g.zero_grad()
                g_loss = -discriminator(generator(noise())).mean()
                g_loss.backward()
                opt_g.step()
        """, line=7, related_lines=(6,)),
        Invalid("""
            import torch
            from torch import optim
            netD_optimizer = optim.Adam(netD.parameters())
            netG_optimizer = optim.Adam(netG.parameters())
            for real, _ in loader:
                criterion(netD(real), ones).backward()
                netD_optimizer.step()
                netG.zero_grad()
                criterion(netD(netG(noise)), ones).backward()
                netG_optimizer.step()
        """, line=7, related_lines=(6,)),
        Invalid("""
            import torch.distributed.rpc as rpc

            def run_trainer(model, opt, batches):
                for inputs, target in batches:
                    criterion(model(inputs), target).backward()
                    opt.step()

            for rank in range(1, world_size):
                rpc.rpc_async(f"trainer{rank}", run_trainer, args=(model, opt, batches))
        """, line=6, related_lines=(5,)),
        # The step is in a method the loop calls on self.
        Invalid("""
            class Trainer:
                def update(self, loss):
                    loss.backward()
                    self.optimizer.step()

                def fit(self, loader):
                    for x, y in loader:
                        self.update(self.criterion(self.model(x), y))
        """, line=8),
    ]

    def leave_Module(self, original_node: cst.Module) -> None:
        reported: set[int] = set()
        unzeroed: list[tuple[cst.CSTNode, cst.CSTNode]] = []
        for loop in self.facts.loops:
            events = list(self.facts.expand(loop.events))
            kinds = {event[0] for event in events}
            if not {"backward", "step"} <= kinds:
                continue
            backward = next(event[1] for event in events if event[0] == "backward")
            if "zero_grad" not in kinds:
                if _rebuilt_every_iteration(loop, events):
                    continue
                unzeroed.append((next(event[1] for event in events if event[0] == "step"),
                                 backward))
                continue
            for optimizer, step in self.unzeroed_optimizers(loop, events):
                if id(step) in reported:
                    continue
                reported.add(id(step))
                self.report(step, f"this loop steps `{optimizer}` after backward() but never "
                                  f"zeroes its gradients: they add up across steps; call "
                                  f"`{optimizer}.zero_grad()` every step",
                            related=[(backward, "gradients accumulate here")])
        # One bug, one finding: an epoch loop that calls `train_epoch()`, whose own batch loop
        # already lacks zero_grad, is that loop's bug, reported at its step.
        direct = {id(step) for step, _ in unzeroed if not self.is_local_call(step)}
        for step, backward in unzeroed:
            if id(step) in reported or (self.is_local_call(step) and self.inner_steps(
                    self.facts.local_callee(step), frozenset()) & direct):
                continue
            reported.add(id(step))
            self.report(step, "this loop steps the optimizer after backward() but never "
                              "calls zero_grad(): gradients add up across steps; call "
                              "`optimizer.zero_grad()` every step",
                        related=[(backward, "gradients accumulate here")])

    def is_local_call(self, node: cst.CSTNode) -> bool:
        """A call of a function or method of this file (`train_epoch()`, `self.fit_epoch()`)."""
        key = self.facts.local_callee(node)
        return key is not None and self.facts.function_events(key) is not None

    def inner_steps(self, name: str, seen: frozenset) -> set[int]:
        """The optimizer steps written in local function (or own method) `name`, or in those
        it calls."""
        found: set[int] = set()
        for event in self.facts.function_events(name) or ():
            if event[0] == "step":
                found.add(id(event[1]))
            elif event[0] == "call" and event[2] not in seen:
                found |= self.inner_steps(event[2], seen | {name})
        return found

    @staticmethod
    def unzeroed_optimizers(loop, events: list[tuple]) -> list[tuple[str, cst.CSTNode]]:
        """Optimizers this loop steps whose gradients nothing in it clears, judged only where
        every step and every zero_grad is written in the loop itself on a plain name: a
        zero_grad through a helper, on a name that is neither a stepped optimizer nor a module
        one of them was built from, or a `.grad = None`, may clear anything."""
        direct = sum(1 for event in loop.events if event[0] in ("step", "zero_grad"))
        steps = [event for event in events if event[0] == "step"]
        zeroes = [event for event in events if event[0] == "zero_grad"]
        if direct != len(steps) + len(zeroes) or any(event[2] is None for event in steps):
            return []
        stepped = {event[2] for event in steps}
        owners = {owner for event in steps for owner in event[3]}
        cleared = {event[2] if len(event) > 2 else None for event in zeroes}
        if not cleared <= stepped | owners:
            return []
        if cleared - stepped and any(not event[3] for event in steps):
            return []  # a module is zeroed, and an optimizer's parameters are not known
        found: dict[str, cst.CSTNode] = {}
        for _, node, optimizer, built_from in steps:
            covered = optimizer in cleared or (built_from and all(
                any(owner == module or owner.startswith(module + ".") for module in cleared)
                for owner in built_from))
            if not covered:
                found.setdefault(optimizer, node)
        return list(found.items())


# Builtins that return a new container over their argument's items: what they hold is only as
# fresh as that argument.
_ITEM_COPIES = frozenset({"list", "tuple", "dict", "set", "iter", "filter", "map", "sorted",
                          "reversed", "enumerate", "zip"})


def _rebuilt_every_iteration(loop, events: list[tuple]) -> bool:
    """Whether every optimizer the loop steps is built in the loop body, before its step, over
    parameters that are themselves built in that iteration (`net = make_net(); opt = SGD(
    net.parameters())`): each iteration then starts from parameters without gradients, and one
    backward per iteration adds nothing up."""
    direct_steps = {id(event[1]) for event in loop.events if event[0] == "step"}
    steps = [event for event in events if event[0] == "step"]
    if not steps or any(event[2] is None or id(event[1]) not in direct_steps
                        for event in steps):
        return False
    if not isinstance(loop.node, cst.For):
        return False
    for step in steps:
        bindings = _IterationBindings(step[1])
        bindings.fresh |= _target_names(loop.node.target)
        loop.node.body.visit(bindings)
        if step[2] not in bindings.fresh_optimizers:
            return False
    return True


def _target_names(target: cst.BaseExpression) -> set[str]:
    """The plain names a loop target binds: a new value each iteration."""
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        return {name for element in target.elements for name in _target_names(element.value)}
    return set()


class _IterationBindings(cst.CSTVisitor):
    """The names a loop body binds, in source order up to `stop`, to values made in this
    iteration (`fresh`), and the optimizers among them built over such values."""

    def __init__(self, stop: cst.CSTNode) -> None:
        self.stop = stop
        self.stopped = False
        self.fresh: set[str] = set()
        self.fresh_optimizers: set[str] = set()

    def on_visit(self, node: cst.CSTNode) -> bool:
        if node is self.stop:
            self.stopped = True
        return not self.stopped and super().on_visit(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def leave_Assign(self, original_node: cst.Assign) -> None:
        if self.stopped or len(original_node.targets) != 1 or \
                not isinstance(original_node.targets[0].target, cst.Name):
            return
        name = original_node.targets[0].target.value
        value = original_node.value
        self.fresh.discard(name)
        self.fresh_optimizers.discard(name)
        if self.is_fresh(value):
            self.fresh.add(name)
        if isinstance(value, cst.Call):
            params = next((arg.value for arg in value.args if arg.keyword is not None
                           and arg.keyword.value == "params"), None)
            if params is None and value.args and value.args[0].keyword is None and \
                    not value.args[0].star:
                params = value.args[0].value
            if params is not None and self.is_fresh(params):
                self.fresh_optimizers.add(name)

    def is_fresh(self, node: cst.BaseExpression) -> bool:
        """Whether an expression's value is made anew in this iteration."""
        if isinstance(node, cst.Name):
            return node.value in self.fresh
        if isinstance(node, (cst.Attribute, cst.Subscript)):
            return self.is_fresh(node.value)
        if isinstance(node, cst.Call):
            if isinstance(node.func, cst.Attribute):  # net.parameters(), params.values()
                return self.is_fresh(node.func.value)
            if isinstance(node.func, cst.Name) and node.func.value in _ITEM_COPIES:
                return bool(node.args) and all(self.is_fresh(arg.value) for arg in node.args)
            return True  # a constructor or factory: a new object
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            comp = node.for_in
            while comp is not None:
                if not self.is_fresh(comp.iter):
                    return False
                comp = comp.inner_for_in
            return True
        if isinstance(node, (cst.List, cst.Tuple)):
            return bool(node.elements) and all(self.is_fresh(element.value)
                                               for element in node.elements)
        if isinstance(node, cst.BinaryOperation):
            return self.is_fresh(node.left) and self.is_fresh(node.right)
        return False
