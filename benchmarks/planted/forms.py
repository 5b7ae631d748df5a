"""Seeds and the operators that move their producer into the forms real code takes.

An operator takes a `Seed` and returns a `Variant` (the files of one folder) or `None` when the
seed's tree does not have the structure the operator needs (`method` needs the producer in a
method, `wrap-*` needs it in a torch module the program instantiates, ...). Operators work on
the marked producer expression only; nothing here knows a seed by name.

The producer expression is the largest expression on the `# PRODUCER` line that is not an
assignment target (`F.softmax(logits, dim=1)` in `return F.softmax(logits, dim=1)`). Moving
it out of its scope turns each name it reads from that scope into a parameter: a local name
(`logits`), or a chain of attributes rooted at one (`self.model` in
`self.model.parameters()` becomes `model`); names bound at module level (imports, classes,
functions) and builtins stay as they are.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

SEEDS = Path(__file__).parent / "seeds"
HEADER = re.compile(r"#\s*planted:\s*rule=(DL\d{3})\s+framework=(\w+)")
MARK = re.compile(r"#.*\b(PRODUCER|BUG)\b")  # `# PRODUCER`, `# BUG`, `# PRODUCER BUG`
PROGRAM = "train.py"  # the name every variant gives the seed's program
HELPERS = "helpers"  # the module the other-file operators move the producer into
BUILTIN_NAMES = frozenset(dir(builtins))
HELPER_NAMES = ("head", "compute", "produce", "make_value")


@dataclass(frozen=True)
class Seed:
    name: str  # the file's stem
    rule: str
    framework: str
    text: str


@dataclass(frozen=True)
class Variant:
    """One folder to lint: file name to text (a notebook's text is its JSON)."""

    seed: Seed
    operator: str
    files: dict[str, str] = field(hash=False)

    def marked(self) -> set[tuple[str, int | None, int]]:
        """(file name, notebook cell or None, line) of every line carrying a marker."""
        places: set[tuple[str, int | None, int]] = set()
        for name, text in self.files.items():
            if name.endswith(".ipynb"):
                for cell, source in enumerate(notebook_cells(text), start=1):
                    places.update((name, cell, line) for line in _marked_lines(source))
            else:
                places.update((name, None, line) for line in _marked_lines(text))
        return places

    def python_sources(self) -> dict[str, str]:
        """Each file as Python source (a notebook's code cells joined), to compile or search."""
        return {name: "\n".join(notebook_cells(text)) if name.endswith(".ipynb") else text
                for name, text in self.files.items()}


def _marked_lines(text: str) -> Iterator[int]:
    for number, line in enumerate(text.split("\n"), start=1):
        if MARK.search(line):
            yield number


def notebook_cells(text: str) -> list[str]:
    """The sources of a notebook's cells, every cell counted as Jupyter numbers them."""
    return ["".join(cell["source"]) if cell["cell_type"] == "code" else ""
            for cell in json.loads(text)["cells"]]


def load_seeds(folder: Path = SEEDS) -> list[Seed]:
    seeds = []
    for path in sorted(folder.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        header = HEADER.match(text)
        if header is None:
            raise ValueError(f"{path}: the first line must be `# planted: rule=DLnnn framework=x`")
        seeds.append(Seed(path.stem, header.group(1), header.group(2), text))
    return seeds


# --- the producer and its surroundings -------------------------------------------------------

class Program:
    """A seed's parsed tree with what the operators ask of it."""

    def __init__(self, text: str) -> None:
        self.module = cst.parse_module(text)
        wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
        self.positions = wrapper.resolve(PositionProvider)
        self.parents = wrapper.resolve(ParentNodeProvider)
        self.producer = self._find_producer(text)
        self.module_names = _module_bindings(self.module)
        self.imported = _imported_names(self.module)

    def _find_producer(self, text: str) -> cst.BaseExpression:
        lines = [number for number, line in enumerate(text.split("\n"), start=1)
                 if "# PRODUCER" in line]
        if len(lines) != 1:
            raise ValueError(f"a seed needs exactly one `# PRODUCER` line, found {len(lines)}")
        line = lines[0]
        candidates = [node for node, span in self.positions.items()
                      if isinstance(node, cst.BaseExpression) and span.start.line == line
                      and span.end.line >= line and not self._in_target(node)]
        # the largest expression that starts on the line: the statement's value, the element
        outermost = [node for node in candidates if not any(
            isinstance(self.parents.get(node), cst.BaseExpression)
            and self.parents.get(node) is other for other in candidates)]
        return max(outermost, key=lambda node: len(self.module.code_for_node(node)))

    def _in_target(self, node: cst.CSTNode) -> bool:
        child, parent = node, self.parents.get(node)
        while parent is not None:
            if isinstance(parent, cst.AssignTarget) or (
                    isinstance(parent, (cst.AugAssign, cst.AnnAssign)) and parent.target is child) \
                    or (isinstance(parent, (cst.For, cst.CompFor)) and parent.target is child):
                return True
            if isinstance(parent, cst.BaseStatement):
                return False
            child, parent = parent, self.parents.get(parent)
        return False

    def enclosing(self, kind: type[cst.CSTNode], node: cst.CSTNode | None = None) -> list:
        """The nodes of `kind` around the producer (or `node`), innermost first."""
        found, current = [], self.parents.get(node or self.producer)
        while current is not None:
            if isinstance(current, kind):
                found.append(current)
            current = self.parents.get(current)
        return found

    def statement(self) -> cst.BaseStatement:
        """The statement holding the producer."""
        current = self.parents.get(self.producer)
        while not isinstance(current, cst.BaseStatement):
            current = self.parents.get(current)
        return current

    def top_statement(self) -> cst.BaseStatement:
        current = self.producer
        while self.parents.get(current) is not self.module:
            current = self.parents.get(current)
        return current

    def method(self) -> tuple[cst.ClassDef, cst.FunctionDef] | None:
        """The class and method the producer sits in directly (`self` first), if any."""
        functions = self.enclosing(cst.FunctionDef)
        if not functions:
            return None
        function = functions[0]
        owner = self.parents.get(self.parents.get(function))  # FunctionDef -> IndentedBlock -> ?
        params = function.params.params
        if isinstance(owner, cst.ClassDef) and params and params[0].name.value == "self":
            return owner, function
        return None

    def fresh_name(self) -> str:
        used = {node.value for node in self.positions if isinstance(node, cst.Name)}
        candidates = (*HELPER_NAMES, *(f"{HELPER_NAMES[0]}_{count}" for count in range(2, 100)))
        return next(name for name in candidates if name not in used)

    def import_statements(self) -> list[cst.SimpleStatementLine]:
        return [statement for statement in self.module.body
                if isinstance(statement, cst.SimpleStatementLine)
                and all(isinstance(small, (cst.Import, cst.ImportFrom))
                        for small in statement.body)]

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)


def _module_bindings(module: cst.Module) -> set[str]:
    names: set[str] = set(_imported_names(module))
    for statement in module.body:
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            names.add(statement.name.value)
        elif isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Assign):
                    for target in small.targets:
                        if isinstance(target.target, cst.Name):
                            names.add(target.target.value)
    return names


def _imported_names(module: cst.Module) -> set[str]:
    names: set[str] = set()
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(
                    small.names, cst.ImportStar):
                for alias in small.names:
                    if alias.asname is not None:
                        names.add(alias.asname.name.value)
                    else:
                        names.add(cst.Module([]).code_for_node(alias.name).split(".")[0])
    return names


class _NonReferences(cst.CSTVisitor):
    """Names that are not reads: attribute names, keywords, names bound inside the expression."""

    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.bound: set[str] = set()

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.ids.add(id(node.attr))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self.ids.add(id(node.keyword))

    def visit_Param(self, node: cst.Param) -> None:
        self.bound.add(node.name.value)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        for name in _target_names(node.target):
            self.bound.add(name)


def _target_names(target: cst.BaseExpression) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _target_names(element.value)


def _root(node: cst.BaseExpression) -> cst.Name | None:
    while isinstance(node, cst.Attribute):
        node = node.value
    return node if isinstance(node, cst.Name) else None


class _Holes(cst.CSTTransformer):
    """Replaces every read of the producer's scope with a parameter (see the module docstring)."""

    def __init__(self, kept: set[str], non_references: _NonReferences) -> None:
        super().__init__()
        self.kept = kept | BUILTIN_NAMES | non_references.bound
        self.non_references = non_references.ids
        self.receivers: set[int] = set()  # `x.method` of `x.method(...)`: only `x` is a hole
        self.parameters: dict[str, str] = {}  # the hole's code -> its parameter
        self.arguments: list[cst.BaseExpression] = []  # the holes, in order, as written

    def _is_hole(self, node: cst.CSTNode) -> bool:
        if not isinstance(node, (cst.Name, cst.Attribute)) or id(node) in self.non_references \
                or id(node) in self.receivers:
            return False
        root = _root(node)
        return root is not None and root.value not in self.kept

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Attribute):
            self.receivers.add(id(node.func))

    def on_visit(self, node: cst.CSTNode) -> bool:
        super().on_visit(node)
        return not self._is_hole(node)

    def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode) -> cst.CSTNode:
        if not self._is_hole(original):
            return super().on_leave(original, updated)
        code = cst.Module([]).code_for_node(original)
        if code not in self.parameters:
            base = original.value if isinstance(original, cst.Name) else original.attr.value
            base = "module" if base == "self" else base
            name, count = base, 2
            while name in self.parameters.values() or name in self.kept:
                name, count = f"{base}_{count}", count + 1
            self.parameters[code] = name
            self.arguments.append(original)
        return cst.Name(self.parameters[code])


@dataclass
class Extraction:
    """The producer with its reads turned into parameters."""

    body: str  # the expression, over the parameters
    parameters: list[str]
    arguments: list[str]  # what the call site passes, in the producer's own words

    def call(self, callee: str) -> cst.BaseExpression:
        return cst.parse_expression(f"{callee}({', '.join(self.arguments)})")


def extract(program: Program, kept: set[str]) -> Extraction:
    references = _NonReferences()
    program.producer.visit(references)
    holes = _Holes(kept, references)
    body = program.producer.visit(holes)
    return Extraction(cst.Module([]).code_for_node(body), list(holes.parameters.values()),
                      [cst.Module([]).code_for_node(node) for node in holes.arguments])


def function_def(name: str, parameters: list[str], body: str, *,
                 blank_lines: int) -> cst.FunctionDef:
    definition = cst.parse_statement(
        f"def {name}({', '.join(parameters)}):\n    return {body}  # PRODUCER (moved)\n")
    return definition.with_changes(leading_lines=[cst.EmptyLine(indent=False)] * blank_lines)


def after_imports(module: cst.Module) -> int:
    """Where module-level code after the imports starts (after a docstring, too)."""
    index = 0
    for index, statement in enumerate(module.body):
        if not (isinstance(statement, cst.SimpleStatementLine) and all(
                isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body)):
            return index
    return len(module.body)


class _Replace(cst.CSTTransformer):
    """Replaces nodes by identity, and appends statements to blocks by identity."""

    def __init__(self, replacements: dict[int, cst.CSTNode],
                 appended: dict[int, list[cst.BaseStatement]] | None = None,
                 inserted_after: dict[int, list[cst.BaseStatement]] | None = None,
                 inserted_before: dict[int, list[cst.BaseStatement]] | None = None) -> None:
        super().__init__()
        self.replacements = replacements
        self.appended = appended or {}
        self.after = inserted_after or {}
        self.before = inserted_before or {}

    def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode):
        updated = super().on_leave(original, updated)
        if id(original) in self.replacements:
            return self.replacements[id(original)]
        if isinstance(updated, cst.IndentedBlock) and id(original) in self.appended:
            updated = updated.with_changes(body=[*updated.body, *self.appended[id(original)]])
        if isinstance(updated, (cst.IndentedBlock, cst.Module)):
            body: list[cst.BaseStatement] = []
            for old, new in zip(original.body, updated.body):
                body.extend(self.before.get(id(old), []))
                body.append(new)
                body.extend(self.after.get(id(old), []))
            body.extend(updated.body[len(original.body):])
            updated = updated.with_changes(body=body)
        return updated


def rewrite(program: Program, **changes) -> str:
    return program.module.visit(_Replace(**changes)).code


def with_module_statements(code: str, statements: list[str], *, imports: list[str] = ()) -> str:
    """`code` with `imports` added after its imports and `statements` after those."""
    module = cst.parse_module(code)
    index = after_imports(module)
    new_imports = [cst.parse_statement(line + "\n") for line in imports
                   if line not in code.split("\n")]
    definitions = [cst.parse_statement(text).with_changes(
        leading_lines=[cst.EmptyLine(), cst.EmptyLine()]) for text in statements]
    body = [*module.body[:index], *new_imports, *definitions, *module.body[index:]]
    if definitions and index < len(module.body):
        body[index + len(new_imports) + len(definitions)] = module.body[index].with_changes(
            leading_lines=[cst.EmptyLine(), cst.EmptyLine()])
    return module.with_changes(body=body).code


# --- the operators -----------------------------------------------------------------------------

Operator = Callable[[Seed], "dict[str, str] | None"]
OPERATORS: dict[str, Operator] = {}


def operator(name: str) -> Callable[[Operator], Operator]:
    def register(function: Operator) -> Operator:
        OPERATORS[name] = function
        return function
    return register


def apply(seed: Seed, name: str) -> Variant | None:
    files = OPERATORS[name](seed)
    return None if files is None else Variant(seed, name, files)


@operator("inline")
def inline(seed: Seed) -> dict[str, str]:
    return {PROGRAM: seed.text}


def _module_helper(program: Program) -> tuple[str, Extraction, str]:
    """The producer as a module-level function: (its name, the extraction, the new program)."""
    name = program.fresh_name()
    extraction = extract(program, program.module_names)
    helper = function_def(name, extraction.parameters, extraction.body, blank_lines=2)
    index = after_imports(program.module)
    text = rewrite(program, replacements={id(program.producer): extraction.call(name)},
                   inserted_before={id(program.module.body[index]): [helper]})
    return name, extraction, text


@operator("helper")
def helper(seed: Seed) -> dict[str, str]:
    """The producer moves into a module-level function: `head(logits)`."""
    return {PROGRAM: _module_helper(Program(seed.text))[2]}


@operator("method")
def method(seed: Seed) -> dict[str, str] | None:
    """The producer moves into a method of its class: `self._head(logits)`."""
    program = Program(seed.text)
    found = program.method()
    if found is None:
        return None
    _, function = found
    name = "_" + program.fresh_name()
    extraction = extract(program, program.module_names | {"self"})
    definition = function_def(name, ["self", *extraction.parameters], extraction.body,
                              blank_lines=1)
    return {PROGRAM: rewrite(program, replacements={
        id(program.producer): extraction.call(f"self.{name}")},
        inserted_after={id(function): [definition]})}


def _helpers_module(program: Program, name: str, extraction: Extraction) -> str | None:
    """A sibling module holding the producer, with the program's imports; None when the
    producer reads a name the program itself defines (it would have to be imported back)."""
    if _names_read(cst.parse_expression(extraction.body)) - program.imported - BUILTIN_NAMES \
            - set(extraction.parameters):
        return None
    imports = "".join(program.code(statement) for statement in program.import_statements())
    definition = function_def(name, extraction.parameters, extraction.body, blank_lines=2)
    return imports.lstrip("\n") + cst.Module([definition]).code


def _other_file(seed: Seed, import_line: Callable[[str], str],
                callee: Callable[[str], str]) -> dict[str, str] | None:
    program = Program(seed.text)
    name = program.fresh_name()
    extraction = extract(program, program.module_names)
    helpers = _helpers_module(program, name, extraction)
    if helpers is None:
        return None
    text = rewrite(program, replacements={id(program.producer): extraction.call(callee(name))})
    return {PROGRAM: with_module_statements(text, [], imports=[import_line(name)]),
            f"{HELPERS}.py": helpers}


def _names_read(expression: cst.BaseExpression) -> set[str]:
    references = _NonReferences()
    expression.visit(references)

    class Reads(cst.CSTVisitor):
        def __init__(self) -> None:
            self.names: set[str] = set()

        def visit_Name(self, node: cst.Name) -> None:
            if id(node) not in references.ids and node.value not in references.bound:
                self.names.add(node.value)

    reads = Reads()
    expression.visit(reads)
    return reads.names


@operator("other-file-from")
def other_file_from(seed: Seed) -> dict[str, str] | None:
    """The producer moves into helpers.py: `from helpers import head`."""
    return _other_file(seed, lambda name: f"from {HELPERS} import {name}", lambda name: name)


@operator("other-file-module")
def other_file_module(seed: Seed) -> dict[str, str] | None:
    """The producer moves into helpers.py: `import helpers` ... `helpers.head(logits)`."""
    return _other_file(seed, lambda name: f"import {HELPERS}",
                       lambda name: f"{HELPERS}.{name}")


@operator("star-import")
def star_import(seed: Seed) -> dict[str, str] | None:
    """The producer moves into helpers.py: `from helpers import *`."""
    return _other_file(seed, lambda name: f"from {HELPERS} import *", lambda name: name)


@operator("closure")
def closure(seed: Seed) -> dict[str, str] | None:
    """The producer moves into a function nested right before its statement, reading the
    enclosing function's locals: `def head(): return F.softmax(logits, dim=1)`."""
    program = Program(seed.text)
    if not program.enclosing(cst.FunctionDef):
        return None
    name = program.fresh_name()
    statement = program.statement()
    nested = function_def(name, [], program.code(program.producer).strip(), blank_lines=0)
    return {PROGRAM: rewrite(program, replacements={
        id(program.producer): cst.parse_expression(f"{name}()")},
        inserted_before={id(statement): [nested]})}


@operator("instance-attribute")
def instance_attribute(seed: Seed) -> dict[str, str] | None:
    """A module-level helper is stored as `self._head` in `__init__` and called from the
    method the producer was in."""
    program = Program(seed.text)
    found = program.method()
    if found is None or found[1].name.value == "__init__":
        return None
    owner, _ = found
    init = next((statement for statement in owner.body.body
                 if isinstance(statement, cst.FunctionDef)
                 and statement.name.value == "__init__"), None)
    if init is None or not isinstance(init.body, cst.IndentedBlock):
        return None
    name = program.fresh_name()
    extraction = extract(program, program.module_names)
    helper_function = function_def(name, extraction.parameters, extraction.body, blank_lines=2)
    index = after_imports(program.module)
    store = cst.parse_statement(f"self._{name} = {name}\n")
    return {PROGRAM: rewrite(program, replacements={
        id(program.producer): extraction.call(f"self._{name}")},
        inserted_before={id(program.module.body[index]): [helper_function]},
        appended={id(init.body): [store]})}


@operator("lambda")
def lambda_(seed: Seed) -> dict[str, str]:
    """The producer becomes a module-level lambda: `head = lambda logits: F.softmax(...)`."""
    program = Program(seed.text)
    name = program.fresh_name()
    extraction = extract(program, program.module_names)
    definition = cst.parse_statement(
        f"{name} = lambda {', '.join(extraction.parameters)}: {extraction.body}"
        f"  # PRODUCER (moved)\n").with_changes(leading_lines=[cst.EmptyLine()] * 2)
    index = after_imports(program.module)
    return {PROGRAM: rewrite(program, replacements={
        id(program.producer): extraction.call(name)},
        inserted_before={id(program.module.body[index]): [definition]})}


@operator("partial")
def partial(seed: Seed) -> dict[str, str] | None:
    """A library call's constant keywords are bound by `functools.partial` at module level:
    `head = functools.partial(F.softmax, dim=1)` ... `head(logits)`."""
    program = Program(seed.text)
    call = program.producer
    if not isinstance(call, cst.Call):
        return None
    root = _root(call.func)
    if root is None or root.value not in program.imported:
        return None
    bound = [arg for arg in call.args if arg.keyword is not None
             and not (_names_read(arg.value) - program.imported - BUILTIN_NAMES)]
    if not bound:
        return None
    name = program.fresh_name()
    keywords = ", ".join(program.code(arg).strip().rstrip(",") for arg in bound)
    definition = f"{name} = functools.partial({program.code(call.func)}, {keywords})" \
                 "  # PRODUCER (moved)\n"
    rest = [arg for arg in call.args if arg not in bound]
    if rest:
        rest[-1] = rest[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    text = rewrite(program, replacements={id(call): call.with_changes(
        func=cst.Name(name), args=rest)})
    return {PROGRAM: with_module_statements(text, [definition], imports=["import functools"])}


def _instantiated_module(program: Program) -> list[cst.Call]:
    """Where the program builds the torch module whose forward holds the producer: `Net(...)`.
    A wrapper changes how the model's output is reached, so only a producer in `forward`
    (or `__call__`) is concerned."""
    found = program.method()
    if found is None or found[1].name.value not in ("forward", "__call__") \
            or "torch" not in program.imported:
        return []
    owner = found[0]
    if not any("Module" in program.code(base.value) for base in owner.bases):
        return []
    return [node for node in program.positions if isinstance(node, cst.Call)
            and isinstance(node.func, cst.Name) and node.func.value == owner.name.value
            and isinstance(program.parents.get(node), cst.Assign)]


def _wrapper(seed: Seed, wrap: str) -> dict[str, str] | None:
    program = Program(seed.text)
    builds = _instantiated_module(program)
    if not builds:
        return None
    replacements = {id(build): cst.parse_expression(f"{wrap}({program.code(build)})")
                    for build in builds}
    return {PROGRAM: with_module_statements(rewrite(program, replacements=replacements), [],
                                            imports=["import torch"])}


@operator("wrap-sequential")
def wrap_sequential(seed: Seed) -> dict[str, str] | None:
    """The model holding the producer is built inside `torch.nn.Sequential(Net(...))`."""
    return _wrapper(seed, "torch.nn.Sequential")


@operator("wrap-compile")
def wrap_compile(seed: Seed) -> dict[str, str] | None:
    """The model holding the producer is built as `torch.compile(Net(...))`."""
    return _wrapper(seed, "torch.compile")


@operator("wrap-dataparallel")
def wrap_dataparallel(seed: Seed) -> dict[str, str] | None:
    """The model holding the producer is built as `torch.nn.DataParallel(Net(...))`."""
    return _wrapper(seed, "torch.nn.DataParallel")


def to_notebook(text: str) -> str:
    """The program as a notebook: a title cell, the imports in one cell, then one cell per
    top-level statement (so a module-level producer sits in a cell of its own)."""
    module = cst.parse_module(text)
    index = after_imports(module)
    sources = [cst.Module(module.body[:index], header=module.header).code.strip("\n")]
    sources += [cst.Module([statement.with_changes(leading_lines=[])]).code.strip("\n")
                for statement in module.body[index:]]
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# Training\n"]}]
    for source in sources:
        lines = source.split("\n")
        cells.append({"cell_type": "code", "execution_count": None, "metadata": {},
                      "outputs": [],
                      "source": [line + "\n" for line in lines[:-1]] + [lines[-1]]})
    notebook = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                            "language": "python"},
                             "language_info": {"name": "python"}}}
    return json.dumps(notebook, indent=1)


@operator("notebook")
def notebook(seed: Seed) -> dict[str, str]:
    """The program as a notebook, one cell per top-level statement."""
    return {"train.ipynb": to_notebook(seed.text)}


@operator("notebook-helper")
def notebook_helper(seed: Seed) -> dict[str, str]:
    """The producer moves into a module-level function, in a notebook cell of its own."""
    return {"train.ipynb": to_notebook(_module_helper(Program(seed.text))[2])}


def variants(seeds: list[Seed], operators: list[str]) -> Iterator[tuple[Seed, str,
                                                                         Variant | None]]:
    for seed in seeds:
        for name in operators:
            yield seed, name, apply(seed, name)
