"""Sans-I/O, byte-level Server-Sent Events parser.

Follows WHATWG HTML "9.2.5 Parsing an event stream" and "9.2.6 Interpreting an
event stream", and additionally reports what a browser would silently ignore
(comments, retry fields, diagnostics) so that checks can look at them.

Design notes:

* Work on bytes. CR, LF and ':' are ASCII and never occur inside a multi-byte UTF-8
  sequence, so lines and fields are split before decoding, UTF-8 split across chunks
  needs no incremental decoder, and each value is decoded once (an event's data at
  dispatch), strictly, falling back to U+FFFD replacement plus a diagnostic.
* ``feed`` frames: BOM, CR/CRLF (normalised to LF per chunk, a CR at the end of a
  chunk remembered), the partial line carried over, line-length caps.
* Complete lines are interpreted by equivalent paths. The fast path
  (``_process_blocks``) takes the whole blocks (lines up to a blank line) of a chunk
  and turns blocks of the usual event shape into events with no per-line Python work:
  the compiled scanner ``_sse_doctor_blockscan`` (``_blockscan.c``, built at install
  time where a C compiler is available) or, without it, one ``re.findall``.
  Everything else (unusual blocks, an event spanning chunks, invalid UTF-8,
  truncation) goes through the line-by-line loop ``_process``, which is the spec
  transcribed. Property tests check that every path gives the same items for any
  chunking.
* Memory is bounded: a partial line is kept up to ``max_line`` bytes, an event's
  data up to ``max_data`` bytes (plus at most one chunk's worth between compactions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

try:  # the compiled fast path (setup.py builds it where a C compiler is available)
    import _sse_doctor_blockscan
except ImportError:  # pragma: no cover - depends on the install
    _sse_doctor_blockscan = None

__all__ = [
    "COMPILED",
    "DEFAULT_MAX_DATA",
    "DEFAULT_MAX_LINE",
    "DIAG_BAD_RETRY",
    "DIAG_DISCARDED_EVENT",
    "DIAG_IGNORED_FIELD",
    "DIAG_INVALID_UTF8",
    "DIAG_LINE_TOO_LONG",
    "DIAG_NUL_IN_ID",
    "DIAG_TRUNCATED",
    "Comment",
    "Diagnostic",
    "Event",
    "Retry",
    "SSEParser",
]

DEFAULT_MAX_DATA = 64 * 1024
DEFAULT_MAX_LINE = DEFAULT_MAX_DATA + 4096


@dataclass(slots=True)
class Event:
    type: str  # event type, "message" when no/empty event field
    data: str  # data lines joined with "\n" (cut at max_data bytes, see truncated)
    id: str  # last event ID in force at dispatch (persists across events)
    retry: int | None  # reconnection time in force at dispatch (None if never set)
    t: float  # the `t` passed with the chunk that completed the event
    truncated: bool = False
    size: int = 0  # total bytes of data received for this event, before truncation


@dataclass(slots=True)
class Comment:
    text: str  # everything after the leading ':' (so ": ping" -> " ping")
    t: float


@dataclass(slots=True)
class Retry:
    """A valid retry field was seen."""

    ms: int
    t: float


@dataclass(slots=True)
class Diagnostic:
    kind: str  # one of the DIAG_* constants
    detail: str  # short human text
    t: float


def _lf_lines(chunk: bytes) -> bytes:
    """CRLF and lone CR line ends made LF (the compiled lf_lines does it in one pass)."""
    return chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


_compiled = None  # (scan_blocks, lf_lines) of the compiled scanner, when installed
if _sse_doctor_blockscan is not None:
    try:
        _sse_doctor_blockscan.bind(Event, Comment)
    except (RuntimeError, TypeError):  # bound to another copy of this module: see bind()
        pass
    else:
        _compiled = (_sse_doctor_blockscan.scan_blocks, _sse_doctor_blockscan.lf_lines)
COMPILED = _compiled is not None

DIAG_INVALID_UTF8 = "invalid-utf8"
DIAG_IGNORED_FIELD = "ignored-field"
DIAG_BAD_RETRY = "bad-retry"
DIAG_NUL_IN_ID = "nul-in-id"
DIAG_DISCARDED_EVENT = "discarded-trailing-event"
DIAG_TRUNCATED = "truncated-data"
DIAG_LINE_TOO_LONG = "line-too-long"

_BOM = b"\xef\xbb\xbf"
# One block per match: lines up to and including a blank line. Alternatives:
# (1) the common event shape: an optional comment line, an optional id line, an
#     optional event line, a data line, more data lines written "data: " (one
#     space), the blank line;
# (2) any other block, which the line loop interprets.
# The comment group keeps its ':' so that an empty comment still counts as present.
# Ids that are empty or contain NUL take (2), so an empty id group means "no id line".
_BLOCK = re.compile(
    rb"(?:(:[^\n]*)\n)?"
    rb"(?:id:(?: |(?! ))([^\n\x00]+)\n)?"
    rb"(?:event: ?([^\n]*)\n)?"
    rb"data: ?([^\n]*)\n"
    rb"((?:data: [^\n]*\n)*)"
    rb"\n"
    rb"|([^\n]*(?:\n[^\n]+)*\n\n)"
)
_TYPES_MAX = 64  # event type names remembered (decoded) by the fast path
_KNOWN_FIELDS = ("event", "data", "id", "retry")
_DETAIL_MAX = 40


def _utf8_prefix(b: bytes, n: int) -> bytes:
    """The first ``n`` bytes of ``b``, minus an incomplete UTF-8 sequence at the cut.

    Depends only on ``b[:n]``, so cutting twice gives the same result as cutting once.
    """
    p = b[:n]
    for k in range(1, min(3, len(p)) + 1):
        c = p[-k]
        if c < 0x80:  # ASCII: nothing is split
            return p
        if c >= 0xC0:  # lead byte: is its sequence complete?
            need = 2 if c < 0xE0 else 3 if c < 0xF0 else 4
            return p[:-k] if need > k else p
    return p


def _show(b: bytes) -> str:
    """Short printable form of a (possibly invalid) byte string for details."""
    s = b[: _DETAIL_MAX * 4].decode("utf-8", "replace")
    if len(s) > _DETAIL_MAX:
        s = s[:_DETAIL_MAX] + "..."
    return repr(s)


class SSEParser:
    """Incremental SSE parser: ``feed(bytes)`` -> items, ``close()`` at end of stream.

    Items are :class:`Event`, :class:`Comment`, :class:`Retry` and :class:`Diagnostic`,
    in stream order. Never raises on any bytes input.

    ``last_event_id`` is the spec's "last event ID string": set from the id buffer at
    every blank line (even when no event is dispatched), i.e. what a browser would send
    as ``Last-Event-ID`` when reconnecting. An ``id`` line not followed by a blank line
    does not change it. ``retry`` is the reconnection time, set as soon as a valid
    ``retry`` line is seen.

    ``close()`` ends the stream and resets the per-stream state (BOM, partial line,
    pending event, id buffer) so the same parser can read a reconnection;
    ``last_event_id`` and ``retry`` are kept, as a browser keeps them.
    """

    __slots__ = (
        "max_data",
        "max_line",
        "last_event_id",
        "retry",
        "_bom_pending",
        "_head",
        "_cr",
        "_buf",
        "_skip",
        "_dropped",
        "_data",
        "_dsize",
        "_dcap",
        "_etype",
        "_id",
        "_types",
        "_scan",
        "_lf",
    )

    def __init__(
        self,
        max_data: int = DEFAULT_MAX_DATA,
        max_line: int | None = None,
        *,
        compiled: bool | None = None,
    ) -> None:
        """``compiled``: use the compiled block scanner (None: when it is installed; True:
        require it; False: the pure-Python path, for tests and benchmarks)."""
        if compiled and not COMPILED:
            raise RuntimeError("the compiled block scanner is not installed")
        if compiled is not False and _compiled is not None:
            self._scan, self._lf = _compiled
        else:
            self._scan, self._lf = None, _lf_lines
        self.max_data = max(0, int(max_data))
        if max_line is None:
            max_line = self.max_data + 4096
        self.max_line = max(1, int(max_line))
        self.last_event_id: str = ""
        self.retry: int | None = None
        self._types: dict[bytes, str] = {b"": "message"}
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._bom_pending = True  # the stream's first bytes are not yet known
        self._head = b""  # first bytes while they could still be a split BOM
        self._cr = False  # previous chunk ended with CR: skip a leading LF
        self._buf = bytearray()  # unterminated line carried over (<= max_line bytes)
        self._skip = False  # dropping the rest of an over-long line
        self._dropped = 0  # bytes dropped from the current over-long line
        self._data: list[bytes] = []  # data lines of the pending event
        self._dsize = 0  # bytes in the data buffer (each line + 1 for its LF)
        self._dcap = self.max_data + 1  # dsize above this -> slow dispatch path
        self._etype = b""  # event type buffer
        # The last event ID buffer. (The spec starts each stream's buffer empty; like
        # Chromium, a stream after close() starts from the last event ID string.)
        self._id = self.last_event_id

    # ------------------------------------------------------------------ feeding

    def feed(self, chunk: bytes, t: float = 0.0) -> list[Event | Comment | Retry | Diagnostic]:
        if chunk[:1] == b":":
            text = self.comment_line(chunk)
            if text is not None:
                return [Comment(text, t)]
        out: list[Event | Comment | Retry | Diagnostic] = []
        if not chunk:
            return out
        if not isinstance(chunk, bytes):
            chunk = bytes(chunk)
        if self._bom_pending:
            head = self._head + chunk
            if len(head) < 3 and _BOM.startswith(head):
                self._head = head
                return out
            self._bom_pending = False
            self._head = b""
            chunk = head[3:] if head[:3] == _BOM else head
            if not chunk:
                return out
        if self._cr:
            self._cr = False
            if chunk[0] == 10:
                chunk = chunk[1:]
                if not chunk:
                    return out
        if b"\r" in chunk:
            if chunk[-1] == 13:
                self._cr = True
            chunk = self._lf(chunk)
        end = chunk.rfind(b"\n") + 1  # chunk[:end]: complete lines
        buf = self._buf
        if end:
            start = 0
            max_line = self.max_line
            if self._skip or buf:
                # The first line completes the partial line carried over.
                first = chunk.find(b"\n")
                start = first + 1
                if self._skip:  # drop the rest of an over-long line, interpret the start
                    kept = bytes(buf)
                    dropped = self._dropped + first
                    buf.clear()
                    self._skip = False
                    self._dropped = 0
                    self._long_line(kept, dropped, out, t)
                elif len(buf) + first > max_line:
                    line = bytes(buf) + chunk[:first]
                    buf.clear()
                    kept = _utf8_prefix(line, max_line)
                    out.append(self._line_too_long_diag(kept, t))
                    self._long_line(kept, len(line) - len(kept), out, t)
                else:
                    buf += chunk[:first]
                    line = bytes(buf)
                    buf.clear()
                    self._process([line], out, t)
            if end > start:
                if end - start > max_line:
                    lines = chunk[start : end - 1].split(b"\n")
                    if max(map(len, lines)) > max_line:
                        self._process_with_long_lines(lines, out, t)
                    else:
                        self._process_region(chunk, start, end, out, t)
                else:
                    self._process_region(chunk, start, end, out, t)
            tail = chunk[end:]
        else:
            tail = chunk
        if tail:
            if self._skip:
                self._dropped += len(tail)
            elif len(buf) + len(tail) > self.max_line:
                total = len(buf) + len(tail)
                buf += tail[: self.max_line - len(buf)]
                kept = _utf8_prefix(bytes(buf), self.max_line)
                self._dropped = total - len(kept)
                buf[:] = kept
                self._skip = True
                out.append(self._line_too_long_diag(kept, t))
            else:
                buf += tail
        return out

    def comment_line(self, chunk: bytes) -> str | None:
        """The comment's text when ``chunk`` is exactly one whole comment line (the heartbeat
        shape) read from a clean line state: then ``feed(chunk)`` gives exactly
        ``[Comment(text)]`` and changes no state, so a caller may take the text and skip
        feed. None otherwise (feed it)."""
        if (
            chunk[:1] == b":"
            and chunk.find(b"\n") == len(chunk) - 1
            and not (self._bom_pending or self._cr or self._buf or self._skip)
            and len(chunk) <= self.max_line
            and b"\r" not in chunk
            and type(chunk) is bytes
        ):
            # A comment changes no parser state: this is what the line loop would give,
            # minus its framing work (a load run reads thousands of these a second).
            try:
                return chunk[1:-1].decode()
            except UnicodeDecodeError:
                return None  # the line loop reports it
        return None

    def close(self, t: float = 0.0) -> list[Event | Comment | Retry | Diagnostic]:
        """End of stream: discard an unterminated event and any partial line."""
        out: list[Event | Comment | Retry | Diagnostic] = []
        pending = self._dsize
        partial = bytes(self._buf)
        if partial:
            name, _, value = partial.partition(b":")
            if name == b"data":
                if value[:1] == b" ":
                    value = value[1:]
                pending += len(value) + 1 + (self._dropped if self._skip else 0)
        if pending:
            what = "no blank line" if not partial else "last line has no line end"
            out.append(
                Diagnostic(
                    DIAG_DISCARDED_EVENT,
                    f"stream ended inside an event ({pending - 1} bytes of data, {what}); "
                    "event discarded",
                    t,
                )
            )
        self._reset_stream()
        return out

    # ------------------------------------------------------------------ hot path

    def _process_region(self, b: bytes, start: int, end: int, out: list, t: float) -> None:
        """Interpret the complete lines ``b[start:end]`` (``b[end - 1]`` is LF).

        Fast path: from a clean state (no event under way) up to the last blank line,
        one ``_BLOCK.findall`` cuts the text into blocks; blocks of the common event
        shape become events directly, any other block goes through the line loop
        ``_process``. An event already under way at ``start`` and the lines after the
        last blank line also take the line loop.
        """
        process = self._process
        if self._dsize or self._etype:
            # An event is under way: finish it line by line (up to its blank line).
            if b[start] == 10:
                process([b""], out, t)
                start += 1
            else:
                i = b.find(b"\n\n", start, end) + 1
                if not i:
                    process(b[start : end - 1].split(b"\n"), out, t)
                    return
                process(b[start:i].split(b"\n"), out, t)
                start = i + 1
        k = b.rfind(b"\n\n", start, end)
        if k >= 0:
            self._process_blocks(b, start, k + 2, out, t)
            start = k + 2
        if start < end:
            process(b[start : end - 1].split(b"\n"), out, t)

    def _process_blocks(self, b: bytes, start: int, end: int, out: list, t: float) -> None:
        """Interpret ``b[start:end]``: whole blocks (it ends with a blank line)."""
        scan = self._scan
        if scan is not None:
            # The compiled scanner stops at each block it leaves to the line loop.
            lid = self._id
            while True:
                start, lid = scan(b, start, end, self.max_data, lid, self.retry, t, out)
                if start >= end:
                    break
                stop = b.find(b"\n\n", start)
                self._id = lid
                lines = b[start:stop].split(b"\n")
                lines.append(b"")
                self._process(lines, out, t)
                lid = self._id
                start = stop + 2
            self._id = self.last_event_id = lid
            return
        lid = self._id  # the id buffer; every block ends with a blank line, after which
        retry = self.retry  # the last event ID string equals it
        max_data = self.max_data
        small = end - start <= max_data  # then no event's data can exceed max_data
        types = self._types
        append = out.append
        new = object.__new__
        for comment, id_, etype, data, more, other in _BLOCK.findall(b, start, end):
            if other:
                self._id = lid
                self.retry = retry
                self._process(other[:-1].split(b"\n"), out, t)
                lid = self._id
                retry = self.retry
                continue
            if comment:
                try:
                    append(Comment(comment[1:].decode(), t))
                except UnicodeDecodeError:
                    append(_bad_utf8_diag("comment", t))
                    append(Comment(comment[1:].decode("utf-8", "replace"), t))
            if id_:
                try:
                    lid = id_.decode()
                except UnicodeDecodeError:
                    append(_bad_utf8_diag("id", t))
                    lid = id_.decode("utf-8", "replace")
            if more:
                data = data + b"\n" + more[6:-1].replace(b"\ndata: ", b"\n")
            try:
                if small or len(data) <= max_data:
                    # Event(...) without the __init__ call: ~25% cheaper, and this is the
                    # hot spot (tests check that Event's fields are exactly these).
                    event = new(Event)
                    event.type = types[etype]
                    event.data = data.decode()
                    event.id = lid
                    event.retry = retry
                    event.t = t
                    event.truncated = False
                    event.size = len(data)
                    append(event)
                    continue
            except (KeyError, UnicodeDecodeError):
                pass
            # Truncation, invalid UTF-8 or an event type not seen yet.
            self._id = lid
            self.retry = retry
            self._dispatch_slow([data], len(data) + 1, etype, out, t)
        self._id = self.last_event_id = lid
        self.retry = retry

    def _process(self, lines: list[bytes], out: list, t: float) -> None:
        """Interpret complete lines (already split, without line ends)."""
        data = self._data
        dsize = self._dsize
        dcap = self._dcap
        etype = self._etype
        lid = self._id  # the last event ID buffer
        last = self.last_event_id  # the last event ID string
        retry = self.retry
        append = out.append
        for line in lines:
            if not line:
                # Blank line: dispatch the event.
                last = lid
                if dsize:
                    if dsize > dcap:
                        self._id = lid
                        self.retry = retry
                        self._dispatch_slow(data, dsize, etype, out, t)
                        dcap = self._dcap
                    else:
                        raw = data[0] if len(data) == 1 else b"\n".join(data)
                        try:
                            append(
                                Event(
                                    etype.decode() if etype else "message",
                                    raw.decode(),
                                    lid,
                                    retry,
                                    t,
                                    False,
                                    dsize - 1,
                                )
                            )
                        except UnicodeDecodeError:
                            self._id = lid
                            self.retry = retry
                            self._dispatch_slow(data, dsize, etype, out, t)
                    data = []
                    dsize = 0
                etype = b""
                continue
            name, sep, value = line.partition(b":")
            if not name:
                # Comment line (starts with ':').
                try:
                    append(Comment(value.decode(), t))
                except UnicodeDecodeError:
                    append(_bad_utf8_diag("comment", t))
                    append(Comment(value.decode("utf-8", "replace"), t))
                continue
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                data.append(value)
                dsize += len(value) + 1
            elif name == b"id":
                if b"\0" in value:
                    append(
                        Diagnostic(
                            DIAG_NUL_IN_ID,
                            f"id {_show(value)} contains U+0000 (NUL); field ignored",
                            t,
                        )
                    )
                else:
                    try:
                        lid = value.decode()
                    except UnicodeDecodeError:
                        append(_bad_utf8_diag("id", t))
                        lid = value.decode("utf-8", "replace")
            elif name == b"event":
                etype = value
            elif name == b"retry":
                if value.isdigit():  # bytes.isdigit: ASCII digits only, non-empty
                    try:
                        retry = int(value)
                    except ValueError:  # more digits than int() accepts
                        append(
                            Diagnostic(
                                DIAG_BAD_RETRY,
                                f"retry value of {len(value)} digits is too large; ignored",
                                t,
                            )
                        )
                    else:
                        append(Retry(retry, t))
                else:
                    append(
                        Diagnostic(
                            DIAG_BAD_RETRY,
                            f"retry value {_show(value)} is not only ASCII digits; ignored",
                            t,
                        )
                    )
            else:
                append(_ignored_field_diag(name, t))
        self._data = data
        self._dsize = dsize
        self._etype = etype
        self._id = lid
        self.last_event_id = last
        self.retry = retry
        # Bound memory while an event's data keeps growing without a blank line.
        if dsize > self.max_data + 1 and (len(data) > 1 or len(data[0]) > self.max_data):
            self._data = [b"\n".join(data)[: self.max_data]]

    # ------------------------------------------------------------------ slow paths

    def _dispatch_slow(self, data: list[bytes], dsize: int, etype: bytes, out: list, t) -> None:
        """Dispatch with truncation and/or invalid UTF-8 handling."""
        size = dsize - 1
        raw = b"\n".join(data)
        truncated = size > self.max_data or self._dcap == 0
        if truncated:
            # (raw may already be cut at max_data bytes by the compaction in _process;
            # _utf8_prefix only looks at the first max_data bytes, so this is the same.)
            raw = _utf8_prefix(raw, self.max_data)
        self._dcap = self.max_data + 1
        try:
            text = raw.decode()
            etype_s = etype.decode()
            if etype not in self._types and len(etype) <= 256:
                if len(self._types) >= _TYPES_MAX:
                    self._types.clear()
                    self._types[b""] = "message"
                self._types[etype] = etype_s or "message"
        except UnicodeDecodeError:
            out.append(_bad_utf8_diag("event", t))
            text = raw.decode("utf-8", "replace")
            etype_s = etype.decode("utf-8", "replace")
        if truncated:
            out.append(
                Diagnostic(
                    DIAG_TRUNCATED,
                    f"event data of {size} bytes exceeds {self.max_data} bytes; "
                    f"kept the first {len(raw)} bytes",
                    t,
                )
            )
        out.append(
            Event(etype_s or "message", text, self._id, self.retry, t, truncated, size)
        )

    def _process_with_long_lines(self, lines: list[bytes], out: list, t: float) -> None:
        max_line = self.max_line
        start = 0
        for i, line in enumerate(lines):
            if len(line) > max_line:
                if start < i:
                    self._process(lines[start:i], out, t)
                kept = _utf8_prefix(line, max_line)
                out.append(self._line_too_long_diag(kept, t))
                self._long_line(kept, len(line) - len(kept), out, t)
                start = i + 1
        if start < len(lines):
            self._process(lines[start:], out, t)

    def _long_line(self, kept: bytes, dropped: int, out: list, t: float) -> None:
        """Interpret the kept start of an over-long line (its diagnostic is already out)."""
        self._process([kept], out, t)
        if dropped and kept.partition(b":")[0] == b"data":
            # Count the dropped bytes and make sure the event is marked truncated.
            self._dsize += dropped
            self._dcap = 0

    def _line_too_long_diag(self, kept: bytes, t: float) -> Diagnostic:
        name = kept.partition(b":")[0] if b":" in kept else kept[:_DETAIL_MAX]
        what = "comment line" if not name else f"line (field {_show(name)})"
        return Diagnostic(
            DIAG_LINE_TOO_LONG,
            f"{what} longer than {self.max_line} bytes; the excess was dropped",
            t,
        )


def _bad_utf8_diag(where: str, t: float) -> Diagnostic:
    return Diagnostic(
        DIAG_INVALID_UTF8,
        f"{where} contains bytes that are not UTF-8; replaced with U+FFFD",
        t,
    )


def _ignored_field_diag(name: bytes, t: float) -> Diagnostic:
    shown = _show(name)
    try:
        lowered = name.decode().lower()
    except UnicodeDecodeError:
        lowered = ""
    if lowered in _KNOWN_FIELDS:
        why = "(names are case-sensitive)"
        return Diagnostic(
            DIAG_IGNORED_FIELD, f"field {shown} is not an SSE field {why}; line ignored", t
        )
    return Diagnostic(DIAG_IGNORED_FIELD, f"field {shown} is not an SSE field; line ignored", t)
