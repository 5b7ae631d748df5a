"""RT003: the loss gets inputs it does not expect (probabilities for logits, targets out of
range or of the wrong dtype, a single class, an initial loss far above chance)."""

from __future__ import annotations

import math

from dllint.runtime import codes
from dllint.runtime.checks.registry import register
from dllint.runtime.dispatch import Check, LossCall
from dllint.runtime.tracing import dtype_of, made_by, shape_of, value_range
from dllint.types import Severity


@register
class LossContract(Check):
    code = codes.LOSS_CONTRACT
    events = frozenset({"on_loss"})

    def __init__(self, context) -> None:
        super().__init__(context)
        self.first_cross_entropy = True

    def on_loss(self, call: LossCall) -> None:
        data = call.prediction.detach()
        if call.name in ("cross_entropy", "nll_loss") and data.dim() >= 2:
            self.check_classification(call.name, data, call.target, call.kwargs,
                                      call.per_target, call.training)
        if call.name == "binary_cross_entropy_with_logits" and \
                made_by(call.prediction, "Sigmoid") and \
                float(data.min()) >= 0 and float(data.max()) <= 1:
            self.context.find(self.code, "`binary_cross_entropy_with_logits` gets values all in "
                                         f"{value_range(data)}: these look like sigmoid outputs, "
                                         "but the loss applies sigmoid itself; pass the logits",
                              {"input_range": value_range(data)})

    def check_classification(self, name, data, target, kwargs, value, training) -> None:
        find = self.context.find
        classes = data.shape[1]
        if name == "cross_entropy" and classes == 1:
            # Softmax over one class is 1 whatever the logit: the loss is 0 (or constant with
            # probability targets) and every gradient is zero. Seen in a public tutorial.
            self.context.constant_loss = True
            find(self.code, "`cross_entropy` gets a single class (input "
                            f"{shape_of(data)}): softmax over one class is always 1, so the loss "
                            "is constant and nothing is learned; for a binary target use one "
                            "output with `binary_cross_entropy_with_logits`, or two outputs with "
                            "`cross_entropy`",
                 {"classes": 1, "loss": value, "target": shape_of(target)})
            return
        rows = data.transpose(0, 1).reshape(classes, -1)
        non_negative = float(data.min()) >= 0
        sums = rows.sum(dim=0)
        sums_to_one = bool(((sums - 1).abs() <= codes.ROW_SUM_TOLERANCE).all())
        evidence = {"input_range": value_range(data),
                    "row_sums": f"[{float(sums.min()):.4g}, {float(sums.max()):.4g}]"}
        if name == "cross_entropy" and non_negative and sums_to_one:
            find(self.code, "`cross_entropy` gets probabilities (non-negative rows summing to 1), "
                            "but it applies log-softmax itself; pass the logits", evidence)
        elif name == "nll_loss" and float(data.max()) > 0:
            what = "softmax probabilities" if non_negative and sums_to_one else "positive values"
            find(self.code, f"`nll_loss` gets {what}, but it expects log-probabilities "
                            "(all <= 0); use `log_softmax`", evidence)
        if not target.is_floating_point():
            ignore = kwargs.get("ignore_index", -100)
            valid = target[target != ignore]
            if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= classes):
                find(self.code, f"class targets range over [{int(valid.min())}, "
                                f"{int(valid.max())}] but the input has {classes} classes",
                     {"classes": classes, "target_range": value_range(valid)})
        elif target.shape != data.shape:
            find(self.code, f"`{name}` gets {dtype_of(target)} class targets of shape "
                            f"{shape_of(target)}; class indices must be int64",
                 {"target_dtype": dtype_of(target)})
        if name == "cross_entropy" and training and self.first_cross_entropy and \
                not math.isnan(value):
            self.first_cross_entropy = False
            chance = math.log(classes)
            # Scores that are all <= 0 are no free logits: negative distances (prototypical
            # networks, -d^2) or log-probabilities. Their scale is the embedding's, so the
            # initial loss says nothing about the output layer.
            if value > codes.CHANCE_FACTOR * chance + 1 and float(data.max()) > 0:
                find(self.code, f"initial loss {value:.3g} is far above its chance value "
                                f"ln({classes}) = {chance:.3g}: check the output layer's scale "
                                "and the labels",
                     {"initial_loss": value, "chance": chance}, severity=Severity.WARNING)
