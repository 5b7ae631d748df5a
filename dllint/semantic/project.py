"""Summaries shared by the files of one run, so a model defined in `model.py` is known in `train.py`.

Phase one summarises each file that defines classes or functions (what `forward` returns, whether a
module has dropout or batch norm, what a function returns); phase two lints every file with the
whole index at hand. Summaries are plain JSON-able data: they travel to worker processes, live in
the cache (keyed by file content), and their digests make each file's cache entry depend on the
summaries of exactly the modules it imports.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:  # only writing a summary parses; reading the index back (a cached run) does not
    import libcst as cst

from dllint import parsed
from dllint.jsonshape import (BOOLEAN, INTEGER, NULL, TEXT, ByField, Later, ListOf, MapOf, OneOf,
                              Record)
from dllint.semantic import catalog
from dllint.semantic.effects import gate_pattern, minimal_tokens
from dllint.semantic.values import (
    ARGUMENT_OUTPUT, COLUMN, ELEMENTS, FLOAT64, LISTING, LOG_PROBABILITIES, LOSS, LOSS_VALUE,
    MODULE, PROBABILITIES, RANK1, TUPLE, UINT8, UNIT_SCALED, REFERENCE, ListingInfo, LossInfo,
    Members, ModuleInfo, Tag, Value)
from dllint.semantic.values import AXIS_DROPPED, SINGLE_CHANNEL, UNIT_RANGE
from dllint.semantic.values import INSTANCE, SCHEDULER
from dllint.types import RelatedLocation, Span

SHAREABLE = frozenset({PROBABILITIES, LOG_PROBABILITIES, COLUMN, UINT8, FLOAT64, UNIT_SCALED,
                       UNIT_RANGE, RANK1, MODULE, LOSS, REFERENCE, SINGLE_CHANNEL, AXIS_DROPPED,
                       LISTING, LOSS_VALUE, TUPLE, ARGUMENT_OUTPUT, ELEMENTS})
# A file is summarised only if it may define something another file's rules care about: it uses
# a row whose effect originates a tag that crosses files (computed from the rows, so no row can
# be added that this gate filters out), a functional layer that makes its module mode-dependent,
# or it defines a class on a base whose subclasses are summarised.
SUMMARY_GATE = minimal_tokens(
    catalog.REGISTRY.tokens(*catalog.REGISTRY.producing(SHAREABLE))
    | {name.rsplit(".", 1)[-1] for name in catalog.MODE_DEPENDENT_FUNCTIONS}
    | {name.rsplit(".", 1)[-1] for name in (*catalog.NN_MODULE_BASES, *catalog.LOSS_BASES,
                                            *catalog.LIGHTNING_BASES,
                                            *catalog.FRAMEWORK_MODULE_BASES)})
# What a function does to training state crosses files too (`from helpers import train_step`):
# these events, by kind only; the call in the importing file stands for where they happen. Only
# kinds whose presence is what counts: a summary flattens the helper's branches, so the order of
# a clip or a scheduler step against the optimizer's (DL102, DL103) would be read across `if`
# and `else` (`if scaler: clip; scaler.step() else: clip; opt.step()` reads as step-then-clip).
# Mode switches stay in their file (which model a helper switches is not known at the caller).
SHARED_EVENTS = ("backward", "zero_grad", "step")
# A helper holding one of them names a backward or a gradient clearing (one that only steps an
# optimizer is not summarised for it: `step` is in too many files to gate on).
_EVENT_GATE = minimal_tokens({*catalog.BACKWARD_METHODS, "zero_grad"})
# What an init hook fills on the modules it receives crosses files (`model.apply(init_weights)`
# with `init_weights` imported, an `_init_weights` inherited from a base class of another file).
_INIT_GATE = minimal_tokens({"init.", *(f"{method}(" for method in catalog.IN_PLACE_INITIALISERS)})
# What a helper does to the mode of the model it is handed crosses files too (`eval_net(net,
# loader)` imported, which calls `net.eval()` and returns): see mode_effects.
_MODE_GATE = minimal_tokens({".eval()", ".train("})
# Which parameters a helper runs as a model without gradients crosses files too (`generate(model,
# idx)` of another file): DL004 judges each call by the mode its caller left the model in.
_EVALUATION_GATE = minimal_tokens({*(name.rsplit(".", 1)[-1] for name in catalog.NO_GRAD_CONTEXTS),
                                   *catalog.GENERATION_METHODS})
SUMMARY_GATE = minimal_tokens((*SUMMARY_GATE, *_EVENT_GATE, *_INIT_GATE, *_MODE_GATE,
                               *_EVALUATION_GATE))
_SUMMARY_PATTERN = gate_pattern(SUMMARY_GATE)
# What a method adds into its instance's state crosses files too (an AverageMeter of utils.py
# whose `update(val)` does `self.sum += val * n`): see accumulation. A file that adds into an
# attribute in place passes the gate for it.
_ACCUMULATION_PATTERN = re.compile(r"self\.\w+(\[[^\]\n]*\])?\s*\+=")
DESCRIPTIONS = {PROBABILITIES: "activation applied here", LOG_PROBABILITIES: "log-probabilities here",
                COLUMN: "(N, 1) output made here", UINT8: "uint8 data made here",
                FLOAT64: "float64 data made here", UNIT_SCALED: "scaled to [0, 1] here",
                UNIT_RANGE: "in [0, 1] here",
                RANK1: "rank-1 array made here", MODULE: "model built here", LOSS: "loss built here",
                SINGLE_CHANNEL: "single-channel output made here",
                AXIS_DROPPED: "axis removed here", LISTING: "files listed here",
                LOSS_VALUE: "loss computed here",
                TUPLE: "tuple made here", ELEMENTS: "list made here"}


MAX_EXPORT_HOPS = 4  # `from .model import Net` in __init__.py, re-exported again above it


def wants_summary(text: str, path: str = "") -> bool:
    """Files that may define what another file's rules need, or call into another file with a
    value worth passing on; a package's __init__.py for the names it re-exports."""
    if Path(path).name == "__init__.py":
        return "import" in text
    # Scripts without a def count too: `fit(Net(), loader, nn.CrossEntropyLoss())` at top level.
    # So does a file that imports a module of its own project (`import train`, `from model
    # import Net`): it may hand another file's model to a third file's function
    # (`train.fit(model.Net().cuda(), loader)`) while naming nothing of the gate itself.
    return _SUMMARY_PATTERN.search(text) is not None or \
        _ACCUMULATION_PATTERN.search(text) is not None or any(
            _project_module(name) for name in statement_imports(text))


def _project_module(name: str) -> bool:
    """An imported name that may be a module of the importer's own project: relative, or a
    root that is neither a known library nor the standard library's."""
    root = name.split(".", 1)[0]
    return name.startswith(".") or (root not in catalog.LIBRARY_ROOTS
                                    and root not in sys.stdlib_module_names
                                    and root != "__future__")


def module_name(path: str) -> str:
    """Dotted module name of a file, from the nearest directory without `__init__.py`."""
    file = Path(path).resolve()
    parts = [file.stem] if file.stem != "__init__" else []
    directory = file.parent
    while (directory / "__init__.py").exists() and directory != directory.parent:
        parts.insert(0, directory.name)
        directory = directory.parent
    return ".".join(parts)


def receiver_key(path: str) -> str:
    """The key under which calls from other files into `path` are recorded: its dotted module
    name, or, for a file outside any package (`ch06/previous_chapters.py`), that name and its
    folder: same-named scripts of different folders are different modules, and the callers of
    one never count as the callers of another."""
    module = module_name(path)
    if "." in module or Path(path).name == "__init__.py":
        return module
    return f"{module}@{Path(path).resolve().parent}"


def candidates(qualified: str, importer: str, own: str | None = None) -> list[str]:
    """`from .model import Net` and `from model import Net` both name the sibling model.py.
    `own` is `module_name(importer)` when the caller knows it already."""
    if own is None:
        own = module_name(importer)
    parts = own.split(".") if own else []
    # A package's __init__.py is the package itself: `.model` is a module inside it.
    package = parts if Path(importer).name == "__init__.py" else parts[:-1]
    if qualified.startswith("."):
        dots = len(qualified) - len(qualified.lstrip("."))
        base = package[: len(package) - (dots - 1)] if dots > 1 else package
        return [".".join([*base, qualified.lstrip(".")])]
    result = [qualified]
    if package:
        result.append(".".join([*package, qualified]))
    return result


# ---- writing summaries ----------------------------------------------------------------------

def summarise(path: str, text: str) -> dict[str, Any] | None:
    """The summary of one file, or None when it does not parse or defines nothing shareable."""
    from libcst import ParserSyntaxError

    from dllint.context import FileContext
    from dllint.semantic.imports import ImportMap
    from dllint.semantic.model import analyse

    try:
        module = parsed.parse_and_keep(text)  # phase two, in this process, takes it back
    except (ParserSyntaxError, RecursionError):
        return None  # linting the file reports why
    context = FileContext(path, text, module, ImportMap.from_module(module))
    try:
        model = analyse(context, None, lambda model: [], summarising=True)
    except RecursionError:
        return None
    writer = _Writer(path, module, text)
    calls = {}
    for target, slots in model.learned.external.items():
        written = {str(slot) if isinstance(slot, int) else f"={slot}": writer.value(value)
                   for slot, value in slots.items()}
        written = {slot: value for slot, value in written.items() if value}
        if written:
            calls[target] = written
    exports = {}
    if Path(path).name == "__init__.py":
        # Names a package re-exports from its own modules: `from .model import Net`.
        own_package = module_name(path).split(".", 1)[0]
        exports = {local: qualified for local, qualified in context.imports.aliases.items()
                   if qualified.startswith(".") or qualified.split(".", 1)[0] == own_package}
        # `from .resnet import *`: every public name of its own modules, looked up there.
        stars = [star for star in context.imports.stars
                 if star.startswith(".") or star.split(".", 1)[0] == own_package]
        if stars:
            exports["*"] = stars
    classes = {}
    for name, info in model.scopes.local_classes.items():
        if info is not None:
            writer.set_anchor("class", name)
            classes[name] = writer.module_info(info)
    functions = {}
    for name, value in model.scopes.local_functions.items():
        if any(tag.kind in SHAREABLE for tag in value):
            writer.set_anchor("def", name)
            functions[name] = writer.value(value)
    events = {}
    scopes, loops = model.scopes, model.loop_events
    for name, recorded in loops.function_events.items():
        # Functions, and methods of the file's classes (`Scaler.__call__`, `Trainer.step`).
        if name in scopes.local_functions or name.partition(".")[0] in scopes.local_classes \
                or name.partition(".")[0] in scopes.local_members:
            kinds = [event[0] for event in loops.expand(recorded) if event[0] in SHARED_EVENTS]
            if kinds:
                events[name] = kinds
    # function or `Class.method` -> [[class or "", attribute], ...] (see init_hooks). Imported
    # here: init_hooks needs libcst, which a run answered from the cache never loads.
    from dllint.semantic.init_hooks import init_hooks_of, row_fills
    hook_fills, applied_fills = init_hooks_of(module, text, context.imports)
    init_fills = {name: sorted([class_name or "", attribute] for class_name, attribute in fills)
                  for name, fills in hook_fills.items()}
    applied = sorted([class_name or "", attribute] for class_name, attribute in applied_fills)
    rows = {name: sorted([filled, index] for filled, index in fills)
            for name, fills in row_fills(module, text).items()}
    # function or `Class.method` -> the positions of the parameters it fills in place, and the
    # attributes of its instance it fills (callable_fills)
    from dllint.semantic.callable_fills import exported_fills
    callable_fills = exported_fills(module, text, context.imports)
    parameter_fills = {key: sorted(positions)
                       for key, (positions, _) in callable_fills.items() if positions}
    self_fills = {key: sorted(attributes)
                  for key, (_, attributes) in callable_fills.items() if attributes}
    # function -> [[parameter, position, "eval" | "train" | "evaluated", span]] (mode_effects)
    from dllint.semantic.mode_effects import mode_effects
    modes = {}
    for name, effects in mode_effects(module).items():
        writer.set_anchor("def", name)
        modes[name] = [[effect.parameter, effect.position, effect.effect,
                        writer.span(effect.node)] for effect in effects]
    # `Class.method` -> [[position, parameter], ...] (accumulation)
    from dllint.semantic.accumulation import accumulating_methods
    accumulates = {key: [[position, name] for position, name in found]
                   for key, found in accumulating_methods(module, text).items()}
    from dllint.semantic.evaluations import evaluated_parameters
    evaluates = {}
    for name, found in evaluated_parameters(module, text, context.imports).items():
        writer.set_anchor("def", name)
        evaluates[name] = [{"position": position, "parameter": parameter,
                            "span": writer.span(call)} for position, parameter, call in found]
    members = {}
    for name, found in model.scopes.local_members.items():
        if found is not None:
            writer.set_anchor("class", name)
            written = writer.members(found)
            if written["attributes"] or written["methods"]:
                members[name] = written
    # The library names the file binds by importing them (`nn` of `from torch import nn`):
    # `from utils import *` binds them in its importer too.
    aliases = {local: qualified for local, qualified in context.imports.aliases.items()
               if not local.startswith("_")
               and qualified.split(".", 1)[0] in catalog.LIBRARY_ROOTS}
    schedulers = sorted(model.scopes.scheduler_classes)
    # Every class that is no module: an instance of one is known for a plain object even when
    # nothing it holds is (a hand-written learning-rate ramp), and is no scheduler unless listed.
    plain_classes = sorted(name for name, info in model.scopes.local_classes.items()
                           if info is None)
    project_bases = {name: bases for name, bases in sorted(model.scopes.project_bases.items())}
    if not classes and not functions and not calls and not exports and not members \
            and not events and not init_fills and not rows and not evaluates and not applied \
            and not modes and not accumulates and not parameter_fills and not self_fills \
            and not schedulers and not project_bases and not plain_classes:
        return None
    summary = {"path": path, "classes": classes, "functions": functions, "calls": calls,
               "exports": exports, "members": members, "events": events}
    if init_fills:
        summary["init_fills"] = init_fills
    if rows:
        summary["row_fills"] = rows
    if parameter_fills:
        summary["parameter_fills"] = parameter_fills
    if self_fills:
        summary["self_fills"] = self_fills
    if applied:
        summary["applied_fills"] = applied
    if aliases:
        summary["aliases"] = aliases
    if evaluates:
        summary["evaluates"] = evaluates
    if modes:
        summary["modes"] = modes
    if accumulates:
        summary["accumulates"] = accumulates
    if schedulers:
        summary["schedulers"] = schedulers
    if plain_classes:
        summary["plain_classes"] = plain_classes
    if project_bases:
        summary["project_bases"] = project_bases
    return summary


class _Writer:
    def __init__(self, path: str, module: cst.Module, text: str) -> None:
        self.path = path
        self.module = module
        self.text = text
        self.line_starts = [0] + [index + 1 for index, char in enumerate(text) if char == "\n"]
        self.anchor = 0  # search from here: the definition being summarised
        self.positions = None

    def set_anchor(self, keyword: str, name: str) -> None:
        found = self.text.find(f"{keyword} {name}")
        self.anchor = max(found, 0)

    def span(self, node: cst.CSTNode) -> list[int]:
        # Positions for a whole module cost more than parsing it; a node's own text, found after
        # its definition, is nearly always enough. PositionProvider is the fallback.
        # A multi-line node's code comes without its block's indentation: find its first line;
        # the end is its last line (the end column is then approximate, which a related
        # location does not need).
        code = self.module.code_for_node(node)
        first_line, _, rest = code.partition("\n")
        offset = self.text.find(first_line, self.anchor) if first_line else -1
        if offset < 0 and first_line:  # made by a helper defined above the definition
            offset = self.text.find(first_line)
        if offset >= 0:
            line = bisect.bisect_right(self.line_starts, offset)
            column = offset - self.line_starts[line - 1] + 1
            if not rest:
                return [line, column, line, column + len(code)]
            last = rest.rsplit("\n", 1)[-1]
            return [line, column, line + code.count("\n"), len(last) + 1]
        if self.positions is None:
            from libcst.metadata import MetadataWrapper, PositionProvider

            self.positions = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(
                PositionProvider)
        code_range = self.positions[node]
        return [code_range.start.line, code_range.start.column + 1, code_range.end.line,
                code_range.end.column + 1]

    def tag(self, tag: Tag) -> dict[str, Any] | None:
        if tag.kind not in SHAREABLE:
            return None
        if tag.node is not None:
            where = {"path": self.path, "span": self.span(tag.node)}
        elif tag.location is not None:
            span = tag.location.span
            where = {"path": tag.location.path,
                     "span": [span.start_line, span.start_column, span.end_line, span.end_column]}
        else:
            return None
        info: Any = tag.info
        if tag.kind == MODULE:
            info = self.module_info(tag.info)
        elif tag.kind == LOSS:
            info = {"qualified": info.qualified, "wants": info.wants, "display": info.display,
                    "argument": info.argument, "keyword": info.keyword}
        elif tag.kind == LISTING:
            info = {"function": info.function, "ordered": info.ordered,
                    "shuffled": info.shuffled}
        elif tag.kind == TUPLE:
            info = [self.value(part) for part in info]
            if not any(info):
                return None
        elif tag.kind == ELEMENTS:
            info = self.value(info)
            if not info:
                return None
        elif not isinstance(info, (str, type(None))):
            info = None
        return {"kind": tag.kind, "detail": tag.detail, "info": info, **where}

    def value(self, value: Value) -> list[dict[str, Any]]:
        # In an order that is the same in every run (a value is a set of tags, which iterates
        # in memory-address order): the summary's digest decides whether files that depend on
        # it are linted again, and the order its tags are read back in decides which one
        # `first` sees when they say the same thing.
        written = [data for data in (self.tag(tag) for tag in value) if data is not None]
        return written if len(written) < 2 else sorted(
            written, key=lambda data: json.dumps(data, sort_keys=True))

    def module_info(self, info: ModuleInfo) -> dict[str, Any]:
        # A class's members are written once, in the summary's `members` (never nested in a
        # module's info: that would repeat every class inside the classes holding it).
        return {"name": info.name, "output": self.value(info.output),
                "mode_dependent": info.mode_dependent, "evidence": info.evidence,
                "lightning": info.lightning, "in_eval": info.in_eval,
                "framework": info.framework, "training_layer": info.training_layer,
                **({"input_pixels": info.input_pixels} if info.input_pixels == "converted"
                   else {}), **({"plain": True} if info.plain else {}),
                **({"eval_methods": sorted(info.eval_methods)} if info.eval_methods else {})}

    def members(self, members: Members) -> dict[str, Any]:
        def written(pairs):
            return {name: data for name, value in pairs if (data := self.value(value))}
        return {"attributes": written(members.attributes), "methods": written(members.methods)}


# ---- reading summaries ----------------------------------------------------------------------

def _read_tag(data: dict[str, Any]) -> Tag:
    info = data.get("info")
    if data["kind"] == MODULE:
        info = _read_module(info, data["path"])
    elif data["kind"] == LOSS:
        info = LossInfo(info["qualified"], info["wants"], info["display"],
                        info.get("argument", 0), info.get("keyword", "input"))
    elif data["kind"] == LISTING:
        info = ListingInfo(info["function"], info.get("ordered", False),
                           info.get("shuffled", False))
    elif data["kind"] == TUPLE:
        info = tuple(_read_value(part) for part in info)
    elif data["kind"] == ELEMENTS:
        info = _read_value(info)
    location = RelatedLocation(data["path"], Span(*data["span"]),
                               DESCRIPTIONS.get(data["kind"], "defined here"))
    return Tag(data["kind"], None, data.get("detail", ""), info, location)


def _read_value(items: Iterable[dict[str, Any]]) -> Value:
    return frozenset(_read_tag(item) for item in items)


def _read_module(data: dict[str, Any], path: str) -> ModuleInfo:
    evidence = data.get("evidence") or ""
    if evidence and " in " not in evidence:
        evidence = f"{evidence} in {Path(path).name}"
    return ModuleInfo(data["name"], _read_value(data.get("output", ())), data["mode_dependent"],
                      evidence, data.get("lightning", False), in_eval=data.get("in_eval", False),
                      framework=data.get("framework", ""),
                      training_layer=data.get("training_layer", ""),
                      input_pixels=data.get("input_pixels", ""),
                      plain=data.get("plain", False),
                      eval_methods=frozenset(data.get("eval_methods", ())))


# The shape `summarise` writes and the readers above rely on: a summary read back from a file
# (the cache) is checked against it before it reaches a ProjectIndex.
_TAG_FIELDS = {"kind": TEXT, "detail": TEXT, "path": TEXT, "span": ListOf(INTEGER, length=4)}
_TAG_REQUIRED = frozenset({"kind", "path", "span"})
_MODULE_INFO = Record({
    "name": TEXT, "output": ListOf(Later(lambda: _TAG)), "mode_dependent": OneOf((NULL, BOOLEAN)),
    "evidence": OneOf((NULL, TEXT)), "lightning": BOOLEAN, "in_eval": BOOLEAN, "framework": TEXT,
    "training_layer": TEXT, "input_pixels": TEXT, "plain": BOOLEAN, "eval_methods": ListOf(TEXT),
}, required=frozenset({"name", "mode_dependent"}))
_LOSS_INFO = Record({"qualified": TEXT, "wants": TEXT, "display": TEXT, "argument": INTEGER,
                     "keyword": TEXT}, required=frozenset({"qualified", "wants", "display"}))
_LISTING_INFO = Record({"function": TEXT, "ordered": BOOLEAN, "shuffled": BOOLEAN},
                       required=frozenset({"function"}))
_TAG = ByField("kind", {
    MODULE: Record({**_TAG_FIELDS, "info": _MODULE_INFO}, required=_TAG_REQUIRED | {"info"}),
    LOSS: Record({**_TAG_FIELDS, "info": _LOSS_INFO}, required=_TAG_REQUIRED | {"info"}),
    LISTING: Record({**_TAG_FIELDS, "info": _LISTING_INFO}, required=_TAG_REQUIRED | {"info"}),
    # The elements of a tuple by position, each a value (a list of tags).
    TUPLE: Record({**_TAG_FIELDS, "info": ListOf(ListOf(Later(lambda: _TAG)))},
                  required=_TAG_REQUIRED | {"info"}),
    # What the elements of a list are (a value).
    ELEMENTS: Record({**_TAG_FIELDS, "info": ListOf(Later(lambda: _TAG))},
                     required=_TAG_REQUIRED | {"info"}),
}, otherwise=Record({**_TAG_FIELDS, "info": OneOf((NULL, TEXT))}, required=_TAG_REQUIRED))
_MEMBERS = Record({"attributes": MapOf(ListOf(_TAG)), "methods": MapOf(ListOf(_TAG))},
                  required=frozenset({"attributes", "methods"}))
SUMMARY = Record({
    "path": TEXT,
    "classes": MapOf(_MODULE_INFO),
    "functions": MapOf(ListOf(_TAG)),
    # callee -> argument slot (a position, or `=keyword`) -> what the call passes there
    "calls": MapOf(MapOf(ListOf(_TAG), key=r"[0-9]+|=.*")),
    # name -> where a package's __init__.py re-exports it from; "*": its star-imported modules
    "exports": MapOf(OneOf((TEXT, ListOf(TEXT)))),
    # class -> what its instances' attributes and methods hold (plain classes included)
    "members": MapOf(_MEMBERS),
    # function -> what it does to training state, in order (SHARED_EVENTS)
    "events": MapOf(ListOf(TEXT)),
    # function or `Class.method` -> what it fills in place on the modules it receives:
    # [class an isinstance test names, or "", attribute]
    "init_fills": MapOf(ListOf(ListOf(TEXT, length=2))),
    # function -> [position of a parameter it writes a row of, position of the row index]
    "row_fills": MapOf(ListOf(ListOf(INTEGER, length=2))),
    # function or `Class.method` -> positions of the positional parameters it fills in place,
    # counted without `self` (callable_fills)
    "parameter_fills": MapOf(ListOf(INTEGER)),
    # `Class.method` -> the attributes of its instance it fills in place (callable_fills)
    "self_fills": MapOf(ListOf(TEXT)),
    # what the file's hooks it applies to a model (`model.apply(weights_init)`) fill on each
    # of its submodules, whichever file defines them: [class or class pattern, or "", attribute]
    "applied_fills": ListOf(ListOf(TEXT, length=2)),
    # local name -> the library name it was imported as (`nn` -> `torch.nn`)
    "aliases": MapOf(TEXT),
    # function -> the parameters it runs as a model without gradients (see evaluations.py)
    "evaluates": MapOf(ListOf(Record({"position": INTEGER, "parameter": TEXT,
                                      "span": ListOf(INTEGER, length=4)},
                                     required=frozenset({"position", "parameter", "span"})))),
    # function -> what it does to the mode of the models it is handed (mode_effects):
    # [parameter, position, "eval" | "train" | "evaluated", span of the switch or forward pass]
    "modes": MapOf(ListOf(ListOf(OneOf((TEXT, INTEGER, ListOf(INTEGER, length=4))),
                                 length=4))),
    # `Class.method` -> the arguments it adds into its instance's state: [position, parameter]
    "accumulates": MapOf(ListOf(ListOf(OneOf((INTEGER, TEXT)), length=2))),
    # the file's classes derived from a library learning-rate scheduler
    "schedulers": ListOf(TEXT),
    # the file's classes that are no modules (plain classes)
    "plain_classes": ListOf(TEXT),
    # class -> its bases that name a class of another file of the project
    "project_bases": MapOf(ListOf(TEXT)),
}, required=frozenset({"path", "classes", "functions"}))


def digest(summary: dict[str, Any] | None) -> str | None:
    if summary is None:
        return None
    encoded = json.dumps(summary, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.blake2b(encoded, digest_size=12).hexdigest()


@dataclass
class ProjectIndex:
    """Summaries by module name; several files may share a name (scripts in sibling folders)."""

    modules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _classes: dict[tuple[str, str], ModuleInfo] = field(default_factory=dict, repr=False)
    # (module, name) -> the argument slots each call from another file passes to it.
    _incoming: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict,
                                                                  repr=False)
    # Module -> digest of every call into it from the other files (its cache entry depends on it).
    _callers: dict[str, str] = field(default_factory=dict, repr=False)
    # (path, class) -> its Members, once read; and those being read (a class whose members
    # hold an instance of itself, directly or not, gets that instance without members).
    _members: dict[tuple[str, str], Members | None] = field(default_factory=dict, repr=False)
    _reading: set[tuple[str, str]] = field(default_factory=set, repr=False)
    _roots: dict[str, Path] = field(default_factory=dict, repr=False)  # see _import_root
    # (module, importer's folder) -> the file of a namespace package it names, or None
    _namespace_modules: dict[tuple[str, Path], dict[str, Any] | None] = field(
        default_factory=dict, repr=False)
    # path -> module_name(path): it asks the file system, and a run resolves names from the
    # same few importers tens of thousands of times.
    _module_names: dict[str, str] = field(default_factory=dict, repr=False)
    # What hooks applied to models anywhere in the project fill on their submodules (see
    # `applied_fills`), and its digest: every file's result depends on it.
    _applied: frozenset[tuple[str | None, str]] = field(default_factory=frozenset, repr=False)
    _applied_digest: str | None = field(default=None, repr=False)

    @classmethod
    def from_summaries(cls, summaries: Iterable[dict[str, Any]]) -> ProjectIndex:
        index = cls()
        summaries = list(summaries)
        for summary in summaries:
            index.modules.setdefault(module_name(summary["path"]), []).append(summary)
        for summary in summaries:
            for target, slots in summary.get("calls", {}).items():
                found = index._resolve(target, summary["path"])
                if found is not None:
                    keys = [(receiver_key(found[0]["path"]), found[1])]
                else:  # the callee's file needs no summary of its own to receive arguments
                    keys = index._unsummarised_receivers(target, summary["path"])
                for key in keys:
                    index._incoming.setdefault(key, []).append(slots)
        calls: dict[str, list] = {}
        for (target, name), entries in index._incoming.items():
            calls.setdefault(target, []).extend(
                (name, json.dumps(slots, sort_keys=True)) for slots in entries)
        index._callers = {target: digest({"calls": sorted(found)})
                          for target, found in calls.items()}
        applied = {(class_name or None, attribute) for summary in summaries
                   for class_name, attribute in summary.get("applied_fills", ())}
        if applied:
            index._applied = frozenset(applied)
            index._applied_digest = digest({"applied": sorted(
                [class_name or "", attribute] for class_name, attribute in applied)})
        return index

    def _unsummarised_receivers(self, target: str, importer: str) -> list[tuple[str, str]]:
        """The (receiver key, name) pairs a call to `target` may reach when no summary defines
        it: a bare module (`helpers.f`) names only the file in the importer's folder, or in the
        folder above the importer's package."""
        keys = []
        for candidate in candidates(target, importer):
            module, _, name = candidate.rpartition(".")
            if "." in module:
                keys.append((module, name))
            elif module:
                roots = dict.fromkeys((Path(importer).resolve().parent,
                                       self._import_root(importer)))
                keys.extend((f"{module}@{root}", name) for root in roots)
        return keys

    def _resolve(self, qualified: str, importer: str,
                 hops: int = 0) -> tuple[dict[str, Any], str] | None:
        """The summary that defines `qualified` as seen from `importer`, and the name in it,
        following package re-exports."""
        own = self._module_names.get(importer)
        if own is None:
            own = self._module_names[importer] = module_name(importer)
        for candidate in candidates(qualified, importer, own):
            module, _, name = candidate.rpartition(".")
            summary = self._summary(module, importer)
            if summary is None:
                continue
            if name in summary["classes"] or name in summary["functions"] or \
                    name in summary.get("members", {}) or name in summary.get("events", {}) or \
                    any(key.startswith(f"{name}.") for key in summary.get("events", {})) or \
                    name in summary.get("init_fills", {}) or \
                    name in summary.get("row_fills", {}) or \
                    name in summary.get("parameter_fills", {}) or \
                    any(key.startswith(f"{name}.") for key in summary.get("self_fills", {})) or \
                    name in summary.get("evaluates", {}) or name in summary.get("modes", {}) or \
                    name in summary.get("schedulers", ()) or \
                    name in summary.get("plain_classes", ()) or \
                    name in summary.get("project_bases", {}) or \
                    any(key.startswith(f"{name}.") for key in summary.get("accumulates", {})) or \
                    any(key.startswith(f"{name}.") for key in summary.get("init_fills", {})):
                return summary, name
            exports = summary.get("exports", {})
            exported = exports.get(name) if name != "*" else None
            if exported is not None and hops < MAX_EXPORT_HOPS:
                found = self._resolve(exported, summary["path"], hops + 1)
                if found is not None:
                    return found
            if hops < MAX_EXPORT_HOPS and not name.startswith("_"):
                # A later star import shadows an earlier one, as at run time.
                for star in reversed(exports.get("*", ())):
                    found = self._resolve(f"{star}.{name}", summary["path"], hops + 1)
                    if found is not None:
                        return found
        return None

    def star_aliases(self, stars: Iterable[str], importer: str) -> dict[str, str]:
        """The library names a file's star imports of project modules bind in it
        (`from utils import *` binds the `nn` utils imported), a later star over an earlier."""
        aliases: dict[str, str] = {}
        for star in stars:
            for candidate in candidates(star, importer):
                summary = self._summary(candidate, importer)
                if summary is not None:
                    aliases.update(summary.get("aliases", {}))
                    break
        return aliases

    def receives_arguments(self, path: str) -> bool:
        return bool(self._callers) and receiver_key(path) in self._callers

    def incoming_arguments(self, module: str, name: str) -> dict[int | str, Value]:
        """What calls in other files pass to `name` (a function, or a class's constructor)
        defined in the file whose `receiver_key` is `module`, by position and by keyword."""
        slots: dict[int | str, Value] = {}
        for call in self._incoming.get((module, name), ()):
            for slot, data in call.items():
                key: int | str = slot[1:] if slot.startswith("=") else int(slot)
                slots[key] = slots.get(key, frozenset()) | self._resolve_references(data)
        return slots

    def _resolve_references(self, items: list[dict[str, Any]]) -> Value:
        """A caller's `Net()` was only a name when its file was summarised: now it is the
        class's summary (or what the function returns)."""
        tags: set[Tag] = set()
        for item in items:
            tag = _read_tag(item)
            if tag.kind == ELEMENTS and isinstance(item.get("info"), list):
                # A list of models (`[NeRF()]`, NeRF imported there): its references become the
                # models they name.
                tags.add(replace(tag, info=self._resolve_models(item["info"])))
                continue
            if tag.kind == TUPLE and isinstance(item.get("info"), list):
                # (coarse, fine) of models of a class of another file: each part as the list's
                tags.add(replace(tag, info=tuple(self._resolve_models(part)
                                                 for part in item["info"])))
                continue
            if tag.kind != REFERENCE:
                tags.add(tag)
                continue
            info = self.lookup_class(tag.detail, item["path"])
            if info is not None:
                tags.add(Tag(MODULE, None, info.name, info, tag.location))
                continue
            returned = self.lookup_function(tag.detail, item["path"])
            if returned is not None:
                tags |= returned
                continue
            found = self._resolve(tag.detail, item["path"])
            if found is not None and self.is_scheduler_class(tag.detail, item["path"]):
                tags.add(Tag(SCHEDULER, None, tag.detail, None, tag.location))
            if found is not None:
                # An instance of a plain class (a loss scaler, a trainer): its members and
                # what its methods do travel with it.
                tags.add(Tag(INSTANCE, None, tag.detail, self._class_members(*found),
                             tag.location))
        return frozenset(tags)

    def _resolve_models(self, items: list[dict[str, Any]]) -> Value:
        """What a list or tuple holds: its references to classes become the models they name;
        other references stay references, as a container keeps no more of them."""
        held: set[Tag] = set(self._resolve_references(
            [part for part in items if part.get("kind") != REFERENCE]))
        for part in items:
            if part.get("kind") == REFERENCE:
                models = {found for found in self._resolve_references([part])
                          if found.kind == MODULE}
                held |= models or {_read_tag(part)}
        return frozenset(held)

    def _summary(self, module: str, importer: str) -> dict[str, Any] | None:
        found = self.modules.get(module)
        if not found:
            return self._namespace_summary(module, importer) if "." in module else None
        directory = Path(importer).resolve().parent
        if "." not in module:
            # A file outside any package (`a/utils.py`) is imported by its bare name only from
            # its own folder: the folder of the script run (sys.path[0]), or the folder above
            # the importer's package (`python -m pkg.train` run there). `b/utils.py` is never
            # the `utils` of `a/train.py`.
            roots = {directory, self._import_root(importer)}
            found = [summary for summary in found if Path(summary["path"]).name == "__init__.py"
                     or self._import_root(summary["path"]) in roots]
            if not found:
                return None
        if len(found) > 1:  # prefer the file next to the importer
            for summary in found:
                if Path(summary["path"]).resolve().parent == directory:
                    return summary
        return found[0]

    def _namespace_summary(self, module: str, importer: str) -> dict[str, Any] | None:
        """`from include.model import model` where `include/` has no `__init__.py` (a namespace
        package, PEP 420): the file `include/model.py` (or `include/model/__init__.py`) under the
        folder the importer is run from or imported from, registered under its own shorter
        module name."""
        directory = Path(importer).resolve().parent
        key = (module, directory)
        if key not in self._namespace_modules:  # library modules (`torch.nn`) ask every time
            self._namespace_modules[key] = None
            relative = Path(*module.split("."))
            for root in dict.fromkeys((directory, self._import_root(importer))):
                for path in (root / relative.with_suffix(".py"), root / relative / "__init__.py"):
                    for summary in self.modules.get(module_name(str(path)), ()):
                        if Path(summary["path"]).resolve() == path:
                            self._namespace_modules[key] = summary
                            break
                    if self._namespace_modules[key] is not None:
                        return self._namespace_modules[key]
        return self._namespace_modules[key]

    def _import_root(self, path: str) -> Path:
        """The folder a file is imported from: its own, or the one above its package."""
        if path not in self._roots:
            directory = Path(path).resolve().parent
            while (directory / "__init__.py").exists() and directory != directory.parent:
                directory = directory.parent
            self._roots[path] = directory
        return self._roots[path]

    def lookup_class(self, qualified: str, importer: str) -> ModuleInfo | None:
        found = self._resolve(qualified, importer)
        if found is None or found[1] not in found[0]["classes"]:
            return None
        summary, name = found
        key = (summary["path"], name)
        if key not in self._classes:
            info = _read_module(summary["classes"][name], summary["path"])
            if key in self._reading:
                return info  # inside its own members: without them, and not kept
            members = self._class_members(summary, name)
            self._classes[key] = info if members is None else replace(info, members=members)
        if qualified.startswith(catalog.MODE_FREE_PACKAGES):
            return replace(self._classes[key], mode_dependent=False)
        return self._classes[key]

    def is_scheduler_class(self, qualified: str, importer: str, hops: int = 0) -> bool:
        """Whether `qualified`, as `importer` names it, is a class of the project derived from
        a library learning-rate scheduler, through classes of other files too."""
        found = self._resolve(qualified, importer)
        if found is None:
            return False
        summary, name = found
        if name in summary.get("schedulers", ()):
            return True
        return hops < MAX_EXPORT_HOPS and any(
            self.is_scheduler_class(base, summary["path"], hops + 1)
            for base in summary.get("project_bases", {}).get(name, ()))

    def lookup_members(self, qualified: str, importer: str) -> Members | None:
        """What instances of a plain class (no module) of another file hold."""
        found = self._resolve(qualified, importer)
        if found is None or found[1] in found[0]["classes"]:
            return None
        members = self._class_members(*found)
        if members is None and (found[1] in found[0].get("plain_classes", ()) or any(
                key.startswith(f"{found[1]}.") for key in found[0].get("events", {}))):
            # A class whose attributes hold nothing known (whose methods may train:
            # `Trainer(model, optimizer).step()`): its instances are still its own.
            return Members((), ())
        return members

    def is_plain_class(self, qualified: str, importer: str) -> bool:
        """Whether `qualified` names a class of another project file known to be no module:
        its file was summarised, and the class is a plain class there (a `forward` with no
        nn.Module behind it: `class BaseModel(ABC)`), or one whose members it records but
        that is no module class."""
        found = self._resolve(qualified, importer)
        if found is None:
            return False
        summary, name = found
        if name in summary["classes"]:
            return bool(summary["classes"][name].get("plain"))
        return name in summary.get("members", {})

    def _class_members(self, summary: dict[str, Any], name: str) -> Members | None:
        key = (summary["path"], name)
        data = summary.get("members", {}).get(name)
        if data is None and any(method.startswith(f"{name}.")
                                for method in summary.get("accumulates", {})):
            data = {"attributes": {}, "methods": {}}  # known for what its methods add up
        if data is None or key in self._reading:
            return None
        if key not in self._members:
            self._reading.add(key)
            try:
                def pairs(entries: dict[str, Any]) -> tuple[tuple[str, Value], ...]:
                    return tuple(sorted((member, self._resolve_references(items))
                                        for member, items in entries.items()))
                self._members[key] = Members(pairs(data["attributes"]), pairs(data["methods"]))
            finally:
                self._reading.discard(key)
        return self._members[key]

    def lookup_function(self, qualified: str, importer: str) -> Value | None:
        found = self._resolve(qualified, importer)
        if found is None or found[1] not in found[0]["functions"]:
            return None
        key = (found[0]["path"], found[1])
        if key in self._reading:  # functions that return each other's results
            return None
        # `return Net()` of a class imported there was only a name when it was summarised.
        self._reading.add(key)
        try:
            return self._resolve_references(found[0]["functions"][found[1]])
        finally:
            self._reading.discard(key)

    def lookup_events(self, qualified: str, importer: str) -> list[str]:
        """What a function of another file does to training state (SHARED_EVENTS kinds, in
        order), or nothing when it is not a summarised function of the project."""
        found = self._resolve(qualified, importer)
        if found is None:
            return []
        return [kind for kind in found[0].get("events", {}).get(found[1], ())
                if kind in SHARED_EVENTS]

    def lookup_method_events(self, qualified_class: str, method: str,
                             importer: str) -> list[str]:
        """What a method of a class of another file does to training state (`scaler(loss,
        optimizer)` runs `__call__`), as `lookup_events`."""
        found = self._resolve(qualified_class, importer)
        if found is None:
            return []
        return [kind for kind in found[0].get("events", {}).get(f"{found[1]}.{method}", ())
                if kind in SHARED_EVENTS]

    def lookup_init_fills(self, qualified: str, importer: str) -> set[tuple[str | None, str]]:
        """What a function of another file fills in place on the modules it receives, or, for
        a class, what its methods do (an `_init_weights` its subclasses inherit): (class an
        isinstance test names, or None; attribute)."""
        found = self._resolve(qualified, importer)
        if found is None:
            return set()
        summary, name = found
        return {(class_name or None, attribute)
                for key, fills in summary.get("init_fills", {}).items()
                if key == name or key.startswith(f"{name}.") for class_name, attribute in fills}

    def lookup_callable_fills(self, qualified: str, importer: str
                              ) -> tuple[frozenset[int], frozenset[str]]:
        """What a function of another file fills in place of what it is handed (positions
        of its positional parameters), or, for `Class.method` (`qualified` the class), of
        the parameters and the instance of that method; see `callable_fills`."""
        found = self._resolve(qualified, importer)
        if found is None:
            return frozenset(), frozenset()
        return self._callable_fills(*found)

    def lookup_method_fills(self, qualified_class: str, method: str, importer: str
                            ) -> tuple[frozenset[int], frozenset[str]]:
        """What a method of a class of another file fills in place: the positions of its
        parameters (without `self`) and the attributes of its instance."""
        found = self._resolve(qualified_class, importer)
        if found is None:
            return frozenset(), frozenset()
        return self._callable_fills(found[0], f"{found[1]}.{method}")

    @staticmethod
    def _callable_fills(summary: dict[str, Any], key: str
                        ) -> tuple[frozenset[int], frozenset[str]]:
        return (frozenset(summary.get("parameter_fills", {}).get(key, ())),
                frozenset(summary.get("self_fills", {}).get(key, ())))

    def applied_init_fills(self) -> frozenset[tuple[str | None, str]]:
        """What the hooks files of the project apply to their models (`model.apply(
        weights_init)`) fill on each submodule: (class, class pattern or None; attribute)."""
        return self._applied

    def lookup_row_fills(self, qualified: str, importer: str) -> set[tuple[int, int]]:
        """The rows a function of another file writes into a parameter, at the index another
        parameter gives: (position of the tensor, position of the index); see `RowFills`."""
        found = self._resolve(qualified, importer)
        if found is None:
            return set()
        summary, name = found
        return {(filled, index) for filled, index in summary.get("row_fills", {}).get(name, ())}

    def lookup_evaluations(self, qualified: str, importer: str
                           ) -> list[tuple[int, str, RelatedLocation]]:
        """The parameters a function of another file runs as a model without gradients: (its
        position, its name, where it runs it); see `evaluations.py`."""
        found = self._resolve(qualified, importer)
        if found is None:
            return []
        summary, name = found
        return [(entry["position"], entry["parameter"],
                 RelatedLocation(summary["path"], Span(*entry["span"]),
                                 f"`{name}` runs `{entry['parameter']}` here"))
                for entry in summary.get("evaluates", {}).get(name, ())]

    def lookup_mode_effects(self, qualified: str, importer: str
                            ) -> list[tuple[str, int, str, RelatedLocation]]:
        """What a function of another file does to the mode of the models it is handed:
        (parameter, position, "eval" | "train" | "evaluated", where: the switch, or the first
        forward pass), or nothing when it is not a summarised function of the project."""
        found = self._resolve(qualified, importer)
        if found is None:
            return []
        summary, name = found
        described = {"eval": "switched to eval mode here",
                     "train": "switched to training mode here",
                     "evaluated": "run here in the mode its caller left it"}
        return [(parameter, position, effect,
                 RelatedLocation(summary["path"], Span(*span), described[effect]))
                for parameter, position, effect, span in summary.get("modes", {}).get(name, ())
                if effect in described]

    def lookup_accumulations(self, qualified_class: str, method: str, importer: str
                             ) -> list[tuple[int, str]]:
        """The arguments a method of a class of another file adds into its instance's state
        (`AverageMeter.update`'s `val`): (position after `self`, parameter)."""
        found = self._resolve(qualified_class, importer)
        if found is None:
            return []
        summary, name = found
        return [(position, parameter) for position, parameter in
                summary.get("accumulates", {}).get(f"{name}.{method}", ())]

    def summarises_any(self, qualified_names: Iterable[str], importer: str) -> bool:
        """Whether an import of these names (`statement_imports`) reaches a module of the
        project that has a summary: what it defines may be half of a bug in the importer."""
        return any(self._summary(module, importer) is not None
                   for module in imported_modules(qualified_names, importer)
                   if not module.startswith(CALLERS))

    def dependency_digests(self, modules: Iterable[str], importer: str) -> dict[str, str | None]:
        """Digests of the summaries a file's result depends on: the modules it imports, and
        (CALLERS + its own module) what other files pass into its functions."""
        digests: dict[str, str | None] = {}
        for module in modules:
            if module.startswith(CALLERS):
                callers = self._callers.get(module[len(CALLERS):])
                digests[module] = callers if self._applied_digest is None else \
                    f"{callers}+{self._applied_digest}"
            else:
                digests[module] = digest(self._summary(module, importer))
        return digests


CALLERS = "<callers>"

# An import statement's head, read from the text before it is parsed (for the engine's cheap
# gate): `from .data import a, b` or `import a.b as c, d`. One line each: a parenthesised
# list's later lines are not read, but its module (`from .data import (`) is.
_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+([^#\n;]*)"
                     r"|import[ \t]+([^#\n;]+))", re.MULTILINE)


def statement_imports(text: str) -> list[str]:
    """The dotted names a file's import statements name (`data.image_files`, `.model.Net`,
    `torch.nn`), found in its text in one linear pass, without parsing it."""
    names: list[str] = []
    for found in _IMPORT.finditer(text):
        module, imported, plain = found.groups()
        if plain is not None:
            names.extend(part.split()[0] for part in plain.split(",") if part.split())
            continue
        separator = "" if module.endswith(".") else "."
        names.append(module)
        for part in imported.strip().strip("()\\").split(","):
            words = part.split()
            if words and words[0] != "*":
                names.append(f"{module}{separator}{words[0]}")
    return names


def imported_modules(qualified_names: Iterable[str], importer: str) -> list[str]:
    """Every module an import could name inside the project (whether or not it exists now),
    and the calls into this file from the others."""
    modules: set[str] = {CALLERS + receiver_key(importer)}
    for qualified in qualified_names:
        for candidate in candidates(qualified, importer):
            modules.add(candidate)
            if "." in candidate:
                modules.add(candidate.rpartition(".")[0])
    return sorted(modules)


