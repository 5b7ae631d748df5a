"""Reading and decoding source files, turning every kind of bad input into one diagnostic."""

from __future__ import annotations

import hashlib
import io
import os
import tokenize
from dataclasses import dataclass

from dllint.engine_codes import BINARY_FILE, DECODE_ERROR, FILE_TOO_LARGE, IO_ERROR, EngineCode
from dllint.types import Diagnostic, Span

DEFAULT_MAX_FILE_SIZE = 5 * 1024 * 1024


@dataclass(frozen=True)
class SourceText:
    path: str
    text: str
    encoding: str  # "utf-8-sig" when the file starts with a BOM, so writing back keeps it
    raw: bytes


def content_hash(data: bytes) -> str:
    """The key of a file's results in the cache: BLAKE2 of its bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def file_diagnostic(entry: EngineCode, path: str, message: str,
                    span: Span = Span.point(1)) -> Diagnostic:
    return Diagnostic(entry.code, entry.name, message, entry.severity, path, span)


def decode_source(data: bytes, path: str) -> SourceText | Diagnostic:
    if b"\0" in data:
        return file_diagnostic(BINARY_FILE, path, "File contains NUL bytes; it is not Python source")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        if "unknown encoding" in str(error.msg) or "encoding problem" in str(error.msg):
            return file_diagnostic(DECODE_ERROR, path, f"Cannot decode file: {error.msg}")
        encoding = "utf-8"  # no usable cookie and the first lines are not UTF-8: say where
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return file_diagnostic(
            DECODE_ERROR, path,
            f"File is not valid {encoding}: byte 0x{data[error.start]:02x} at offset {error.start}",
            Span.point(line))
    return SourceText(path, text, encoding, data)


def read_bytes(path: str, max_size: int = DEFAULT_MAX_FILE_SIZE) -> bytes | Diagnostic:
    try:
        size = os.stat(path).st_size
        if size > max_size:
            return file_diagnostic(
                FILE_TOO_LARGE, path,
                f"File is {size / 1048576:.1f} MiB, over max-file-size "
                f"({max_size / 1048576:.1f} MiB); skipped")
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        return file_diagnostic(IO_ERROR, path, f"Cannot read file: {error.strerror or error}")


def read_source(path: str, max_size: int = DEFAULT_MAX_FILE_SIZE) -> SourceText | Diagnostic:
    data = read_bytes(path, max_size)
    return data if isinstance(data, Diagnostic) else decode_source(data, path)
