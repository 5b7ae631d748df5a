"""Transfer functions: the tags an expression's value carries, given the tags of its parts.

Library knowledge lives in `catalog` tables; this module is how calls, methods, attributes and
operators carry, add or drop tags (`x / 255` adds UNIT_SCALED, `.float()` drops UINT8,
`nn.Sequential(..., nn.Softmax(1))` is a module whose output is PROBABILITIES).
"""

from __future__ import annotations

from dataclasses import replace

import libcst as cst

from dllint.semantic import catalog
from dllint.semantic.effects import Effect, Loss, Row, Stage
from dllint.semantic.syntax import (
    argument, integer, is_255, is_inverse_255, is_true, keyword, mode_switch, number, positional)
from dllint.semantic.syntax import is_half_255, is_inverse_half_255, lambda_body, multiplies_by_255
from dllint.semantic.imports import dotted_name
from dllint.semantic.syntax import channel_values, std_key
from dllint.semantic.normalization import NormalizeStep, multiplied_back, standardized
from dllint.semantic.values import (
    COLUMN, DATAFRAME, DTYPE_TAGS, ELEMENTS, EMPTY, FLOAT64, INSTANCE, KEYED, LISTING,
    LOG_PROBABILITIES, LOSS,
    LOSS_VALUE, MODULE, OPTIMIZER, REFERENCE, SCHEDULER, PIL_IMAGE, TUPLE,
    PROBABILITIES, RANK1, SQUEEZED, TRANSFORM, UINT8, UNIT_SCALED, LossInfo, ModuleInfo, Tag,
    ListingInfo, Members, TransformInfo, Value, first, has, keep, members_of, without)
from dllint.semantic.values import ARGUMENT, ARGUMENT_OUTPUT, KERAS_INPUT, KERAS_TRAINING, RECORDS
from dllint.semantic.values import UNSCALED_FLOAT
from dllint.semantic.values import AXIS_DROPPED, COLUMN_WEIGHT, SHAPE_TAGS, SINGLE_CHANNEL
from dllint.semantic.values import EXTREMUM, OUT_OF_RANGE, UNIT_RANGE
from dllint.semantic.values import FUNCTION, PARTIAL, RESCALED, tags
from dllint.semantic.values import RANK, known_rank, rank_tag

MAX_FLOW_WALKS = 4  # one walk, then up to three more: three hops of calls
MAX_TUPLE = 8  # longer tuples are data, not a forward's (features, probabilities) pair
# What an element of an iterated tensor still is.
ROW_KEEPING = frozenset({PROBABILITIES, LOG_PROBABILITIES, UNIT_SCALED, UNIT_RANGE, UINT8,
                         FLOAT64})
# Activation layers whose output has their input's shape (an (N, 1) column stays one).
SHAPE_KEEPING_MODULES = frozenset("nn." + name.rsplit(".", 1)[-1]
                                  for name in catalog.SHAPE_KEEPING_LAYERS)
# What the elements of a list pass on to the array stacked from it: dtype and scale.
ELEMENT_KEEPING = frozenset({UNIT_SCALED, UNIT_RANGE, UINT8, FLOAT64})


def loss_wants(loss: Loss, call: cst.Call) -> str:
    """What a loss wants as built or called: a Keras cross-entropy wants logits only with
    `from_logits=True`, probabilities otherwise."""
    if loss.logits_flag and not is_true((keyword(call, loss.logits_flag)
                                         or cst.Arg(cst.Name("False"))).value):
        return "probabilities"
    return loss.wants


def _born_at(value: Value, made_up: cst.Call, node: cst.Call) -> Value:
    """`value` with what a made-up call (a partial's, see `_partial_call`) made moved to the
    call in the file, `node`: a rule points at a line that exists."""
    moved = set()
    for tag in value:
        info = tag.info
        if isinstance(info, ModuleInfo):
            tag = replace(tag, info=replace(info, output=_born_at(info.output, made_up, node)))
        elif isinstance(info, frozenset):  # a list's elements, a function's result
            tag = replace(tag, info=_born_at(info, made_up, node))
        elif isinstance(info, tuple) and all(isinstance(part, frozenset) for part in info):
            tag = replace(tag, info=tuple(_born_at(part, made_up, node) for part in info))
        moved.add(replace(tag, node=node) if tag.node is made_up else tag)
    return frozenset(moved)


def _listed_by_call(value: Value, call: cst.Call) -> Value:
    """A listing the file's function makes and returns is made anew by each call of it: its
    LISTING tags remember the call (`via`), so `list_files("A")` and `list_files("B")` are two
    listings, not one listing paired with itself. The listing call inside stays the place to fix."""
    if not any(tag.kind == LISTING and tag.via is None and not tag.info.shuffled
               for tag in value):
        return value
    return frozenset(replace(tag, via=call) if tag.kind == LISTING and tag.via is None
                     and not tag.info.shuffled else tag for tag in value)


def elements_of(value: Value) -> Value:
    """What the elements of a list or tuple value are, as far as dtype and scale go."""
    result: set[Tag] = set()
    for tag in value:
        if tag.kind == ELEMENTS:
            result |= tag.info
        elif tag.kind == TUPLE:
            for part in tag.info:
                result |= keep(part, ELEMENT_KEEPING | {RANK})
    return frozenset(result)


def _elements_rank(value: Value) -> Tag | None:
    """The rank every element of a list or tuple value is shown to have: a tuple (or a list
    display) with one element of unknown rank has none."""
    parts = [part for tag in value if tag.kind == TUPLE for part in tag.info]
    if any(known_rank(part) is None for part in parts):
        return None
    return known_rank(elements_of(value))


def as_array(value: Value) -> Value:
    """`np.array(images)`: a list (or tuple) of arrays becomes one array with their dtype and
    scale; a list of lists of them too (`np.array(grid)`)."""
    while has(value, ELEMENTS) or has(value, TUPLE):  # one round per level of nesting
        # `np.dstack((y, u, v))`: a tuple of arrays joins as a list of them does
        items = [item for tag in value if tag.kind == TUPLE and isinstance(tag.info, tuple)
                 for item in tag.info]
        # The elements' rank is not the array's (one axis more, or one fewer for `images[i]` of
        # a tensor): unknown here; the joins that know it say it (`_stacking`).
        value = without(value, (ELEMENTS, TUPLE)) | without(elements_of(value), (RANK,)) | keep(
            frozenset().union(*items), ELEMENT_KEEPING | {ELEMENTS, TUPLE})
    return value


def list_of(node: cst.CSTNode, elements: Value) -> Value:
    """A list of `elements`: what they are as data, the models among them (`models =
    [coarse, fine]`, whose mode-dependence `models[0]` keeps; a class of another file is a
    reference until the project resolves it), and the lists among them (a nested list)."""
    kept = keep(elements, ELEMENT_KEEPING | {ELEMENTS, MODULE, REFERENCE, RANK})
    return frozenset({Tag(ELEMENTS, node, info=kept)}) if kept else EMPTY


_ACTIVATION_KINDS = (PROBABILITIES, LOG_PROBABILITIES)


def _scaled_activation(node: cst.CSTNode, operator: cst.BaseBinaryOp, left: Value,
                       left_node: cst.BaseExpression | None, right: Value,
                       right_node: cst.BaseExpression) -> Value:
    """What an activation's output is after `* other` or `/ other`: still the activation when
    `other` changes nothing (`* 1.0`) or is itself in [0, 1] (`* mask` of a comparison, a
    product of probabilities); otherwise new scores (RESCALED), as a temperature makes them.
    Nothing for other arithmetic (`+ eps`, `1 - p`), which ends the activation as before."""
    if isinstance(operator, cst.Multiply) and left_node is not None and \
            not any(has(left, kind) for kind in _ACTIVATION_KINDS):
        left, left_node, right, right_node = right, right_node, left, left_node  # `T * p`
    if not isinstance(operator, (cst.Multiply, cst.Divide)) or left_node is None:
        return EMPTY
    activations = keep(left, _ACTIVATION_KINDS)
    if not activations:
        return EMPTY
    if number(right_node) == 1.0 or (isinstance(operator, cst.Multiply) and _in_unit_range(
            right_node, right)):
        return activations
    scale = dotted_name(right_node) or ""
    return frozenset({Tag(RESCALED, node, tag.detail, scale) for tag in activations})


def _in_unit_range(node: cst.BaseExpression, value: Value) -> bool:
    """A factor known to lie in [0, 1]: probabilities, pixels in [0, 1], or a mask made by a
    comparison (`(x > 0)`, `(x > 0).float()`)."""
    if has(value, PROBABILITIES) or has(value, UNIT_RANGE):
        return True
    while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
            node.func.attr.value in ("float", "double", "half", "int", "long", "type_as", "to"):
        node = node.func.value
    return isinstance(node, cst.Comparison)


class ValueTransfer:
    """The part of the semantic model that computes the values of calls and operators."""

    def _attribute(self, node: cst.Attribute) -> Value:
        key = self.attribute_key(node)
        if key is not None:
            for state in reversed(self.scopes.classes):
                if key in state.attributes:
                    return state.attributes[key]
            self.scopes.note_attribute_miss(key)
            return EMPTY
        receiver = self.value(node.value)
        name = node.attr.value
        member = _member(receiver, name, Members.attribute)
        if member is not None:  # trainer.model, set by the Trainer's own methods
            return member
        if name == "values" and has(receiver, DATAFRAME):
            rank1 = first(receiver, DATAFRAME).info == "series"
            result = {Tag(FLOAT64, node, info="numpy")}
            if rank1:
                result.add(Tag(RANK1, node, detail=".values of a column"))
            return frozenset(result) | keep(receiver, (RECORDS,))
        if name in catalog.ROW_INDEXERS:
            return keep(receiver, (RECORDS,))  # df.iloc[i] is the file's i-th row
        if name == "data":  # the tensor without its graph, like detach()
            return without(receiver, (MODULE, LOSS, TRANSFORM, LOSS_VALUE))
        if name in ("T", "mT"):  # a column's .T is a row: (1, N) meets (N,) as it should
            return without(receiver, (MODULE, LOSS, TRANSFORM, COLUMN, SINGLE_CHANNEL,
                                      AXIS_DROPPED))
        if name in ("forward", "__call__"):
            return keep(receiver, (MODULE, LOSS))  # criterion.forward(out, y) is criterion(out, y)
        if name in ("module", "_orig_mod"):  # ddp.module, compiled._orig_mod: the model wrapped
            return frozenset(replace(tag, via=None) for tag in receiver if tag.kind == MODULE
                             and isinstance(tag.via, cst.Call)
                             and self.qualified(tag.via.func) in catalog.MODULE_WRAPPERS)
        if name in catalog.FRAMEWORK_APPLY_METHODS or name in catalog.APPLY_FUNCTION_HOLDERS.values():
            # Flax: `model.apply(variables, x)` runs the module; so does `state.apply_fn(...)`
            # of a state holding it. (torch's `module.apply(fn)` returns the module instead.)
            return frozenset(tag for tag in receiver if tag.kind == MODULE and tag.info.framework
                             and tag.info.framework != "keras")
        return EMPTY

    def _binary(self, node: cst.CSTNode, left: Value, operator: cst.BaseBinaryOp,
                right_node: cst.BaseExpression) -> Value:
        right = self.value(right_node)
        if isinstance(operator, cst.Divide) and isinstance(node, cst.BinaryOperation) and \
                number(node.left) == 1.0 and self._one_plus_exp_of_negative(right_node):
            return frozenset({Tag(PROBABILITIES, node, "sigmoid")})  # 1 / (1 + exp(-x))
        if (isinstance(operator, cst.Divide) and is_255(right_node)) or (
                isinstance(operator, cst.Multiply) and is_inverse_255(right_node)):
            return self.scaled(left, node, "division by 255")
        if isinstance(operator, cst.Divide) and isinstance(node, cst.BinaryOperation) and \
                self._min_max_scaling(node.left, right):
            return self.scaled(without(left, (EXTREMUM,)), node, "min-max scaling")
        if isinstance(operator, cst.MatrixMultiply) and has(right, COLUMN_WEIGHT):
            return frozenset({Tag(COLUMN, node, "x @ w, w of shape (k, 1)")})
        if (isinstance(operator, cst.Divide) and is_half_255(right_node)) or (
                isinstance(operator, cst.Multiply) and is_inverse_half_255(right_node)):
            # `x / 127.5 - 1`: 0-255 pixels to [-1, 1], a scaling as much as a division by 255
            # (but the value is in [0, 2] until the `- 1`).
            return without(self.scaled(left, node, "division by 127.5"), (UNIT_RANGE,))
        left_node = node.left if isinstance(node, cst.BinaryOperation) else None
        if isinstance(operator, cst.Multiply) and (is_255(right_node) or (
                left_node is not None and is_255(left_node))):
            # back to 0-255 (`preprocess_input(x * 255)`, `255 * x`)
            left, right = without(left, (UNIT_SCALED,)), without(right, (UNIT_SCALED,))
        if isinstance(operator, (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.Power,
                                 cst.FloorDivide, cst.Modulo)):
            result = without(left | right, (PROBABILITIES, LOG_PROBABILITIES, MODULE, LOSS,
                                            TRANSFORM, DATAFRAME, PIL_IMAGE, KERAS_INPUT,
                                            UNIT_RANGE, OUT_OF_RANGE))
            result |= _scaled_activation(node, operator, left, left_node, right, right_node)
            if has(result, RANK1) and not (_rank_at_most_one(left, left_node)
                                           and _rank_at_most_one(right, right_node)):
                # Broadcasting gives the larger rank: `x @ W + b` with b of shape (n,) is as 2-D
                # as `x @ W`. Rank 1 stands only when no operand may have more axes.
                result = without(result, (RANK1,))
            result = without(result, (RANK,)) | _broadcast_rank(left, left_node, right,
                                                                right_node, node)
            uint8 = first(result, UINT8)
            # `0.5 * image` and `image * 0.5` alike: a float operand makes uint8 pixels float.
            float_operand = isinstance(right_node, cst.Float) or has(right, FLOAT64) or (
                isinstance(left_node, cst.Float) or has(left, FLOAT64))
            if uint8 is not None and (isinstance(operator, cst.Divide) or float_operand):
                result = without(result, (UINT8,))
                if uint8.info == "numpy":
                    result |= {Tag(FLOAT64, node, info="numpy")}
            # Float pixels still in 0-255: uint8 met a float, TensorFlow's unscaled cast, or an
            # earlier such operation.
            pixels = (uint8 is not None and float_operand) or has(left, OUT_OF_RANGE) or \
                has(left, UNSCALED_FLOAT) or has(right, UNSCALED_FLOAT)
            if pixels and _may_leave_pixel_range(operator, left_node, right_node):
                result |= {Tag(OUT_OF_RANGE, node, _OPERATION_NAMES[type(operator)])}
            if isinstance(operator, cst.Divide) and isinstance(left_node, cst.BinaryOperation) \
                    and isinstance(left_node.operator, cst.Subtract):
                std = std_key(right_node, self.qualified, left_node.left)  # `(x - mean) / std`
                if std:
                    result = standardized(result, node, std, channel_values(left_node.right),
                                          channel_values(right_node),
                                          before=self.value(left_node.left))
            if isinstance(operator, cst.Multiply):  # `x * std (+ mean)`: denormalized by hand
                result = multiplied_back(result, std_key(right_node, self.qualified, left_node),
                                         channel_values(right_node))
            return result
        return EMPTY

    def _min_max_scaling(self, numerator: cst.BaseExpression, denominator: Value) -> bool:
        """`(x - x.min()) / (x.max() - x.min())`, `(x - lo) / (hi - lo + eps)` with `lo = x.min()`,
        or `/ np.ptp(x)`: `x` scaled to [0, 1] by its own range (EXTREMUM tags of the same `x`)."""
        if not (isinstance(numerator, cst.BinaryOperation)
                and isinstance(numerator.operator, cst.Subtract)):
            return False
        base = dotted_name(numerator.left)
        if base is None:
            return False

        def holds(value: Value, which: str) -> bool:
            return any(tag.kind == EXTREMUM and tag.detail == which and tag.info == base
                       for tag in value)
        return holds(self.value(numerator.right), "min") and (
            holds(denominator, "range") or (holds(denominator, "max")
                                            and holds(denominator, "min")))

    def _one_plus_exp_of_negative(self, node: cst.BaseExpression) -> bool:
        """`1 + np.exp(-x)` (either order, `x.neg().exp()` aside): the denominator of a sigmoid
        written out."""
        if not (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add)):
            return False
        exp = node.right if number(node.left) == 1.0 else node.left if number(
            node.right) == 1.0 else None
        if not isinstance(exp, cst.Call):
            return False
        if isinstance(exp.func, cst.Attribute) and exp.func.attr.value == "exp" and \
                not exp.args and self.qualified(exp.func) is None:
            exponent = exp.func.value  # (-x).exp()
        elif self.qualified(exp.func) in catalog.EXP_FUNCTIONS and exp.args:
            exponent = exp.args[0].value
        else:
            return False
        return isinstance(exponent, cst.UnaryOperation) and isinstance(exponent.operator, cst.Minus)

    def scaled(self, value: Value, node: cst.CSTNode, how: str) -> Value:
        """The value after a scaling to [0, 1] (division by 255, ToTensor)."""
        if how != "division by 255" and has(value, UNIT_SCALED):
            return value  # ToTensor and friends leave float data as it is: the first scaling stands
        result = without(value, (UINT8, UNIT_SCALED, PIL_IMAGE, UNSCALED_FLOAT, KERAS_INPUT))
        graph = first(value, KERAS_INPUT)
        if graph is not None and graph.detail == "kept":  # `keras.Input(...) / 255`
            result |= {Tag(KERAS_INPUT, node, "scaled", node)}
        uint8 = first(value, UINT8)
        if uint8 is not None and uint8.info == "numpy" and how == "division by 255":
            result |= {Tag(FLOAT64, node, info="numpy")}  # numpy true division gives float64
        return result | {Tag(UNIT_SCALED, node, detail=how), Tag(UNIT_RANGE, node, detail=how)}

    def _call(self, node: cst.Call) -> Value:
        func = node.func
        qualified = self.qualified(func)
        if qualified is not None and not qualified.startswith("builtins."):
            return self._library_call(qualified, node)
        if isinstance(func, cst.Name):
            scopes = self.scopes
            if func.value == "self" and scopes.classes:
                return scopes.own_forward()
            if func.value in scopes.local_classes and func.value not in self.frames[-1]:
                info = scopes.local_classes[func.value]
                if info is None:  # a plain class: its methods are still this file's functions
                    instance = Tag(INSTANCE, node, func.value,
                                   scopes.local_members.get(func.value))
                    if func.value in scopes.scheduler_classes:
                        return frozenset({instance, Tag(SCHEDULER, node, func.value)})
                    return frozenset({instance})
                return self._instance(info, node)
            if func.value in scopes.local_functions and func.value not in self.frames[-1]:
                returned = scopes.local_functions[func.value]
                if func.value in scopes.flag_returns:
                    returned = self._returns_for_flags(func.value, node, returned)
                position = scopes.module_passthroughs.get(func.value)
                handed = positional(node, position) if position is not None else None
                if handed is not None:  # layer_init(nn.Linear(4, 64)): the Linear it is handed
                    returned = returned | keep(self.value(handed.value), {MODULE})
                return _listed_by_call(returned, node)
            if qualified is not None:
                return self._builtin(qualified, node)
            if func.value in self.top_functions and self.scopes.functions and \
                    not any(func.value in frame for frame in self.frames[1:]):
                # a function of the module defined further down, called from a function body:
                # what it returned on the last walk
                return _listed_by_call(self.scopes.later_function(func.value), node)
            return self.call_value(self.lookup(func.value), node)
        if isinstance(func, cst.Attribute):
            if func.attr.value in ("forward", "__call__") and isinstance(func.value, cst.Name) \
                    and func.value.value == "self" and self.scopes.classes:
                return self.scopes.own_forward()
            attribute_value = self._attribute(func)
            if any(tag.kind in (MODULE, TRANSFORM, LOSS, ARGUMENT, FUNCTION)
                   for tag in attribute_value):
                return self.call_value(attribute_value, node)
            if isinstance(func.value, cst.Name) and func.value.value == "self" and \
                    self.scopes.classes:
                returned = self.scopes.own_method(func.attr.value)
                if returned is not None:
                    return returned
                receiver = self.value(func.value)
            else:
                receiver = self.value(func.value)
                returned = _member(receiver, func.attr.value, Members.method)
                if returned is not None:  # trainer.build(), dataset.files()
                    return returned
            return self._method(receiver, func.attr.value, node)
        return self.call_value(self.value(func), node)

    def _returns_for_flags(self, name: str, call: cst.Call, returned: Value) -> Value:
        """What a call of the file's function returns when it passes a flag written out
        (`logistic(h, w, b, activation=False)`, or the flag's default): only the returns of
        the branches that flag takes (`if activation: return sigmoid(z)` is not one)."""
        function, unguarded, guarded = self.scopes.flag_returns[name]
        params = [*function.params.posonly_params, *function.params.params]
        flags: dict[str, bool | None] = {}
        for parameter, _, _ in guarded:
            if parameter in flags:
                continue
            index = next((i for i, p in enumerate(params) if p.name.value == parameter), None)
            param = next((p for p in (*params, *function.params.kwonly_params)
                          if p.name.value == parameter), None)
            passed = argument(call, index, parameter) if index is not None else \
                keyword(call, parameter)
            written = passed.value if passed is not None else (
                param.default if param is not None else None)
            if any(arg.star for arg in call.args):
                written = None  # *args / **kwargs: the flag may be among them
            flags[parameter] = True if is_true(written) else (
                False if isinstance(written, cst.Name) and written.value == "False" else None)
        if any(value is None for value in flags.values()):
            return returned
        return unguarded.union(*(value for parameter, wanted, value in guarded
                                 if flags[parameter] == wanted))

    def _grow_sequential(self, target: cst.BaseExpression, node: cst.Call) -> None:
        """`m.add_module("sm", nn.Softmax(1))` / `m.append(layer)`: the last member added is what
        an nn.Sequential returns."""
        container = first(self.value(target), MODULE)
        if container is None or node.func.attr.value not in catalog.GROWING_METHODS.get(
                container.detail, ()):
            return
        layer = first(self.value(node.args[-1].value), MODULE)
        if layer is None:
            return
        old = container.info
        mode = True if old.mode_dependent or layer.info.mode_dependent else (
            None if old.mode_dependent is None or layer.info.mode_dependent is None else False)
        # A Keras model that so far hands its pixels on takes the added layer's effect on them.
        pixels, scaling = (layer.info.input_pixels, layer.info.input_scaling) \
            if old.input_pixels == "kept" else (old.input_pixels, old.input_scaling)
        # A ModuleList is not called: what it returns stays nothing.
        output = old.output if container.detail in catalog.MODULE_COLLECTIONS.values() \
            else layer.info.output
        info = ModuleInfo(old.name, output, mode,
                          old.evidence or layer.info.evidence, framework=old.framework,
                          input_pixels=pixels, input_scaling=scaling,
                          training_layer=old.training_layer or layer.info.training_layer)
        self.bind(target, frozenset({Tag(MODULE, container.node, container.detail, info)}))

    def call_value(self, callee: Value, node: cst.Call) -> Value:
        """The value of calling a module, a transform, a loss object or a function held as a
        value (a lambda, a closure)."""
        result: set[Tag] = set()
        for tag in callee:
            if tag.kind == FUNCTION:  # a lambda or a closure: what its body returns
                result |= tag.info
            if tag.kind == PARTIAL:
                result |= self._partial_call(tag, node)
            if tag.kind == LOSS:
                result.add(Tag(LOSS_VALUE, node, tag.detail))
            if tag.kind == ARGUMENT:  # phase one: whatever the module handed in returns
                result.add(Tag(ARGUMENT_OUTPUT, node, tag.detail, tag.info))
            if tag.kind == MODULE:
                result |= self.hand_in(tag.info.output, node, "forward")
                if tag.info.framework == "keras" and node.args:  # the functional API
                    given = self.value(node.args[0].value)
                    result |= self._keras_graph(tag.info, given)
                    # A symbolic graph keeps the dropout and batch norm it went through.
                    if has(given, KERAS_INPUT) or has(given, KERAS_TRAINING):
                        result |= keep(given, (KERAS_TRAINING,))
                        if tag.info.training_layer:
                            result.add(Tag(KERAS_TRAINING, node, tag.info.training_layer))
                if tag.info.name in SHAPE_KEEPING_MODULES and node.args:  # self.sigmoid(self.fc(x))
                    result |= keep(self.value(node.args[0].value), SHAPE_TAGS)
                added = catalog.LAYER_AXES_ADDED.get(tag.info.name)
                given = known_rank(self.value(node.args[0].value)) if node.args and \
                    added is not None and not node.args[0].star else None
                if given is not None:  # self.fc(x.view(b, -1)): as 2-D as what it is given
                    result = set(without(frozenset(result), (RANK,)))
                    result |= _ranked(given, int(given.detail) + added, node)
            elif tag.kind == TRANSFORM:
                if positional(node, 0) is None and any(
                        keyword(node, key) for key in catalog.ALBUMENTATIONS_IMAGE_KEYS):
                    result.add(self._keyed_result(tag, node))
                    continue
                argument_value = self.value(node.args[0].value) if node.args else EMPTY
                if tag.info.scaling is not None:
                    result |= self.scaled(argument_value, tag.info.scaling, tag.info.scaling_name)
                else:
                    result |= argument_value
                for step in tag.info.normalizations:
                    result = set(standardized(frozenset(result), step.node, step.std_key,
                                              step.mean, step.std))
        return frozenset(result)

    def _instance(self, info: ModuleInfo | None, node: cst.Call) -> Value:
        """An instance of a module class built at `node`: its output with what the constructor
        is handed filled in (`Wrapper(backbone)`)."""
        if info is None:
            return EMPTY
        output = self.hand_in(info.output, node, "init")
        if output is not info.output:
            info = replace(info, output=output)
        if info.decided_by and info.mode_dependent and _built_without_drop(info, node):
            info = replace(info, mode_dependent=False, evidence="", decided_by=())
        return frozenset({Tag(MODULE, node, info.name, info)})

    def hand_in(self, output: Value, call: cst.Call, slot: str) -> Value:
        """A module's output once `call` (its construction, "init", or its call, "forward") hands
        it modules: where the output is what a module handed in returns (ARGUMENT_OUTPUT, from a
        summary), the output of the module this call passes there. Placeholders of the forward
        not yet filled by a construction are left for the call, and dropped there."""
        if not any(tag.kind == ARGUMENT_OUTPUT for tag in output):
            return output
        result: set[Tag] = set()
        for tag in output:
            if tag.kind != ARGUMENT_OUTPUT:
                result.add(tag)
                continue
            where, _, position = tag.info.partition(":")
            if where != slot:
                if slot == "init":
                    result.add(tag)
                continue
            arg = keyword(call, tag.detail) if position == "-1" else argument(
                call, int(position), tag.detail)
            for handed in (self.value(arg.value) if arg is not None else EMPTY):
                if handed.kind == MODULE:
                    result |= without(handed.info.output, (ARGUMENT_OUTPUT,))
                elif handed.kind == ARGUMENT:
                    result.add(Tag(ARGUMENT_OUTPUT, call, handed.detail, handed.info))
        return frozenset(result)

    @staticmethod
    def _keras_graph(layer: ModuleInfo, given: Value) -> Value:
        """A Keras layer or model applied to a symbolic input (`x = layers.Dense(64)(inputs)`):
        the graph so far either still hands the pixels on as given ("kept") or the first layer
        that changes them decided what the model does to them."""
        graph = first(given, KERAS_INPUT)
        if graph is None:
            return EMPTY
        if graph.detail != "kept":
            return frozenset({graph})
        if layer.input_pixels == "kept":
            return frozenset({graph})
        if layer.input_pixels in ("raw", "scaled"):
            return frozenset({Tag(KERAS_INPUT, graph.node, layer.input_pixels,
                                  layer.input_scaling)})
        return EMPTY

    def _keyed_result(self, transform: Tag, node: cst.Call) -> Tag:
        """`pipeline(image=x, mask=m)`: a dict whose image entry went through the pipeline's
        scaling; other entries (masks, boxes) are not scaled, so they are left unknown."""
        entries = []
        for key in catalog.ALBUMENTATIONS_IMAGE_KEYS:
            arg = keyword(node, key)
            if arg is None:
                continue
            image = self.value(arg.value)
            if transform.info.scaling is not None:
                image = self.scaled(image, transform.info.scaling, transform.info.scaling_name)
            entries.append((key, image))
        return Tag(KEYED, node, info=tuple(entries))

    def sequence_value(self, node: cst.List | cst.ListComp | cst.GeneratorExp) -> Value:
        """A list display or comprehension: the order of the listing it iterates, and what its
        elements are (`[load(p) for p in paths]` holds what `load` returns)."""
        if isinstance(node, cst.List):
            elements: set[Tag] = set()
            parts = []
            for element in node.elements:
                value = self.value(element.value)
                elements |= elements_of(value) if isinstance(element, cst.StarredElement) else value
                parts.append(None if isinstance(element, cst.StarredElement) else value)
            listed = list_of(node, frozenset(elements))
            # A display of known length is positional as a tuple is: `folders[0]` of
            # `[glob(a), glob(b)]` is the first listing, whatever else the list holds.
            if 1 < len(parts) <= MAX_TUPLE and None not in parts and any(parts):
                listed |= {Tag(TUPLE, node, info=tuple(parts))}
            return frozenset(listed)
        listing = keep(self.value(node.for_in.iter), (LISTING,))  # keeps the listing's order
        return listing | list_of(node, self._comprehension_element(node))

    def rows(self, iterated: Value) -> Value:
        """What each item of an iterated value is: a row of a tensor, an element of a list."""
        return keep(iterated, ROW_KEEPING) | elements_of(iterated)

    def _comprehension_element(self, node: cst.ListComp | cst.GeneratorExp | cst.DictComp
                               ) -> Value:
        """The value of the element expression (a dict comprehension's value), its loop
        variables bound to the rows of what they iterate, in a frame restored afterwards (they
        do not leak, as in Python 3)."""
        frame = self.frames[-1]
        saved = dict(frame)
        generation = self._generation
        only_names = True  # `for self.x in ...` would bind an attribute, which is not restored
        try:
            comprehension: cst.CompFor | None = node.for_in
            while comprehension is not None:
                rows = self.rows(self.value(comprehension.iter))
                if isinstance(comprehension.target, (cst.Name, cst.Tuple, cst.List)):
                    only_names = only_names and _names_only(comprehension.target)
                    self.bind(comprehension.target, EMPTY)
                    if isinstance(comprehension.target, cst.Name):
                        self.bind(comprehension.target, rows)
                comprehension = comprehension.inner_for_in
            return self.value(node.value if isinstance(node, cst.DictComp) else node.elt)
        finally:
            frame.clear()
            frame.update(saved)
            if only_names:
                self.restore_generation(generation)
            else:
                self.bindings_changed()

    def _builtin(self, qualified: str, node: cst.Call) -> Value:
        if not node.args:
            return EMPTY
        return self._dispatch(catalog.REGISTRY.calls(qualified), qualified, node) or EMPTY

    def _dispatch(self, rows: tuple[Row, ...], qualified: str, node: cst.Call,
                  stage: Stage | None = None) -> Value | None:
        """The value of a call by its rows, tried in their effects' order: the first handler
        that answers (not None) decides; None when no row of `stage` applies."""
        for row in rows:
            if stage is not None and row.effect.stage is not stage:
                continue
            result = CALL_HANDLERS[row.effect](self, row, qualified, node)
            if result is not None:
                return result
        return None

    def _walk_step(self, node: cst.Call) -> Value:
        """`next(os.walk(root))`: the (root, dirs, files) of `root` itself, whose dirs and files
        come in the filesystem's order like every step of the walk."""
        walk = first(self.value(node.args[0].value), LISTING)
        if walk is None or not walk.info.walk or walk.info.ordered:
            return EMPTY
        entries = frozenset({Tag(LISTING, node, walk.detail, walk.info)})
        return frozenset({Tag(TUPLE, node, info=(EMPTY, entries, entries))})

    def _walk_entries(self, part: Value, node: cst.Subscript) -> Value:
        """`next(os.walk(root))[1]`: the entry names themselves, a listing `sorted()` can wrap
        where it is taken (unlike `dirs` unpacked from the step, which is sorted in place)."""
        step = first(part, LISTING)
        if step is None or not step.info.walk:
            return part
        name = f"next(os.walk(...))[{int(number(node.slice[0].slice.value))}]"
        return (part - {step}) | {Tag(LISTING, node, name, ListingInfo(name))}

    def _sorted(self, node: cst.Call) -> Value:
        listing = first(self.value(node.args[0].value), LISTING) if node.args else None
        if listing is None:
            return EMPTY
        return frozenset({Tag(LISTING, node, listing.detail, ListingInfo(listing.info.function, True))})

    def _module_copy(self, node: cst.Call, name: str, index: int) -> Value:
        """`copy.deepcopy(model)`, `AveragedModel(model)`: a module with the same layers and
        mode, and a value of its own, born at the copy: `ema_model.eval()` is no switch of
        `model`'s mode. Only the modules of the argument are copied."""
        return frozenset(replace(tag, node=node) for tag in self._argument_value(node, index, name)
                         if tag.kind == MODULE)

    def _argument_value(self, node: cst.Call, index: int = 0, name: str = "input") -> Value:
        arg = argument(node, index, name)
        return EMPTY if arg is None else self.value(arg.value)

    def _dtype_keyword(self, node: cst.Call, position: int | None = None) -> str | None:
        """The dtype a call is given, by keyword (or at `position`), as a qualified name."""
        arg = keyword(node, "dtype") if position is None else argument(node, position, "dtype")
        if arg is None:
            return None
        if isinstance(arg.value, cst.SimpleString):
            return "numpy." + arg.value.evaluated_value if isinstance(
                arg.value.evaluated_value, str) else "?"
        return self.qualified(arg.value) or "?"

    def _library_call(self, qualified: str, node: cst.Call) -> Value:
        rows = catalog.REGISTRY.calls(qualified)
        result = self._dispatch(rows, qualified, node, Stage.CALL)
        if result is not None:
            return result
        if self.summarising and (qualified in self.imported_names or qualified.rpartition(".")[0]
                                 in self.imports.stars
                                 or qualified.rpartition(".")[0] in self.imports.modules) and \
                qualified.split(".", 1)[0] not in catalog.LIBRARY_ROOTS:
            return frozenset({Tag(REFERENCE, node, qualified)})
        if self.project is not None:
            summary = self.project.lookup_class(qualified, self.context.path)
            if summary is not None:
                return self._instance(summary, node)
            returned = self.project.lookup_function(qualified, self.context.path)
            if returned is not None:
                return returned
            members = self.project.lookup_members(qualified, self.context.path)
            scheduler = frozenset({Tag(SCHEDULER, node, qualified.rsplit(".", 1)[-1])}) \
                if self.project.is_scheduler_class(qualified, self.context.path) else EMPTY
            if members is not None:  # a plain class of another file: `Trainer()`
                return frozenset({Tag(INSTANCE, node, qualified, members)}) | scheduler
            if scheduler:
                return scheduler
        return self._dispatch(rows, qualified, node, Stage.DATA) or EMPTY

    # Handlers of library calls, one per effect (see CALL_HANDLERS): each returns the call's
    # value, or None to let the name's next row decide.

    def _listing_call(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return frozenset({Tag(LISTING, node, row.display, ListingInfo(row.display))})

    def _shuffled_listing_call(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return self._shuffled_listing(node, *row.data)

    def _order_keeping_call(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return keep(self._argument_value(node, row.position, row.keyword), (LISTING, RECORDS))

    def _sorting_call(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return self._sorted(node)

    def _module_copy_call(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return self._module_copy(node, row.keyword, row.position)

    def _partial(self, row: Row, qualified: str, node: cst.Call) -> Value:
        """`partial(F.cross_entropy, label_smoothing=0.1)`, `partial(nn.BatchNorm2d, eps=1e-3)`:
        a callable whose call is a call of the wrapped one with the bound arguments merged in
        (see `_partial_call`); one that wraps a loss is a loss, its prediction taken where the
        bound positional arguments leave it."""
        wrapped = positional(node, 0)
        if wrapped is None:
            return EMPTY
        bound = tuple(arg for arg in node.args if arg is not wrapped)
        result = {Tag(PARTIAL, node, "partial", (wrapped.value, bound))}
        shift = sum(1 for arg in bound if arg.keyword is None and not arg.star)
        wrapped_qualified = self.qualified(wrapped.value)
        loss = catalog.LOSS_FUNCTIONS.get(wrapped_qualified or "")
        if loss is not None:
            info = LossInfo(wrapped_qualified, loss_wants(loss, node), loss.display,
                            loss.argument, loss.keyword)
        else:
            held = first(self.value(wrapped.value), LOSS)  # partial(criterion, ...)
            info = held.info if held is not None else None
        if info is not None and info.argument >= shift and not any(
                arg.keyword is not None and arg.keyword.value == info.keyword for arg in bound):
            result.add(Tag(LOSS, node, wrapped_qualified.rsplit(".", 1)[-1]
                           if wrapped_qualified else "partial",
                           replace(info, argument=info.argument - shift)))
        return frozenset(result)

    def _partial_call(self, partial: Tag, node: cst.Call) -> Value:
        """The value of calling a partial: of a call of the wrapped callable with the bound
        positional arguments first, then the call's, and the call's keywords over the bound
        ones. The call is made up here; what it makes is born at `node`."""
        wrapped, bound = partial.info
        given = {arg.keyword.value for arg in node.args if arg.keyword is not None}
        positional_args = [arg for arg in (*bound, *node.args)
                           if arg.keyword is None and arg.star != "**"]
        keyword_args = [arg for arg in bound if arg.keyword is not None
                        and arg.keyword.value not in given]
        keyword_args += [arg for arg in node.args if arg.keyword is not None]
        double_star = [arg for arg in (*bound, *node.args) if arg.star == "**"]
        merged = cst.Call(func=wrapped, args=(*positional_args, *keyword_args, *double_star))
        # A partial whose wrapped name resolves back to a partial being expanded (`step =
        # make_step()` at module level, `return partial(step)` inside, the inner `step` read as
        # the global one) has no value of its own to add: the cycle stops here.
        if partial.node in self._expanding_partials:
            return EMPTY
        self._expanding_partials.add(partial.node)
        try:
            return _born_at(self._call(merged), merged, node)
        finally:
            self._expanding_partials.discard(partial.node)

    def _module_wrapper(self, row: Row, qualified: str, node: cst.Call) -> Value:
        """DDP(model), torch.compile(model): the model, reached `via` the wrapper."""
        wrapped = keep(self._argument_value(node, row.position, row.keyword), (MODULE,))
        return frozenset(replace(tag, via=node) for tag in wrapped)

    def _probabilities_call(self, row: Row, qualified: str, node: cst.Call) -> Value:
        probabilities = frozenset({Tag(PROBABILITIES, node, row.display)})
        if catalog.REGISTRY.has(qualified, Effect.SHAPE_KEEPING):
            return probabilities | keep(self._argument_value(node), SHAPE_TAGS)  # a column stays
        return probabilities

    def _shape_kept(self, row: Row, qualified: str, node: cst.Call) -> Value | None:
        """torch.tanh(column) is still a column; with no shape to keep, the next row decides."""
        return keep(self._argument_value(node), SHAPE_TAGS) or None

    def _log_probabilities_call(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return frozenset({Tag(LOG_PROBABILITIES, node, qualified.rsplit(".", 1)[-1])})

    def _exp_call(self, row: Row, qualified: str, node: cst.Call) -> Value:
        inner = self._argument_value(node)
        return frozenset({Tag(PROBABILITIES, node, "exp(log_softmax)")}) if has(
            inner, LOG_PROBABILITIES) else EMPTY

    def _no_op_wrapper(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return self._argument_value(node, row.position, row.keyword)

    def _log_call(self, row: Row, qualified: str, node: cst.Call) -> Value:
        inner = self._argument_value(node)
        return frozenset({Tag(LOG_PROBABILITIES, node, "log")}) if has(inner, PROBABILITIES) \
            else EMPTY

    def _probability_layer(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return self._layer(node, qualified, frozenset({Tag(PROBABILITIES, node, row.display)}),
                           False)

    def _log_probability_layer(self, row: Row, qualified: str, node: cst.Call) -> Value:
        last = qualified.rsplit(".", 1)[-1]
        return self._layer(node, qualified, frozenset({Tag(LOG_PROBABILITIES, node, last)}), False)

    def _mode_dependent_layer(self, row: Row, qualified: str, node: cst.Call) -> Value:
        layer = self._layer(node, qualified, EMPTY, _modes_differ(node, row.data))
        parameter = self._constructor_parameter(node, row.data)
        if parameter is None:
            return layer
        return frozenset(replace(tag, info=replace(tag.info, decided_by=(parameter,)))
                         for tag in layer)

    def _constructor_parameter(self, node: cst.Call,
                               decider: catalog.ModeArgument) -> str | None:
        """The parameter of the enclosing class's `__init__` that is the layer's drop
        probability (`nn.Dropout(dropout)`), or None."""
        if decider.is_flag:
            return None
        arg = argument(node, decider.position, decider.keyword)
        function = self.scopes.current_function
        if arg is None or not isinstance(arg.value, cst.Name) or function is None or \
                function.class_state is None or function.name != "__init__":
            return None
        params = function.node.params
        names = {param.name.value for param in (*params.posonly_params, *params.params,
                                                 *params.kwonly_params)}
        return arg.value.value if arg.value.value in names else None

    def _container(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return self._sequential(node)

    def _module_collection_call(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return self._module_collection(node, row.display)

    def _loss_class(self, row: Row, qualified: str, node: cst.Call) -> Value:
        loss = row.data
        info = LossInfo(qualified, loss_wants(loss, node), loss.display, loss.argument,
                        loss.keyword)
        return frozenset({Tag(LOSS, node, qualified.rsplit(".", 1)[-1], info)})

    def _keras_input(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return frozenset({Tag(KERAS_INPUT, node, "kept")})

    def _keras_layer_call(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return self._keras_layer(node, qualified)

    def _keras_sequential_call(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return self._keras_sequential(node)

    def _keras_functional_model(self, row: Row, qualified: str, node: cst.Call) -> Value:
        position, names = row.data  # Keras 1 spelled `outputs=` as `output=`
        outputs_arg = next(filter(None, (argument(node, position, name) for name in names)), None)
        outputs = EMPTY if outputs_arg is None else self.value(outputs_arg.value)
        output = keep(outputs, (PROBABILITIES, LOG_PROBABILITIES, COLUMN))
        graph = first(outputs, KERAS_INPUT)
        pixels = graph.detail if graph is not None else ""
        training = first(outputs, KERAS_TRAINING)
        return frozenset({Tag(MODULE, node, "keras.Model", ModuleInfo(
            "keras.Model", output, False, framework="keras", input_pixels=pixels,
            input_scaling=graph.info if graph is not None else None,
            training_layer=training.detail if training is not None else ""))})

    def _activation_layer_function(self, row: Row, qualified: str, node: cst.Call) -> Value:
        """tf.layers.dense(x, 10, activation=...)"""
        activation = self._activation(argument(node, row.position, row.keyword))
        return frozenset({Tag(PROBABILITIES, node, activation)}) if activation else EMPTY

    def _apply_function_holder(self, row: Row, qualified: str, node: cst.Call) -> Value:
        """TrainState.create(apply_fn=model.apply) holds the module."""
        held = keyword(node, row.keyword)
        return keep(self.value(held.value), (MODULE,)) if held is not None else EMPTY

    def _column_layer(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return self._layer(node, qualified, self._column_output(qualified, node), False)

    def _single_channel_layer(self, row: Row, qualified: str, node: cst.Call) -> Value:
        out = argument(node, 1, "out_channels")
        output = frozenset({Tag(SINGLE_CHANNEL, node, f"{qualified.rsplit('.', 1)[-1]}(..., 1)",
                                row.display)}) \
            if out is not None and number(out.value) == 1.0 else EMPTY
        return self._layer(node, qualified, output, False)

    def _plain_layer(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return self._layer(node, qualified, EMPTY, False)

    def _scheduler(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return frozenset({Tag(SCHEDULER, node, qualified.rsplit(".", 1)[-1])})

    def _optimizer(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return frozenset({Tag(OPTIMIZER, node, qualified.rsplit(".", 1)[-1])})

    def _loss_function(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return frozenset({Tag(LOSS_VALUE, node, qualified.rsplit(".", 1)[-1])})

    def _opaque_model(self, row: Row, qualified: str, node: cst.Call) -> Value:
        # Its layers are not visible, but its family's are known to differ between modes.
        family = next(evidence for prefix, evidence in catalog.OPAQUE_MODEL_FAMILIES.items()
                      if qualified.startswith(prefix))
        info = ModuleInfo(qualified, EMPTY, True, family,
                          in_eval=qualified.rsplit(".", 1)[-1] in catalog.EVAL_MODE_LOADERS)
        return frozenset({Tag(MODULE, node, qualified, info)})

    def _shuffled_listing(self, node: cst.Call, name: str, shuffle_position: int,
                          seed_position: int) -> Value:
        """`tf.data.Dataset.list_files(pattern)`: shuffled unless `shuffle=False`, and in the
        same order on every run when seeded."""
        shuffle = argument(node, shuffle_position, "shuffle")
        seed = argument(node, seed_position, "seed")
        ordered = (shuffle is not None and isinstance(shuffle.value, cst.Name)
                   and shuffle.value.value == "False") or (
            seed is not None and not (isinstance(seed.value, cst.Name)
                                      and seed.value.value == "None"))
        return frozenset({Tag(LISTING, node, name, ListingInfo(name, ordered, shuffled=True))})

    def _column_output(self, qualified: str, node: cst.Call) -> Value:
        """`Linear(16, 1)`, `Dense(1)`: an (N, 1) output, when the size argument is 1."""
        position, name = catalog.COLUMN_LAYERS[qualified]
        size = argument(node, position, name)
        if size is None or number(size.value) != 1.0:
            return EMPTY
        last = qualified.rsplit(".", 1)[-1]
        return frozenset({Tag(COLUMN, node, f"{last}(1)" if position == 0 else f"{last}(..., 1)")})

    def _layer(self, node: cst.Call, qualified: str, output: Value,
               mode_dependent: bool | None) -> Value:
        name = "nn." + qualified.rsplit(".", 1)[-1]
        info = ModuleInfo(name, output, mode_dependent, name if mode_dependent else "")
        return frozenset({Tag(MODULE, node, name, info)})

    def _activation(self, arg: cst.Arg | None) -> str:
        """"softmax" or "sigmoid" for an activation argument that outputs probabilities
        (`activation="softmax"`, `activation=tf.nn.softmax`), else ""."""
        if arg is None:
            return ""
        if isinstance(arg.value, cst.SimpleString):
            return catalog.PROBABILITY_ACTIVATION_NAMES.get(str(arg.value.evaluated_value), "")
        return catalog.PROBABILITY_FUNCTIONS.get(self.qualified(arg.value) or "", "")

    def _keras_layer(self, node: cst.Call, qualified: str) -> Value:
        """A Keras layer: a module whose output is probabilities for `Softmax()`,
        `Activation("softmax")` or `Dense(10, activation="softmax")`."""
        name = "keras." + qualified.rsplit(".", 1)[-1]
        activation = catalog.PROBABILITY_LAYERS.get(qualified) or self._activation(
            argument(node, 0, "activation") if qualified in catalog.KERAS_ACTIVATION_LAYERS
            else keyword(node, "activation"))
        output = frozenset({Tag(PROBABILITIES, node, activation.lower())}) if activation \
            else EMPTY
        if qualified in catalog.COLUMN_LAYERS:  # Dense(1): an (N, 1) output
            output |= self._column_output(qualified, node)
        pixels, scaling = self._keras_pixel_effect(node, qualified)
        # Keras passes the training flag itself: no train()/eval() modes to get wrong, only
        # calls that must pass `training=True`.
        return frozenset({Tag(MODULE, node, name, ModuleInfo(
            name, output, False, framework="keras", input_pixels=pixels,
            input_scaling=scaling, training_layer=self._keras_training_layer(node, qualified)))})

    def _keras_training_layer(self, node: cst.Call, qualified: str) -> str:
        """How messages name a Keras layer whose call depends on `training` ("keras.Dropout",
        "keras.LSTM(dropout=...)"), or "" for one that does not (an LSTM without dropout)."""
        name = "keras." + qualified.rsplit(".", 1)[-1]
        if qualified in catalog.KERAS_TRAINING_LAYERS:
            return name
        for word in catalog.KERAS_RNN_DROPOUT_KEYWORDS.get(qualified, ()):
            rate = keyword(node, word)
            if rate is not None and number(rate.value) != 0.0:
                return f"{name}({word}=...)"
        if qualified in catalog.KERAS_WRAPPER_LAYERS and node.args:
            wrapped = first(self.value(node.args[0].value), MODULE)
            return wrapped.info.training_layer if wrapped is not None else ""
        return ""

    @staticmethod
    def _keras_pixel_effect(layer: cst.Call, qualified: str | None
                            ) -> tuple[str, cst.CSTNode | None]:
        """What one Keras layer does to the pixels it is given (see `ModuleInfo.input_pixels`):
        "scaled" for `Rescaling(1./255)` (or 1/127.5: both expect 0-255), "kept" for layers that
        keep their range, "raw" for a weighted layer that takes them as given, else ""."""
        if qualified in catalog.KERAS_RESCALING_LAYERS:
            scale = number((argument(layer, 0, "scale") or cst.Arg(cst.Integer("1"))).value)
            if scale is not None and (abs(scale - 1 / 255) < 1e-6 or abs(scale - 1 / 127.5) < 1e-6):
                return "scaled", layer
            return "", None
        if qualified in catalog.KERAS_PIXEL_KEEPING_LAYERS:
            return "kept", None
        if qualified in catalog.KERAS_WEIGHTED_LAYERS:
            return "raw", None
        return "", None

    def _keras_sequential(self, node: cst.Call) -> Value:
        """`keras.Sequential([...])` outputs what its last layer outputs (grown with `add`)."""
        output = EMPTY
        training = ""
        arg = argument(node, 0, "layers")
        if arg is not None and isinstance(arg.value, (cst.List, cst.Tuple)) and \
                arg.value.elements and isinstance(arg.value.elements[-1], cst.Element):
            last = first(self.value(arg.value.elements[-1].value), MODULE)
            output = last.info.output if last is not None else EMPTY
            members = (first(self.value(element.value), MODULE) for element in arg.value.elements)
            training = next((member.info.training_layer for member in members
                             if member is not None and member.info.training_layer), "")
        pixels, scaling = self._keras_input_pixels(arg)
        return frozenset({Tag(MODULE, node, "keras.Sequential", ModuleInfo(
            "keras.Sequential", output, False, framework="keras", input_pixels=pixels,
            input_scaling=scaling, training_layer=training))})

    def _keras_input_pixels(self, arg: cst.Arg | None) -> tuple[str, cst.CSTNode | None]:
        """What a Keras model built from the layer list `arg` does to the pixels it is given:
        its first layers that change them decide (see `ModuleInfo.input_pixels`)."""
        if arg is None:
            return "kept", None  # no layers yet: `.add` decides (see `_grow_sequential`)
        if not isinstance(arg.value, (cst.List, cst.Tuple)) or not arg.value.elements:
            return "", None
        for element in arg.value.elements:
            if not isinstance(element, cst.Element):
                return "", None
            layer = element.value
            qualified = self.qualified(layer.func) if isinstance(layer, cst.Call) else None
            if qualified is not None and isinstance(layer, cst.Call):
                pixels, scaling = self._keras_pixel_effect(layer, qualified)
                if pixels == "kept":
                    continue
                if pixels or qualified.startswith(catalog.KERAS_LAYER_PREFIXES):
                    return pixels, scaling
            nested = first(self.value(layer), MODULE)
            if qualified is None and nested is not None and nested.info.framework == "keras":
                if nested.info.input_pixels == "kept":  # a data-augmentation model
                    continue
                return nested.info.input_pixels, nested.info.input_scaling
            return "", None
        return "kept", None

    def _sequential(self, node: cst.Call) -> Value:
        members = []
        for arg in node.args:
            if arg.star:  # Sequential(*layers): members not visible, unless they are the
                # children of a model known to have dropout or batch norm
                # (`nn.Sequential(*list(resnet.children())[:-1])`)
                parent = next((tag for tag in tags(self._children_of(arg.value), MODULE)
                               if tag.kind == MODULE and tag.info.mode_dependent), None)
                info = ModuleInfo("nn.Sequential", EMPTY, True, parent.info.evidence) \
                    if parent is not None else ModuleInfo("nn.Sequential", EMPTY, None, "")
                return frozenset({Tag(MODULE, node, "nn.Sequential", info)})
            members.append(first(self.value(arg.value), MODULE))
        evidence = [m.info.evidence for m in members if m is not None and m.info.mode_dependent]
        unknown = any(m is None or m.info.mode_dependent is None for m in members)
        last = members[-1] if members else None
        output = last.info.output if last is not None else EMPTY
        # Linear(h, 1), Sigmoid(): the activation keeps the column of the layer before it.
        for before, member in zip(reversed(members[:-1]), reversed(members[1:])):
            if member is None or member.info.name not in SHAPE_KEEPING_MODULES:
                break
            if before is not None:
                output |= keep(before.info.output, SHAPE_TAGS)
        mode = True if evidence else (None if unknown else False)
        info = ModuleInfo("nn.Sequential", output, mode, evidence[0] if evidence else "")
        return frozenset({Tag(MODULE, node, "nn.Sequential", info)})

    def _children_of(self, node: cst.BaseExpression) -> Value:
        """The model whose submodules `list(model.children())[:-1]` (or `model.modules()`, in a
        tuple, sliced) lists; nothing for any other expression."""
        while True:
            if isinstance(node, cst.Subscript):
                node = node.value
            elif isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and \
                    node.func.value in ("list", "tuple") and len(node.args) == 1:
                node = node.args[0].value
            elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
                    node.func.attr.value in ("children", "modules") and not node.args:
                return self.value(node.func.value)
            else:
                return EMPTY

    def _module_collection(self, node: cst.Call, name: str) -> Value:
        """`nn.ModuleList([Block() for _ in range(n)])`, `nn.ModuleDict({"head": ...})`: a
        module whose modes differ when a member's do. Members given any other way (a list built
        elsewhere) are not visible; none given means none yet (`append` adds them)."""
        arg = argument(node, 0, "modules")
        held = arg.value if arg is not None else None
        if held is None:
            members: list[Tag | None] = []
        elif isinstance(held, (cst.List, cst.Tuple)) and not any(
                isinstance(element, cst.StarredElement) for element in held.elements):
            members = [first(self.value(element.value), MODULE) for element in held.elements]
        elif isinstance(held, cst.Dict) and all(
                isinstance(element, cst.DictElement) for element in held.elements):
            members = [first(self.value(element.value), MODULE) for element in held.elements]
        elif isinstance(held, (cst.ListComp, cst.GeneratorExp)):
            members = [first(self._comprehension_element(held), MODULE)]
        elif isinstance(held, cst.DictComp):
            members = [first(self._comprehension_element(held), MODULE)]
        else:
            members = [None]
        evidence = [m.info.evidence for m in members if m is not None and m.info.mode_dependent]
        unknown = any(m is None or m.info.mode_dependent is None for m in members)
        mode = True if evidence else (None if unknown else False)
        info = ModuleInfo(name, EMPTY, mode, evidence[0] if evidence else "")
        return frozenset({Tag(MODULE, node, name, info)})

    # Handlers of data-library calls (see CALL_HANDLERS).

    def _compose_call(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return self._compose(node)

    def _pixel_division(self, row: Row, qualified: str, node: cst.Call) -> Value:
        division = row.data
        info = TransformInfo(node, division.display, division.divides_float) \
            if _albumentations_scales(node, division) else TransformInfo(None)
        return frozenset({Tag(TRANSFORM, node, qualified.rsplit(".", 1)[-1], info)})

    def _scaling(self, row: Row, qualified: str, node: cst.Call) -> Value | None:
        """ToTensor(), to_tensor(x); ToDtype(..., scale=True) only with its flag."""
        if row.keyword and not is_true((keyword(node, row.keyword)
                                        or cst.Arg(cst.Name("False"))).value):
            return None
        last = qualified.rsplit(".", 1)[-1]
        if last[:1].isupper():
            return frozenset({Tag(TRANSFORM, node, last, TransformInfo(node, f"{last}()"))})
        return self._scaling_call(qualified, last, node)

    def _uint8_decoder(self, row: Row, qualified: str, node: cst.Call) -> Value:
        """A decoder of uint8 pixels unless given another dtype (TensorFlow's), or a reader of
        raw bytes that gives uint8 pixels only when told so (row data: framework, required)."""
        framework, required = row.data if row.data is not None else ("tensorflow", False)
        dtype = argument(node, row.position, row.keyword) if row.position >= 0 else None
        if dtype is None:
            uint8 = not required
        elif isinstance(dtype.value, cst.SimpleString):
            uint8 = dtype.value.evaluated_value == "uint8"
        else:
            uint8 = self.qualified(dtype.value) in catalog.UINT8_DTYPES
        if uint8:
            return frozenset({Tag(UINT8, node, qualified.rsplit(".", 1)[-1], framework)})
        return EMPTY

    def _uint8_dataset(self, row: Row, qualified: str, node: cst.Call) -> Value:
        images = frozenset({Tag(UINT8, node, qualified.split(".")[-2] + ".load_data()",
                                "numpy")})
        split = frozenset({Tag(TUPLE, node, info=(images, EMPTY))})
        return frozenset({Tag(TUPLE, node, info=(split, split))})

    def _cast_call(self, row: Row, qualified: str, node: cst.Call) -> Value:
        """`tf.cast(x, dtype)`; `tf.to_float(x)`, whose row's data is the dtype it fixes."""
        dtype_arg = argument(node, row.position, row.keyword) if row.keyword else None
        dtype = row.data or (
            "?" if dtype_arg is None else ("numpy." + str(dtype_arg.value.evaluated_value)
                                           if isinstance(dtype_arg.value, cst.SimpleString)
                                           else self.qualified(dtype_arg.value) or "?"))
        cast = self._cast(self._argument_value(node, 0, "x"), node, dtype, "tensorflow")
        if "float" in dtype.rsplit(".", 1)[-1] and not has(cast, UNIT_SCALED):
            cast |= {Tag(UNSCALED_FLOAT, node, qualified.rsplit(".", 1)[-1])}
        return cast

    def _float_resizing(self, row: Row, qualified: str, node: cst.Call) -> Value:
        image = self._argument_value(node, 0, "images")
        method = keyword(node, "method")
        if method is not None and "nearest" in (
                method.value.evaluated_value if isinstance(method.value, cst.SimpleString)
                else (self.qualified(method.value) or "")).lower():
            return keep(image, ELEMENT_KEEPING)  # nearest-neighbour keeps the dtype
        resized = keep(image, (UNIT_SCALED, UNIT_RANGE))
        return resized if resized else frozenset(
            {Tag(UNSCALED_FLOAT, node, qualified.rsplit(".", 1)[-1])})

    def _extremum(self, row: Row, qualified: str, node: cst.Call) -> Value | None:
        """`np.min(x)`: the smallest element of `x` (row.data says which extremum)."""
        given = positional(node, 0)
        named = dotted_name(given.value) if given is not None else None
        return frozenset({Tag(EXTREMUM, node, row.data, named)}) if named else None

    def _plain_transform(self, row: Row, qualified: str, node: cst.Call) -> Value:
        info = TransformInfo(None)
        if qualified in catalog.NORMALIZE_TRANSFORMS:
            std = argument(node, 1, "std")
            mean = argument(node, 0, "mean")
            key = std_key(std.value, self.qualified) if std is not None else ""
            step = NormalizeStep(node, key, channel_values(mean.value if mean else None),
                                 channel_values(std.value if std else None))
            info = TransformInfo(None, standardizing=node if key else None, std=key,
                                 normalizations=(step,))
        return frozenset({Tag(TRANSFORM, node, qualified.rsplit(".", 1)[-1], info)})

    def _uint8_source(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return frozenset({Tag(UINT8, node, qualified.rsplit(".", 1)[-1], row.data)})

    def _pil_open(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return frozenset({Tag(PIL_IMAGE, node)})

    def _clipping(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return _clipped(self._argument_value(node))

    def _dtype_keeping(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return keep(self._argument_value(node, row.position, row.keyword), ELEMENT_KEEPING)

    def _stacking(self, row: Row, qualified: str, node: cst.Call) -> Value:
        # `tf.concat(1, [a, b])`: TF 0.x's axis first, the arrays second.
        axis_first = row.data == "axis first" and bool(node.args) and \
            node.args[0].keyword is None and number(node.args[0].value) is not None
        arrays = keyword(node, "arrays") or keyword(node, "values") or positional(
            node, 1 if axis_first else 0)
        joined = EMPTY if arrays is None else self.value(arrays.value)
        element_rank = _elements_rank(joined)
        axes_added = catalog.JOIN_AXES_ADDED.get(qualified)
        rank = rank_tag(node, int(element_rank.detail) + axes_added, _call_text(node)) \
            if element_rank is not None and axes_added is not None else EMPTY
        joined = keep(as_array(joined), ELEMENT_KEEPING) | rank
        dtype = self._dtype_keyword(node)
        return joined if dtype is None else self._cast(joined, node, dtype, "numpy")

    def _array(self, row: Row, qualified: str, node: cst.Call) -> Value:
        inner = as_array(self._argument_value(node, row.position, row.keyword))
        dtype = self._dtype_keyword(node)
        if dtype is not None:
            return self._cast(inner, node, dtype, "numpy")
        if has(inner, PIL_IMAGE):
            return frozenset({Tag(UINT8, node, "array of a PIL image", "numpy")})
        return inner

    def _float64_source(self, row: Row, qualified: str, node: cst.Call) -> Value:
        dtype = self._dtype_keyword(node, row.position if row.position >= 0 else None)
        result: set[Tag] = set()
        if dtype is None or dtype in ("numpy.float64", "numpy.double", "builtins.float"):
            result.add(Tag(FLOAT64, node, qualified.rsplit(".", 1)[-1], "numpy"))
        elif dtype in catalog.UINT8_DTYPES:
            result.add(Tag(UINT8, node, "cast", "numpy"))  # a uint8 buffer, on purpose
        result |= self._rank1(qualified, node)
        return frozenset(result)

    def _rank1_constructor(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return self._rank1(qualified, node)

    def _shaped_constructor(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return _literal_shape(node, qualified.rsplit(".", 1)[-1], row.position, row.keyword)

    def _variable_constructor(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return keep(self._argument_value(node, row.position, row.keyword), (COLUMN_WEIGHT, RANK1))

    def _matmul(self, row: Row, qualified: str, node: cst.Call) -> Value:
        transposed = keyword(node, "transpose_b")
        weight = argument(node, row.position, row.keyword)
        if weight is not None and has(self.value(weight.value), COLUMN_WEIGHT) and (
                transposed is None or not is_true(transposed.value)):
            return frozenset({Tag(COLUMN, node, "matmul(x, w), w of shape (k, 1)")})
        return EMPTY

    def _dataframe_source(self, row: Row, qualified: str, node: cst.Call) -> Value:
        last = qualified.rsplit(".", 1)[-1]
        frame = frozenset({Tag(DATAFRAME, node, last, "frame")})
        return frame | {Tag(RECORDS, node, last)} \
            if catalog.REGISTRY.has(qualified, Effect.RECORD_SOURCE) else frame

    def _record_source(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return frozenset({Tag(RECORDS, node, qualified.rsplit(".", 1)[-1])})

    def _to_tensor(self, row: Row, qualified: str, node: cst.Call) -> Value:
        inner = as_array(self._argument_value(node, row.position, row.keyword))
        dtype = self._dtype_keyword(node)
        if dtype is not None:
            return self._cast(inner, node, dtype, "torch")
        converted = frozenset(
            Tag(tag.kind, tag.node, tag.detail, "torch", tag.location, node)
            if tag.kind in DTYPE_TAGS else tag for tag in inner)
        return converted

    def _untyped_tensor(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return without(self._argument_value(node), DTYPE_TAGS)

    def _reshape_call(self, row: Row, qualified: str, node: cst.Call) -> Value:
        shifted = node.with_changes(args=node.args[1:])
        return self._reshaped(self._argument_value(node), qualified.rsplit(".", 1)[-1], shifted,
                              original=node)

    def _builtin_order_keeping(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return keep(self.value(node.args[row.position].value), (LISTING, RECORDS))

    def _walk_step_call(self, row: Row, qualified: str, node: cst.Call) -> Value:
        return self._walk_step(node)

    def _reshaped(self, value: Value, method: str, node: cst.Call,
                  original: cst.Call | None = None) -> Value:
        """Shape bookkeeping for the tags that are about shapes (COLUMN, RANK1, SQUEEZED), and
        the rank after the call where the call and the rank before it show it."""
        anchor = original or node
        reshaped = without(self._reshaped_tags(value, method, node, original), (RANK,))
        before = known_rank(value)
        after = _rank_after(method, node, int(before.detail) if before is not None else None)
        return reshaped | _ranked(before, after, anchor)

    def _reshaped_tags(self, value: Value, method: str, node: cst.Call,
                       original: cst.Call | None) -> Value:
        anchor = original or node
        args = [arg for arg in node.args if arg.keyword is None]
        if len(args) == 1 and isinstance(args[0].value, (cst.Tuple, cst.List)):  # reshape((-1, 1))
            args = [cst.Arg(element.value) for element in args[0].value.elements]
        flat = (method in ("flatten", "ravel")
                or (method in ("view", "reshape") and len(args) == 1 and number(args[0].value) == -1))
        if method == "squeeze":
            dims = args or [arg for arg in node.args if arg.keyword and arg.keyword.value in ("dim", "axis")]
            # Squeezing a known (N, 1) output aligns it with an (N,) target: right for every
            # batch, and a batch of one then broadcasts a scalar against (1,), the same loss.
            aligns_unit_axis = has(value, COLUMN) or has(value, SINGLE_CHANNEL)
            value = without(value, (COLUMN, SINGLE_CHANNEL))
            if not dims:
                value |= {Tag(AXIS_DROPPED, anchor, "squeeze()", "unit")}
                if not aligns_unit_axis and not _masked(_receiver(node, original)):
                    value |= {Tag(SQUEEZED, anchor, "squeeze()")}
            elif len(dims) == 1 and number(dims[0].value) in (1.0, -1.0):
                axis = int(number(dims[0].value))
                value |= {Tag(AXIS_DROPPED, anchor, f"squeeze({axis})", str(axis))}
            return value
        if flat:
            return without(value, (COLUMN, SINGLE_CHANNEL, AXIS_DROPPED))
        if method in ("view_as", "reshape_as", "expand_as", "expand", "repeat"):
            return without(value, SHAPE_TAGS)  # the shape of another tensor, or repeated
        if method in ("view", "reshape") and len(args) == 2 and number(args[0].value) == -1.0 \
                and number(args[1].value) == 1.0:
            # `y.view(-1, 1)`: made a column on purpose, (N, 1) against an (N,) other side.
            return without(value, (RANK1, AXIS_DROPPED, SINGLE_CHANNEL)) | {
                Tag(COLUMN, anchor, f"{method}(-1, 1)", "reshape")}
        if method in ("unsqueeze", "expand_dims") or (method in ("view", "reshape") and len(args) >= 2):
            return without(value, (RANK1, AXIS_DROPPED, SINGLE_CHANNEL))
        if method in ("permute", "transpose"):
            return without(value, (COLUMN, SINGLE_CHANNEL, AXIS_DROPPED))  # axes moved
        return value

    def _indexed(self, value: Value, node: cst.Subscript) -> Value:
        """Shape bookkeeping for `x[...]`: an integer index removes an axis, `None` adds one;
        `x[:, i]` is one column of a matrix, or the channel-less (N, H, W) of an image batch.
        The rank after it is known only when every index is a slice, an integer or `None` (a
        tensor or a mask as index gives a rank the code does not show)."""
        indexed = without(self._indexed_tags(value, node), (RANK,))
        before = known_rank(value)
        if before is None:
            return indexed
        change = 0
        for element in node.slice:
            index = element.slice
            if isinstance(index, cst.Slice):
                continue
            if isinstance(index.value, cst.Name) and index.value.value == "None":
                change += 1
            elif _integer(index.value) is not None:
                change -= 1
            else:
                return indexed
        return indexed | _ranked(before, int(before.detail) + change, node)

    def _indexed_tags(self, value: Value, node: cst.Subscript) -> Value:
        indices = [element.slice for element in node.slice]
        integers = [isinstance(index, cst.Index) and _integer(index.value) is not None
                    for index in indices]
        if any(isinstance(index, cst.Index) and isinstance(index.value, cst.Name)
               and index.value.value == "None" for index in indices):
            return without(value, SHAPE_TAGS)  # x[:, None] adds the missing axis
        if not any(integers):
            return value
        value = without(value, (RANK1, COLUMN, SINGLE_CHANNEL, AXIS_DROPPED))
        if len(indices) >= 2 and integers[1] and _whole_slice(indices[0]) and not any(integers[2:]):
            column = _integer(indices[1].value)
            return value | {Tag(AXIS_DROPPED, node, f"[:, {column}]", "1")}
        return value

    def _rank1(self, qualified: str, node: cst.Call) -> Value:
        return self._rank1_tag(qualified, node) | _constructed_rank(qualified, node)

    def _rank1_tag(self, qualified: str, node: cst.Call) -> Value:
        args = [arg for arg in node.args if arg.keyword is None]
        if qualified in catalog.RANK1_CONSTRUCTORS and len(args) == 1 and not args[0].star \
                and keyword(node, "size") is None \
                and (qualified in catalog.SIZES_ONLY or _one_size(args[0].value)):
            return frozenset({Tag(RANK1, node, qualified.rsplit(".", 1)[-1])})
        return EMPTY

    def _compose(self, node: cst.Call) -> Value:
        scaling: cst.CSTNode | None = None
        name = ""
        divides_float = False
        standardizing: TransformInfo | None = None
        normalizations: list = []
        if node.args and isinstance(node.args[0].value, (cst.List, cst.Tuple)):
            for element in node.args[0].value.elements:
                if scaling is not None and self._unscales(element.value):
                    scaling, name, divides_float = None, "", False
                    continue
                step = first(self.value(element.value), TRANSFORM)
                if step is not None and step.info.scaling is not None and scaling is None:
                    scaling, name = step.info.scaling, step.info.scaling_name
                    divides_float = step.info.divides_float
                if step is not None and step.info.standardizing is not None:
                    standardizing = step.info
                if step is not None:
                    normalizations.extend(step.info.normalizations)
        return frozenset({Tag(TRANSFORM, node, "Compose", TransformInfo(
            scaling, name, divides_float,
            standardizing.standardizing if standardizing is not None else None,
            standardizing.std if standardizing is not None else "", tuple(normalizations)))})

    def _unscales(self, step: cst.BaseExpression) -> bool:
        """A pipeline step `Lambda(lambda x: x * 255)`: it takes what a ToTensor before it scaled
        back to 0-255 (fast neural style trains on such images)."""
        body = lambda_body(step)
        return body is not None and multiplies_by_255(body) and \
            self.qualified(step.func) in catalog.LAMBDA_TRANSFORMS

    def _cast(self, value: Value, node: cst.CSTNode, dtype: str, library: str) -> Value:
        # A cast settles the range: wrapped or not, the pixels no longer leave it.
        result = without(value, DTYPE_TAGS | {PIL_IMAGE, UNSCALED_FLOAT, OUT_OF_RANGE})
        if dtype in catalog.UINT8_DTYPES:
            result = without(result, (UNIT_RANGE,))  # truncated to integers
        read = first(value, UINT8)
        if dtype in ("numpy.float64", "numpy.double", "torch.float64", "torch.double",
                     "builtins.float") and not (library == "torch" and dtype == "builtins.float"):
            result |= {Tag(FLOAT64, node, dtype, library)}
        elif dtype in catalog.UINT8_DTYPES and read is not None and read.detail != "cast":
            result |= {read}  # `jnp.array(cv2.imread(p), dtype=jnp.uint8)`: still the image read
        elif dtype in catalog.UINT8_DTYPES:
            result |= {Tag(UINT8, node, "cast", library)}  # chosen on purpose, not read from disk
        if dtype.rsplit(".", 1)[-1].startswith(("float", "double", "half")):
            result |= _float_pixels(value, node)
        return result

    def _scaling_call(self, qualified: str, last: str, node: cst.Call) -> Value:
        """`convert_image_dtype(image, dtype)` and friends: scaled to [0, 1] unless converting
        to an integer dtype, or (TensorFlow) given float pixels, which it leaves as they are."""
        image = self._argument_value(node)
        if qualified in catalog.SCALING_DTYPE_ARGUMENTS:
            dtype_arg = argument(node, *catalog.SCALING_DTYPE_ARGUMENTS[qualified])
            dtype = self.qualified(dtype_arg.value) or "" if dtype_arg is not None else ""
            if dtype.rsplit(".", 1)[-1].startswith(("uint", "int")):
                return without(image, (UNIT_SCALED, UNIT_RANGE, UNSCALED_FLOAT))
        if qualified in catalog.SCALES_ONLY_INTEGERS and (
                has(image, UNSCALED_FLOAT) or self._dtype_left_to_callers(node, image)):
            return image
        return self.scaled(image, node, f"{last}()")

    def _dtype_left_to_callers(self, node: cst.Call, image: Value) -> bool:
        """The image is a parameter of the enclosing function, still as given, with nothing
        known of its pixels: its callers decide whether it is integer (then scaled) or float
        (then kept as it is), so no scaling can be claimed here."""
        arg = argument(node, 0, "image")
        functions = self.scopes.functions
        if arg is None or not isinstance(arg.value, cst.Name) or not functions or any(
                tag.kind in (UINT8, FLOAT64, UNSCALED_FLOAT, UNIT_SCALED, PIL_IMAGE)
                for tag in image):
            return False
        parameters = functions[-1].node.params
        return arg.value.value in {param.name.value for param in (
            *parameters.posonly_params, *parameters.params, *parameters.kwonly_params)}

    def _to_dtype(self, node: cst.Call) -> str | None:
        """The qualified torch dtype a `.to(...)` call converts to (`torch.float64`), if any."""
        dtypes = [self.qualified(arg.value) for arg in node.args]
        dtype = next((d for d in dtypes if d and d.startswith("torch.") and (
            "float" in d or "int" in d or "half" in d or "double" in d)), None)
        if dtype is None:
            dtype_arg = keyword(node, "dtype")
            dtype = self.qualified(dtype_arg.value) if dtype_arg is not None else None
        return dtype

    def _method(self, receiver: Value, method: str, node: cst.Call) -> Value:
        for row in catalog.REGISTRY.methods(method):
            result = METHOD_HANDLERS[row.effect](self, row, receiver, node)
            if result is not None:
                return result
        return EMPTY

    # Handlers of methods, one per effect (see METHOD_HANDLERS): each returns the call's value,
    # or None to let the method's next row decide (most depend on what the receiver is).

    def _listing_method(self, row: Row, receiver: Value, node: cst.Call) -> Value:
        name = f"Path.{row.name}"
        return frozenset({Tag(LISTING, node, name, ListingInfo(name))})

    def _order_keeping_method(self, row: Row, receiver: Value, node: cst.Call) -> Value | None:
        if has(receiver, LISTING):
            return keep(receiver, (LISTING, RECORDS))  # dataset.map(load): the same order
        return None

    def _probability_method(self, row: Row, receiver: Value, node: cst.Call) -> Value:
        probabilities = frozenset({Tag(PROBABILITIES, node, row.display)})
        if any(other.effect is Effect.SHAPE_KEEPING_METHOD
               for other in catalog.REGISTRY.methods(row.name)):
            return probabilities | keep(receiver, SHAPE_TAGS)
        return probabilities

    def _shape_keeping_method(self, row: Row, receiver: Value, node: cst.Call) -> Value | None:
        return keep(receiver, SHAPE_TAGS) or None

    def _log_probability_method(self, row: Row, receiver: Value, node: cst.Call) -> Value:
        return frozenset({Tag(LOG_PROBABILITIES, node, row.name)})

    def _log_method(self, row: Row, receiver: Value, node: cst.Call) -> Value | None:
        if has(receiver, PROBABILITIES):
            return frozenset({Tag(LOG_PROBABILITIES, node, "log")})
        return None

    def _exp_method(self, row: Row, receiver: Value, node: cst.Call) -> Value | None:
        if has(receiver, LOG_PROBABILITIES):
            return frozenset({Tag(PROBABILITIES, node, "exp(log_softmax)")})
        return None

    def _forward_method(self, row: Row, receiver: Value, node: cst.Call) -> Value | None:
        return self.call_value(receiver, node) if has(receiver, MODULE) else None

    def _module_dtype_method(self, row: Row, receiver: Value, node: cst.Call) -> Value | None:
        if not has(receiver, MODULE):
            return None
        dtype = row.data if row.name != "to" else \
            catalog.TORCH_FLOAT_DTYPES.get(self._to_dtype(node) or "")
        return _with_module_dtype(receiver, dtype) if dtype is not None else None

    def _mode_switch_method(self, row: Row, receiver: Value, node: cst.Call) -> Value | None:
        if has(receiver, MODULE):
            return with_module_mode(receiver, mode_switch(node) == "eval")
        return None

    def _same_module_method(self, row: Row, receiver: Value, node: cst.Call) -> Value | None:
        if has(receiver, MODULE):
            return receiver
        if has(receiver, LOSS):
            return keep(receiver, (LOSS,))  # nn.CrossEntropyLoss().cuda() is the same loss
        if has(receiver, REFERENCE):
            # `model.Classifier().cuda()` while summarising: still the other file's class (or
            # what its function returns), resolved when the summaries meet
            return keep(receiver, (REFERENCE,))
        return None

    def _to_method(self, row: Row, receiver: Value, node: cst.Call) -> Value:
        dtype = self._to_dtype(node)
        return receiver if dtype is None else self._cast(receiver, node, dtype, "torch")

    def _passthrough_method(self, row: Row, receiver: Value, node: cst.Call) -> Value:
        if row.data:
            receiver = without(receiver, (LOSS_VALUE,))  # detach(): no graph any more
        return self._reshaped(without(receiver, (MODULE, LOSS, TRANSFORM)), row.name, node)

    def _clipping_method(self, row: Row, receiver: Value, node: cst.Call) -> Value:
        return _clipped(receiver)

    def _float_cast_method(self, row: Row, receiver: Value, node: cst.Call) -> Value:
        return without(receiver, DTYPE_TAGS) | _float_pixels(receiver, node)

    def _float64_cast_method(self, row: Row, receiver: Value, node: cst.Call) -> Value:
        return without(receiver, DTYPE_TAGS) | {Tag(FLOAT64, node, "double()", "torch")} | \
            _float_pixels(receiver, node)

    def _astype_method(self, row: Row, receiver: Value, node: cst.Call) -> Value | None:
        if not node.args:
            return None
        arg = node.args[0].value
        dtype = ("numpy." + arg.evaluated_value) if isinstance(arg, cst.SimpleString) and \
            isinstance(arg.evaluated_value, str) else (self.qualified(arg) or "?")
        if dtype == "?" and isinstance(arg, cst.Attribute) and arg.attr.value == "dtype":
            # `x.astype(image.dtype)`: back to the dtype of `image`, when it is known.
            if has(self.value(arg.value), UINT8):
                dtype = "numpy.uint8"
            elif has(self.value(arg.value), FLOAT64):
                dtype = "numpy.float64"
        return self._cast(receiver, node, dtype, "numpy")

    def _scaling_method(self, row: Row, receiver: Value, node: cst.Call) -> Value | None:
        """x.div(255), x.mul(1 / 255)"""
        by = is_255 if row.data == "divide" else is_inverse_255
        if node.args and by(node.args[0].value):
            return self.scaled(receiver, node, "division by 255")
        return None

    def _pil_keeping_method(self, row: Row, receiver: Value, node: cst.Call) -> Value | None:
        return frozenset({Tag(PIL_IMAGE, node)}) if has(receiver, PIL_IMAGE) else None

    def _dataframe_to_numpy(self, row: Row, receiver: Value, node: cst.Call) -> Value | None:
        if not has(receiver, DATAFRAME):
            return None
        result = {Tag(FLOAT64, node, info="numpy")}
        if first(receiver, DATAFRAME).info == "series":
            result.add(Tag(RANK1, node, ".to_numpy() of a column"))
        return frozenset(result) | keep(receiver, (RECORDS,))

    def _extremum_method(self, row: Row, receiver: Value, node: cst.Call) -> Value | None:
        """`x.min()`: as `_extremum`."""
        named = dotted_name(node.func.value) if isinstance(node.func, cst.Attribute) else None
        return frozenset({Tag(EXTREMUM, node, row.data, named)}) if named else None

    def _record_keeping_method(self, row: Row, receiver: Value, node: cst.Call) -> Value:
        return keep(receiver, (RECORDS,))

    def _copy_method(self, row: Row, receiver: Value, node: cst.Call) -> Value:
        return without(receiver, (MODULE, LOSS, TRANSFORM))


def _not_dispatched(*_: object) -> None:
    """Knowledge rules read directly: it gives a call no value."""
    return None


# One handler per effect: `_dispatch` and `_method` read these, and nothing else decides what
# a library call or method does. (A test checks every dispatched effect has its handler.)
T = ValueTransfer
CALL_HANDLERS = {
    Effect.LISTING: T._listing_call, Effect.SHUFFLED_LISTING: T._shuffled_listing_call,
    Effect.ORDER_KEEPING: T._order_keeping_call, Effect.SORTING: T._sorting_call,
    Effect.MODULE_COPY: T._module_copy_call, Effect.MODULE_WRAPPER: T._module_wrapper,
    Effect.PARTIAL: T._partial,
    Effect.PROBABILITIES: T._probabilities_call, Effect.SHAPE_KEEPING: T._shape_kept,
    Effect.LOG_PROBABILITIES: T._log_probabilities_call, Effect.EXP: T._exp_call,
    Effect.NO_OP_WRAPPER: T._no_op_wrapper, Effect.LOG: T._log_call,
    Effect.PROBABILITY_LAYER: T._probability_layer,
    Effect.LOG_PROBABILITY_LAYER: T._log_probability_layer,
    Effect.MODE_DEPENDENT_LAYER: T._mode_dependent_layer, Effect.CONTAINER: T._container,
    Effect.MODULE_COLLECTION: T._module_collection_call,
    Effect.LOSS_CLASS: T._loss_class, Effect.KERAS_INPUT: T._keras_input,
    Effect.KERAS_LAYER: T._keras_layer_call, Effect.KERAS_SEQUENTIAL: T._keras_sequential_call,
    Effect.KERAS_FUNCTIONAL_MODEL: T._keras_functional_model,
    Effect.ACTIVATION_LAYER_FUNCTION: T._activation_layer_function,
    Effect.APPLY_FUNCTION_HOLDER: T._apply_function_holder,
    Effect.COLUMN_LAYER: T._column_layer, Effect.SINGLE_CHANNEL_LAYER: T._single_channel_layer,
    Effect.LAYER: T._plain_layer, Effect.SCHEDULER: T._scheduler,
    Effect.OPTIMIZER: T._optimizer, Effect.LOSS_FUNCTION: T._loss_function,
    Effect.OPAQUE_MODEL: T._opaque_model,
    Effect.COMPOSE: T._compose_call, Effect.PIXEL_DIVISION: T._pixel_division,
    Effect.SCALING: T._scaling, Effect.UINT8_DECODER: T._uint8_decoder,
    Effect.UINT8_DATASET: T._uint8_dataset, Effect.CAST: T._cast_call,
    Effect.FLOAT_RESIZING: T._float_resizing, Effect.TRANSFORM: T._plain_transform,
    Effect.EXTREMUM: T._extremum,
    Effect.UINT8_SOURCE: T._uint8_source, Effect.PIL_OPEN: T._pil_open,
    Effect.CLIPPING: T._clipping,
    Effect.DTYPE_KEEPING: T._dtype_keeping, Effect.STACKING: T._stacking,
    Effect.ARRAY: T._array, Effect.FLOAT64_SOURCE: T._float64_source,
    Effect.RANK1_CONSTRUCTOR: T._rank1_constructor,
    Effect.SHAPED_CONSTRUCTOR: T._shaped_constructor,
    Effect.VARIABLE_CONSTRUCTOR: T._variable_constructor, Effect.MATMUL: T._matmul,
    Effect.DATAFRAME_SOURCE: T._dataframe_source, Effect.RECORD_SOURCE: T._record_source,
    Effect.TO_TENSOR: T._to_tensor, Effect.UNTYPED_TENSOR: T._untyped_tensor,
    Effect.RESHAPE: T._reshape_call,
    Effect.BUILTIN_ORDER_KEEPING: T._builtin_order_keeping, Effect.WALK_STEP: T._walk_step_call,
    Effect.POSITIONAL_PAIRING: _not_dispatched, Effect.REDUCTION: _not_dispatched,
}
METHOD_HANDLERS = {
    Effect.LISTING_METHOD: T._listing_method,
    Effect.ORDER_KEEPING_METHOD: T._order_keeping_method,
    Effect.PROBABILITY_METHOD: T._probability_method,
    Effect.SHAPE_KEEPING_METHOD: T._shape_keeping_method,
    Effect.LOG_PROBABILITY_METHOD: T._log_probability_method, Effect.LOG_METHOD: T._log_method,
    Effect.EXP_METHOD: T._exp_method, Effect.FORWARD_METHOD: T._forward_method,
    Effect.MODULE_DTYPE_METHOD: T._module_dtype_method,
    Effect.MODE_SWITCH_METHOD: T._mode_switch_method,
    Effect.SAME_MODULE_METHOD: T._same_module_method, Effect.TO_METHOD: T._to_method,
    Effect.SQUEEZE_METHOD: T._passthrough_method, Effect.PASSTHROUGH_METHOD: T._passthrough_method,
    Effect.CLIPPING_METHOD: T._clipping_method, Effect.FLOAT_CAST_METHOD: T._float_cast_method,
    Effect.FLOAT64_CAST_METHOD: T._float64_cast_method, Effect.ASTYPE_METHOD: T._astype_method,
    Effect.EXTREMUM_METHOD: T._extremum_method,
    Effect.SCALING_METHOD: T._scaling_method, Effect.PIL_KEEPING_METHOD: T._pil_keeping_method,
    Effect.DATAFRAME_TO_NUMPY_METHOD: T._dataframe_to_numpy,
    Effect.RECORD_KEEPING_METHOD: T._record_keeping_method, Effect.COPY_METHOD: T._copy_method,
}
del T


def _literal_shape(node: cst.Call, function: str, position: int, name: str) -> Value:
    """The shape tags of a tensor made with a literal shape: `[13, 1]` is a (k, 1) weight
    (a batch axis, None, makes it a column of data instead); `[None]` a rank-1 batch, and so is
    a placeholder's `(N,)`."""
    shape = argument(node, position, name)
    if shape is None or not isinstance(shape.value, (cst.List, cst.Tuple)):
        return EMPTY
    sizes = [element.value for element in shape.value.elements]
    batch = [isinstance(size, cst.Name) and size.value == "None" for size in sizes]
    if function == "placeholder" and batch:
        batch[0] = True  # a placeholder's first axis is the batch, written None or a size `N`
    if len(sizes) == 2 and not batch[0] and number(sizes[1]) == 1.0:
        return frozenset({Tag(COLUMN_WEIGHT, node, "(k, 1)")})
    if len(sizes) == 1 and batch[0]:
        written = "[None]" if isinstance(sizes[0], cst.Name) and sizes[0].value == "None" \
            else "(N,)"
        return frozenset({Tag(RANK1, node, f"{function} of shape {written}")})
    return EMPTY


def _clipped(value: Value) -> Value:
    """`np.clip(p, eps, 1 - eps)`, `x.clamp(0, 255)`: bounded, the value is what it was (the
    probabilities clipped away from 0 and 1 are still probabilities), back within its range."""
    return without(value, (MODULE, LOSS, TRANSFORM, OUT_OF_RANGE))


def _float_pixels(value: Value, node: cst.CSTNode) -> Value:
    """What a cast to float adds to uint8 pixels (or a PIL image): float pixels still in 0-255."""
    if has(value, UNIT_SCALED) or not (has(value, UINT8) or has(value, PIL_IMAGE)
                                       or has(value, UNSCALED_FLOAT)):
        return EMPTY
    return frozenset({Tag(UNSCALED_FLOAT, node, "cast")})


_OPERATION_NAMES = {cst.Multiply: "a multiplication", cst.Add: "an addition",
                    cst.Subtract: "a subtraction"}


def _may_leave_pixel_range(operator: cst.BaseBinaryOp, left: cst.BaseExpression | None,
                           right: cst.BaseExpression) -> bool:
    """Whether pixels in 0-255 may leave that range through this operation with a literal:
    times more than 1, plus or minus a positive number (`image * 1.2`, `image - 10.0`)."""
    if isinstance(operator, cst.Subtract):
        amount = number(right)
        return amount is not None and amount > 0
    if not isinstance(operator, (cst.Multiply, cst.Add)):
        return False
    literal = number(right) if number(right) is not None else (
        number(left) if left is not None else None)
    if literal is None:
        return False
    return literal > 1 if isinstance(operator, cst.Multiply) else literal > 0


def _names_only(target: cst.BaseExpression) -> bool:
    """Whether binding `target` binds names only (`x`, `(i, (a, b))`), in the current frame."""
    if isinstance(target, cst.Name):
        return True
    if isinstance(target, (cst.Tuple, cst.List)):
        return all(_names_only(element.value) for element in target.elements)
    return False


def _member(receiver: Value, name: str, read) -> Value | None:
    """An attribute or a method's return value (`read` picks which) of the instances in
    `receiver` whose class is known; None when no class of them has that member."""
    found = [value for tag in receiver if (members := members_of(tag)) is not None
             and (value := read(members, name)) is not None]
    return frozenset().union(*found) if found else None


def _receiver(node: cst.Call, original: cst.Call | None) -> cst.BaseExpression | None:
    """What `x.squeeze()` or `torch.squeeze(x)` applies to."""
    if original is not None:
        return original.args[0].value if original.args else None
    return node.func.value if isinstance(node.func, cst.Attribute) else None


def _masked(node: cst.BaseExpression | None) -> bool:
    """`x[mask]`, `x[lengths > 0]`, `x[i]`: a boolean mask flattens the leading axes (an index
    takes one sample), so the leading axis is no longer the batch that `squeeze()` could drop."""
    if not isinstance(node, cst.Subscript) or len(node.slice) != 1:
        return False
    index = node.slice[0].slice
    return isinstance(index, cst.Index) and (
        (isinstance(index.value, cst.Name) and index.value.value not in ("None", "Ellipsis"))
        or isinstance(index.value, cst.Comparison))


def _with_module_dtype(receiver: Value, dtype: str) -> Value:
    """The module of `receiver`, its parameters converted to `dtype` (`net.double()`)."""
    return frozenset(
        replace(tag, info=replace(tag.info, dtype=dtype))
        if tag.kind == MODULE and isinstance(tag.info, ModuleInfo) else tag
        for tag in receiver)


def _modes_differ(node: cst.Call, decider: catalog.ModeArgument) -> bool | None:
    """Whether a layer built by `node` behaves differently in train and eval mode, from the
    argument that decides it: `nn.Dropout(p=0.0)` drops nothing, `nn.InstanceNorm2d(8)` keeps no
    running statistics, `nn.LSTM(..., dropout=0.2)` drops. A value that is no literal: a drop
    probability or a flag on by default is taken as kept on; one off by default, as unknown."""
    arg = argument(node, decider.position, decider.keyword)
    if arg is None:
        return decider.differs_by_default
    if decider.is_flag:
        if isinstance(arg.value, cst.Name) and arg.value.value in ("True", "False"):
            return arg.value.value == "True"
    else:
        probability = number(arg.value)
        if probability is not None:
            return probability != 0.0
    return True if decider.differs_by_default else None


def _built_without_drop(info: ModuleInfo, node: cst.Call) -> bool:
    """Whether a construction hands every parameter that decides the class's dropout a
    constant 0 (`CausalAttention(d_in, d_out, context_length, 0.0)`), or leaves it at a
    default of 0."""
    for position, name, default in info.decided_by:
        arg = argument(node, position, name) if position >= 0 else keyword(node, name)
        if arg is not None and arg.star:
            return False
        probability = number(arg.value) if arg is not None else default
        if probability != 0.0:
            return False
    return True


def with_module_mode(value: Value, in_eval: bool) -> Value:
    """The modules of `value` once switched to eval mode (`net.eval()`) or to training mode."""
    return frozenset(
        replace(tag, info=replace(tag.info, in_eval=in_eval))
        if tag.kind == MODULE and isinstance(tag.info, ModuleInfo) else tag
        for tag in value)


def _integer(node: cst.BaseExpression) -> int | None:
    """The value of an integer literal (`0`, `-1`), else None."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = _integer(node.expression)
        return None if inner is None else -inner
    return integer(node) if isinstance(node, cst.Integer) else None


def _whole_slice(index: cst.BaseSlice) -> bool:
    return isinstance(index, cst.Slice) and index.lower is None and index.upper is None \
        and index.step is None


def _tuple_part(value: Value, node: cst.Subscript) -> Value | None:
    """`outputs[1]` of a tuple value, for a literal index; `augmented["image"]` of a dict value
    with known keys (any other key, or an unknown one, is unknown)."""
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    key = node.slice[0].slice.value
    # A value joined from branches may hold several dicts or tuples: the part is what any of
    # them holds there, never the part of one picked by the set's order.
    keyed = [tag.info for tag in value if tag.kind == KEYED]
    if keyed:
        key_text = key.evaluated_value if isinstance(key, cst.SimpleString) else None
        return frozenset().union(*(part for items in keyed for name, part in items
                                   if name == key_text))
    index = number(key)
    if index is None or index != int(index):
        return None
    parts = [tag.info[int(index)] for tag in value
             if tag.kind == TUPLE and -len(tag.info) <= int(index) < len(tag.info)]
    return frozenset().union(*parts) if parts else None


def _albumentations_scales(node: cst.Call, division: catalog.PixelDivision) -> bool:
    """Whether an albumentations step divides by 255 as called: its maximum left to the default
    or given as a literal the catalog says scales (a variable maximum is unknown: no)."""
    arg = argument(node, division.position, division.keyword)
    mode = keyword(node, division.mode_keyword) if division.mode_keyword else None
    if mode is not None and not (isinstance(mode.value, cst.SimpleString)
                                 and mode.value.evaluated_value == division.scaling_mode):
        return False
    if arg is None:
        return True
    if isinstance(arg.value, cst.Name) and arg.value.value == "None":
        return None in division.scaling_values
    given = number(arg.value)
    return given is not None and given in division.scaling_values


_AUGMENTED = {
    cst.AddAssign: cst.Add(), cst.SubtractAssign: cst.Subtract(), cst.MultiplyAssign: cst.Multiply(),
    cst.DivideAssign: cst.Divide(), cst.FloorDivideAssign: cst.FloorDivide(),
    cst.PowerAssign: cst.Power(), cst.ModuloAssign: cst.Modulo(),
}


def _rank_at_most_one(value: Value, node: cst.CSTNode | None) -> bool:
    """An operand known to have no more than one axis: a number written out, or a rank-1 array.
    Anything else may have more, and broadcasting then gives its rank."""
    return has(value, RANK1) or (node is not None and number(node) is not None)


def _is_whole_shape(node: cst.BaseExpression) -> bool:
    """`x.shape`, `x.size()`, `torch.Size(...)`: another tensor's whole shape, so a constructor
    given it (`torch.ones(pred.size())`) makes a tensor of that shape, not a rank-1 one."""
    if isinstance(node, cst.Attribute):
        return node.attr.value == "shape"
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return (node.func.attr.value == "size" and not node.args) or node.func.attr.value == "Size"
    return False



def _one_size(node: cst.BaseExpression) -> bool:
    """Whether an expression is evidently one size, not a shape: a number (`64`), one element
    of a shape (`x.shape[0]`, `x.size(1)`), a count (`len(items)`, `int(n)`), or arithmetic of
    those (`n_hidden * 2`). A name or attribute may hold either (`torch.randn(w_shape)` is as
    many axes as the shape it holds), and so may a shape taken whole (`x.shape`, `x.size()`)."""
    if isinstance(node, (cst.Tuple, cst.List)) or _is_whole_shape(node):
        return False
    if number(node) is not None:
        return True
    if isinstance(node, cst.Subscript):
        return len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index)
    if isinstance(node, cst.Call):
        if isinstance(node.func, cst.Name):
            return node.func.value in ("len", "int")
        return isinstance(node.func, cst.Attribute) and node.func.attr.value == "size" \
            and bool(node.args)
    if isinstance(node, cst.BinaryOperation):
        sides = (node.left, node.right)
        return not any(isinstance(side, (cst.Tuple, cst.List)) or _is_whole_shape(side)
                       for side in sides) and any(_one_size(side) for side in sides)
    return False


def _ranked(before: Tag | None, after: int | None, node: cst.CSTNode) -> Value:
    """The RANK of a value after an operation at `node`: the tag it had where the operation keeps
    the rank (the place that shows it stays the one a message names), else a tag of its own."""
    if before is not None and after == int(before.detail):
        return frozenset({before})
    return rank_tag(node, after, _call_text(node))


def _call_text(node: cst.CSTNode) -> str:
    """A call as a message quotes it, shortened: `view(-1, n)`, `torch.cat(outputs, 0)`."""
    text = " ".join(cst.Module(body=[]).code_for_node(node).split())
    return text if len(text) <= 40 else text[:37] + "..."


def _written_sizes(args: list[cst.Arg]) -> int | None:
    """How many sizes the arguments of a reshape or a constructor write out: one per argument
    (`view(b, -1)`), or the elements of one tuple or list (`reshape((b, -1))`); None when a size
    list is unpacked or held in a name (`view(*shape)`, `view(shape)`)."""
    if any(arg.star for arg in args):
        return None
    if len(args) == 1 and isinstance(args[0].value, (cst.Tuple, cst.List)):
        elements = args[0].value.elements
        return None if any(isinstance(e, cst.StarredElement) for e in elements) else len(elements)
    if len(args) == 1 and (_is_whole_shape(args[0].value) or number(args[0].value) is None):
        return None  # `x.view(shape)`, `torch.zeros(x.size())`: a shape held elsewhere
    return len(args)


def _rank_after(method: str, node: cst.Call, before: int | None) -> int | None:
    """The rank after a reshaping method (or function, its tensor argument shifted out), where
    the call writes it out or keeps the rank it had: `view(b, -1)` is 2-D whatever it was,
    `unsqueeze(0)` adds an axis, `flatten(1)` keeps one axis before the flattened rest, `cuda()`
    moves the same tensor. `squeeze` and `repeat`/`expand` (which may add leading axes) say
    nothing the code shows."""
    args = [arg for arg in node.args if arg.keyword is None]
    if method in ("view", "reshape"):
        if len(args) == 1 and isinstance(args[0].value, cst.Name):
            return None  # view(shape) or view(dtype)
        return _written_sizes(args)
    if method == "ravel":
        return 1
    if method == "flatten":
        start = argument(node, 0, "start_dim")
        end = argument(node, 1, "end_dim")
        if start is None and end is None:
            return 1
        start_dim = _integer(start.value) if start is not None else 0
        if end is not None or start_dim is None or start_dim < 0:
            return None
        return start_dim + 1
    if method in ("unsqueeze", "expand_dims"):
        return before + 1 if before is not None else None
    if method in ("permute", "transpose", "to", "cuda", "cpu", "detach", "contiguous", "clone",
                  "requires_grad_", "pin_memory", "copy"):
        return before
    return None


def _broadcast_rank(left: Value, left_node: cst.BaseExpression | None, right: Value,
                    right_node: cst.BaseExpression, node: cst.CSTNode) -> Value:
    """The rank of an elementwise operation's result: the larger of its operands' (broadcasting),
    a number written out counting as none; unknown when one operand's is."""
    ranks = []
    for value, operand in ((left, left_node), (right, right_node)):
        if operand is not None and number(operand) is not None:
            continue
        rank = known_rank(value)
        if rank is None:
            return EMPTY
        ranks.append(rank)
    if not ranks:
        return EMPTY
    return frozenset({max(ranks, key=lambda tag: int(tag.detail))})


def _constructed_rank(qualified: str, node: cst.Call) -> Value:
    """The rank of a tensor a constructor makes from sizes written out: `torch.zeros(b, t, c)`
    is 3-D, `np.zeros((n, d))` 2-D, `torch.randn(8)` 1-D; unknown for a shape held in a name
    or taken from another tensor (`torch.zeros(shape)`, `torch.ones(x.size())`)."""
    if qualified not in catalog.RANK1_CONSTRUCTORS:
        return EMPTY
    args = [arg for arg in node.args if arg.keyword is None]
    size = keyword(node, "size") or keyword(node, "shape")
    if not args and size is not None:
        args = [size]
    if qualified not in catalog.SIZES_AS_ARGUMENTS or (
            args and isinstance(args[0].value, (cst.Tuple, cst.List))):
        args = args[:1]
    if not args:
        return EMPTY
    return rank_tag(node, _written_sizes(args), _call_text(node))
