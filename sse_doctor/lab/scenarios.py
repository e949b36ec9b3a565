"""The lab's scenario table: the single source of truth for its routes.

``sse-doctor lab`` lists these routes; ``sse-doctor demo`` probes every scenario with
``in_demo=True`` using ``DEMO_ARGS + scenario.probe_args`` and checks that the probe reports
exactly the finding codes in ``expect`` (an empty set means a healthy stream).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabScenario:
    name: str  # short id, e.g. "stalled"
    path: str  # route, e.g. "/sse/stalled"
    protocol: str  # "sse" or "ws"
    models: str  # one line: the real-world failure it models
    expect: frozenset[str]  # finding codes the demo's probe must produce (empty = healthy)
    probe_args: tuple[str, ...] = ()  # extra CLI args the demo passes for this scenario
    in_demo: bool = True

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form (used by the lab's ``GET /``)."""
        return {
            "name": self.name,
            "path": self.path,
            "protocol": self.protocol,
            "models": self.models,
            "expect": sorted(self.expect),
            "probe_args": list(self.probe_args),
            "in_demo": self.in_demo,
        }


# Common args the demo passes to every probe: a 4 s window, 2 s longest acceptable silence.
DEMO_ARGS: tuple[str, ...] = ("--duration", "4", "--idle-limit", "2")


def _scenario(protocol: str, name: str, models: str,
              expect: frozenset[str] | set[str] = frozenset(),
              probe_args: tuple[str, ...] = (), in_demo: bool = True) -> LabScenario:
    return LabScenario(name=name, path=f"/{protocol}/{name}", protocol=protocol,
                       models=models, expect=frozenset(expect), probe_args=probe_args,
                       in_demo=in_demo)


def _sse(name: str, models: str, *args: object, **kwargs: object) -> LabScenario:
    return _scenario("sse", name, models, *args, **kwargs)  # type: ignore[arg-type]


def _ws(name: str, models: str, *args: object, **kwargs: object) -> LabScenario:
    return _scenario("ws", name, models, *args, **kwargs)  # type: ignore[arg-type]


SCENARIOS: tuple[LabScenario, ...] = (
    _sse(
        "healthy",
        "a well-behaved stream: ids, retry, an event every 0.25 s, a heartbeat every 1 s",
    ),
    _sse(
        "http-error",
        "the endpoint fails before streaming: 500 with a JSON error body",
        {"http-error"},
    ),
    _sse(
        "wrong-content-type",
        "SSE-looking lines served as text/plain (EventSource refuses the stream)",
        {"not-event-stream"},
    ),
    _sse(
        "no-cache-missing",
        "a stream without Cache-Control: no-cache (caches and proxies may hold it)",
        {"missing-no-cache"},
    ),
    _sse(
        "gzip",
        "a compression middleware gzipping the stream (flushed per event here; often not)",
        {"compressed-stream"},
    ),
    _sse(
        "delayed-headers",
        "a framework that holds the headers until the first event: EventSource opens 1.3 s late",
        {"delayed-headers"},
    ),
    _sse(
        "buffered",
        "a buffering reverse proxy: events made every 0.1 s arrive in bursts of 10 every ~1 s",
        {"buffered-delivery"},
    ),
    _sse(
        "no-heartbeat",
        "no keepalive: 3 s silences that idle timeouts of proxies and clients will cut",
        {"no-heartbeat"},
    ),
    _sse(
        "stalled",
        "a generator whose DB session was closed: pings go on forever, events never come",
        {"stalled-stream"},
    ),
    _sse(
        "stale",
        "stale data from a shared DB session: the same payload again and again with new ids",
        {"repeated-payload"},
    ),
    _sse(
        "no-completed",
        "a job stream that never sends its 'completed' event",
        {"missing-expected-event"},
        ("--expect-event", "completed"),
    ),
    _sse(
        "endless",
        "a stream with no maximum duration: zombie streams pile up on the server",
        {"no-server-timeout"},
        ("--expect-close", "2"),
    ),
    _sse(
        "ends-early",
        "a job stream that ends cleanly after 3 progress events without 'completed'",
        {"premature-close"},
        ("--expect-event", "completed"),
    ),
    _sse(
        "crash",
        "the handler raises mid-stream: the connection drops with an incomplete chunked body",
        {"premature-close"},
    ),
    _sse(
        "finite",
        "a stream that sends 5 events and then ends cleanly",
        {"stream-ended"},
    ),
    _sse(
        "low-retry",
        "retry: 200 - clients reconnect 5 times a second and hammer the server",
        {"low-retry"},
    ),
    _sse(
        "no-ids",
        "events without id: fields, so a reconnecting client cannot resume (no Last-Event-ID)",
        {"no-event-ids"},
    ),
    _sse(
        "malformed",
        "a hand-rolled serializer: 'Data:' lines (ignored by browsers) and invalid UTF-8 data",
        {"malformed-stream"},
    ),
    _sse(
        "divergence",
        "keepalives typed 'event: ping' with no data line: browsers drop them, httpx-sse "
        "dispatches them",
        {"client-divergence"},
    ),
    _sse(
        "garbage",
        "hostile: random binary bytes in 4 KiB chunks under a text/event-stream header",
        {"malformed-stream"},
    ),
    _sse(
        "huge-line",
        "hostile: a single 10 MB data line before the stream turns healthy",
        {"malformed-stream"},
    ),
    _sse(
        "silent",
        "hostile: headers, then never a single body byte",
        {"no-heartbeat"},
    ),
    _sse(
        "firehose",
        "benchmark: ?events=N&size=B (default 200000 x 100 bytes) as fast as possible, then end",
        in_demo=False,
    ),
    _sse(
        "steady",
        "utility: ?interval=S&size=B (default 0.05 s x 200 bytes) forever, each event flushed;"
        " put a proxy in front of it",
        in_demo=False,
    ),
    _sse(
        "echo",
        "utility: reflects method, headers, query and body (GET or POST), 5 ticks, then end",
        in_demo=False,
    ),
    _sse(
        "clock",
        "benchmark: ': t=<send time>' comments every ?interval=S (default 1 s), the first at"
        " once (?spread=1: the rest at a random phase); the send time is perf_counter"
        " (CLOCK_MONOTONIC), for measuring arrival lag",
        in_demo=False,
    ),
    _sse(
        "mcp-session-required",
        "an MCP server (streamable HTTP) probed without a session: 400 with a JSON-RPC error",
        {"http-error", "profile-hint"},
    ),
    # --- WebSocket (probed as ws://; see lab/ws_routes.py) ------------------------------------
    _ws(
        "healthy-echo",
        "a well-behaved socket: echoes messages, progress every 0.25 s, answers pings",
        (),
        ("--send", '{"prompt":"hello"}', "--expect-message", '"echo"', "--ping-interval", "1"),
    ),
    _ws(
        "generate-code",
        "the incident: the handler closes with 1011 a few ms after parsing the first message",
        {"ws-early-close", "ws-abnormal-close"},
        ("--send", '{"prompt":"hello"}'),
    ),
    _ws(
        "job-done",
        "a job socket that finishes: progress, completed, then a normal close (1000) 1.5 s in",
        {"ws-server-closed"},
        ("--send", '{"job":42}'),
    ),
    _ws(
        "drop-after-first",
        "a worker killed mid-request: TCP reset right after the first message, no close frame",
        {"ws-early-close", "ws-abnormal-close"},
        ("--send", "hello"),
    ),
    _ws(
        "reject-origin",
        "an origin check refusing the opening handshake with 403",
        {"ws-handshake-failed"},
        ("--origin", "https://evil.example"),
    ),
    _ws(
        "no-upgrade",
        "a proxy or plain HTTP route that never upgrades: 200 with an HTML page instead of 101",
        {"ws-handshake-failed"},
    ),
    _ws(
        "mute",
        "accepts, then sends nothing at all (no message, no ping): proxies cut it when idle",
        {"ws-no-keepalive"},
    ),
    _ws(
        "no-pong",
        "progress messages flow but pings are never answered (a proxy swallowing control frames)",
        {"ws-pong-timeout"},
        ("--ping-interval", "0.5"),
    ),
    _ws(
        "huge-message",
        "hostile: one 16 MiB message (?size=N) over the client's 1 MiB --max-message-size",
        {"ws-abnormal-close"},
    ),
    _ws(
        "invalid-frame",
        "hostile: a frame with the reserved opcode 0x3 after one valid message",
        {"ws-abnormal-close"},
    ),
)

# --- protocol profiles: Socket.IO and GraphQL (see lab/protocol_routes.py) ---------------------
_SIO = ("--profile", "socketio")
_SIO_WS = (*_SIO, "--transport", "websocket")
_GQL = ("--profile", "graphql", "--query", "subscription { tick }")
SCENARIOS += (
    _sse("socketio-healthy", "a Socket.IO server: a tick event every 0.25 s, an Engine.IO ping "
         "every 0.5 s (WebSocket transport)", (), _SIO_WS),
    _sse("socketio-handshake-failed", "a server of another major version: 400 with Engine.IO "
         "error code 5 (unsupported protocol version) to the handshake",
         {"socketio-handshake-failed"}, _SIO),
    _sse("socketio-session-unknown", "two workers without sticky sessions: every request after "
         "the handshake answers 400 'Session ID unknown'", {"socketio-session-unknown"}, _SIO),
    _sse("socketio-no-upgrade", "long-polling only: the handshake offers no WebSocket upgrade",
         {"socketio-upgrade-failed"}, _SIO),
    _sse("socketio-namespace-rejected", "the namespace's connect handler refuses: CONNECT_ERROR "
         "'Not authorized'", {"socketio-namespace-rejected"}, _SIO_WS),
    _sse("socketio-ping-timeout", "pings announced every 300 ms, never sent (a blocked event "
         "loop)", {"socketio-ping-timeout"}, _SIO_WS),
    _sse("socketio-disconnect", "the server calls disconnect() 0.5 s after the client joins",
         {"socketio-server-disconnect"}, _SIO_WS),
    _sse("socketio-garbage", "hostile: a binary frame nothing announced and a packet of unknown "
         "type after the CONNECT", {"socketio-server-disconnect"}, _SIO_WS),
    _ws("graphql-healthy", "graphql-transport-ws: ack, a result every 0.25 s, a ping every 1 s",
        (), _GQL),
    _ws("graphql-ack-timeout", "connection_init read, connection_ack never sent",
        {"graphql-ack-timeout"}, (*_GQL, "--timeout", "1")),
    _ws("graphql-close-code", "the subscription fails the connection: close 4500",
        {"graphql-close-code"}, _GQL),
    _ws("graphql-no-subprotocol", "accepts without a GraphQL subprotocol, then closes 4406",
        {"graphql-subprotocol-mismatch"}, _GQL),
    _ws("graphql-error", "an error message for the subscription (a field the schema lacks)",
        {"graphql-operation-error"}, _GQL),
    _ws("graphql-no-complete", "a query answered with one result, then a close without "
        "complete", {"graphql-no-complete"}, ("--profile", "graphql", "--query", "{ hello }")),
    _ws("graphql-no-keepalive", "acknowledged and subscribed, then silent: no result, no ping",
        {"graphql-no-keepalive"}, _GQL),
    _ws("graphql-garbage", "hostile: a binary frame and a message of unknown type after the ack",
        {"graphql-close-code"}, _GQL),
    _sse("graphql-sse-no-complete", "graphql-sse: two next events, then the stream ends without "
         "the complete event", {"graphql-no-complete"}, _GQL),
)


# --- LLM token streams (POST, probed with the llm profile; see lab/llm_routes.py) ------------
CHAT_BODY = ('{"model":"lab-gpt","stream":true,"stream_options":{"include_usage":true},'
             '"messages":[{"role":"user","content":"Say hello."}]}')
ANTHROPIC_BODY = ('{"model":"lab-claude","max_tokens":64,"stream":true,'
                  '"messages":[{"role":"user","content":"Say hello."}]}')
RESPONSES_BODY = '{"model":"lab-gpt","stream":true,"input":"Say hello."}'


def _llm(api: str, variant: str, models: str, expect: set[str] | frozenset[str] = frozenset(),
         args: tuple[str, ...] = ()) -> LabScenario:
    from .llm_routes import anthropic_path, chat_path, responses_path

    path, body = {"openai": (chat_path, CHAT_BODY), "anthropic": (anthropic_path, ANTHROPIC_BODY),
                  "responses": (responses_path, RESPONSES_BODY)}[api]
    return LabScenario(name=f"llm-{api}-{variant}", path=path(variant), protocol="sse",
                       models=models, expect=frozenset(expect),
                       probe_args=("-X", "POST", "-d", body, *args))


LLM_SCENARIOS: tuple[LabScenario, ...] = (
    _llm("openai", "healthy", "an OpenAI-compatible chat completion stream: role chunk, tokens, "
         "finish_reason, usage, data: [DONE]"),
    _llm("openai", "no-done", "the answer ends without data: [DONE] (clients wait forever)",
         {"llm-missing-terminal"}),
    _llm("openai", "hang", "the answer is complete, then only keepalives: no [DONE], no end",
         {"llm-missing-terminal", "stalled-stream"}),
    _llm("openai", "error", "a provider error sent inside the 200 stream after a few tokens",
         {"llm-error-in-stream"}),
    _llm("openai", "keepalive", "a gateway's keepalives sent as 'data: : keepalive' lines",
         {"llm-nonstandard-keepalive"}),
    _llm("openai", "split-json", "a re-chunking proxy cuts one JSON chunk across two events",
         {"llm-invalid-json"}),
    _llm("openai", "stall", "generation stalls 2.6 s mid-answer with nothing on the wire",
         {"no-heartbeat"}),
    _llm("openai", "buffered", "a buffering proxy releases tokens in blocks of five",
         {"buffered-delivery"}),
    _llm("openai", "empty-finish", "finish_reason \"\" instead of null on every chunk",
         {"llm-no-finish-reason"}),
    _llm("openai", "no-usage", "usage asked for with stream_options.include_usage, never sent",
         {"llm-usage-missing"}),
    _llm("openai", "after-done", "one more chunk after data: [DONE]",
         {"llm-sequence-violation"}),
    _llm("openai", "slow-first", "a queued model: the first token after 1.5 s",
         {"llm-slow-first-token"}, ("--profile", "llm", "--ttft-limit", "0.5")),
    _llm("anthropic", "healthy", "an Anthropic Messages stream: message_start, a text block "
         "with ping, message_delta with stop_reason and usage, message_stop"),
    _llm("anthropic", "error", "an overloaded_error event mid-answer", {"llm-error-in-stream"}),
    _llm("anthropic", "out-of-order", "a content_block_delta before its content_block_start",
         {"llm-sequence-violation"}),
    _llm("responses", "healthy", "an OpenAI Responses stream: typed events, sequence_number, "
         "response.completed with usage"),
    _llm("responses", "sequence-gap", "one event lost: the sequence_number skips one",
         {"llm-sequence-violation"}),
)
SCENARIOS = SCENARIOS + LLM_SCENARIOS


# --- MCP servers (probed with --profile mcp; see lab/mcp_routes.py) ---------------------------
def _mcp(name: str, models: str, expect: frozenset[str] | set[str] = frozenset()) -> LabScenario:
    return LabScenario(name=f"mcp-{name}", path=f"/mcp/{name}", protocol="mcp", models=models,
                       expect=frozenset(expect), probe_args=("--profile", "mcp"))


SCENARIOS += (
    _mcp("healthy", "an MCP server (Streamable HTTP): a session, SSE answers, a GET stream with "
         "notifications that carry ids and resume, DELETE then 404"),
    _mcp("session-lost", "a second replica without the session behind a load balancer: 404 on "
         "every request after initialize", {"mcp-session-lost"}),
    _mcp("response-missing", "the handler dies: tools/list's stream ends after a notification, "
         "before the response", {"mcp-response-missing"}),
    _mcp("invalid-message", "a debug print on the tools/list stream: 'data: debug: listing "
         "tools' before the response", {"mcp-invalid-message"}),
    _mcp("resume-broken", "Last-Event-ID ignored: a resumed GET stream replays from the start",
         {"mcp-resume-broken"}),
    _mcp("not-terminated", "DELETE answers 200 but the session keeps answering",
         {"mcp-session-not-terminated"}),
    _mcp("host-refused", "the SDK's DNS-rebinding protection behind a proxy that passes its own "
         "Host: 421 to every request", {"mcp-host-rejected"}),
    _mcp("silent-stream", "a healthy session whose GET stream never sends a byte: proxies cut it "
         "when idle", {"no-heartbeat"}),
    _mcp("legacy", "only the 2024-11-05 HTTP+SSE transport: POST is 405, a GET stream announces "
         "its POST URL in an `endpoint` event", {"mcp-legacy-transport"}),
    _mcp("polling", "2025-11-25 SSE polling: tools/list's stream sends a priming event (id, "
         "retry) and closes; the response comes on the stream resumed with Last-Event-ID"),
    _mcp("polling-lost", "SSE polling whose resumed stream never carries the response: it "
         "is lost on resume", {"mcp-resume-broken"}),
    _mcp("modern", "a server that speaks only revision 2026-07-28: server/discover, stateless "
         "requests checked against their headers, a subscriptions/listen stream with its "
         "acknowledgement and keepalives; GET and DELETE 405"),
    _mcp("modern-silent-listen", "a modern server whose subscriptions/listen stream opens and "
         "never sends a byte: no acknowledgement, no keepalive",
         {"mcp-listen-unacknowledged", "no-heartbeat"}),
    _mcp("modern-unsupported", "a modern-only server of a later revision: -32022 with "
         "data.supported naming only 2027-07-28", {"mcp-revision-unsupported"}),
    _mcp("modern-headers-ignored", "a modern server that never compares the Mcp-Method header "
         "with the body", {"mcp-headers-ignored"}),
)


def get_scenario(name: str) -> LabScenario:
    """The scenario called ``name`` (KeyError if there is none)."""
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    raise KeyError(name)
