"""DL202: softmax or log_softmax without `dim`, leaving PyTorch to guess the axis."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, Rule, Valid
from dllint.semantic.syntax import argument
from dllint.semantic import catalog
from dllint.semantic.values import Tag, known_rank
from dllint.types import Severity

FUNCTIONS = frozenset({"torch.nn.functional.softmax", "torch.nn.functional.log_softmax",
                       "torch.nn.functional.softmin"})
LAYERS = frozenset({"torch.nn.Softmax", "torch.nn.LogSoftmax", "torch.nn.Softmin"})


# PyTorch's implicit dim by the input's rank (`torch.nn.functional._get_softmax_dim`): dim 0 for
# 0-, 1- and 3-D input, dim 1 otherwise. It is the last axis, the one meant, for ranks up to 2.
LAST_AXIS_RANKS = frozenset({0, 1, 2})


def _implicit_dim(rank: int) -> int:
    return 0 if rank in (0, 1, 3) else 1


class SoftmaxWithoutDim(Rule):
    """
    ## What it does
    Flags `F.softmax(x)`, `F.log_softmax(x)`, `nn.Softmax()` and `nn.LogSoftmax()` called
    without `dim`. Input the code shows to have at most two axes is left alone: PyTorch's guess
    is then its last axis. The rank is shown by a reshape written out (`x.view(-1, n)`), a
    constructor given its sizes, a `torch.cat` or `torch.stack` of tensors of known rank, or a
    layer that keeps its input's rank (`fc(x.view(b, -1))`). Where the code shows 3 or more axes
    the message says which axis PyTorch takes; where it does not show the rank, it says only
    that the axis depends on it.

    ## Why is this bad?
    Without `dim`, PyTorch picks an axis by a legacy rule (dim 0 for 0-, 1- and 3-D input, dim 1
    otherwise) and warns once. For a 3-D batch (batch, sequence, classes) that is the batch axis:
    each class's probabilities then sum to 1 across the batch, and nothing else complains.

    ## Example
    ```python
    probabilities = F.softmax(logits)
    ```

    ## Use instead
    ```python
    probabilities = F.softmax(logits, dim=-1)
    ```

    ## References
    PyTorch documentation, `torch.nn.functional.softmax` (implicit dim is deprecated).
    """

    code = "DL202"
    name = "softmax-without-dim"
    summary = "softmax / log_softmax without dim: the axis is guessed"
    severity = Severity.WARNING
    requires_any = ("oftmax", "oftmin")

    VALID = [
        Valid("""
            import torch.nn.functional as F
            probabilities = F.softmax(logits, dim=-1)
        """),
        Valid("""
            import torch.nn.functional as F
            log_probabilities = F.log_softmax(logits, 1)
        """),
        Valid("""
            from torch import nn
            head = nn.Sequential(nn.Linear(8, 3), nn.Softmax(dim=1))
        """),
        Valid("""
            from torch import nn
            layer = nn.LogSoftmax(-1)
        """),
        Valid("""
            import torch
            probabilities = torch.softmax(logits, -1)
            also = logits.softmax(-1)
        """),
        Valid("""
            from scipy.special import softmax
            weights = softmax(scores)
        """),
        # Reshaped to two axes at the call: the implicit dim is 1, the atoms' axis.
        Valid("""
            import torch.nn.functional as F
            dist = F.softmax(x.view(-1, num_atoms)).view(-1, num_actions, num_atoms)
            flat = F.log_softmax(scores.reshape((batch, classes)))
        """),
        # Joined along an axis they already have: still the (samples, classes) of each part.
        Valid("""
            import torch
            import torch.nn.functional as F
            from torch import nn
            classifier = nn.Linear(256, 7)
            collected = []
            for clip in clips:
                collected.append(classifier(clip.reshape(clip.shape[0], -1)).detach())
            confidences = F.softmax(torch.cat(collected, 0))
        """),
        # Stacked 1-D score vectors are a (rows, candidates) matrix: dim 1, the candidates.
        Valid("""
            import torch
            import torch.nn.functional as F
            ballots = torch.stack([torch.randn(12), torch.randn(12)])
            shares = F.softmax(ballots * 0.5)
        """),
        # A layer that keeps its input's rank, given a 2-D view, in a module's forward.
        Valid("""
            import torch.nn.functional as F
            from torch import nn

            class Digits(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.out = nn.Linear(320, 10)

                def forward(self, images):
                    flat = images.view(images.size(0), -1)
                    return F.log_softmax(self.out(flat))
        """),
        # A dim-less layer at the end of a head, applied to a flattened (batch, features) input:
        # the Linear keeps the two axes, and the implicit dim is 1, the classes.
        Valid("""
            from torch import nn

            class Critic(nn.Module):
                def __init__(self, width, kinds):
                    super().__init__()
                    self.trunk = nn.Conv2d(3, 16, 3)
                    self.kind_head = nn.Sequential(nn.Linear(width, kinds), nn.Softmax())

                def forward(self, frames):
                    maps = self.trunk(frames)
                    return self.kind_head(maps.view(maps.shape[0], -1))
        """),
    ]
    INVALID = [
        Invalid("""
            import torch.nn.functional as F
            probabilities = F.softmax(logits)
        """, line=2),
        Invalid("""
            from torch.nn import functional
            scores = functional.log_softmax(outputs)
        """, line=2),
        Invalid("""
            from torch import nn
            head = nn.Sequential(nn.Linear(8, 3), nn.Softmax())
        """, line=2),
        Invalid("""
            import torch.nn as nn
            self_attention_norm = nn.LogSoftmax()
        """, line=2),
        Invalid("""
            from torch.nn.functional import softmax
            attention = softmax(scores / 8.0)
        """, line=2),
        Invalid("""
            import torch.nn.functional as F
            weights = F.softmax(torch.matmul(q, k.transpose(-2, -1)), dtype=torch.float32)
        """, line=2),
        # Reshaped to three axes: dim 0, the batch axis, is the guess.
        Invalid("""
            import torch.nn.functional as F
            dist = F.softmax(x.view(batch, num_actions, num_atoms))
        """, line=2),
        # The twin of the joined predictions above: parts of shape (batch, steps, classes)
        # joined along the steps stay 3-D, and dim 0 is the batch axis.
        Invalid("""
            import torch
            import torch.nn.functional as F
            from torch import nn
            classifier = nn.Linear(256, 7)
            collected = []
            for clip in clips:
                collected.append(classifier(clip.reshape(batch, steps, -1)).detach())
            confidences = F.softmax(torch.cat(collected, 1))
        """, line=8),
        # Stacking (rows, candidates) matrices adds a third axis: dim 0 is the stacking axis.
        Invalid("""
            import torch
            import torch.nn.functional as F
            ballots = torch.stack([torch.randn(4, 12), torch.randn(4, 12)])
            shares = F.softmax(ballots * 0.5)
        """, line=4),
        # The twin of the head above: given (batch, positions, features), the Linear keeps three
        # axes and the layer normalises across the batch.
        Invalid("""
            from torch import nn

            class Critic(nn.Module):
                def __init__(self, width, kinds):
                    super().__init__()
                    self.trunk = nn.Conv2d(3, 16, 3)
                    self.kind_head = nn.Sequential(nn.Linear(width, kinds), nn.Softmax())

                def forward(self, frames):
                    maps = self.trunk(frames)
                    return self.kind_head(maps.view(maps.shape[0], maps.shape[1], -1))
        """, line=7),
        # Four axes (batch, heads, queries, keys): dim 1 is the heads axis.
        Invalid("""
            import torch
            import torch.nn.functional as F
            affinity = torch.zeros(batch, heads, length, length)
            weights = F.softmax(affinity[:, :, 1:, :] + 0.5)
        """, line=4),
    ]

    uses_model = True

    def __init__(self, context) -> None:
        super().__init__(context)
        # Layers built without `dim`, in file order, with how messages name them.
        self.layers: list[tuple[cst.Call, str]] = []
        # Where such a layer is stored (`self.head = nn.Sequential(nn.Linear(8, 3),
        # nn.Softmax())`), by the class and the code of the name: the layer, and the axes the
        # layers before it in its Sequential add to what the holder is given.
        self.holders: dict[tuple[str | None, str], tuple[cst.Call, int]] = {}
        # Each stored layer's applications (by id): the rank its input is shown to have there
        # (the RANK tag and the count), or None where it is not shown.
        self.applications: dict[int, list[tuple[Tag, int] | None]] = {}

    def visit_Assign(self, node: cst.Assign) -> None:
        stored = self._stored_layer(node.value)
        if stored is None:
            return
        for target in node.targets:
            self.holders[self._holder_key(target.target)] = stored

    def _stored_layer(self, value: cst.BaseExpression) -> tuple[cst.Call, int] | None:
        """The dim-less layer a value builds, alone or last in an `nn.Sequential` whose other
        layers change the rank by a known number of axes, and that number."""
        if not isinstance(value, cst.Call):
            return None
        qualified = self.imports.call_name(value)
        if qualified in LAYERS:
            return value, 0
        if qualified not in catalog.CONTAINER_LAYERS or not value.args or any(
                arg.star or arg.keyword is not None for arg in value.args):
            return None
        *before, last = [arg.value for arg in value.args]
        if not (isinstance(last, cst.Call) and self.imports.call_name(last) in LAYERS):
            return None
        added = 0
        for layer in before:
            name = self.imports.call_name(layer) if isinstance(layer, cst.Call) else None
            axes = catalog.LAYER_AXES_ADDED.get("nn." + name.rsplit(".", 1)[-1]) \
                if name is not None and name.startswith("torch.nn.") else None
            if axes is None:
                return None
            added += axes
        return last, added

    def _holder_key(self, target: cst.BaseExpression) -> tuple[str | None, str]:
        code = self.context.module.code_for_node(target).strip()
        return (self.facts.class_name if code.startswith("self.") else None), code

    def visit_Call(self, node: cst.Call) -> None:
        if node.args and not node.args[0].star and isinstance(node.func, (cst.Name, cst.Attribute)):
            stored = self.holders.get(self._holder_key(node.func))
            if stored is not None:  # self.head(features): the layer applied to what it is given
                layer, added = stored
                shown = known_rank(self.facts.value(node.args[0].value))
                self.applications.setdefault(id(layer), []).append(
                    (shown, int(shown.detail) + added) if shown is not None else None)
        qualified = self.imports.call_name(node)
        if qualified in FUNCTIONS and argument(node, 1, "dim") is None and not any(
                arg.star for arg in node.args):
            what = qualified.rsplit(".", 1)[-1]
            shown = known_rank(self.facts.value(node.args[0].value)) if node.args else None
            self._judge(node, what, [(shown, int(shown.detail)) if shown is not None else None])
        elif qualified in LAYERS and argument(node, 0, "dim") is None and not any(
                arg.star for arg in node.args):
            # built here, applied elsewhere: judged where it is applied, at the end of the file
            self.layers.append((node, "nn." + qualified.rsplit(".", 1)[-1] + "()"))

    def leave_Module(self, original_node: cst.Module) -> None:
        for layer, what in self.layers:
            self._judge(layer, what, self.applications.get(id(layer), [None]))

    def _judge(self, node: cst.Call, what: str, inputs: list[tuple[Tag, int] | None]) -> None:
        """Report a softmax without `dim` unless every input it is applied to is shown to have
        at most two axes; name the axis PyTorch takes where an input is shown to have more."""
        wrong = next((shown for shown in inputs
                      if shown is not None and shown[1] not in LAST_AXIS_RANKS), None)
        if wrong is None and all(shown is not None for shown in inputs):
            return  # the implicit dim is the last axis, the only one or the class axis
        if wrong is None:
            self.report(node, f"`{what}` without `dim` lets PyTorch choose the axis from the "
                              "input's rank, which the code does not show (dim 0 for 1-D and "
                              "3-D input, dim 1 otherwise); pass `dim=-1` or the class axis")
            return
        tag, rank = wrong
        if _implicit_dim(rank) == 0:
            axis = "dim 0, the first axis (the batch axis of a (batch, sequence, classes) input)"
        else:
            axis = "dim 1, the second axis (the channels of an image batch, the heads of " \
                   "attention scores)"
        self.report(node, f"`{what}` without `dim` normalises a {rank}-D input over {axis}; "
                          "pass `dim=-1` or the class axis",
                    related=self.origin_of(tag, f"{rank}-D: `{tag.info}`"))
