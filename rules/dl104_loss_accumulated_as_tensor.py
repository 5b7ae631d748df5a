"""DL104: a loss summed into a running total as a tensor, keeping every step's graph alive."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic.catalog import BACKWARD_METHODS, LOSS_SCALING_CONTEXTS
from dllint.semantic.imports import dotted_name
from dllint.semantic.syntax import argument
from dllint.semantic.values import ELEMENTS, INSTANCE, LOSS_VALUE, first
from dllint.types import Applicability
from dllint.walk import children


class LossAccumulatedAsTensor(Rule):
    """
    ## What it does
    Flags `total += loss` inside a training loop (one that calls `backward()`) when `loss` is the
    tensor a loss function returned, or the tensor the function backpropagates however it was
    computed (`loss = -log_likelihood.mean()`, a loss unpacked from a helper's tuple), and not
    `loss.item()` or `loss.detach()`, unless the total itself is later backpropagated. A method
    run once per training step that backpropagates `loss` and adds it to an attribute
    (`self.running_loss += loss`) sums across its calls the same way. A backward pass is any of the forms in
    `catalog.BACKWARD_METHODS` (`loss.backward()`, `accelerator.backward(loss)`,
    `fabric.backward(loss)`, Lightning's `self.manual_backward(loss)`), and what it
    backpropagates is whatever its tensor expression reads (`scaler.scale(loss)`,
    `loss.mean()`, `loss / steps`, or the loss Apex's `amp.scale_loss(loss, optimizer)` scaled
    into its `as` name): a per-step loss built from terms with `+=` and then backpropagated is
    no running total. A sum made under `torch.no_grad()` records no graph and is not flagged, nor
    a value handed to a method of the class's own named like a backward pass
    (`self.backward(reward)`, an agent's update step) unless that method runs one.
    A method that adds its argument into its instance's state (an
    `AverageMeter.update(val, n)` doing `self.sum += val * n`, also element by element of a list
    it is handed, also for a class of another file of the project) is such a running total:
    handing it the loss tensor each step (`meter.update(loss, n)`) is flagged at the call.

    ## Why is this bad?
    The running total keeps a reference to every step's autograd graph, with all its activations:
    memory grows every step until the process runs out, and the total is usually only wanted for
    logging anyway.

    ## Example
    ```python
    total_loss = 0
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        total_loss += loss
    ```

    ## Use instead
    ```python
    total_loss = 0.0
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        total_loss += loss.item()
    ```

    ## References
    PyTorch FAQ, "My model reports 'cuda runtime error(2): out of memory'".
    """

    code = "DL104"
    name = "loss-accumulated-as-tensor"
    summary = "A loss tensor is summed into a running total, keeping its graph alive"
    requires_any = ("+=", ".update(")
    uses_model = True

    VALID = [
        Valid("""
            import torch.nn.functional as F
            total = 0.0
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                total += loss.item()
        """),
        Valid("""
            import torch.nn.functional as F
            total = 0.0
            for x, y in loader:
                loss = F.mse_loss(model(x), y)
                total += loss.detach()
        """),
        Valid("""
            import torch.nn.functional as F
            total_loss = 0
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                total_loss += loss.data.cpu()
        """),
        Valid("""
            import torch.nn.functional as F
            total = 0
            for x, y in chunks:
                total += F.cross_entropy(model(x), y)
            total.backward()
        """),
        Valid("""
            from torch import nn
            criterion = nn.CrossEntropyLoss()
            running = 0.0
            for x, y in loader:
                running += float(criterion(model(x), y))
        """),
        Valid("""
            import torch.nn.functional as F
            loss = F.l1_loss(prediction, target)
            loss += 0.1 * regularizer
        """),
        Valid("""
            count = 0
            for batch in loader:
                count += len(batch)
        """),
        Valid("""
            import torch.nn.functional as F
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                loss += 0.1 * F.mse_loss(aux(x), y)
                accelerator.backward(loss)
        """),
        Valid("""
            import torch.nn.functional as F
            for x, y in loader:
                with torch.autocast("cuda"):
                    loss = F.cross_entropy(model(x), y)
                    loss += 0.1 * F.mse_loss(aux(x), y)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
        """),
        Valid("""
            import torch.nn.functional as F
            for x, y in loader:
                loss = F.cross_entropy(model(x), y, reduction="none")
                loss += F.l1_loss(model(x), y, reduction="none")
                (loss.mean() / accumulation_steps).backward()
        """),
        Valid("""
            import torch.nn.functional as F
            from lightning import LightningModule

            class Model(LightningModule):
                def training_step(self, batch, batch_idx):
                    for x, y in batch:
                        loss = F.cross_entropy(self(x), y)
                        loss += 0.01 * F.l1_loss(self(x), y)
                        self.manual_backward(loss)
        """),
        Valid("""
            import torch.nn.functional as F
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                loss += F.mse_loss(aux(x), y)
                fabric.backward(tensor=loss)
        """),
        Valid("""
            import torch.nn.functional as F
            from apex import amp
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                loss += F.mse_loss(aux(x), y)
                with amp.scale_loss(loss, optimizer) as scaled_loss:
                    scaled_loss.backward()
        """),
        # Per step, in a method: the attribute takes the loss's value, not its graph.
        Valid("""
            class Trainer:
                def run_batch(self, batch):
                    loss = self.model.training_step(batch)["loss"]
                    loss.backward()
                    self.batch_loss_value += loss.item()
        """),
        # An attribute built from parts and then backpropagated is the step's own loss.
        Valid("""
            class Trainer:
                def run_batch(self, batch):
                    self.loss = self.model(batch).mean()
                    self.loss += self.penalty
                    self.loss.backward()
        """),
        # The divisor of a backpropagated loss is no tensor: counting it is no running loss.
        Valid("""
            seen = 0
            for x, y in loader:
                loss = -model(x).log_softmax(-1).mean()
                (loss / accumulation).backward()
                seen += accumulation
        """),
        Valid("""
            total = 0.0
            for x, y in loader:
                loss = -model(x).mean()
                loss.backward()
                total += loss.item()
        """),
        Valid("""
            from torch.nn import CrossEntropyLoss

            def forward(self, logits, labels):
                loss_fct = CrossEntropyLoss()
                loss = 0
                for codebook in range(self.num_codebooks):
                    loss += loss_fct(logits[:, codebook], labels[..., codebook])
                return loss / self.num_codebooks
        """),
        # The meter rebinds what it is handed to a detached copy (`.data`) before adding it.
        Valid("""
            import torch.nn.functional as F

            class Averager:
                def __init__(self):
                    self.sum, self.count = 0.0, 0

                def add(self, v):
                    self.count += v.data.numel()
                    v = v.data.sum()
                    self.sum += v

            meter = Averager()
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                meter.add(loss)
        """),
        # The meter is handed the loss's value, or converts what it is handed itself.
        Valid("""
            import torch.nn.functional as F

            class AverageMeter:
                def __init__(self):
                    self.sum, self.count = 0.0, 0

                def update(self, val, n=1):
                    self.sum += val * n
                    self.count += n

            meter = AverageMeter()
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                meter.update(loss.item(), x.size(0))
        """),
        Valid("""
            import torch.nn.functional as F

            class RunningLoss:
                def __init__(self):
                    self.total = 0.0

                def add(self, loss):
                    self.total += loss.item()

            running = RunningLoss()
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                running.add(loss)
        """),
        # A running total summed under no_grad records no graph (an epoch's logging tensor).
        Valid("""
            import torch
            import torch.nn.functional as F

            def train(net, loader, optimizer, epochs):
                for epoch in range(epochs):
                    running = torch.zeros(1)
                    for x, y in loader:
                        optimizer.zero_grad()
                        loss = F.cross_entropy(net(x), y)
                        loss.backward()
                        optimizer.step()
                        with torch.no_grad():
                            running += loss.float()
                    print(running / len(loader))
        """),
        # The class's own `backward` (a reinforcement-learning agent's update from a reward),
        # which runs no backward pass: the reward it is handed is no loss.
        Valid("""
            import numpy as np

            class Agent:
                def fit(self, env, steps):
                    episode_reward = np.float32(0)
                    for _ in range(steps):
                        observation, reward, done, info = env.step(self.act())
                        self.backward(reward, terminal=done)
                        episode_reward += reward
                    return episode_reward

                def backward(self, reward, terminal):
                    raise NotImplementedError()
        """),
    ]
    INVALID = [
        Invalid("""
            import torch.nn.functional as F
            total_loss = 0
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                total_loss += loss
        """, line=6, unsafe=True, fixed="""
            import torch.nn.functional as F
            total_loss = 0
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                total_loss += loss.item()
        """),
        # A sum of an expression has no one tensor to call `.item()` on: no fix offered.
        Invalid("""
            import torch.nn.functional as F
            total_loss = 0
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                total_loss += loss * x.size(0)
        """, line=6),
        Invalid("""
            from torch import nn
            criterion = nn.MSELoss()
            epoch_loss = 0.0
            for x, y in loader:
                loss = criterion(model(x), y)
                loss.backward()
                epoch_loss += loss
        """, line=7, unsafe=True, fixed="""
            from torch import nn
            criterion = nn.MSELoss()
            epoch_loss = 0.0
            for x, y in loader:
                loss = criterion(model(x), y)
                loss.backward()
                epoch_loss += loss.item()
        """),
        Invalid("""
            import torch.nn.functional as F

            class Trainer:
                def epoch(self):
                    for x, y in self.loader:
                        loss = F.nll_loss(self.model(x), y)
                        loss.backward()
                        self.total += loss
        """, line=8, unsafe=True, fixed="""
            import torch.nn.functional as F

            class Trainer:
                def epoch(self):
                    for x, y in self.loader:
                        loss = F.nll_loss(self.model(x), y)
                        loss.backward()
                        self.total += loss.item()
        """),
        Invalid("""
            import torch.nn.functional as F
            total = 0
            for x, y in loader:
                loss = F.mse_loss(model(x), y) * 0.5
                loss.backward()
                total += loss
        """, line=6, unsafe=True, fixed="""
            import torch.nn.functional as F
            total = 0
            for x, y in loader:
                loss = F.mse_loss(model(x), y) * 0.5
                loss.backward()
                total += loss.item()
        """),
        Invalid("""
            import torch.nn.functional as F
            running = 0
            step = 0
            while step < 100:
                loss = F.l1_loss(model(batch), target)
                loss.backward()
                running += loss
                step += 1
        """, line=7, unsafe=True, fixed="""
            import torch.nn.functional as F
            running = 0
            step = 0
            while step < 100:
                loss = F.l1_loss(model(batch), target)
                loss.backward()
                running += loss.item()
                step += 1
        """),
        Invalid("""
            from torch import nn
            bce = nn.BCEWithLogitsLoss()
            history = 0
            for epoch in range(10):
                for x, y in loader:
                    batch_loss = bce(model(x), y)
                    batch_loss.backward()
                    history += batch_loss
        """, line=8, unsafe=True, fixed="""
            from torch import nn
            bce = nn.BCEWithLogitsLoss()
            history = 0
            for epoch in range(10):
                for x, y in loader:
                    batch_loss = bce(model(x), y)
                    batch_loss.backward()
                    history += batch_loss.item()
        """),
        Invalid("""
            import torch.nn.functional as F
            total = 0
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                accelerator.backward(loss)
                total += loss
        """, line=6, unsafe=True, fixed="""
            import torch.nn.functional as F
            total = 0
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                accelerator.backward(loss)
                total += loss.item()
        """),
        Invalid("""
            import torch.nn.functional as F
            running = 0
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                scaler.scale(loss).backward()
                running += loss
        """, line=6, unsafe=True, fixed="""
            import torch.nn.functional as F
            running = 0
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                scaler.scale(loss).backward()
                running += loss.item()
        """),
        Invalid("""
            import torch.nn.functional as F
            from lightning import LightningModule

            class Model(LightningModule):
                def training_step(self, batch, batch_idx):
                    total = 0
                    for x, y in batch:
                        loss = F.cross_entropy(self(x), y)
                        self.manual_backward(loss)
                        total += loss
                    self.log("loss", total)
        """, line=10, unsafe=True, fixed="""
            import torch.nn.functional as F
            from lightning import LightningModule

            class Model(LightningModule):
                def training_step(self, batch, batch_idx):
                    total = 0
                    for x, y in batch:
                        loss = F.cross_entropy(self(x), y)
                        self.manual_backward(loss)
                        total += loss.item()
                    self.log("loss", total)
        """),
        Invalid("""
            import torch.nn.functional as F
            from apex import amp
            total = 0
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                with amp.scale_loss(loss, optimizer) as scaled_loss:
                    scaled_loss.backward()
                total += loss
        """, line=8, unsafe=True, fixed="""
            import torch.nn.functional as F
            from apex import amp
            total = 0
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                with amp.scale_loss(loss, optimizer) as scaled_loss:
                    scaled_loss.backward()
                total += loss.item()
        """),
        # A loss no loss function made: what the loop backpropagates is a loss all the same.
        Invalid("""
            import torch
            running_loss = 0.0
            for batch in batches:
                optimizer.zero_grad()
                loss = -1 * torch.mean(model(batch))
                loss.backward()
                optimizer.step()
                running_loss += loss
        """, line=8, unsafe=True, fixed="""
            import torch
            running_loss = 0.0
            for batch in batches:
                optimizer.zero_grad()
                loss = -1 * torch.mean(model(batch))
                loss.backward()
                optimizer.step()
                running_loss += loss.item()
        """),
        Invalid("""
            running = 0.0
            for x, y in loader:
                loss, mse = loss_fn(model(x), y)
                scaler.scale(loss).backward()
                running += loss
        """, line=5, unsafe=True, fixed="""
            running = 0.0
            for x, y in loader:
                loss, mse = loss_fn(model(x), y)
                scaler.scale(loss).backward()
                running += loss.item()
        """),
        # The method runs once per step: the attribute sums every step's loss across calls.
        Invalid("""
            class Trainer:
                def run_batch(self, batch):
                    output = self.model.training_step(batch)
                    loss = output["loss"]
                    loss.backward()
                    self.batch_loss_value += loss
        """, line=6, unsafe=True, fixed="""
            class Trainer:
                def run_batch(self, batch):
                    output = self.model.training_step(batch)
                    loss = output["loss"]
                    loss.backward()
                    self.batch_loss_value += loss.item()
        """),
        # A meter whose update adds its argument into its state, handed the loss tensor each
        # step: the meter keeps every step's graph.
        Invalid("""
            import torch.nn.functional as F

            class AverageMeter:
                def __init__(self):
                    self.sum, self.count = 0.0, 0

                def update(self, val, n=1):
                    self.sum += val * n
                    self.count += n

            meter = AverageMeter()
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                meter.update(loss, x.size(0))
        """, line=15),
        # Its twin: the rebinding keeps the graph (`v = v.sum()`), so every step's graph stays.
        Invalid("""
            import torch.nn.functional as F

            class Averager:
                def __init__(self):
                    self.sum, self.count = 0.0, 0

                def add(self, v):
                    self.count += v.data.numel()
                    v = v.sum()
                    self.sum += v

            meter = Averager()
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                meter.add(loss)
        """, line=16),
        # The same per element of a list, from a method run once per step.
        Invalid("""
            class Meters:
                def __init__(self, n):
                    self.sums = [0.0] * n

                def update(self, values):
                    for index, value in enumerate(values):
                        self.sums[index] += value

            class Runner:
                def __init__(self):
                    self.meters = Meters(2)

                def train_step(self, x):
                    loss = model(x).pow(2).mean()
                    loss.backward()
                    self.meters.update([loss * 10, loss])
        """, line=16),
        # The class's own `backward` runs the backward pass on what it is handed: still a loss.
        Invalid("""
            import torch.nn.functional as F

            class Trainer:
                def fit(self, loader):
                    total = 0
                    for x, y in loader:
                        loss = F.cross_entropy(self.model(x), y)
                        self.backward(loss)
                        total += loss
                    return total

                def backward(self, loss):
                    loss.backward()
                    self.optimizer.step()
        """, line=9, unsafe=True, fixed="""
            import torch.nn.functional as F

            class Trainer:
                def fit(self, loader):
                    total = 0
                    for x, y in loader:
                        loss = F.cross_entropy(self.model(x), y)
                        self.backward(loss)
                        total += loss.item()
                    return total

                def backward(self, loss):
                    loss.backward()
                    self.optimizer.step()
        """),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.candidates: list[list[tuple[str, cst.AugAssign]]] = [[]]
        self.backpropagated: list[set[str]] = [set()]
        # Per function: `total += name` in a loop, whatever `name` holds, and the tensors the
        # function backpropagates: a name in both is a loss, however it was computed.
        self.sums_of_names: list[list[tuple[str, cst.AugAssign, object, str]]] = [[]]
        self.backpropagated_tensors: list[set[str]] = [set()]
        # Per function: `as` names of loss-scaling contexts, with the names their loss reads.
        self.scaled: list[dict[str, set[str]]] = [{}]
        # Per function: calls of a method that adds its argument into its instance's state
        # (`meter.update(loss, n)`), handed a tensor: (the call, the method, the loop, whether
        # the tensor is a loss's, the names the argument reads).
        self.accumulating_calls: list[list[tuple[cst.Call, str, object, bool, set[str]]]] = [[]]
        # Per function: what it hands a method of its own class named like a backward pass
        # (`self.backward(reward)`), by method: a backward pass only if that method runs one,
        # which is known once the whole class was read.
        self.own_backwards: list[list[tuple[str, str | None, set[str]]]] = [[]]
        self.pending: list[tuple] = []  # functions judged at the end, when those are known

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if not isinstance(node.operator, cst.AddAssign):
            return
        target = dotted_name(node.target)
        if target is None or self.facts.in_no_grad:
            return  # a sum made under no_grad records no graph: it holds no step's graph
        loop = self.facts.open_loops[-1] if self.facts.open_loops else None
        summed = dotted_name(node.value) if isinstance(node.value, (cst.Name, cst.Attribute)) \
            else None
        if loop is None:
            # A method run once per step keeps its running total in an attribute: the calls
            # are the loop. Only the tensor the method itself backpropagates counts then.
            if target.startswith("self.") and summed is not None:
                self.sums_of_names[-1].append((target, node, None, summed))
            return
        if first(self.facts.value(node.value), LOSS_VALUE) is not None:
            self.candidates[-1].append((target, node, loop))
        elif summed is not None:
            self.sums_of_names[-1].append((target, node, loop, summed))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        self.note_accumulating_call(node)
        if not isinstance(func, cst.Attribute) or func.attr.value not in BACKWARD_METHODS:
            return
        # Whatever the backpropagated expression reads is backpropagated with it: the total in
        # `scaler.scale(total).backward()`, `accelerator.backward(total)`, `total.mean().backward()`
        # or `(total / steps).backward()`.
        consumed = [func.value]
        for arg in node.args:
            if arg.keyword is None or arg.keyword.value in BACKWARD_METHODS[func.attr.value]:
                consumed.append(arg.value)
                break
        owner = self.facts.class_name
        if isinstance(func.value, cst.Name) and func.value.value == "self" and owner is not None \
                and owner in self.facts.classes_defining(func.attr.value):
            # The class's own method (an agent's `backward(reward)` update): what it is handed
            # is backpropagated only if that method runs a backward pass.
            for expression in consumed[1:]:
                self.own_backwards[-1].append((f"{owner}.{func.attr.value}",
                                               _backpropagated_tensor(expression),
                                               _names_read([expression])))
            return
        # `loss.backward()` starts from its receiver, `accelerator.backward(loss)` from its
        # argument; which one a call is needs the receiver's type, so both count.
        for expression in consumed:
            tensor = _backpropagated_tensor(expression)
            if tensor is not None:
                self.backpropagated_tensors[-1].add(tensor)
                self.backpropagated_tensors[-1].update(self.scaled[-1].get(tensor, ()))
        names = _names_read(consumed)
        for name in list(names):
            names |= self.scaled[-1].get(name, set())
        self.backpropagated[-1].update(names)

    def note_accumulating_call(self, node: cst.Call) -> None:
        """`meter.update(loss, n)` where the meter's class adds `val` into its state
        (`self.sum += val * n`): a running total of loss tensors kept across the calls."""
        func = node.func
        if not isinstance(func, cst.Attribute):
            return
        instance = first(self.facts.value(func.value), INSTANCE)
        if instance is None:
            return
        loop = self.facts.open_loops[-1] if self.facts.open_loops else None
        for position, parameter in self.facts.accumulated_arguments(instance.detail,
                                                                     func.attr.value):
            arg = argument(node, position, parameter)
            if arg is None:
                continue
            handed = arg.value
            parts = [element.value for element in handed.elements] if isinstance(
                handed, (cst.List, cst.Tuple)) else [handed]
            for part in parts:
                value = self.facts.value(part)
                elements = first(value, ELEMENTS)
                loss = first(value, LOSS_VALUE) is not None or (
                    elements is not None and first(elements.info, LOSS_VALUE) is not None)
                self.accumulating_calls[-1].append((node, func.attr.value, loop, loss,
                                                    _tensor_names(part)))

    def judge_accumulating_calls(self, backpropagated_tensors: set[str]) -> None:
        """A meter handed a loss tensor (one a loss function made, or the tensor the function
        backpropagates) in a training loop, or in a function that runs the step itself."""
        reported: set[int] = set()
        for call, method, loop, loss, names in self.accumulating_calls.pop():
            if id(call) in reported:
                continue
            if not loss and not names & backpropagated_tensors:
                continue
            if loop is not None:
                if not any(event[0] == "backward" for event in self.facts.expand(loop.events)):
                    continue
            elif not backpropagated_tensors:
                continue  # neither in a training loop nor in a step: summed once, not per step
            reported.add(id(call))
            callee = self.context.module.code_for_node(call.func)
            self.report(call, f"`{callee}` adds its argument into a running total kept on the "
                              f"instance (`{method}` does `self.<total> += <argument>`), and it "
                              "is handed a loss tensor: every step's autograd graph stays alive "
                              "in the total, and memory grows every step; pass `loss.item()`")

    def visit_With(self, node: cst.With) -> None:
        for item in node.items:
            call = item.item
            if isinstance(call, cst.Call) and call.args and item.asname is not None \
                    and isinstance(item.asname.name, cst.Name) \
                    and self.imports.call_name(call) in LOSS_SCALING_CONTEXTS:
                self.scaled[-1][item.asname.name.value] = _names_read([call.args[0].value])

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.accumulating_calls.append([])
        self.own_backwards.append([])
        self.candidates.append([])
        self.backpropagated.append(set())
        self.scaled.append({})
        self.sums_of_names.append([])
        self.backpropagated_tensors.append(set())

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.judge_accumulating_calls(self.backpropagated_tensors[-1])
        own = self.own_backwards.pop()
        if own:  # judged once the methods it hands values to are known
            self.pending.append((self.candidates.pop(), self.sums_of_names.pop(),
                                 self.backpropagated.pop(), self.backpropagated_tensors.pop(),
                                 own))
        else:
            self.judge(self.candidates.pop() + self._sums_of_losses(), self.backpropagated.pop())
        self.scaled.pop()

    def leave_Module(self, original_node: cst.Module) -> None:
        self.judge_accumulating_calls(self.backpropagated_tensors[0])
        for candidates, sums, backpropagated, tensors, own in self.pending:
            for method, tensor, names in own:
                events = self.facts.function_events(method)
                if events is not None and not any(
                        event[0] == "backward" for event in self.facts.expand(events)):
                    continue  # the method runs no backward pass: no loss handed to it
                if tensor is not None:
                    tensors.add(tensor)
                backpropagated |= names
            self.judge(candidates + [(target, node, loop) for target, node, loop, summed in sums
                                     if summed in tensors], backpropagated)
        self.own_backwards.pop()
        self.judge(self.candidates[0] + self._sums_of_losses(), self.backpropagated[0])

    def _sums_of_losses(self) -> list:
        """The function's `total += name` whose `name` it backpropagates (pops its scope)."""
        tensors = self.backpropagated_tensors.pop()
        return [(target, node, loop) for target, node, loop, summed in self.sums_of_names.pop()
                if summed in tensors]

    def judge(self, candidates, backpropagated: set[str]) -> None:
        for target, node, loop in candidates:
            if target in backpropagated:
                continue  # a loss summed on purpose, then backpropagated once
            if loop is not None and not any(
                    event[0] == "backward" for event in self.facts.expand(loop.events)):
                continue  # no training step in this loop: a loss built from parts (per head)
            fix = NodeFix.wrap(node.value, "", ".item()", description="Accumulate `.item()`",
                               applicability=Applicability.UNSAFE) \
                if isinstance(node.value, (cst.Name, cst.Attribute)) else None
            self.report(node, f"`{target}` sums loss tensors: each keeps its step's whole "
                              "autograd graph alive, and memory grows every step; add "
                              "`loss.item()` instead", fix=fix)


def _backpropagated_tensor(expression: cst.BaseExpression) -> str | None:
    """The tensor a backward pass starts from: `loss` in `loss.backward()`,
    `scaler.scale(loss).backward()`, `(loss / steps).backward()`, `loss.mean().backward()` or
    `accelerator.backward(loss)`; None when no one name is it."""
    while True:
        if isinstance(expression, (cst.Name, cst.Attribute)):
            name = dotted_name(expression)
            if isinstance(expression, cst.Attribute) and name is None:
                expression = expression.value  # `loss.mean()`'s callee `loss.mean`
                continue
            return name
        if isinstance(expression, cst.BinaryOperation):
            expression = expression.left  # the loss, not its divisor
        elif isinstance(expression, cst.Call):
            func = expression.func
            if isinstance(func, cst.Attribute) and not expression.args:
                expression = func.value  # `loss.mean()`, `loss.sum()`
            elif expression.args:
                expression = expression.args[0].value  # `scaler.scale(loss)`
            else:
                return None
        else:
            return None


def _tensor_names(expression: cst.BaseExpression) -> set[str]:
    """The dotted names an argument hands on as tensors: `loss` in `loss`, `loss * 1000` or
    `loss.mean()`; nothing for `loss.item()` or `float(loss)`, which drop the graph."""
    if isinstance(expression, cst.Call):
        func = expression.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("item", "detach", "tolist"):
            return set()
        if isinstance(func, cst.Name) and func.value in ("float", "int"):
            return set()
    if isinstance(expression, cst.BinaryOperation):
        return _tensor_names(expression.left) | _tensor_names(expression.right)
    tensor = _backpropagated_tensor(expression)
    return {tensor} if tensor is not None else set()


def _names_read(expressions: list[cst.BaseExpression]) -> set[str]:
    """The dotted names (`total`, `self.total`) that `expressions` read, at any depth."""
    names: set[str] = set()
    pending: list[cst.CSTNode] = list(expressions)
    while pending:
        node = pending.pop()
        if isinstance(node, (cst.Name, cst.Attribute)):
            name = dotted_name(node)
            if name is not None:
                names.add(name)
        pending.extend(children(node))
    return names
