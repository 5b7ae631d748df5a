"""Reading and decoding source files, turning every kind of bad input into one diagnostic."""

from __future__ import annotations

import codecs
import hashlib
import io
import os
import stat
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
    # A cookie may name any registered codec, and bytes-to-bytes ones (rot13, hex, zlib) refuse
    # `bytes.decode`; CPython refuses them too ("encoding problem").
    if not codecs.lookup(encoding)._is_text_encoding:
        return file_diagnostic(
            DECODE_ERROR, path,
            f"Cannot decode file: its coding cookie names {encoding!r}, which is not a text "
            f"encoding")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return file_diagnostic(
            DECODE_ERROR, path,
            f"File is not valid {encoding}: byte 0x{data[error.start]:02x} at offset {error.start}",
            Span.point(line))
    except UnicodeError as error:  # a codec that fails without a position (punycode, undefined)
        return file_diagnostic(DECODE_ERROR, path,
                               f"Cannot decode file as {encoding}: {error}")
    return SourceText(path, text, encoding, data)


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def not_regular_file(path: str, mode: int) -> Diagnostic:
    return file_diagnostic(IO_ERROR, path, f"Not a regular file: {_file_kind(mode)}; not read")


# Opening a FIFO for reading waits for a writer; without blocking, the open returns at once and
# the type check below refuses it. (O_NONBLOCK does not change reads of a regular file.)
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
    | getattr(os, "O_BINARY", 0)


def read_bytes(path: str, max_size: int = DEFAULT_MAX_FILE_SIZE) -> bytes | Diagnostic:
    """The bytes of the regular file at `path` (symbolic links followed), or the diagnostic that
    says why they were not read: FIFOs, devices and sockets are refused before they are opened
    (reading one could hang or never end), and a file over `max_size` is never read whole."""
    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):
            return not_regular_file(path, status.st_mode)
        if status.st_size > max_size:
            return _too_large(path, status.st_size, max_size)
        descriptor = os.open(path, _OPEN_FLAGS)
        with open(descriptor, "rb") as handle:
            status = os.fstat(descriptor)  # the path may have been replaced since the stat
            if not stat.S_ISREG(status.st_mode):
                return not_regular_file(path, status.st_mode)
            data = handle.read(max_size + 1)  # it may have grown since
    except OSError as error:
        return file_diagnostic(IO_ERROR, path, f"Cannot read file: {error.strerror or error}")
    if len(data) > max_size:
        return _too_large(path, len(data), max_size)
    return data


def _too_large(path: str, size: int, max_size: int) -> Diagnostic:
    return file_diagnostic(
        FILE_TOO_LARGE, path,
        f"File is {size / 1048576:.1f} MiB, over max-file-size "
        f"({max_size / 1048576:.1f} MiB); skipped")


def read_source(path: str, max_size: int = DEFAULT_MAX_FILE_SIZE) -> SourceText | Diagnostic:
    data = read_bytes(path, max_size)
    if isinstance(data, Diagnostic):
        return data
    return decode_source(data, path)
