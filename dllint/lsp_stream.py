"""The language server's input: LSP base-protocol frames read so that no byte sequence wedges it.

pygls's own reader keeps waiting for a `Content-Length` that a malformed header block never
gives, and from then on reads every following body glued to the next header, so the server
never answers again; a request whose params do not fit its method gets no response at all.

Here a frame without a valid `Content-Length` is skipped and reported, and reading resumes at
the next frame: the skipped frame's body, of unknown length, runs into the next frame's header,
so a line that ends with a `Content-Length:` header starts the next frame. A JSON body cannot
end a line that way (the text would be inside a string, where a raw line break is not allowed).
Consecutive frames with no `Content-Length` header at all are therefore skipped as one. A body
that is not a valid JSON-RPC message gets an error response when it has an id, and is reported
otherwise.
"""

from __future__ import annotations

import json
import re
from typing import Any, Awaitable, Callable

from cattrs import transform_error
from cattrs.errors import BaseValidationError
from pygls.exceptions import JsonRpcException
from pygls.protocol import JsonRPCProtocol

# Larger frames are refused before reading them: a client's typo in Content-Length must not make
# the server allocate gigabytes. An LSP message carrying a whole Python file is far smaller.
MAX_FRAME_BYTES = 64 * 1024 * 1024
# JSON-RPC 2.0 error codes.
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # an HTTP header field name
_HEADER = re.compile(rb"(" + _TOKEN + rb"):[ \t]*(.*?)[ \t]*\r?\n")
# The last `Content-Length:` header that ends a line (the junk before it may hold another).
_FRAME_START = re.compile(rb"Content-Length:(?:(?!Content-Length:)[^\r\n])*\r?\n\Z",
                          re.IGNORECASE)

Report = Callable[[str], None]


def _shown(data: bytes, limit: int = 40) -> str:
    text = repr(data[:limit])[2:-1]
    return text + ("..." if len(data) > limit else "")


class FrameReader:
    """Bodies of the frames on a stream; a frame that cannot be read is reported and skipped."""

    def __init__(self, readline: Callable[[], Awaitable[bytes]],
                 read: Callable[[int], Awaitable[bytes]], report: Report) -> None:
        self.readline = readline
        self.read = read
        self.report = report
        self.resyncing = False  # skipping the rest of a bad frame, up to the next frame's header

    async def next_body(self) -> bytes | None:
        """The next frame's body, or None at the end of the input."""
        while True:
            headers = await self._header_block()
            if headers is None:
                return None
            length, problem = _content_length(headers)
            if problem is None:
                body = await self.read(length)
                return body if len(body) == length else None  # the input ended inside the body
            self.report(f"skipped a message {problem}")
            self.resyncing = True

    async def _header_block(self) -> list[tuple[bytes, bytes]] | None:
        """The header fields of the next frame, up to the empty line that ends them."""
        headers: list[tuple[bytes, bytes]] = []
        while True:
            line = await self.readline()
            if not line:
                return None
            start = _FRAME_START.search(line)
            junk_before_a_frame = start is not None and start.start() > 0  # `abcContent-Length:`
            header = None if self.resyncing or junk_before_a_frame else _HEADER.fullmatch(line)
            if header is None and line.strip():
                if not self.resyncing:
                    junk = line[:start.start()] if start else line
                    self.report("skipped a message with a header line that is not 'Name: value': "
                                f"'{_shown(junk)}'")
                if start is None:
                    headers, self.resyncing = [], True
                    continue
                header = _HEADER.fullmatch(start.group())
                headers, self.resyncing = [], False
            if header is not None:
                headers.append((header.group(1), header.group(2)))
            elif headers:
                return headers
            # else: an empty line between frames, which carries nothing


def _content_length(headers: list[tuple[bytes, bytes]]) -> tuple[int, str | None]:
    values = [value for name, value in headers if name.lower() == b"content-length"]
    if not values:
        return 0, "without a Content-Length header"
    if len(values) > 1:
        return 0, "with more than one Content-Length header"
    if not re.fullmatch(rb"[0-9]+", values[0]):
        return 0, f"with an invalid Content-Length: '{_shown(values[0])}'"
    length = int(values[0])
    if length > MAX_FRAME_BYTES:
        return 0, f"of {length} bytes, over the limit of {MAX_FRAME_BYTES}"
    return length, None


def encode_frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def deliver(body: bytes, protocol: JsonRPCProtocol, report: Report,
            answer: Callable[[bytes], None]) -> None:
    """Hand one body to pygls. What it cannot handle gets an error response when it has an id
    (a request), and is reported otherwise, since a notification has no response."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        report(f"skipped a message that is not JSON: {error}")
        return
    except RecursionError:
        report("skipped a message nested too deeply to read")
        return

    def refuse(code: int, text: str) -> None:
        if isinstance(data, dict) and "id" in data:
            msg_id = data["id"]
            valid_id = isinstance(msg_id, (int, str)) and not isinstance(msg_id, bool)
            answer(encode_frame({"jsonrpc": JsonRPCProtocol.VERSION,
                                 "id": msg_id if valid_id else None,
                                 "error": {"code": code, "message": f"dllint: {text}"}}))
        else:
            report(text)

    if not isinstance(data, dict) or data.get("jsonrpc") != JsonRPCProtocol.VERSION:
        refuse(INVALID_REQUEST, "skipped a message that is not a JSON-RPC 2.0 object")
        return
    method = data.get("method")
    if method is None and "id" in data and ("result" in data or "error" in data):
        name = "a response"  # to a request of the server's
    elif isinstance(method, str):
        name = method
    else:
        refuse(INVALID_REQUEST, "skipped a message with neither a method name nor a result")
        return
    try:
        message = protocol.structure_message(data)
    except JsonRpcException as error:
        # Answered here, with what is wrong, rather than in pygls, which only logs a traceback
        # and sends no response.
        cause = error.__cause__
        problems = transform_error(cause, path="$") if isinstance(cause, BaseValidationError) \
            else [str(cause or error)]
        refuse(INVALID_PARAMS, f"ignored {name}: {'; '.join(problems)}")
        return
    protocol.handle_message(message)
