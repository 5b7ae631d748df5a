"""The shape of JSON that dllint reads but does not control: notebooks, its cache, baselines.

A shape is declared once, as data (`Record`, `ListOf`, `MapOf`, `OneOf`, ...), next to the code
that reads the value, and `problem(value, shape)` walks the value against it and names the
first place that does not fit (`cells[3].source[0] must be a string, not an integer`). Code that
reads a value after it passed can index it without guarding every access, so a file of the
wrong shape is reported (or, for a cache, thrown away) in one place instead of crashing
wherever the reader happens to look first.

The walk recurses once per level of the value, so a caller that feeds it JSON nested deeper than
its shape meant must expect `RecursionError`, as from `json.loads` itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping


def json_type(value: Any) -> str:
    """`value`'s JSON type, as a message names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class Shape:
    description = "a value"

    def admits(self, value: Any) -> bool:
        """Whether `value` is of the right JSON type at the top (its contents may still be wrong):
        `OneOf` uses it to say which alternative a value was meant to be."""
        return True

    def problem(self, value: Any, where: str) -> str | None:
        """The first place in `value` that does not fit this shape, or None."""
        if not self.admits(value):
            return f"{_place(where)} must be {self.description}, not {json_type(value)}"
        return None


class _Object(Shape):
    """A JSON object: its members are for the subclass to check."""

    description = "an object"

    def admits(self, value: Any) -> bool:
        return isinstance(value, dict)


@dataclass(frozen=True)
class Scalar(Shape):
    """One JSON scalar type (never a boolean for an integer: Python's bool is an int)."""

    kind: type
    description: str

    def admits(self, value: Any) -> bool:
        return isinstance(value, self.kind) and (self.kind is bool or not isinstance(value, bool))


@dataclass(frozen=True)
class Choice(Shape):
    """One of a few fixed values."""

    values: tuple[Any, ...]

    @property
    def description(self) -> str:  # type: ignore[override]
        if len(self.values) == 1:
            return repr(self.values[0])
        return "one of " + ", ".join(repr(value) for value in self.values)

    def admits(self, value: Any) -> bool:
        return any(type(value) is type(choice) and value == choice for choice in self.values)

    def problem(self, value: Any, where: str) -> str | None:
        if not self.admits(value):
            return f"{_place(where)} must be {self.description}, not {value!r}"
        return None


@dataclass(frozen=True)
class Anything(Shape):
    """Free-form content dllint passes through without reading (outputs, user metadata)."""


@dataclass(frozen=True)
class ListOf(Shape):
    item: Shape
    length: int | None = None

    @property
    def description(self) -> str:  # type: ignore[override]
        size = f"{self.length} " if self.length is not None else ""
        return f"a list of {size}{_plural(self.item.description)}"

    def admits(self, value: Any) -> bool:
        return isinstance(value, list)

    def problem(self, value: Any, where: str) -> str | None:
        if not self.admits(value) or (self.length is not None and len(value) != self.length):
            return f"{_place(where)} must be {self.description}, not " + (
                f"{len(value)} of them" if isinstance(value, list) else json_type(value))
        for index, item in enumerate(value):
            found = self.item.problem(item, f"{where}[{index}]")
            if found is not None:
                return found
        return None


@dataclass(frozen=True)
class MapOf(_Object):
    """An object used as a dictionary: any keys (matching `key` when given), one value shape."""

    value: Shape
    key: str | None = None  # a regular expression every key must match in full

    def problem(self, value: Any, where: str) -> str | None:
        found = super().problem(value, where)
        if found is not None:
            return found
        for key, item in value.items():
            if self.key is not None and re.fullmatch(self.key, key) is None:
                return f"{_place(where)} has a key {key!r} that is not allowed there"
            found = self.value.problem(item, _member(where, key))
            if found is not None:
                return found
        return None


@dataclass(frozen=True)
class Record(_Object):
    """An object with known fields; fields it does not name are allowed and not looked at."""

    fields: Mapping[str, Shape]
    required: frozenset[str] = field(default_factory=frozenset)

    def problem(self, value: Any, where: str) -> str | None:
        found = super().problem(value, where)
        if found is not None:
            return found
        for name in self.fields:
            if name not in value:
                if name in self.required:
                    return f"{_member(where, name)} is missing"
                continue
            found = self.fields[name].problem(value[name], _member(where, name))
            if found is not None:
                return found
        return None


@dataclass(frozen=True)
class OneOf(Shape):
    options: tuple[Shape, ...]

    @property
    def description(self) -> str:  # type: ignore[override]
        names = [option.description for option in self.options]
        return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]

    def admits(self, value: Any) -> bool:
        return any(option.admits(value) for option in self.options)

    def problem(self, value: Any, where: str) -> str | None:
        meant = [option for option in self.options if option.admits(value)]
        if not meant:
            return f"{_place(where)} must be {self.description}, not {json_type(value)}"
        problems = [option.problem(value, where) for option in meant]
        if any(found is None for found in problems):
            return None
        return problems[0]


@dataclass(frozen=True)
class ByField(_Object):
    """An object whose shape depends on the value of one of its fields (a tagged union)."""

    name: str
    cases: Mapping[Any, Shape]
    otherwise: Shape

    def problem(self, value: Any, where: str) -> str | None:
        found = super().problem(value, where)
        if found is not None:
            return found
        tag = value.get(self.name)
        case = self.cases.get(tag, self.otherwise) if isinstance(tag, str) else self.otherwise
        return case.problem(value, where)


@dataclass(frozen=True)
class Later(Shape):
    """A shape defined further down, for a shape that contains itself."""

    resolve: Callable[[], Shape]

    @property
    def description(self) -> str:  # type: ignore[override]
        return self.resolve().description

    def admits(self, value: Any) -> bool:
        return self.resolve().admits(value)

    def problem(self, value: Any, where: str) -> str | None:
        return self.resolve().problem(value, where)


TEXT = Scalar(str, "a string")
INTEGER = Scalar(int, "an integer")
BOOLEAN = Scalar(bool, "a boolean")
NULL = Scalar(type(None), "null")
ANYTHING = Anything()


def problem(value: Any, shape: Shape) -> str | None:
    """Where `value` first departs from `shape` (`cells[2].source must be ...`), or None."""
    return shape.problem(value, "")


def _place(where: str) -> str:
    return where or "the document"


def _member(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _plural(description: str) -> str:
    for article in ("an ", "a "):
        if description.startswith(article):
            return description[len(article):] + "s"
    return description
