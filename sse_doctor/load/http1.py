"""Sans-I/O reader of one HTTP/1.1 response: the head, then the body de-framed (chunked,
Content-Length or until close).

Written by hand rather than with h11 because the load engine runs it for every read of
thousands of streams: h11's event objects and per-call state checks cost about twice the CPU
per heartbeat (measured for issue 12). It reads responses only, and only what a streaming
client needs: no pipelining, no trailers kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_HEAD = 64 * 1024  # a response head larger than this is refused
MAX_SIZE_LINE = 1024  # a chunk-size line (with extensions) larger than this is refused

_HEX = b"0123456789abcdefABCDEF"
_HEAD, _SIZE, _DATA, _CRLF, _TRAILER, _LENGTH, _CLOSE, _DONE = range(8)


class HttpProtocolError(Exception):
    """The bytes are not a valid HTTP/1.1 response (the message says what broke)."""


@dataclass(slots=True)
class ResponseHead:
    version: str  # "HTTP/1.1"
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


def parse_head(raw: bytes) -> ResponseHead:
    """A response head without its final blank line (status line and header lines)."""
    lines = raw.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise HttpProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    status = parts[1]
    if len(status) != 3 or not status.isdigit():
        raise HttpProtocolError(f"invalid status code {status[:20]!r}")
    reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name[-1:] in (b" ", b"\t"):
            raise HttpProtocolError(f"invalid header line {line[:80]!r}")
        headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    return ResponseHead(parts[0].decode("ascii"), int(status), reason, headers)


class ResponseReader:
    """``feed(data)`` returns the body bytes carried by ``data``; ``head`` is set once the
    response head has arrived, ``done`` once the body ended by its own framing. ``eof()``
    says whether the connection ending now leaves a complete response. Raises
    HttpProtocolError on bytes that do not frame."""

    __slots__ = ("head", "done", "_state", "_buf", "_remaining", "_no_body")

    def __init__(self, no_body: bool = False) -> None:
        self.head: ResponseHead | None = None
        self.done = False
        self._state = _HEAD
        self._buf = b""
        self._remaining = 0
        self._no_body = no_body  # the request was HEAD: no body whatever the headers say

    def feed(self, data: bytes) -> bytes:
        state = self._state
        if state == _SIZE and not self._buf:
            # The common read of a stream: exactly one whole chunk (an event or heartbeat),
            # taken here without the general loop.
            j = data.find(b"\r\n", 0, MAX_SIZE_LINE)
            if j > 0 and not data[:j].strip(_HEX):
                end = j + 2 + int(data[:j], 16)
                if end > j + 2 and len(data) == end + 2 and data.endswith(b"\r\n"):
                    return data[j + 2:end]
            return self._chunked(data)
        if state == _CLOSE:
            return data
        if state == _DONE:
            return b""
        if state == _HEAD:
            data = self._read_head(data)
            if not data or self._state in (_HEAD, _DONE):
                return b""
            state = self._state
            if state == _CLOSE:
                return data
        if state == _LENGTH:
            if len(data) >= self._remaining:
                data = data[: self._remaining]
                self._remaining = 0
                self._state = _DONE
                self.done = True
            else:
                self._remaining -= len(data)
            return data
        return self._chunked(data)

    def eof(self) -> bool:
        """The connection ended: True when that completes the response."""
        if self._state == _CLOSE:
            self._state = _DONE
            self.done = True
        return self.done

    # --- the head -----------------------------------------------------------------------------
    def _read_head(self, data: bytes) -> bytes:
        buf = self._buf + data if self._buf else data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise HttpProtocolError(f"response head larger than {MAX_HEAD} bytes")
                self._buf = buf
                return b""
            head = parse_head(buf[:end])
            buf = buf[end + 4:]
            if 100 <= head.status < 200 and head.status != 101:
                continue  # 100 Continue and 103 Early Hints come before the real head
            break
        self._buf = b""
        self.head = head
        te = (head.header("transfer-encoding") or "").lower()
        if self._no_body or head.status in (101, 204, 304):
            self._state = _DONE
            self.done = True
        elif te:
            if te.replace(" ", "").split(",")[-1] != "chunked":
                self._state = _CLOSE  # RFC 9112 6.3: another coding last = read until close
            else:
                self._state = _SIZE
        elif (cl := head.header("content-length")) is not None:
            if not cl.strip().isdigit():
                raise HttpProtocolError(f"invalid Content-Length {cl[:40]!r}")
            self._remaining = int(cl)
            self._state = _LENGTH
            if not self._remaining:
                self._state = _DONE
                self.done = True
        else:
            self._state = _CLOSE
        return buf

    # --- chunked transfer coding ---------------------------------------------------------------
    def _chunked(self, data: bytes) -> bytes:
        buf = self._buf + data if self._buf else data
        n = len(buf)
        i = 0
        out: list[bytes] = []
        state = self._state
        while i < n:
            if state == _DATA:
                take = min(self._remaining, n - i)
                out.append(buf[i:i + take])
                i += take
                self._remaining -= take
                if not self._remaining:
                    state = _CRLF
            elif state == _CRLF:
                if n - i < 2:
                    break
                if buf[i:i + 2] != b"\r\n":
                    raise HttpProtocolError("chunk data not followed by CRLF")
                i += 2
                state = _SIZE
            elif state == _SIZE:
                j = buf.find(b"\r\n", i, i + MAX_SIZE_LINE)
                if j < 0:
                    if n - i >= MAX_SIZE_LINE:
                        raise HttpProtocolError("chunk-size line too long")
                    break
                size_text = buf[i:j].split(b";", 1)[0].strip(b" \t")
                if not size_text or size_text.strip(_HEX):
                    raise HttpProtocolError(f"invalid chunk size {size_text[:20]!r}")
                size = int(size_text, 16)
                i = j + 2
                if size:
                    self._remaining = size
                    state = _DATA
                else:
                    state = _TRAILER
            elif state == _TRAILER:
                j = buf.find(b"\r\n", i)
                if j < 0:
                    if n - i > MAX_HEAD:
                        raise HttpProtocolError("trailer section too long")
                    break
                if j == i:  # the blank line that ends the trailer section
                    i += 2
                    state = _DONE
                    self.done = True
                    break
                i = j + 2  # a trailer field: not kept
            else:  # _DONE: anything after the final chunk is ignored
                break
        self._state = state
        self._buf = buf[i:] if i < n and state != _DONE else b""
        return b"".join(out) if len(out) != 1 else out[0]
