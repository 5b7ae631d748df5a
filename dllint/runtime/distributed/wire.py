"""What crosses the job's store: plain typed data, sealed with the run's key.

The store is a TCP key-value server, and whatever reaches its port can write a key. So nothing
read back from it is unpickled or otherwise executed:

- a value travels as JSON of plain types (numbers, strings, lists, objects), written from a
  dataclass and read back against the dataclass the reader expects; a value of any other shape
  is refused;
- each value is sealed with an HMAC-SHA256 over its key and its body, under a secret that only the
  launcher and its ranks hold (`DLLINT_TRACE_SECRET` in their environment), so a value written by
  anyone else, or moved from another key, is refused before its body is parsed.

Without a secret (inside a user's own torchrun that sets none) values are still typed JSON, never
code; they are just not authenticated.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import hmac
import json
import os
import types
import typing
from collections.abc import Mapping
from typing import Any

SCHEMA = b"dllint-store/1"
SECRET_VARIABLE = "DLLINT_TRACE_SECRET"
UNSEALED = b"-"


class Refused(ValueError):
    """A value read from the store that is not one this run wrote."""


def secret_from_environment(environ: Mapping[str, str] = os.environ) -> bytes | None:
    """The run's key: hex as the launcher writes it, any other text as its UTF-8 bytes."""
    text = environ.get(SECRET_VARIABLE, "")
    if not text:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return text.encode("utf-8", "surrogateescape")


def _mac(secret: bytes, key: str, body: bytes) -> bytes:
    return hmac.new(secret, key.encode("utf-8") + b"\0" + body, hashlib.sha256).hexdigest().encode()


def seal(key: str, value: Any, secret: bytes | None) -> bytes:
    body = json.dumps(to_plain(value), separators=(",", ":")).encode("utf-8")
    mac = _mac(secret, key, body) if secret is not None else UNSEALED
    return SCHEMA + b" " + mac + b"\n" + body


def unseal(key: str, data: bytes, kind: Any, secret: bytes | None) -> Any:
    """The value under `key`, of type `kind`; `Refused` says why it is not trusted."""
    header, newline, body = data.partition(b"\n")
    schema, _, mac = header.partition(b" ")
    if not newline or schema != SCHEMA:
        raise Refused("it is not a dllint value (no dllint-store/1 header)")
    if secret is not None and not hmac.compare_digest(mac, _mac(secret, key, body)):
        raise Refused("its seal does not match this run's key: another process wrote it")
    try:
        plain = json.loads(body)
    except (ValueError, RecursionError):
        raise Refused("its body is not valid JSON") from None
    return from_plain(plain, kind)


def to_plain(value: Any) -> Any:
    """Dataclasses, enums, tuples and int-keyed dicts as JSON-ready values."""
    if isinstance(value, enum.Enum):  # before str: some enums are also strings
        return value.value
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_plain(getattr(value, field.name))
                for field in dataclasses.fields(value) if field.init}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, Mapping):
        plain = {}
        for item_key, item in value.items():
            if not isinstance(item_key, (str, int)) or isinstance(item_key, bool):
                raise TypeError(f"a key of type {type(item_key).__name__} cannot be stored")
            plain[str(item_key)] = to_plain(item)
        return plain
    raise TypeError(f"a value of type {type(value).__name__} cannot be stored")


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _refuse(expected: str, data: Any) -> Refused:
    return Refused(f"expected {expected}, found {type(data).__name__}")


def from_plain(data: Any, kind: Any) -> Any:
    """`data` (as JSON parses it) read as a value of `kind`, or `Refused`."""
    if kind is Any:
        return data
    if kind is None or kind is type(None):
        if data is not None:
            raise _refuse("null", data)
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        choices = typing.get_args(kind)
        if data is None and type(None) in choices:
            return None
        reasons = []
        for choice in choices:
            if choice is type(None):
                continue
            try:
                return from_plain(data, choice)
            except Refused as why:
                reasons.append(str(why))
        raise Refused(" or ".join(reasons))
    if kind is bool:
        if not isinstance(data, bool):
            raise _refuse("a boolean", data)
        return data
    if kind is int:
        if not isinstance(data, int) or isinstance(data, bool):
            raise _refuse("an integer", data)
        return data
    if kind is float:
        if not isinstance(data, (int, float)) or isinstance(data, bool):
            raise _refuse("a number", data)
        return float(data)
    if kind is str:
        if not isinstance(data, str):
            raise _refuse("a string", data)
        return data
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(data)
        except ValueError:
            raise Refused(f"{data!r} is not a {kind.__name__}") from None
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _dataclass_from_plain(data, kind)
    arguments = typing.get_args(kind)
    if origin is list:
        if not isinstance(data, list):
            raise _refuse("a list", data)
        return [from_plain(item, arguments[0]) for item in data]
    if origin is tuple:
        if not isinstance(data, list):
            raise _refuse("a list", data)
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return tuple(from_plain(item, arguments[0]) for item in data)
        if len(data) != len(arguments):
            raise Refused(f"expected {len(arguments)} items, found {len(data)}")
        return tuple(from_plain(item, item_kind) for item, item_kind in zip(data, arguments))
    if origin in (dict, Mapping):
        if not isinstance(data, dict):
            raise _refuse("an object", data)
        key_kind, value_kind = arguments
        return {_key(item_key, key_kind): from_plain(item, value_kind)
                for item_key, item in data.items()}
    raise TypeError(f"no wire form for {kind!r}")  # a dllint bug: a field of an unsupported type


def _key(text: str, kind: Any) -> Any:
    if kind is str:
        return text
    if kind is int and text.lstrip("-").isdigit() and len(text) < 20:
        return int(text)
    raise Refused(f"{text!r} is not a key of type {getattr(kind, '__name__', kind)}")


def _dataclass_from_plain(data: Any, cls: type) -> Any:
    if not isinstance(data, dict):
        raise _refuse(f"a {cls.__name__} object", data)
    fields = {field.name: field for field in dataclasses.fields(cls) if field.init}
    unknown = set(data) - set(fields)
    if unknown:
        raise Refused(f"{cls.__name__} has no field {sorted(unknown)[0]!r}")
    hints = _field_types(cls)
    values = {}
    for name, field in fields.items():
        if name in data:
            try:
                values[name] = from_plain(data[name], hints[name])
            except Refused as why:
                raise Refused(f"{cls.__name__}.{name}: {why}") from None
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise Refused(f"{cls.__name__}.{name} is missing")
    try:
        return cls(**values)
    except (TypeError, ValueError) as why:  # a dataclass that validates its fields
        raise Refused(f"{cls.__name__}: {why}") from None
