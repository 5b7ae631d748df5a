"""The work a cold run saves, counted rather than timed: the walk reads only the fields that may
hold a node, DL004 never rebuilds a tree with libcst's `visit`, and a project index asks the
file system for an importer's module name once."""

from __future__ import annotations

import dataclasses
import textwrap

import libcst as cst

from dllint import walk
from dllint.api import lint_source
from dllint.registry import lookup
from dllint.semantic import project
from dllint.semantic.project import ProjectIndex, summarise

# Every kind of statement and expression whose fields mix nodes, tokens and plain values.
EVERY_FORM = textwrap.dedent('''
    from __future__ import annotations
    import os.path as osp, sys
    from .pkg import (a as b, c)
    from mod import *

    @decorator(arg, *args, key=value, **kwargs)
    async def function(x: int, /, y: "str" = 1, *rest: float, z=2, **others) -> list[int]:
        global g
        nonlocal_value: dict[str, int] = {"a": 1, **other}
        async with lock as held, other():
            async for item in stream:
                await item
        try:
            raise ValueError("no") from error
        except* (TypeError, KeyError) as group:
            pass
        finally:
            del x[0], y.z
        return [i async for i in values if i if not i] or {k: v for k, v in items} or (yield)

    class Net(Base, metaclass=Meta):
        """Doc."""
        attribute: int
        def forward(self, x):
            assert x is not None, "message"
            x += 1; y = x if x else -x; z = lambda a, *b, c=1: a @ b
            match x:
                case [1, *rest] | {"key": value, **others} if rest:
                    pass
                case Point(x=0, y=_) as point:
                    pass
                case _:
                    pass
            while (n := len(x)) > 0 and not done or x[1:2:3, ...]:
                break
            else:
                continue
            print(f"{x!r:>{width}} {y=}", b"bytes" b"joined", 1_000j, .5, 0x1F, ~x, x ** -y)
            return {1, 2}, (3,), [*x], x < y <= z != w in v not in u is t is not s
    type Alias[T: int, *Ts, **P] = list[T]
    def generic[T](x: T) -> T: ...
''')


def _all_node_fields(node: cst.CSTNode) -> list[cst.CSTNode]:
    """What `walk.children` did before it knew which fields may hold a node: every field."""
    found = []
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        for item in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(item, cst.CSTNode) and not isinstance(item, walk._TOKEN_TYPES):
                found.append(item)
    return found


def test_the_walk_reads_only_fields_that_may_hold_a_node_and_finds_the_same_children():
    module = cst.parse_module(EVERY_FORM)
    stack: list[cst.CSTNode] = [module]
    types = set()
    while stack:
        node = stack.pop()
        types.add(type(node))
        expected = _all_node_fields(node)
        assert [id(child) for child in walk.children(node)] == \
            [id(child) for child in expected], type(node).__name__
        stack.extend(expected)
    assert len(types) > 90  # the sample reaches most node types
    skipped = sum(len(dataclasses.fields(t)) - len(walk._fields(t)) for t in types)
    kept = sum(len(walk._fields(t)) for t in types)
    assert skipped > kept  # whitespace, brackets, commas, operators and plain values


def test_dl004_never_rebuilds_the_tree_with_libcst_visit(monkeypatch):
    visited = []
    real_visit = cst.Module.visit
    monkeypatch.setattr(cst.Module, "visit",
                        lambda self, visitor: visited.append(visitor) or real_visit(self, visitor))
    examples = lookup("DL004").INVALID
    for example in examples:
        findings = lint_source(textwrap.dedent(example.code).lstrip("\n"), "example.py",
                               select=["DL004"])
        assert example.line in [d.line for d in findings if d.code == "DL004"]
    # Positions are still resolved by libcst's metadata (a batched visit), for findings only.
    ours = [visitor for visitor in visited if type(visitor).__module__.startswith("dllint")]
    assert len(examples) > 10 and ours == []


def test_an_index_asks_for_an_importers_module_name_once(tmp_path, monkeypatch):
    model = "from torch import nn\n\nclass Net(nn.Module):\n    pass\n"
    (tmp_path / "model.py").write_text(model)
    index = ProjectIndex.from_summaries([summarise(str(tmp_path / "model.py"), model)])
    asked = []
    real = project.module_name
    monkeypatch.setattr(project, "module_name", lambda path: asked.append(path) or real(path))
    importer = str(tmp_path / "train.py")
    for _ in range(50):
        assert index.lookup_class("model.Net", importer) is not None
    assert asked.count(importer) == 1
