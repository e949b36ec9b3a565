"""The compiled block scanner (sse_doctor/sse/_blockscan.c): built where a compiler is,
and item for item the same as the pure-Python parser on any input."""

from __future__ import annotations

import shutil
import sysconfig

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sse_doctor.sse import parser as parser_module
from sse_doctor.sse.parser import SSEParser
from tests.support.sse_streams import LIMITS, SETTINGS, any_streams, chunkings, norm

needs_compiled = pytest.mark.skipif(
    not parser_module.COMPILED, reason="the compiled block scanner is not installed"
)


def test_the_install_built_the_scanner_where_a_compiler_exists():
    # setup.py marks the extension optional, so a broken build would pass silently and
    # leave every user on the slow path; this is where it shows.
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc}): the pure-Python path is expected")
    assert parser_module.COMPILED


def items(stream_chunks: list[bytes], compiled: bool, limits=(parser_module.DEFAULT_MAX_DATA,
                                                               None)) -> tuple[list, str]:
    p = SSEParser(*limits, compiled=compiled)
    out = []
    for i, chunk in enumerate(stream_chunks):
        out += [(norm(item), item.t) for item in p.feed(chunk, t=float(i))]
    out += [(norm(item), item.t) for item in p.close(t=-1.0)]
    return out, p.last_event_id


@needs_compiled
@SETTINGS
@given(data=st.data(), stream=any_streams, limits=st.sampled_from(LIMITS))
def test_compiled_and_pure_paths_give_the_same_items(data, stream, limits):
    chunks = data.draw(chunkings(stream))
    assert items(chunks, True, limits) == items(chunks, False, limits)


@needs_compiled
@pytest.mark.parametrize(
    "stream",
    [
        # More data lines (and comments) in one block than the scanner records.
        b"".join(b"data: %d\n" % i for i in range(200)) + b"\n",
        b"".join(b": %d\n" % i for i in range(100)) + b"data: x\n\n",
        # Two id lines (the first one not UTF-8), NUL in an id, a retry, an unknown field.
        b"id: \xff\nid: 2\ndata: x\n\n",
        b"id: a\x00b\ndata: x\n\nid: 3\ndata: y\n\n",
        b"retry: 10\ndata: x\n\n",
        b"Data: x\ndata: y\n\n",
        # Invalid UTF-8 in each kind of value, data over the cap, empty values.
        b":\xff\n\nevent: \xfe\ndata: x\n\ndata: a\ndata: \xc3\n\n",
        b"data: " + b"y" * 70000 + b"\n\n",
        b"id:\nevent:\ndata:\n\n\n\n\nid\n\nevent\n\n",
    ],
)
def test_blocks_the_scanner_hands_back_give_the_same_items(stream):
    for cut in (len(stream), 1, 7, len(stream) // 2):
        chunks = [stream[:cut], stream[cut:]]
        assert items(chunks, True) == items(chunks, False)


@needs_compiled
def test_scan_blocks_stops_at_a_block_for_the_line_loop_and_checks_its_arguments():
    from _sse_doctor_blockscan import scan_blocks

    from sse_doctor.sse.parser import Comment, Event

    def scan(buf, start=0, end=None, last_id="", retry=None):
        out = []
        pos, lid = scan_blocks(buf, start, len(buf) if end is None else end, 10, last_id,
                               retry, 1.5, out)
        return pos, lid, out

    assert scan(b"") == (0, "", [])
    assert scan(b"\n\n\n", 2) == (3, "", [])
    assert scan(b"data: x\n\n", retry=300) == (
        9, "", [Event("message", "x", "", 300, 1.5, False, 1)])
    assert scan(b": hi\nid: 7\n\ndata: y\n\n", last_id="6") == (
        21, "7", [Comment(" hi", 1.5), Event("message", "y", "7", None, 1.5, False, 1)])
    # Stops at the retry block (its start), keeping what came before.
    buf = b"event: a\ndata: x\n\n\nretry: 1\ndata: z\n\nid: 9\n\n"
    assert scan(buf) == (19, "", [Event("a", "x", "", None, 1.5, False, 1)])
    # Data over max_data (10 here) and invalid UTF-8 are left to the line loop too.
    assert scan(b"data: 0123456789a\n\n")[:2] == (0, "")
    assert scan(b": ok\ndata: \xff\n\n") == (0, "", [])
    for args in [(b"data: x\n", 0, 8), (b"data: x\n\n", 0, 99), (b"data: x\n\n", -1, 9),
                 (b"data: x\n\n", 5, 2), (b"data: x\n\n", 0, 8)]:
        with pytest.raises(ValueError):
            scan_blocks(*args, 10, "", None, 0.0, [])
    with pytest.raises(TypeError):
        scan_blocks("data: x\n\n", 0, 9, 10, "", None, 0.0, [])
    with pytest.raises(TypeError):
        scan_blocks(b"data: x\n\n", 0, 9, 10)


@needs_compiled
def test_lf_lines_makes_every_line_end_lf_in_one_pass():
    from _sse_doctor_blockscan import lf_lines

    chunk = b"a\n"
    assert lf_lines(chunk) is chunk
    for raw in [b"", b"\r", b"\r\n", b"\n\r", b"\r\r\n\n", b"a\rb\r\nc\nd\r", b"\r" * 5,
                b"x" * 100 + b"\r\n" + b"\xff\r"]:
        assert lf_lines(raw) == raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    with pytest.raises(TypeError):
        lf_lines("a\r")


@needs_compiled
def test_a_cap_larger_than_any_buffer_is_no_cap():
    for compiled in (True, False):
        (event,) = SSEParser(max_data=2**70, compiled=compiled).feed(b"data: x\n\n")
        assert event.data == "x"


@needs_compiled
def test_bind_refuses_classes_it_cannot_fill_safely():
    import dataclasses

    import _sse_doctor_blockscan as scanner

    from sse_doctor.sse.parser import Comment, Event

    scanner.bind(Event, Comment)  # the same classes again: fine

    @dataclasses.dataclass(slots=True)
    class Other:
        type: str
        data: str
        id: str
        retry: int
        t: float
        truncated: bool
        size: int

    with pytest.raises(RuntimeError, match="already bound"):
        scanner.bind(Other, Comment)  # a reload of the parser: it then runs pure Python


def test_compiled_can_be_turned_off_and_required():
    assert SSEParser(compiled=False)._scan is None
    if parser_module.COMPILED:
        assert SSEParser(compiled=True)._scan is not None
    else:
        with pytest.raises(RuntimeError):
            SSEParser(compiled=True)
