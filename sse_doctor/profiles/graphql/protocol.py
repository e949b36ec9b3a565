"""GraphQL over WebSocket and over SSE, sans-I/O: one operation's conversation as messages in
(with their time) and messages to send out, and the records the checks read.

Three wire protocols, as their specs define them:
- graphql-transport-ws (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md):
  connection_init / connection_ack, subscribe, next, error, complete (both ways), ping / pong.
- graphql-ws, the legacy subscriptions-transport-ws protocol (Apollo): connection_init /
  connection_ack or connection_error, start, data, error, complete, stop, ka (keepalive),
  connection_terminate.
- graphql-sse in distinct connections mode (https://github.com/enisdenjo/graphql-sse/blob/
  master/PROTOCOL.md): the operation POSTed with Accept: text/event-stream, then `next`
  events and one `complete` event.

Times are milliseconds on one clock the shell chooses. Memory stays bounded: counters, a fixed
number of result gaps and error messages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sse_doctor.units import percentile

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
SSE = "graphql-sse"
SUBPROTOCOLS = (TRANSPORT_WS, LEGACY_WS)  # offered in this order: the current one first
OPERATION_ID = "1"
MAX_GAPS = 10_000
MAX_ERRORS = 5
EXCERPT = 300

# graphql-transport-ws close codes (and the ones Apollo's legacy servers share), in words.
CLOSE_CODES: dict[int, str] = {
    4400: "bad message: the server could not read a message (or the operation is invalid)",
    4401: "unauthorized: an operation was sent before the connection was acknowledged",
    4403: "forbidden: the server refused the connection_init payload",
    4406: "subprotocol not acceptable",
    4408: "connection initialisation timeout: no connection_init in time",
    4409: "subscriber already exists: an operation id was reused",
    4429: "too many initialisation requests",
    4499: "terminated by the server",
    4500: "internal server error",
}
_KEYWORD = re.compile(r"^\s*(?:#[^\n]*\n\s*)*(subscription|query|mutation|\{)")


def operation_kind(query: str) -> str:
    """subscription, query or mutation, from the operation's first keyword (a bare selection
    set is a query). Fragments before it are skipped."""
    text = re.sub(r"(?s)fragment\s+\w+\s+on\s+\w+\s*\{(?:[^{}]|\{[^{}]*\})*\}", "", query)
    m = _KEYWORD.search(text)
    if m is None:
        return "query"
    return "query" if m.group(1) == "{" else m.group(1)


def close_words(code: int | None) -> str | None:
    if code is None:
        return None
    if code in CLOSE_CODES:
        return CLOSE_CODES[code]
    if 4400 <= code <= 4499:
        return "a GraphQL-over-WebSocket error close"
    return None


def is_graphql_close(code: int | None) -> bool:
    return code is not None and (4400 <= code <= 4499 or code == 4500)


def result_status(payload: Any) -> str:
    """What one execution result says (GraphQL spec, "Response"): `errors` with no `data`
    (absent or null) is a failed operation; with `data` beside it, a partial result."""
    if not isinstance(payload, dict) or not payload.get("errors"):
        return "ok"
    return "partial" if payload.get("data") is not None else "errors"


def _error_messages(errors: Any) -> list[str]:
    if isinstance(errors, dict):
        errors = [errors]
    if not isinstance(errors, list):
        return [str(errors)[:EXCERPT]]
    out = []
    for e in errors:
        msg = e.get("message") if isinstance(e, dict) else e
        out.append(str(msg)[:EXCERPT])
    return out or ["(an empty errors list)"]


@dataclass
class GqlSession:
    query: str
    variables: dict[str, Any] | None = None
    init_payload: dict[str, Any] | None = None
    kind: str = "subscription"
    # --- what happened
    dialect: str | None = None  # the subprotocol spoken (or graphql-sse)
    init_ms: float | None = None
    ack_ms: float | None = None
    connection_error: str | None = None  # legacy connection_error payload, in words
    subscribe_ms: float | None = None
    first_result_ms: float | None = None
    first_result_status: str = "ok"  # ok | partial (data and errors) | errors (no data)
    last_result_ms: float | None = None
    results: int = 0
    result_gaps: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # first messages
    n_errors: int = 0
    error_ms: float | None = None
    complete_ms: float | None = None
    stopped_ms: float | None = None  # we completed/stopped the operation ourselves
    keepalives: dict[str, int] = field(default_factory=lambda: {"ping": 0, "pong": 0, "ka": 0})
    last_keepalive_ms: float | None = None
    keepalive_gaps: list[float] = field(default_factory=list)  # cadence (bounded)
    ack_waited_ms: float | None = None  # the shell waited this long for an ack in vain
    invalid_ms: float | None = None  # a WebSocket message the client cannot read: it closes 4400
    unknown: int = 0  # messages of no known type
    unknown_examples: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.kind = operation_kind(self.query)

    # --- state
    @property
    def acked(self) -> bool:
        return self.ack_ms is not None

    @property
    def active(self) -> bool:
        """The operation runs: subscribed, not completed, not ended by an error."""
        return (self.subscribe_ms is not None and self.complete_ms is None
                and self.stopped_ms is None
                and not (self.dialect == TRANSPORT_WS and self.error_ms is not None))

    @property
    def over(self) -> bool:
        """Nothing more will come: the shell may close early."""
        return (self.connection_error is not None or self.ack_waited_ms is not None
                or self.invalid_ms is not None
                or (self.subscribe_ms is not None and not self.active))

    def _payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"query": self.query}
        if self.variables is not None:
            out["variables"] = self.variables
        return out

    # --- WebSocket ----------
    def start(self, t_ms: float, subprotocol: str) -> list[str]:
        """The socket opened with SUBPROTOCOL: our connection_init."""
        self.dialect = subprotocol
        self.init_ms = t_ms
        msg: dict[str, Any] = {"type": "connection_init"}
        if self.init_payload is not None:
            msg["payload"] = self.init_payload
        elif subprotocol == LEGACY_WS:
            # Apollo's subscriptions-transport-ws client always sends a payload ({} without
            # connectionParams), and legacy servers read it unguarded (strawberry fails the
            # connection without one).
            msg["payload"] = {}
        return [json.dumps(msg)]

    def receive(self, t_ms: float, text: str) -> list[str]:
        """One message from the server; returns the messages to send back."""
        try:
            msg = json.loads(text)
        except ValueError:
            self._invalid(t_ms, f"not JSON: {text[:60]!r}")
            return []
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            self._invalid(t_ms, f"no type: {text[:60]!r}")
            return []
        kind = msg["type"]
        legacy = self.dialect == LEGACY_WS
        if kind == "connection_ack":
            if self.ack_ms is not None:
                return []
            self.ack_ms = t_ms
            self.subscribe_ms = t_ms
            return [json.dumps({"id": OPERATION_ID, "type": "start" if legacy else "subscribe",
                                "payload": self._payload()})]
        if kind == "connection_error" and legacy:
            self.connection_error = "; ".join(_error_messages(msg.get("payload")))
            return []
        if kind == "ping" and not legacy:
            self.keepalive(t_ms, "ping")
            return [json.dumps({"type": "pong"})]
        if kind == "pong" and not legacy:
            self.keepalive(t_ms, "pong")
            return []
        if kind == "ka" and legacy:
            self.keepalive(t_ms, "ka")
            return []
        if kind in ("next", "data"):
            self.result(t_ms, msg.get("payload"))
            return []
        if kind == "error":
            self.error(t_ms, msg.get("payload"))
            return []
        if kind == "complete":
            # after our stop/complete it only acknowledges the unsubscribe
            if self.complete_ms is None and self.stopped_ms is None:
                self.complete_ms = t_ms
            return []
        self._invalid(t_ms, f"unknown type {kind!r}")
        return []

    def finish(self, t_ms: float) -> list[str]:
        """Leaving: complete (or stop) a running operation, as a client that unsubscribes."""
        out: list[str] = []
        if self.active:
            self.stopped_ms = t_ms
            out.append(json.dumps({"id": OPERATION_ID, "type": "stop"
                                   if self.dialect == LEGACY_WS else "complete"}))
        if self.dialect == LEGACY_WS and self.init_ms is not None:
            out.append(json.dumps({"type": "connection_terminate"}))
        return out

    def keepalive(self, t_ms: float, kind: str) -> None:
        """A keepalive from the server (ping, pong, ka, an SSE comment), for its cadence."""
        self.keepalives[kind] = self.keepalives.get(kind, 0) + 1
        if self.last_keepalive_ms is not None and len(self.keepalive_gaps) < MAX_GAPS:
            self.keepalive_gaps.append(t_ms - self.last_keepalive_ms)
        self.last_keepalive_ms = t_ms

    # --- both ----------
    def result(self, t_ms: float, payload: Any) -> None:
        self.results += 1
        if self.first_result_ms is None:
            self.first_result_ms = t_ms
            self.first_result_status = result_status(payload)
        elif self.last_result_ms is not None and len(self.result_gaps) < MAX_GAPS:
            self.result_gaps.append(t_ms - self.last_result_ms)
        self.last_result_ms = t_ms
        if isinstance(payload, dict) and payload.get("errors"):
            self._errors(t_ms, payload["errors"])

    def error(self, t_ms: float, payload: Any) -> None:
        self._errors(t_ms, payload)

    def _errors(self, t_ms: float, errors: Any) -> None:
        if self.error_ms is None:
            self.error_ms = t_ms
        for m in _error_messages(errors):
            self.n_errors += 1
            if len(self.errors) < MAX_ERRORS and m not in self.errors:
                self.errors.append(m)

    def _invalid(self, t_ms: float, what: str) -> None:
        """A message the reference clients refuse: graphql-ws closes with 4400 "Invalid message
        received", subscriptions-transport-ws fails the same way."""
        self._unknown(what)
        if self.invalid_ms is None:
            self.invalid_ms = t_ms

    def _unknown(self, what: str) -> None:
        self.unknown += 1
        if len(self.unknown_examples) < MAX_ERRORS:
            self.unknown_examples.append(what)

    # --- graphql-sse ----------
    def sse_request(self) -> bytes:
        """The POST body of a graphql-sse operation."""
        self.dialect = SSE
        return json.dumps(self._payload()).encode()

    def sse_event(self, t_ms: float, event: str, data: str) -> None:
        if event == "next":
            try:
                payload = json.loads(data)
            except ValueError:
                self._unknown(f"a next event that is not JSON: {data[:60]!r}")
                return
            self.result(t_ms, payload)
        elif event == "complete":
            if self.complete_ms is None:
                self.complete_ms = t_ms
        else:
            self._unknown(f"event {event!r}")

    # --- for reports ----------
    def keepalive_counts(self, obs: Any = None) -> dict[str, int]:
        """Keepalives of every kind: protocol pings/pongs and ka, WebSocket pings from the
        server, SSE comments."""
        shown = {LEGACY_WS: "ka", SSE: "comment"}.get(self.dialect or "", "ping")
        out = {k: v for k, v in self.keepalives.items() if v or k == shown}
        out.setdefault(shown, 0)
        n_in = getattr(obs, "n_in", None)
        if n_in is not None:
            out["websocket ping"] = n_in["ping"]
        return out

    def metrics(self, obs: Any = None) -> dict[str, Any]:
        gaps = sorted(self.result_gaps)
        ka = sorted(self.keepalive_gaps)
        return {
            "subprotocol": self.dialect,
            "operation": self.kind,
            "ack_ms": (None if self.ack_ms is None or self.init_ms is None
                       else round(self.ack_ms - self.init_ms, 1)),
            "first_result_ms": (None if self.first_result_ms is None or self.subscribe_ms is None
                                else round(self.first_result_ms - self.subscribe_ms, 1)),
            "results": self.results,
            "result_gap_ms": ({"p50": round(percentile(gaps, 0.5) or 0.0, 1),
                               "p95": round(percentile(gaps, 0.95) or 0.0, 1),
                               "max": round(gaps[-1], 1)} if gaps else None),
            "errors": self.n_errors,
            "completed": self.complete_ms is not None,
            "keepalive": self.keepalive_counts(obs),
            "keepalive_gap_ms": ({"p50": round(percentile(ka, 0.5) or 0.0, 1),
                                  "max": round(ka[-1], 1)} if ka else None),
            "unknown_messages": self.unknown,
        }
