"""Socket watches (`--watch-port PORT`): the server's TCP sockets on a local port by state
(ESTABLISHED, CLOSE_WAIT), from psutil's listing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psutil

from sse_doctor.errors import UsageError
from sse_doctor.watchers.spec import WatchSpec


def parse_watch_port(port: int) -> WatchSpec:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise UsageError(f"--watch-port {port}: a port is a number from 1 to 65535")
    return WatchSpec("port", str(port), None, "", port)


@dataclass(frozen=True)
class PortCounts:
    listening: bool
    established: int
    close_wait: int


def count_port(conns: Iterable[Any], port: int) -> PortCounts:
    """Server-side TCP sockets on a local port: the LOCAL port is the server's, so the
    client ends of loopback connections (remote port = PORT) are not counted."""
    listening = False
    established = close_wait = 0
    for c in conns:
        if not c.laddr or c.laddr.port != port:
            continue
        if c.status == psutil.CONN_LISTEN:
            listening = True
        elif c.status == psutil.CONN_ESTABLISHED:
            established += 1
        elif c.status == psutil.CONN_CLOSE_WAIT:
            close_wait += 1
    return PortCounts(listening, established, close_wait)


# --- series ----------------------------------------------------------------------------------
