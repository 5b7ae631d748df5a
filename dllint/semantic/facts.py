"""The facts service: the one typed interface through which rules read the semantic model.

Rules ask questions here and never re-derive the answers from the tree: the value of an
expression, the facts of the function they are in, the training loops and what happens in them,
no-grad regions, the mode of a module, the call sites of a function of the file, the `with`
blocks and `except` handlers around a node. Each answer is about the point the file's single
walk has reached (the model visits every node before the rules do), except where a query says
it is complete only at the end of the module.

The answers come from the model's components (`transfer` for values, `summaries` for classes
and functions, `loops` for training-loop events, `binding` for call sites, `regions` for
`with`/`except`, `reads` for the names a loop reads); this module owns no analysis of its own,
so that two rules asking the same question always get the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence

import libcst as cst

from dllint.semantic.reads import LoopNamesRead
from dllint.semantic.regions import HandlerContext
from dllint.semantic.values import MODULE, ModuleInfo, Tag, Value, first
from dllint.types import RelatedLocation

if TYPE_CHECKING:
    from dllint.semantic.callable_fills import CallableFills
    from dllint.semantic.loops import LoopEvents
    from dllint.semantic.model import SemanticModel
    from dllint.semantic.summaries import FunctionState

__all__ = ["ClassFacts", "Facts", "FunctionFacts", "HandlerContext", "LoopNamesRead",
           "ModuleMode"]


@dataclass(frozen=True)
class FunctionFacts:
    """A function (or method) of the file, as declared."""

    name: str
    node: cst.FunctionDef
    class_name: str | None  # the class it is a method of; None for a function
    parameters: tuple[str, ...]  # every parameter, `self` included, in order
    decorators: tuple[str, ...]  # qualified where imported (`torch.no_grad`), else as written
    no_grad: bool  # decorated with a no-grad or inference-mode context

    @property
    def is_method(self) -> bool:
        return self.class_name is not None


@dataclass(frozen=True)
class ClassFacts:
    """A class of the file the walk is in. `attributes` are its `self` attributes as known at
    this point (those its methods assigned so far, and what an earlier walk learnt), read-only;
    `framework` is "" for PyTorch or plain classes, else "keras", "flax", ..."""

    name: str
    node: cst.ClassDef
    bases: tuple[str, ...]  # qualified where imported
    framework: str
    attributes: Mapping[str, Value]


@dataclass(frozen=True)
class ModuleMode:
    """The train/eval state of a module value.

    `mode_dependent` is True when its layers behave differently in the two modes (dropout,
    batch norm), False when they provably do not, None when its layers are not visible;
    `in_eval` when the value is known to be in eval mode; `evidence` names the layer that
    makes the modes differ; `framework` is "" for PyTorch, else "keras", "flax", ..."""

    mode_dependent: bool | None
    in_eval: bool
    evidence: str
    framework: str

    @classmethod
    def of(cls, info: ModuleInfo) -> ModuleMode:
        return cls(info.mode_dependent, info.in_eval, info.evidence, info.framework)


class Facts:
    """Queries over one file's semantic model. Obtain it as `Rule.facts`."""

    def __init__(self, model: SemanticModel) -> None:
        self._model = model
        # Keyed by the state's id, holding the state: held, it is never freed, so its id cannot
        # be reused by the next function's state (which would get this function's facts).
        self._function_facts: dict[int, tuple[FunctionState, FunctionFacts]] = {}
        self._accumulations: dict[str, list[tuple[int, str]]] | None = None
        self._callable_fills: CallableFills | None = None

    # -- values --------------------------------------------------------------------------------

    def value(self, node: cst.BaseExpression) -> Value:
        """The tags of an expression at this point of the walk."""
        return self._model.value(node)

    def qualified(self, node: cst.BaseExpression) -> str | None:
        """The qualified name an expression refers to through the file's imports."""
        return self._model.qualified(node)

    def keras_input(self, call: cst.Call) -> tuple[Tag | None, cst.Arg | None]:
        """The model a Keras input call (`model.fit(x)`, `model(x)`) feeds, and its data."""
        return self._model.keras_input(call)

    def module_mode(self, value: Value) -> ModuleMode | None:
        """The mode of the module a value holds, or None when it holds no module."""
        tag = first(value, MODULE)
        return ModuleMode.of(tag.info) if tag is not None else None

    def has_mode_dependent_layers(self, value: Value) -> bool | None:
        """Whether the modules a value holds have layers that behave differently in train and
        eval mode, from the framework tables: True when one is shown to (dropout, batch norm,
        instance norm tracking running statistics, a recurrent layer's or a functional call's
        dropout, a model of a family known to have them: torchvision, timm, Hugging Face),
        False when every module's layers are known and none does (Linear, ReLU, LayerNorm,
        `nn.Dropout(p=0)`), None when the value holds no module or one whose layers are not
        visible (a class whose base is unknown, `nn.Sequential(*layers)`, a project factory's
        result). Only True is evidence that a train/eval mistake changes results."""
        modes = [tag.info.mode_dependent for tag in value if tag.kind == MODULE]
        if any(modes):
            return True
        return False if modes and all(mode is False for mode in modes) else None

    def local_class(self, name: str) -> ModuleInfo | None:
        """The module summary of a class defined earlier in this file; None for a class that
        is not a module (or not defined here)."""
        return self._model.scopes.local_classes.get(name)

    def is_plain_project_class(self, qualified: str) -> bool:
        """Whether a class imported from another project file is known to be no module (the
        project index summarised its file, and it is a plain class there)."""
        project = self._model.project
        return project is not None and project.is_plain_class(qualified,
                                                               self._model.context.path)

    def is_local_class(self, name: str) -> bool:
        return name in self._model.scopes.local_classes

    # -- functions -----------------------------------------------------------------------------

    @property
    def function(self) -> FunctionFacts | None:
        """The innermost function the walk is in."""
        state = self._model.scopes.current_function
        return self._facts_of(state) if state is not None else None

    def enclosing_functions(self) -> Sequence[FunctionFacts]:
        """Every function the walk is in, outermost first."""
        return [self._facts_of(state) for state in self._model.scopes.functions]

    @property
    def class_name(self) -> str | None:
        """The innermost class the walk is in."""
        classes = self._model.scopes.classes
        return classes[-1].name if classes else None

    @property
    def enclosing_class(self) -> ClassFacts | None:
        """The innermost class the walk is in, with its attributes so far."""
        if not self._model.scopes.classes:
            return None
        state = self._model.scopes.classes[-1]
        return ClassFacts(state.name, state.node, tuple(state.bases), state.framework,
                          MappingProxyType(state.attributes))

    def classes_defining(self, method: str) -> frozenset[str]:
        """The top-level classes of the file (each defined once) that define `method`."""
        return frozenset(name for name, methods in self._model.top_classes.items()
                         if method in methods)

    def call_sites(self, key: str) -> Sequence[cst.Call]:
        """The calls of the file's function `key` (`fit`, `Trainer.__init__`, `Net.forward`)
        seen so far; complete in `leave_Module`."""
        return self._model.binding.call_sites(key)

    def _facts_of(self, state: FunctionState) -> FunctionFacts:
        cached = self._function_facts.get(id(state))
        if cached is not None and cached[0] is state:
            return cached[1]
        node = state.node
        params = node.params
        parameters = tuple(param.name.value for param in (
            *params.posonly_params, *params.params, *params.kwonly_params))
        facts = FunctionFacts(
            state.name, node,
            state.class_state.name if state.class_state is not None else None,
            parameters, tuple(self._decorator_name(d.decorator) for d in node.decorators),
            state.no_grad)
        self._function_facts[id(state)] = (state, facts)
        return facts

    def _decorator_name(self, decorator: cst.BaseExpression) -> str:
        target = decorator.func if isinstance(decorator, cst.Call) else decorator
        qualified = self._model.qualified(target)
        if qualified is not None:
            return qualified
        return cst.Module([]).code_for_node(target)

    # -- training loops and regions ------------------------------------------------------------

    @property
    def loops(self) -> Sequence[LoopEvents]:
        """The loops closed so far, each with its training events in source order."""
        return self._model.loop_events.loops

    @property
    def open_loops(self) -> Sequence[LoopEvents]:
        """The loops the walk is in, innermost last (their events so far)."""
        return self._model.loop_events.open_loops

    def function_events(self, name: str) -> Sequence[tuple] | None:
        """The training events of the file's function or method `name` (`fit`,
        `Trainer.fit_epoch`), once it was seen."""
        return self._model.loop_events.function_events.get(name)

    def local_callee(self, call: cst.CSTNode) -> str | None:
        """The function or method of this file a call runs, as `function_events` keys it
        (`train_epoch`, `Trainer.fit_epoch`); None for any other call."""
        return self._model.loop_events.local_callee(call)

    def imported_init_fills(self, qualified: str) -> frozenset[tuple[str | None, str]]:
        """What a function of another file of the project (`init_weights`, imported), or the
        methods of a class of another file (a base class's `_init_weights`), fill in place on
        the modules they receive: (class an `isinstance` test names, or None; attribute).
        Empty without a project, or for a name no summary defines."""
        project = self._model.project
        if project is None:
            return frozenset()
        return frozenset(project.lookup_init_fills(qualified, self._model.context.path))

    def applied_init_fills(self) -> frozenset[tuple[str | None, str]]:
        """What hooks that files of the project apply to a model (`model.apply(weights_init)`
        with `weights_init` theirs) fill on each of its submodules, of whichever file:
        (class, class pattern such as `*Linear*`, or None; attribute). Empty without a
        project."""
        project = self._model.project
        if project is None:
            return frozenset()
        return project.applied_init_fills()

    def imported_mode_effects(self, qualified: str
                              ) -> Sequence[tuple[str, int, str, RelatedLocation]]:
        """What a function of another file of the project (`eval_net`, imported) does to the
        mode of the models it is handed (`mode_effects`): (parameter, its position, "eval" or
        "train" for the mode it leaves it in, or "evaluated" for a helper named for evaluation
        that runs it in whatever mode the caller left, where that happens). Empty without a
        project, or for a name no summary defines."""
        project = self._model.project
        if project is None:
            return ()
        return tuple(project.lookup_mode_effects(qualified, self._model.context.path))

    def accumulated_arguments(self, class_name: str, method: str
                              ) -> Sequence[tuple[int, str]]:
        """The arguments a method adds into its instance's state (`accumulation`):
        `AverageMeter.update(val, n)` with `self.sum += val * n` adds `val` (and `n`), as
        (position after `self`, parameter). `class_name` is a class of this file, or the
        qualified name of one of another file of the project (an INSTANCE tag's detail)."""
        if class_name in self._model.top_classes:
            if self._accumulations is None:
                from dllint.semantic.accumulation import accumulating_methods
                context = self._model.context
                self._accumulations = accumulating_methods(context.module, context.source)
            return tuple(self._accumulations.get(f"{class_name}.{method}", ()))
        project = self._model.project
        if project is None:
            return ()
        return tuple(project.lookup_accumulations(class_name, method,
                                                  self._model.context.path))

    def callable_fills(self) -> CallableFills:
        """What each function of the file fills in place, on any path, through the file's
        functions, its classes' methods (inherited ones too), partials of them, and the
        functions and base classes of other files of the project (their summaries); see
        `callable_fills`. Complete whenever asked: computed from the whole tree once."""
        if self._callable_fills is None:
            from dllint.semantic.callable_fills import CallableFills
            project, path = self._model.project, self._model.context.path
            self._callable_fills = CallableFills(
                self._model.context.module, self._model.context.imports,
                (lambda qualified: project.lookup_callable_fills(qualified, path))
                if project is not None else None,
                (lambda qualified, method: project.lookup_method_fills(qualified, method, path))
                if project is not None else None)
        return self._callable_fills

    def imported_row_fills(self, qualified: str) -> frozenset[tuple[int, int]]:
        """The rows a function of another file of the project writes into a parameter at the
        index another parameter gives (`loc_t[idx] = loc` in `match(..., loc_t, idx)`), as
        (position of the tensor, position of the index). Empty without a project."""
        project = self._model.project
        if project is None:
            return frozenset()
        return frozenset(project.lookup_row_fills(qualified, self._model.context.path))

    def imported_evaluations(self, qualified: str) -> list[tuple[int, str, RelatedLocation]]:
        """The parameters a function of another file of the project runs as a model without
        gradients, in the mode its caller left it (`def generate(model, idx)` under
        `torch.no_grad()`): (position, name, where it runs it). Empty without a project."""
        project = self._model.project
        if project is None:
            return []
        return project.lookup_evaluations(qualified, self._model.context.path)

    def events_at(self, node: cst.CSTNode) -> Sequence[str]:
        """The kinds of the training events recorded at `node` so far ("backward", "step", ...),
        in order: `optimizer.step()` is a "step", as is a call of another file's function whose
        summary steps an optimizer. Calls of the file's own functions are not expanded."""
        return self._model.loop_events.events_at(node)

    def alternatives(self, first: Sequence[cst.CSTNode], second: Sequence[cst.CSTNode]) -> bool:
        """Whether two training events, each given by its trace from `expand_traced` (the
        calls it is reached through, then its own node), lie in different branches of one `if`
        (or `if`/`elif`), so that no pass through the loop runs both."""
        return self._model.loop_events.alternatives(first, second)

    def expand_traced(self, events: Sequence[tuple]) -> Iterator[tuple[tuple, tuple]]:
        """`expand`, each event paired with its trace: the calls of the file's functions it is
        reached through, outermost first, then its own node."""
        return self._model.loop_events.expand_traced(events)

    def expand(self, events: Sequence[tuple]) -> Iterator[tuple]:
        """Events with calls to the file's functions replaced by what those functions do."""
        return self._model.loop_events.expand(events)

    @property
    def in_no_grad(self) -> bool:
        """Inside a no-grad/inference block, or a function decorated with one."""
        return self._model.in_no_grad

    def names_read(self, loop: cst.For) -> LoopNamesRead:
        """The names the body and else block of `loop` read, as a membership test (`"mask" in
        facts.names_read(loop)`), with the meaning of `reads.py`: attribute and keyword names,
        plain assignment targets, and names read only after the body rebinds them are no
        reads. Complete from the rules' `leave_For` of the loop on."""
        reads = self._model.reads.names_read(loop)
        if reads is None:
            raise ValueError("names_read() asked about a loop the walk has not reached")
        return reads

    def handler_context(self) -> HandlerContext:
        """The `with` blocks and `except` handlers around this point, outermost first."""
        return self._model.regions.context()
