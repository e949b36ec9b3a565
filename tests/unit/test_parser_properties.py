"""Property tests for the SSE parser: chunking invariance, robustness, and agreement
with a small str-level reference implementation written from the spec text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sse_doctor.sse.parser import (
    DEFAULT_MAX_DATA,
    Comment,
    Diagnostic,
    Event,
    Retry,
    SSEParser,
)
from tests.support.sse_streams import LIMITS, SETTINGS, any_streams, chunkings, norm, streams

# Every test runs on each parser path (conftest.parser_path).
pytestmark = pytest.mark.usefixtures("parser_path")


def parse(chunks: list[bytes], max_data: int = DEFAULT_MAX_DATA, max_line=None) -> list:
    return parse_with_id(chunks, max_data, max_line)[0]


def parse_with_id(chunks: list[bytes], max_data=DEFAULT_MAX_DATA, max_line=None):
    """Items (without timestamps) and the parser's last_event_id after close()."""
    p = SSEParser(max_data=max_data, max_line=max_line)
    items = []
    for i, chunk in enumerate(chunks):
        items += p.feed(chunk, t=float(i))
    items += p.close(t=-1.0)
    return [norm(i) for i in items], p.last_event_id


# --------------------------------------------------------------------------- properties


@SETTINGS
@given(data=st.data(), stream=any_streams, limits=st.sampled_from(LIMITS))
def test_chunking_does_not_change_the_result(data, stream, limits):
    whole = parse_with_id([stream], *limits)
    assert parse_with_id(data.draw(chunkings(stream)), *limits) == whole
    assert parse_with_id([stream[i : i + 1] for i in range(len(stream))], *limits) == whole


@SETTINGS
@given(data=st.data(), stream=st.binary(max_size=2000), limits=st.sampled_from(LIMITS))
def test_arbitrary_bytes_never_raise(data, stream, limits):
    p = SSEParser(*limits)
    for chunk in data.draw(chunkings(stream)):
        for item in p.feed(chunk):
            assert isinstance(item, (Event, Comment, Retry, Diagnostic))
    p.close()
    assert len(p._buf) <= p.max_line


def reference(stream: str) -> tuple[list, str]:
    """The spec, transcribed at str level: decode, strip one BOM, split lines,
    interpret; a last line without line end is discarded with any pending event.
    Returns the items and the last event ID string."""
    if stream.startswith("\ufeff"):
        stream = stream[1:]
    out = []
    data, etype, last_id, retry = "", "", "", None
    last_id_string = ""
    for line in re.split(r"\r\n|\r|\n", stream)[:-1]:
        if line == "":
            last_id_string = last_id
            if data == "":
                etype = ""
                continue
            if data.endswith("\n"):
                data = data[:-1]
            out.append(("event", etype or "message", data, last_id, retry))
            data, etype = "", ""
            continue
        if line.startswith(":"):
            out.append(("comment", line[1:]))
            continue
        if ":" in line:
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
        else:
            name, value = line, ""
        if name == "event":
            etype = value
        elif name == "data":
            data += value + "\n"
        elif name == "id":
            if "\x00" not in value:
                last_id = value
        elif name == "retry":
            if value and all(c in "0123456789" for c in value):
                retry = int(value)
                out.append(("retry", retry))
    return out, last_id_string


def without_diagnostics(items: list) -> list:
    return [i[:5] if i[0] == "event" else i for i in items if i[0] != "diag"]


@SETTINGS
@given(
    data=st.data(),
    stream=st.one_of(
        streams(invalid=False),
        st.text(max_size=200).map(str.encode),
        st.text(st.sampled_from(list("data:evntirycm \r\n\x00é")), max_size=200).map(str.encode),
    ),
)
def test_agrees_with_reference_implementation(data, stream):
    expected, expected_id = reference(stream.decode())
    for chunks in ([stream], data.draw(chunkings(stream))):
        items, last_event_id = parse_with_id(chunks)
        assert without_diagnostics(items) == expected
        assert last_event_id == expected_id
