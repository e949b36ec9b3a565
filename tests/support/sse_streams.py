"""Hypothesis strategies for event streams (as servers write them, with variations and
invalid bytes), the ways to cut them into chunks, and parser items without their timestamps:
shared by the parser's property tests and the block scanner's agreement tests."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from sse_doctor.sse.parser import DEFAULT_MAX_DATA, Comment, Diagnostic, Event, Retry

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
