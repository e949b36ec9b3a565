"""Unit tests for the byte-level SSE parser (WHATWG HTML 9.2.5 / 9.2.6)."""

from __future__ import annotations

import pytest

from sse_doctor.sse.parser import (
    DEFAULT_MAX_DATA,
    DIAG_BAD_RETRY,
    DIAG_DISCARDED_EVENT,
    DIAG_IGNORED_FIELD,
    DIAG_INVALID_UTF8,
    DIAG_LINE_TOO_LONG,
    DIAG_NUL_IN_ID,
    DIAG_TRUNCATED,
    Comment,
    Diagnostic,
    Event,
    Retry,
    SSEParser,
)

# Every test runs on each parser path (conftest.parser_path).
pytestmark = pytest.mark.usefixtures("parser_path")


def run(*chunks: bytes, close: bool = True, **kwargs) -> list:
    p = SSEParser(**kwargs)
    items = []
    for chunk in chunks:
        items += p.feed(chunk)
    if close:
        items += p.close()
    return items


def events(items: list) -> list[Event]:
    return [i for i in items if isinstance(i, Event)]


def kinds(items: list) -> list[str]:
    return [i.kind for i in items if isinstance(i, Diagnostic)]


def ev(data: str, type: str = "message", id: str = "", retry: int | None = None, **kw) -> Event:
    size = kw.pop("size", len(data.encode()))
    return Event(type, data, id, retry, kw.pop("t", 0.0), kw.pop("truncated", False), size)


def bytewise(stream: bytes) -> list[bytes]:
    return [stream[i : i + 1] for i in range(len(stream))]


# --------------------------------------------------------------------------- spec examples


def test_spec_example_yhoo_three_data_lines():
    assert run(b"data: YHOO\ndata: +2\ndata: 10\n\n") == [ev("YHOO\n+2\n10")]


def test_spec_example_test_stream_with_ids():
    # The stream ends without a blank line after the third event: it is not dispatched.
    stream = (
        b": test stream\n\n"
        b"data: first event\nid: 1\n\n"
        b"data:second event\nid\n\n"
        b"data:  third event\n"
    )
    items = run(stream)
    assert items[:3] == [
        Comment(" test stream", 0.0),
        ev("first event", id="1"),
        ev("second event", id=""),
    ]
    assert kinds(items[3:]) == [DIAG_DISCARDED_EVENT]
    assert len(items) == 4


def test_spec_example_data_without_colon():
    # "data" alone appends an empty line; the trailing "data:" has no line end.
    items = run(b"data\n\ndata\ndata\n\ndata:")
    assert events(items) == [ev(""), ev("\n")]
    assert kinds(items) == [DIAG_DISCARDED_EVENT]


def test_spec_example_space_after_colon_is_optional():
    assert run(b"data:test\n\ndata: test\n\n") == [ev("test"), ev("test")]


# --------------------------------------------------------------------------- BOM


def test_bom_stripped_once():
    assert run(b"\xef\xbb\xbfdata: x\n\n") == [ev("x")]


def test_bom_split_across_chunks():
    assert run(b"\xef", b"\xbb", b"\xbfdata: x\n\n") == [ev("x")]
    assert run(b"\xef\xbb", b"\xbf", b"data: x\n\n") == [ev("x")]


def test_second_bom_is_part_of_the_field_name():
    items = run(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n")
    assert events(items) == []
    assert kinds(items) == [DIAG_IGNORED_FIELD]
    assert "\\ufeffdata" in items[0].detail  # shown escaped: it is invisible


def test_bom_not_at_start_is_not_stripped():
    items = run(b"data: a\n\n\xef\xbb\xbfdata: b\n\n")
    assert events(items) == [ev("a")]
    assert kinds(items) == [DIAG_IGNORED_FIELD]


def test_partial_bom_prefix_is_kept():
    # EF BB followed by something else is not a BOM: the bytes stay (invalid UTF-8).
    items = run(b"\xef\xbb", b"data: x\n\n")
    assert events(items) == []
    assert kinds(items) == [DIAG_IGNORED_FIELD]
    assert run(b"\xef\xbb") == []


# --------------------------------------------------------------------------- line ends


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_line_ends(eol):
    stream = b"data: a" + eol + b"data: b" + eol + eol + b": c" + eol
    assert run(stream) == [ev("a\nb"), Comment(" c", 0.0)]


def test_crlf_split_across_chunks_is_one_line_end():
    # If CR and LF counted separately there would be a blank line dispatching "a".
    assert run(b"data: a\r", b"\ndata: b\r\n\r\n") == [ev("a\nb")]
    assert run(b"data: a\r", b"\n", b"\r", b"\n") == [ev("a")]


def test_lone_cr_followed_by_text_is_a_line_end():
    assert run(b"data: a\rdata: b\r\r") == [ev("a\nb")]
    assert run(b"data: a\r", b"data: b\r", b"\r") == [ev("a\nb")]


def test_cr_at_chunk_end_then_cr_is_a_blank_line():
    assert run(b"data: a\r", b"\r") == [ev("a")]


def test_mixed_line_ends():
    assert run(b"data: a\r\ndata: b\rdata: c\n\r\n") == [ev("a\nb\nc")]


# --------------------------------------------------------------------------- UTF-8


def test_utf8_split_across_chunks():
    text = "é€😀 東京"
    stream = b"event: \xc3\xa9\ndata: " + text.encode() + b"\nid: \xe2\x82\xac\n\n"
    whole = run(stream)
    assert whole == [ev(text, type="é", id="€")]
    assert run(*bytewise(stream)) == whole


def test_invalid_utf8_in_data_is_replaced_with_one_diagnostic():
    items = run(b"data: a\xffb\xfe\ndata: \xc3\n\n")
    assert items[-1] == ev("a\ufffdb\ufffd\n\ufffd", size=6)  # size counts raw bytes
    assert kinds(items) == [DIAG_INVALID_UTF8]


def test_invalid_utf8_in_comment_id_and_type():
    items = run(b":\xff\nid: \xfe\nevent: \xfd\ndata: x\n\n")
    assert [i for i in items if not isinstance(i, Diagnostic)] == [
        Comment("\ufffd", 0.0),
        ev("x", type="\ufffd", id="\ufffd"),
    ]
    assert kinds(items) == [DIAG_INVALID_UTF8] * 3


# --------------------------------------------------------------------------- comments


def test_comments_are_surfaced():
    assert run(b": ping\n:\n::x\n") == [
        Comment(" ping", 0.0),
        Comment("", 0.0),
        Comment(":x", 0.0),
    ]


def test_comment_inside_event_does_not_disturb_it():
    assert run(b"data: a\n: keepalive\ndata: b\n\n") == [
        Comment(" keepalive", 0.0),
        ev("a\nb"),
    ]


def test_comment_only_block_dispatches_nothing():
    assert run(b": hi\n\n") == [Comment(" hi", 0.0)]


# --------------------------------------------------------------------------- fields


def test_line_without_colon_is_a_field_name_with_empty_value():
    assert run(b"data\n\n") == [ev("")]
    assert run(b"event: x\nevent\ndata: y\n\n") == [ev("y")]  # type reset to "" -> message
    p = SSEParser()
    p.feed(b"id: 7\nid\n")
    assert p.last_event_id == ""


def test_exactly_one_leading_space_removed():
    assert run(b"data:  x\n\n") == [ev(" x")]
    assert run(b"data:x\n\n") == [ev("x")]
    assert run(b"data: \n\n") == [ev("")]
    assert run(b"event:  t\ndata: x\n\n") == [ev("x", type=" t")]
    assert run(b"id:  1\ndata: x\n\n") == [ev("x", id=" 1")]


def test_value_keeps_further_colons():
    assert run(b"data: a:b: c\n\n") == [ev("a:b: c")]


def test_data_lines_joined_with_lf_and_final_lf_removed():
    assert run(b"data: a\ndata:\ndata: b\n\n") == [ev("a\n\nb")]
    assert run(b"data\ndata\n\n") == [ev("\n")]


# --------------------------------------------------------------------------- dispatch


def test_blank_line_without_data_dispatches_nothing_and_resets_type():
    assert run(b"event: foo\n\ndata: x\n\n") == [ev("x")]
    assert run(b"\n\n\n") == []


def test_empty_data_field_dispatches_an_event():
    assert run(b"data:\n\n") == [ev("")]


def test_event_type_reset_after_dispatch_and_defaults_to_message():
    assert run(b"event: a\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\n") == [
        ev("1", type="a"),
        ev("2"),
        ev("3"),
    ]


def test_event_t_is_the_t_of_the_completing_chunk():
    p = SSEParser()
    assert p.feed(b"data: a\n", t=1.0) == []
    assert p.feed(b"\n", t=2.0) == [ev("a", t=2.0)]
    assert p.feed(b": x\nretry: 5\n", t=3.0) == [Comment(" x", 3.0), Retry(5, 3.0)]


# --------------------------------------------------------------------------- id


def test_last_event_id_persists_across_events():
    items = run(b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n")
    assert items == [ev("a", id="1"), ev("b", id="1"), ev("c", id="2")]


def test_empty_id_resets_last_event_id():
    items = run(b"id: 1\ndata: a\n\nid:\ndata: b\n\nid\ndata: c\n\n")
    assert [e.id for e in items] == ["1", "", ""]


def test_id_without_data_still_sets_last_event_id():
    p = SSEParser()
    assert p.feed(b"id: 5\n\n") == []
    assert p.last_event_id == "5"
    assert p.feed(b"data: x\n\n") == [ev("x", id="5")]


def test_last_event_id_string_changes_only_at_a_blank_line():
    # Spec: an id line sets the id *buffer*; the last event ID *string* (sent as
    # Last-Event-ID on reconnection) is set from it when a blank line is seen.
    p = SSEParser()
    p.feed(b"id: 1\ndata: a\n\n")
    assert p.last_event_id == "1"
    p.feed(b"id: 2\ndata: b\n")
    assert p.last_event_id == "1"
    assert kinds(p.close()) == [DIAG_DISCARDED_EVENT]
    assert p.last_event_id == "1"


def test_next_stream_after_close_starts_from_the_last_event_id_string():
    p = SSEParser()
    p.feed(b"id: 1\ndata: a\n\nid: 2\n")
    p.close()
    assert p.feed(b"data: b\n\n") == [ev("b", id="1")]


def test_id_with_nul_is_ignored():
    items = run(b"id: 1\n\nid: a\x00b\ndata: x\n\n")
    assert events(items) == [ev("x", id="1")]
    assert kinds(items) == [DIAG_NUL_IN_ID]


# --------------------------------------------------------------------------- retry


def test_valid_retry_emits_item_and_sets_retry():
    p = SSEParser()
    assert p.retry is None
    items = p.feed(b"retry: 1500\ndata: x\n\n")
    assert items == [Retry(1500, 0.0), ev("x", retry=1500)]
    assert p.retry == 1500
    assert p.feed(b"data: y\n\n") == [ev("y", retry=1500)]  # stays in force


@pytest.mark.parametrize(
    "value", [b"10a", b"", b"  10", b"-1", b"1.5", b"+3", "\u0661\u0662".encode(), b"1 0"]
)
def test_invalid_retry_is_ignored_with_diagnostic(value):
    p = SSEParser()
    items = p.feed(b"retry:" + value + b"\n")
    assert kinds(items) == [DIAG_BAD_RETRY]
    assert len(items) == 1
    assert p.retry is None


def test_bad_retry_detail_is_cut():
    items = run(b"retry: " + b"x" * 100 + b"\n")
    assert kinds(items) == [DIAG_BAD_RETRY]
    assert "x" * 40 in items[0].detail and "x" * 41 not in items[0].detail


def test_retry_with_too_many_digits_does_not_raise():
    items = run(b"retry: " + b"9" * 5000 + b"\n")
    assert kinds(items) == [DIAG_BAD_RETRY]


def test_retry_zero_and_leading_zeros():
    assert run(b"retry: 0\nretry: 007\n") == [Retry(0, 0.0), Retry(7, 0.0)]


# --------------------------------------------------------------------------- unknown fields


def test_unknown_fields_are_ignored_with_diagnostic():
    items = run(b"evnt: x\nData: y\nfoo\ndata: z\n\n")
    assert events(items) == [ev("z")]
    assert kinds(items) == [DIAG_IGNORED_FIELD] * 3
    assert items[1].detail == (
        "field 'Data' is not an SSE field (names are case-sensitive); line ignored"
    )
    assert items[0].detail == "field 'evnt' is not an SSE field; line ignored"


# --------------------------------------------------------------------------- end of stream


def test_close_discards_unterminated_event():
    p = SSEParser()
    assert p.feed(b"data: a\n") == []
    items = p.close()
    assert kinds(items) == [DIAG_DISCARDED_EVENT]
    assert len(items) == 1


def test_close_discards_partial_data_line():
    items = run(b"data: a")
    assert kinds(items) == [DIAG_DISCARDED_EVENT]
    assert len(items) == 1


def test_close_discards_partial_non_data_line_silently():
    assert run(b"data: a\n\nevent: x") == [ev("a")]
    assert run(b": partial comment") == []
    p = SSEParser()
    p.feed(b"id: 9")
    assert p.close() == []
    assert p.last_event_id == ""  # the partial id line was never interpreted


def test_close_on_clean_stream_is_empty():
    assert run(b"data: a\n\n") == [ev("a")]
    assert SSEParser().close() == []


def test_close_resets_stream_but_keeps_id_and_retry():
    p = SSEParser()
    p.feed(b"id: 3\nretry: 10\ndata: a\n\ndata: pending\n")
    assert kinds(p.close()) == [DIAG_DISCARDED_EVENT]
    # a reconnection: a new BOM is stripped again, no leftover data
    assert p.feed(b"\xef\xbb\xbfdata: b\n\n") == [ev("b", id="3", retry=10)]


# --------------------------------------------------------------------------- bounds


def test_data_truncated_at_max_data():
    items = run(b"data: 0123456789\ndata: abcdefghij\n\n", max_data=10)
    assert items == [
        Diagnostic(DIAG_TRUNCATED, items[0].detail, 0.0),
        ev("0123456789", truncated=True, size=21),
    ]
    assert kinds(items) == [DIAG_TRUNCATED]


def test_data_exactly_max_data_is_not_truncated():
    assert run(b"data: 0123456789\n\n", max_data=10) == [ev("0123456789")]


def test_truncation_does_not_split_a_utf8_character():
    items = run("data: ééé\n\n".encode(), max_data=5)  # 6 bytes of data
    assert events(items) == [ev("éé", truncated=True, size=6)]
    assert kinds(items) == [DIAG_TRUNCATED]


def test_truncation_is_per_event():
    items = run(b"data: 0123456789AB\n\ndata: ok\n\n", max_data=10)
    assert events(items) == [ev("0123456789", truncated=True, size=12), ev("ok")]


def test_many_data_lines_keep_memory_bounded():
    p = SSEParser(max_data=1000)
    line = b"data: " + b"x" * 94 + b"\n"
    for _ in range(2000):
        assert p.feed(line * 50) == []
        assert sum(len(d) for d in p._data) <= 1000 + 50 * 100
    items = p.feed(b"\n")
    (event,) = events(items)
    assert event.truncated and len(event.data) == 1000
    assert event.size == 2000 * 50 * 95 - 1
    assert kinds(items) == [DIAG_TRUNCATED]


def test_line_too_long_is_cut_and_reported_once():
    stream = b"data: " + b"x" * 1000 + b"\n\n"
    whole = run(stream, max_data=50, max_line=100)
    assert kinds(whole) == [DIAG_LINE_TOO_LONG, DIAG_TRUNCATED]
    (event,) = events(whole)
    assert event.data == "x" * 50 and event.truncated and event.size == 1000
    chunked = [stream[i : i + 7] for i in range(0, len(stream), 7)]
    assert run(*chunked, max_data=50, max_line=100) == whole


def test_long_line_shorter_than_max_data_still_marks_truncation():
    items = run(b"data: " + b"y" * 300 + b"\n\n", max_data=1000, max_line=100)
    (event,) = events(items)
    assert event.data == "y" * 94 and event.truncated and event.size == 300
    assert kinds(items) == [DIAG_LINE_TOO_LONG, DIAG_TRUNCATED]


def test_long_comment_line_is_cut():
    items = run(b":" + b"c" * 500 + b"\n", max_line=100)
    assert items[1:] == [Comment("c" * 99, 0.0)]
    assert kinds(items) == [DIAG_LINE_TOO_LONG]


def test_line_after_a_long_line_is_intact():
    stream = b"event: " + b"e" * 300 + b"\ndata: ok\n\n"
    for chunks in ([stream], [stream[i : i + 64] for i in range(0, len(stream), 64)]):
        items = run(*chunks, max_line=100)
        assert kinds(items) == [DIAG_LINE_TOO_LONG]
        assert events(items) == [ev("ok", type="e" * 93)]


def test_ten_megabyte_line_keeps_buffers_small():
    p = SSEParser()
    chunk = b"x" * 65536
    assert p.feed(b"data: ") == []
    diags = []
    for _ in range(160):  # 10 MiB
        diags += p.feed(chunk)
        assert len(p._buf) <= p.max_line
        assert sum(len(d) for d in p._data) <= DEFAULT_MAX_DATA
    assert kinds(diags) == [DIAG_LINE_TOO_LONG]
    items = p.feed(b"\n\n")
    (event,) = events(items)
    assert event.truncated and len(event.data) == DEFAULT_MAX_DATA
    assert event.size == 160 * 65536


def test_fifty_megabytes_without_newline_keep_buffers_small():
    p = SSEParser()
    chunk = bytes(range(256)).replace(b"\n", b"").replace(b"\r", b"") * 256
    total = 0
    items = []
    while total < 50 * 1024 * 1024:
        items += p.feed(chunk)
        total += len(chunk)
        assert len(p._buf) <= p.max_line
    assert kinds(items) == [DIAG_LINE_TOO_LONG]
    assert p.close() == []  # the garbage is not a data line


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "stream",
    [
        b"",
        b"\x00\xff\r\r\n\n:",
        b"\xef\xbb\xbf",
        b"data" * 1000,
        b"\r" * 100,
        b":\n" * 100,
        b"retry:\nid:\x00\nevent:\xff\ndata:\xc3\n\n",
    ],
)
def test_odd_inputs_do_not_raise(stream):
    run(stream)
    run(*bytewise(stream))


def test_feed_accepts_bytearray_and_memoryview():
    assert run(bytearray(b"data: a\n\n")) == [ev("a")]
    assert run(memoryview(b"data: b\n\n")) == [ev("b")]


def test_bytewise_feeding_matches_whole_stream():
    stream = (
        b"\xef\xbb\xbfretry: 100\r\n: hi\r\nid: 1\r\nevent: e\r\ndata: a\r\ndata: b\r\n\r\n"
        b"data:x\n\nid\ndata\n\n\n\nevnt: 1\ndata: \xe6\x9d\xb1\n\n"
    )
    whole = run(stream)
    assert run(*bytewise(stream)) == whole
    assert len(events(whole)) == 4


def test_truncation_after_compaction_does_not_split_a_utf8_character():
    # The data buffer is compacted to max_data bytes while the event is pending;
    # the cut must still fall on a character boundary, whatever the chunking.
    stream = "data: 0000000000000😀\n\n".encode()
    expected = [ev("0000000000000", truncated=True, size=17)]
    assert events(run(stream, max_data=16)) == expected
    assert events(run(stream[:1], stream[1:], max_data=16)) == expected
    assert kinds(run(stream[:1], stream[1:], max_data=16)) == [DIAG_TRUNCATED]


def test_long_line_completed_in_a_later_chunk_is_cut_on_a_character_boundary():
    stream = "data: 東東東東東東\n\n".encode()  # the line is 6 + 18 bytes
    # max_line=10 keeps "data: " + 3 bytes of "東" + 1 byte: backed off to "data: 東"
    whole = run(stream, max_line=10)
    assert events(whole) == [ev("東", truncated=True, size=18)]
    assert kinds(whole) == [DIAG_LINE_TOO_LONG, DIAG_TRUNCATED]
    for cut in range(1, len(stream)):
        assert run(stream[:cut], stream[cut:], max_line=10) == whole
    whole = run(stream, max_line=20)
    assert events(whole) == [ev("東東東東", truncated=True, size=18)]
    for cut in range(1, len(stream)):
        assert run(stream[:cut], stream[cut:], max_line=20) == whole


def test_long_comment_completed_in_a_later_chunk_is_cut_on_a_character_boundary():
    stream = ":東東東東東東\n".encode()  # 1 + 18 bytes
    whole = run(stream, max_line=8)
    assert whole[1:] == [Comment("東東", 0.0)]
    assert kinds(whole) == [DIAG_LINE_TOO_LONG]
    for cut in range(1, len(stream)):
        assert run(stream[:cut], stream[cut:], max_line=8) == whole


def test_event_fields_match_what_the_fast_path_sets():
    # The parser's fast path fills Event's slots directly instead of calling __init__;
    # this breaks (on purpose) if Event gains a field or a __post_init__.
    import dataclasses

    assert [f.name for f in dataclasses.fields(Event)] == [
        "type", "data", "id", "retry", "t", "truncated", "size"
    ]
    assert not hasattr(Event, "__post_init__")
    (fast,) = SSEParser().feed(b"id: 1\nevent: e\ndata: x\n\n", t=5.0)
    assert fast == Event("e", "x", "1", None, 5.0, False, 1)
    assert repr(fast) == repr(Event("e", "x", "1", None, 5.0, False, 1))
