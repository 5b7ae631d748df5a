"""The frame reader on arbitrary bytes: it always ends, and finds the valid frame after the junk."""

from __future__ import annotations

import asyncio
import io

import pytest

pytest.importorskip("pygls")
hypothesis = pytest.importorskip("hypothesis")

from hypothesis import given, settings, strategies as st  # noqa: E402

from dllint.lsp_stream import FrameReader, encode_frame  # noqa: E402

BODY = b'{"jsonrpc": "2.0", "id": 1, "method": "shutdown"}'
SECOND = b'{"jsonrpc": "2.0", "id": 2, "method": "shutdown"}'
PIECES = [b"\r\n", b"\n", b"\r", b"\r\n\r\n", b"Content-Length:", b"content-length: ", b"abc",
          b"12", b"-1", b" ", b":", b"{", b"}", b"X-Header: 1\r\n", b"\x00", b"\xff"]


def bodies(data: bytes) -> tuple[list[bytes], list[str]]:
    stream = io.BytesIO(data)
    reports: list[str] = []

    async def readline() -> bytes:
        return stream.readline()

    async def read(n: int) -> bytes:
        return stream.read(n)

    async def collect() -> list[bytes]:
        reader = FrameReader(readline, read, reports.append)
        found = []
        while (body := await reader.next_body()) is not None:
            found.append(body)
        return found

    return asyncio.run(collect()), reports


junk = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=8)), max_size=12).map(b"".join)


@settings(max_examples=500, deadline=None, database=None)
@given(junk)
def test_a_valid_frame_after_any_junk_is_read(prefix):
    """Junk can spoil at most the frame it runs into (its last lines may merge into that frame's
    header block); the frame after that is always read."""
    found, reports = bodies(prefix + encode_frame({"jsonrpc": "2.0", "id": 1, "method": "shutdown"})
                            + encode_frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
    if b"\n\r\n" not in prefix and b"\n\n" not in prefix:  # no header block ends in the junk
        assert found[-1] == SECOND and len(found) <= 2
        assert found == [BODY, SECOND] or reports


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=200) | junk)
def test_any_bytes_are_read_to_the_end(data):
    bodies(data)


def test_a_stray_length_in_the_junk_before_a_frame_does_not_hide_it():
    found, reports = bodies(b"Content-Length: 3" + encode_frame({"jsonrpc": "2.0"}))
    assert found == [b'{"jsonrpc": "2.0"}']
    assert reports == ["skipped a message with a header line that is not 'Name: value': "
                       "'Content-Length: 3'"]


def test_a_body_cut_short_by_the_end_of_input_ends_the_stream():
    assert bodies(b"Content-Length: 50\r\n\r\n{}") == ([], [])
