"""What a WebSocket probe or experiment leg is asked to do: validated option values (data only;
ws.client opens the connection, checks.ws_checks reads the limits)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sse_doctor.errors import UsageError
from sse_doctor.model import ProbeOptions
from sse_doctor.target import read_text_arg

MIN_PONG_DEADLINE_S = 1.0
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 7230 token (a subprotocol name)


@dataclass
class WsOptions:
    duration: float = 30.0
    idle_limit: float = 30.0
    max_events: int | None = None
    keep: int = 1000
    send: tuple[bytes, ...] = ()
    expect_messages: tuple[str, ...] = ()
    ping_interval: float | None = None
    subprotocols: tuple[str, ...] = ()
    origin: str | None = None
    max_message_size: int = 1 << 20
    # Experiments: end our side by dropping TCP without a close frame ("rst" or "fin").
    abort: str | None = None

    @classmethod
    def from_cli(cls, opts: ProbeOptions, *, send: list[str], expect_message: list[str],
                 ping_interval: float | None, subprotocols: list[str], origin: str | None,
                 max_message_size: int) -> WsOptions:
        if opts.expect_events:
            raise UsageError("--expect-event is for SSE streams; for WebSocket messages use "
                             "--expect-message TEXT")
        if opts.expect_close is not None:
            raise UsageError("--expect-close is for SSE streams; it does not apply to ws:// URLs")
        if max_message_size < 1:
            raise UsageError("--max-message-size must be at least 1")
        for name in subprotocols:
            if not _TOKEN.match(name):
                raise UsageError(f"invalid --subprotocol {name!r}: expected a token such as "
                                 "'graphql-transport-ws'")
        if origin is not None and (not origin.strip() or any(c in origin for c in "\r\n")):
            raise UsageError(f"invalid --origin {origin!r}")
        if any(not m for m in expect_message):
            raise UsageError("--expect-message must not be empty")
        return cls(
            duration=opts.duration,
            idle_limit=opts.idle_limit,
            max_events=opts.max_events,
            keep=opts.keep,
            send=tuple(read_text_arg(v, "--send") for v in send),
            expect_messages=tuple(expect_message),
            ping_interval=ping_interval,
            subprotocols=tuple(subprotocols),
            origin=origin,
            max_message_size=max_message_size,
        )


def pong_deadline_s(ping_interval: float, timeout: float) -> float:
    """How long a pong may take: the ping interval or --timeout, whichever is shorter (at least
    1 s, so a fast ping interval does not turn ordinary latency into timeouts)."""
    return max(MIN_PONG_DEADLINE_S, min(ping_interval, timeout))
