"""Property tests for the SSE parser: chunking invariance, robustness, and agreement
with a small str-level reference implementation written from the spec text."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sse_doctor.sse.parser import (
    DEFAULT_MAX_DATA,
    Comment,
    Diagnostic,
    Event,
    Retry,
    SSEParser,
)

# Every test runs on each parser path (conftest.parser_path).
pytestmark = pytest.mark.usefixtures("parser_path")


SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# (max_data, max_line): the default, and small caps so truncation and over-long
# lines happen often (including max_line < max_data).
LIMITS = [(DEFAULT_MAX_DATA, None), (16, 32), (8, 12), (40, 20)]

# --------------------------------------------------------------------------- streams

VALUE_CHARS = st.sampled_from(list("abc xyz09:é東😀\x00\ufeff"))
INVALID = st.sampled_from([b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xef\xbb\xbf"])


@st.composite
def values(draw, invalid: bool) -> bytes:
    text = draw(st.text(VALUE_CHARS, max_size=30)).encode()
    if invalid and draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(INVALID) + text[at:]
    return text


@st.composite
def lines(draw, invalid: bool) -> bytes:
    kind = draw(st.integers(0, 9))
    if kind <= 1:
        return b""  # blank line
    if kind == 2:
        return b":" + draw(values(invalid))  # comment
    if kind == 3:
        return b"retry:" + draw(st.sampled_from([b" ", b"", b"  "])) + draw(
            st.one_of(st.integers(0, 10**6).map(lambda n: str(n).encode()), values(invalid))
        )
    name = draw(
        st.sampled_from(
            [b"data", b"data", b"data", b"event", b"id", b"Data", b"evnt", b"", b"data "]
        )
    )
    sep = draw(st.sampled_from([b": ", b": ", b":", b":  ", b""]))
    value = draw(values(invalid)) if sep else b""
    return name + sep + value


@st.composite
def event_blocks(draw, invalid: bool) -> list[bytes]:
    """An event as servers usually write it (the parser's fast path), with variations."""
    out = []
    if draw(st.integers(0, 4)) == 0:
        out.append(b":" + draw(values(invalid)))
    if draw(st.booleans()):
        out.append(b"id: " + draw(values(invalid)))
    if draw(st.booleans()):
        out.append(b"event:" + draw(st.sampled_from([b" ", b""])) + draw(values(invalid)))
    if draw(st.integers(0, 4)) == 0:
        out.append(b"id:" + draw(values(invalid)))  # event-then-id order, or empty id
    for i in range(draw(st.integers(1, 3))):
        sep = draw(st.sampled_from([b": ", b": ", b":"] if i == 0 else [b": ", b": ", b":"]))
        out.append(b"data" + sep + draw(values(invalid)))
    if draw(st.integers(0, 5)) == 0:
        out.append(draw(lines(invalid)))  # something after the data lines
    out.append(b"")  # the blank line
    return out


@st.composite
def streams(draw, invalid: bool = True) -> bytes:
    groups = draw(
        st.lists(st.one_of(event_blocks(invalid), st.lists(lines(invalid), max_size=4)))
    )
    body = [line for group in groups for line in group]
    eols = st.sampled_from([b"\n", b"\n", b"\r", b"\r\n"])
    out = b"".join(line + draw(eols) for line in body)
    if draw(st.booleans()):
        out = b"\xef\xbb\xbf" * draw(st.integers(1, 2)) + out
    if draw(st.booleans()):
        out += draw(lines(invalid))  # a trailing line without line end
    return out


any_streams = st.one_of(streams(), st.binary(max_size=300))


@st.composite
def chunkings(draw, stream: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    bounds = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in zip(bounds, bounds[1:])]


# --------------------------------------------------------------------------- helpers


def norm(item):
    """An item without its timestamp."""
    if isinstance(item, Event):
        return ("event", item.type, item.data, item.id, item.retry, item.truncated, item.size)
    if isinstance(item, Comment):
        return ("comment", item.text)
    if isinstance(item, Retry):
        return ("retry", item.ms)
    if isinstance(item, Diagnostic):
        return ("diag", item.kind, item.detail)
    raise AssertionError(f"unexpected item {item!r}")


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
