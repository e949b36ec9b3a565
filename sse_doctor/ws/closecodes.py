"""WebSocket close codes in words (RFC 6455 section 7.4 and the IANA registry)."""

from __future__ import annotations

# code -> (short name, what it usually means for the person reading the report)
MEANINGS: dict[int, tuple[str, str]] = {
    1000: ("normal closure", "the endpoint finished what it had to do"),
    1001: ("going away", "the server is shutting down or restarting, or a page navigated away"),
    1002: ("protocol error", "a frame broke the WebSocket protocol"),
    1003: ("unsupported data", "the endpoint got a message type it cannot handle "
                               "(e.g. binary where it expects text)"),
    1005: ("no status", "a close frame without a code"),
    1006: ("abnormal closure", "the TCP connection ended without a close frame: a crashed or "
                               "killed process, or a proxy or load balancer cutting the "
                               "connection"),
    1007: ("invalid payload", "a text message was not valid UTF-8, or a payload was inconsistent "
                              "with its type"),
    1008: ("policy violation", "the endpoint refused the connection by policy (often "
                               "authentication or authorization)"),
    1009: ("message too big", "a message was larger than the receiver accepts"),
    1010: ("mandatory extension", "the client required an extension the server did not "
                                  "negotiate"),
    1011: ("internal error", "the server hit an unexpected condition: usually an unhandled "
                             "exception in the handler"),
    1012: ("service restart", "the server is restarting; reconnect after a short delay"),
    1013: ("try again later", "the server is overloaded or rate-limiting; back off and "
                              "reconnect"),
    1014: ("bad gateway", "a gateway or proxy got an invalid response from the upstream "
                          "server"),
    1015: ("TLS handshake failure", "the TLS handshake failed"),
}

# Closes that say nothing went wrong: a finished exchange, a server going away, a bare close.
NORMAL = frozenset({1000, 1001, 1005})


def name(code: int | None) -> str:
    if code is None:
        return "no code"
    if code in MEANINGS:
        return MEANINGS[code][0]
    if 3000 <= code <= 3999:
        return "library/framework code"
    if 4000 <= code <= 4999:
        return "application code"
    return "unassigned code"


def meaning(code: int | None) -> str:
    """One clause explaining ``code`` to a person."""
    if code is None:
        return "no close code"
    if code in MEANINGS:
        return MEANINGS[code][1]
    if 3000 <= code <= 3999:
        return "a code registered by a library or framework; its reason says why"
    if 4000 <= code <= 4999:
        return "a code the application defined for itself; its reason says why"
    return "a code outside the ranges RFC 6455 assigns"


def describe(code: int | None) -> str:
    """'1011 (internal error: the server hit ...)'"""
    if code is None:
        return "no close code"
    return f"{code} ({name(code)}: {meaning(code)})"


def is_abnormal(code: int | None) -> bool:
    return code is not None and code not in NORMAL
