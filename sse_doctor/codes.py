"""Every finding code, defined once: severity, title, meaning, typical cause, what to do.

The manual's finding-code page (docs/reference/findings.md) is generated from this registry
by scripts/gen_docs.py, and a test fails when the committed page is stale.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"
INFO = "info"

SEVERITY_RANK = {INFO: 0, WARNING: 1, ERROR: 2}


def fails(severity: str, fail_on: str) -> bool:
    """True when a finding of `severity` fails a run under `--fail-on fail_on`."""
    if fail_on == "never":
        return False
    return SEVERITY_RANK[severity] >= SEVERITY_RANK[fail_on]


@dataclass(frozen=True)
class Code:
    code: str
    severity: str
    title: str
    cause: str
    advice: str


def _c(code: str, severity: str, title: str, cause: str, advice: str) -> Code:
    return Code(code, severity, title, cause, advice)


_ALL = [
    # --- HTTP and headers -------------------------------------------------------------
    _c("target-unreachable", ERROR, "The target could not be reached",
       "DNS failure, connection refused, TLS failure, or no response before --timeout.",
       "Check the host, port and scheme; for TLS use --cacert or --insecure; "
       "raise --timeout if the server is just slow to answer. When the request was sent "
       "and no response head came, something holds the headers back: a buffering proxy "
       "(send X-Accel-Buffering: no, or disable its buffering) or an app that sends them "
       "with its first event (flush the headers at once)."),
    _c("http-error", ERROR, "The server answered with an HTTP error status",
       "Authentication missing or wrong, wrong path or method, or a server-side exception.",
       "Read the status and body excerpt; check the URL, method (-X), body (-d) and "
       "credentials (-H/--bearer/--cookie)."),
    _c("not-event-stream", ERROR, "The response is not text/event-stream",
       "The route returns JSON/HTML/text (an error page, a login redirect, a wrong route) "
       "or forgets the media type.",
       "Serve the stream with 'Content-Type: text/event-stream'; a browser's EventSource "
       "fails the connection on any other type."),
    _c("missing-no-cache", WARNING, "No Cache-Control: no-cache on the stream",
       "The framework's default headers were kept.",
       "Send 'Cache-Control: no-cache' so caches and proxies never store or coalesce the "
       "stream."),
    _c("compressed-stream", WARNING, "The stream is compressed",
       "A gzip/brotli middleware or proxy compresses text/event-stream.",
       "Exclude text/event-stream from compression: compressors buffer output until their "
       "block fills, which delays events."),
    _c("delayed-headers", WARNING, "Response headers were held back until the first event",
       "The framework sends the status line only with the first body chunk, and the first "
       "event is slow to come.",
       "Flush the headers as soon as the stream is accepted (send a comment such as ': ok' "
       "at once); the browser's EventSource 'open' fires only when headers arrive."),
    _c("http1-only", INFO, "The server answered over HTTP/1.1 although HTTP/2 was offered",
       "No HTTP/2 on the server or on a proxy in front of it.",
       "Enable HTTP/2: browsers allow only 6 HTTP/1.1 connections per origin, and each "
       "open EventSource holds one."),
    # --- timing ---------------------------------------------------------------------------
    _c("buffered-delivery", ERROR, "Events arrive in bursts: something buffers the stream",
       "A reverse proxy (nginx proxy_buffering, a CDN), a compression middleware or the "
       "server's own write buffer holds events back and releases them in batches.",
       "Disable buffering on the path: 'X-Accel-Buffering: no' or 'proxy_buffering off' "
       "for nginx, no compression for text/event-stream, flush after every event."),
    _c("no-heartbeat", ERROR, "A silence longer than the idle limit",
       "The server sends nothing while it has no events: no heartbeat comments.",
       "Send a comment line (': ping') every 15 s or so; proxies and load balancers cut "
       "idle connections, often after 60 s."),
    _c("stalled-stream", ERROR, "Data events stopped while keepalives went on",
       "The producer behind the stream died or blocks (a closed DB session under a "
       "long-lived generator) while the heartbeat task keeps the connection alive.",
       "Check the producer side: logs around the last event, DB session lifetime, queue "
       "consumers. End the stream with an error event when the producer fails."),
    # --- content ----------------------------------------------------------------------------
    _c("repeated-payload", WARNING, "The same payload arrives again and again",
       "Stale data: a cached query, a shared DB session that never sees new commits, a "
       "loop re-sending its last value.",
       "Use a fresh DB session/transaction per poll, or send only on change."),
    _c("missing-expected-event", ERROR, "An expected event never arrived in the window",
       "The producer never reached that step, or names the event differently.",
       "Check the event name (case-sensitive) and the producer; raise --duration if the "
       "step is legitimately slow."),
    _c("error-event", ERROR, "The server reported an error inside the 200 stream",
       "The handler failed after the 200 status was sent and said so in the stream with an "
       "'error' event (Hono's streamSSE onError, a common convention): the operation the "
       "client waits for did not complete.",
       "Read the error's data and the server log at that moment. In browsers an 'error' "
       "event reaches the same listener as a lost connection: check event.data there (a "
       "MessageEvent) to tell the two apart, or give server errors another event name."),
    _c("low-retry", WARNING, "retry: below 1000 ms",
       "The server asks clients to reconnect almost at once.",
       "Use retry: 3000 or more; with thousands of clients a low retry turns every "
       "server restart into a reconnect storm."),
    _c("no-event-ids", INFO, "Events carry no id",
       "The server does not send 'id:' fields.",
       "Send ids and honour Last-Event-ID on reconnect so clients resume without "
       "losing events."),
    _c("malformed-stream", WARNING, "The stream breaks the event-stream format",
       "Misspelt or capitalised field names, invalid UTF-8, non-numeric retry, an event "
       "left unterminated, oversize lines.",
       "Fix the serializer: lowercase field names, UTF-8 only, digits-only retry, every "
       "event ends with a blank line."),
    _c("client-divergence", INFO, "httpx-sse reads this stream differently from a browser",
       "The server sends something the two parsers read differently: an event type with "
       "no data line (browsers drop the event, httpx-sse dispatches it) or a retry value "
       "that is not plain digits. httpx-sse's own empty events after heartbeats once an id "
       "was seen (its bug #35) are not counted: the server cannot and need not avoid them.",
       "Follow the detail: give every event a data line (or send heartbeats as comments, "
       "': ping'), and write retry as plain digits, so every client sees the same events."),
    # --- lifecycle ----------------------------------------------------------------------------
    _c("no-server-timeout", WARNING, "The server did not end the stream in time",
       "Streams have no maximum duration: zombie connections pile up behind proxies.",
       "End long streams after a maximum duration and let clients reconnect with "
       "Last-Event-ID."),
    _c("premature-close", ERROR, "The stream ended before it should have",
       "The handler crashed mid-stream (the connection broke) or returned before the "
       "expected events.",
       "Look for an exception in the server log at that moment; wrap the generator so "
       "errors become an error event and the stream ends cleanly."),
    _c("stream-ended", INFO, "The server ended the stream cleanly",
       "The endpoint is finite (no expectations were given).",
       "Nothing, if intended: a browser's EventSource reconnects after 'retry' ms; send "
       "a final event and have the client close() if it should not."),
    # --- experiments (issue 4) and browser captures --------------------------------------------
    _c("cleanup-leak", ERROR, "Server state did not return to baseline after a disconnect",
       "A generator's cleanup sits in an except block that cancellation never reaches.",
       "Put cleanup in 'finally' (or a context manager) so it runs on cancellation."),
    _c("reconnect-rejected", ERROR, "A fresh connection was refused after a disconnect",
       "Per-session state left behind by the dropped stream blocks the same identity.",
       "Release per-session state in 'finally' when the stream ends for any reason."),
    _c("close-wait-leak", ERROR, "Sockets stay in CLOSE_WAIT after clients left",
       "The server never closes its side of dropped connections.",
       "Detect disconnects (request.is_disconnected, cancellation) and close the stream."),
    _c("storm-leak", ERROR, "Watched resources did not return to baseline after a storm",
       "Connections or tasks are not released when clients abort quickly.",
       "Release resources on cancellation; cap connections per identity."),
    _c("resume-gap", ERROR, "Events were skipped on resume",
       "Last-Event-ID is honoured but the server resumes past events it never sent.",
       "Resume strictly after the given id."),
    _c("resume-replay", WARNING, "Resume replays the stream from the start",
       "The server ignores Last-Event-ID: it sends ids again, or starts over under fresh ids "
       "(the payloads begin again from the first one), or replays payloads already sent.",
       "Read Last-Event-ID and continue after it; give each event a stable id, so a resume "
       "can find its place."),
    _c("concurrent-streams", ERROR, "Several streams to one URL open at once from one page",
       "The client opens a new EventSource without closing the previous one.",
       "Keep one EventSource per URL; close() it before opening another."),
    _c("reconnect-without-backoff", WARNING, "Reconnects without backoff",
       "The client reconnects immediately, again and again.",
       "Back off exponentially with jitter between reconnects."),
    _c("request-storm", ERROR, "More than 60 stream requests a minute to one URL",
       "Reconnect timers stack up in the client.",
       "Debounce reconnects and reuse one connection."),
    _c("duplicate-streams-allowed", INFO, "The server keeps duplicate streams of one identity",
       "No per-identity connection cap.",
       "Close the older stream when the same identity connects again, if one is enough."),
    # --- WebSocket (issue 3) --------------------------------------------------------------------
    _c("ws-handshake-failed", ERROR, "The WebSocket handshake failed",
       "Origin check (403), wrong path (404), a proxy that does not upgrade, or a server "
       "with no WebSocket support at all (uvicorn without a WebSocket library answers every "
       "upgrade as plain HTTP).",
       "Read the status and body; allow the Origin, fix the path, enable Upgrade on the "
       "proxy; when the detail says the server cannot upgrade, install its WebSocket "
       "support (uvicorn[standard])."),
    _c("ws-early-close", ERROR, "The server closed the WebSocket right after it opened",
       "The handler fails on the first message it parses.",
       "Look for an unhandled exception in the handler after it reads that message."),
    _c("ws-abnormal-close", ERROR, "The WebSocket closed abnormally",
       "1006 (no close frame), 1011 (server error), 1012-1014, an application 4xxx code; "
       "or our side closed: 1002 (invalid frame), 1007, 1009 (over --max-message-size).",
       "Read the close code and reason; check the server log at that moment."),
    _c("ws-server-closed", INFO, "The server closed the WebSocket normally inside the window",
       "The exchange was finished, or a server-side idle, session or protocol timeout "
       "(a Socket.IO server whose Engine.IO ping got no answer) ended it.",
       "Nothing, if intended; otherwise read when and after which message it closed, and "
       "check the server's timeouts. A client that should stay connected must reconnect."),
    _c("ws-no-keepalive", WARNING, "No frame from the server for longer than the idle limit",
       "No ping or application heartbeat.",
       "Send pings (websockets' ping_interval) or a heartbeat message."),
    _c("ws-pong-timeout", ERROR, "Our ping got no pong in time",
       "The server's event loop is blocked, or a proxy swallows control frames.",
       "Find what blocks the loop; check the proxy's WebSocket support."),
    _c("ws-missing-expected-message", ERROR, "An expected message never arrived",
       "The handler never reached that step.",
       "Check the handler and the message text you expect."),
    # --- protocol profiles (issue 10) ------------------------------------------------------------
    _c("profile-hint", INFO, "The stream shows the signs of a protocol profile",
       "The endpoint speaks a protocol that needs a conversation (an MCP server's 400 "
       "'Missing session ID' or JSON-RPC error, a /socket.io/ URL, a GraphQL close code), "
       "which the plain probe does not drive.",
       "Run the probe again with the --profile it names, to drive that protocol's "
       "conversation and check it."),
    # --- llm profile (issue 10) ---------------------------------------------------------------
    _c("llm-missing-terminal", ERROR, "The LLM stream ended without its terminal marker",
       "The server (or a proxy timeout) ended the stream, or kept it open, without the "
       "dialect's end: 'data: [DONE]', response.completed|incomplete|failed, or message_stop.",
       "Always send the terminal marker, also after errors and cancellations; clients such "
       "as Open WebUI wait for it and never finish the answer."),
    _c("llm-error-in-stream", ERROR, "An error inside a 200 LLM stream",
       "The model or a provider behind a gateway failed after the 200 status was sent: an "
       "error object or an error event arrived in the stream.",
       "Read the error; send errors in the dialect's form (an 'error' event, an error object) "
       "and handle them in the client: the official OpenAI SDK raises APIError on an 'error' "
       "key, the Anthropic SDK raises on an error event."),
    _c("llm-invalid-json", ERROR, "An LLM stream payload is not a JSON object",
       "A data line that is not JSON, or one JSON chunk cut across two events (a proxy or a "
       "gateway that re-chunks the stream, a serializer that writes newlines).",
       "Send each chunk as one JSON object on one data line; the official SDKs call "
       "json.loads on every payload and raise on this one."),
    _c("llm-nonstandard-keepalive", ERROR, "Keepalives are sent as data lines",
       "The server or a gateway sends 'data: : keepalive' (or an empty or 'ping' data line) "
       "instead of an SSE comment.",
       "Send keepalives as comment lines (': keepalive'); the official OpenAI SDK raises a "
       "JSON decode error on the first data-line keepalive."),
    _c("llm-no-finish-reason", WARNING, "No finish reason at the end of the answer",
       "The final chunk carries no finish_reason (stop_reason), or a chunk carries an "
       "empty-string finish_reason where the API says null.",
       "Send null until the last chunk and then the reason (stop, length, tool_calls...); "
       "clients that test 'is not None' stop after the first token on an empty string."),
    _c("llm-usage-missing", WARNING, "No usage in the LLM stream",
       "The request asked for usage (stream_options.include_usage) or the API always sends "
       "it (Anthropic message_delta, Responses response.completed), and none came.",
       "Forward the usage chunk through the gateway or proxy; token accounting depends on "
       "it."),
    _c("llm-sequence-violation", ERROR, "LLM stream events out of order",
       "Anthropic blocks out of order or unopened, a gap or repeat in the Responses "
       "sequence_number, data after the terminal marker.",
       "Emit events in the documented order; a gateway that merges or retries streams must "
       "not reorder, repeat or append after the end."),
    _c("llm-slow-first-token", WARNING, "The first token came later than --ttft-limit",
       "Queueing or a cold model before generation, a slow prompt prefill, or a proxy "
       "holding the first bytes back.",
       "Check the queue and the model's load; send the headers and the role chunk at once so "
       "clients see progress."),
    # --- graphql profile (issue 11) -----------------------------------------------------------
    _c("graphql-ack-timeout", ERROR, "The server never acknowledged connection_init",
       "No connection_ack within --timeout: an on-connect hook that blocks or waits on a slow "
       "auth service, or a server that does not speak the subprotocol it picked.",
       "Make the connect hook answer quickly (check auth asynchronously, with a timeout); "
       "check that the server speaks graphql-transport-ws or graphql-ws as it claims."),
    _c("graphql-close-code", ERROR, "The connection ended with a GraphQL close code",
       "The server closed with 4400 bad message, 4401 unauthorized (subscribed before the "
       "ack), 4403 forbidden (the connect hook refused the init payload), 4406 subprotocol "
       "not acceptable, 4408 init timeout, 4409 duplicate operation id, 4429 too many init "
       "requests, 4500 internal error; or it sent a message no client can read, and the "
       "client closed with 4400 as the graphql-ws client does.",
       "Read the code's meaning in the detail: send the credentials the server expects in "
       "--init-payload for 4401/4403, fix the message or the operation for 4400, look in "
       "the server log for 4500."),
    _c("graphql-subprotocol-mismatch", ERROR, "The server picked no offered GraphQL subprotocol",
       "The server accepted the WebSocket without graphql-transport-ws or graphql-ws (or "
       "with another subprotocol): its GraphQL-over-WebSocket support is off, or a proxy "
       "drops the Sec-WebSocket-Protocol header.",
       "Enable graphql-transport-ws (or the legacy graphql-ws) on the server, and make proxies "
       "pass Sec-WebSocket-Protocol through."),
    _c("graphql-operation-error", ERROR, "The operation returned GraphQL errors",
       "An error message, or errors inside a next/data payload: a resolver raised, the "
       "operation does not validate against the schema, or a variable is wrong.",
       "Read the messages in the detail; fix the operation or the resolver (the server log "
       "has the traceback)."),
    _c("graphql-no-complete", WARNING, "The operation ended without complete",
       "A query or mutation (or a subscription stream over SSE) ended without the complete "
       "message: the server closed early, or forgets to send complete.",
       "Send complete when an operation ends; clients otherwise wait for more results."),
    _c("graphql-no-keepalive", WARNING, "No keepalive on an idle GraphQL link",
       "No result and no keepalive of any kind (ping/pong, ka, WebSocket pings, SSE comments) "
       "for longer than --idle-limit: proxies cut idle connections, often at 60 s.",
       "Turn on the server's keepalive (graphql-transport-ws ping, graphql-ws ka, a comment "
       "heartbeat on SSE) with an interval under the proxies' idle timeout."),
    # --- socketio profile (issue 11) ---------------------------------------------------------
    _c("socketio-handshake-failed", ERROR, "The Engine.IO handshake failed",
       "No or an invalid open packet: the path is not a Socket.IO endpoint, the server speaks "
       "another Engine.IO version (code 5: Socket.IO v2 servers speak v3), or an error page.",
       "Check the path (default /socket.io/) and that client and server major versions "
       "match (Socket.IO v3/v4 speak Engine.IO v4)."),
    _c("socketio-session-unknown", ERROR, "A later request did not find the session",
       "A polling request or the upgrade after the handshake was answered 400 'Session ID "
       "unknown' / 'Invalid session': the requests of one session reach different server "
       "processes (a load balancer without sticky sessions).",
       "Enable sticky sessions (cookie or IP hash) on the load balancer, or connect with the "
       "WebSocket transport only."),
    _c("socketio-upgrade-failed", WARNING, "The WebSocket upgrade failed",
       "Long-polling works but the upgrade to WebSocket fails (a proxy without WebSocket "
       "support, no 3probe answer) or is never offered.",
       "Let WebSocket upgrades through the proxy (Upgrade and Connection headers), or allow "
       "upgrades on the server."),
    _c("socketio-namespace-rejected", ERROR, "The namespace refused the connection",
       "A CONNECT_ERROR packet: the namespace's connect handler refused (authentication, a "
       "middleware) or the namespace does not exist.",
       "Read the message in the detail; send the auth the namespace expects, or join a "
       "namespace the server has (--namespace)."),
    _c("socketio-ping-timeout", ERROR, "The server's ping did not come in time",
       "No Engine.IO ping within pingInterval + pingTimeout: a blocked event loop, or a proxy "
       "holding or dropping packets.",
       "Find what blocks the server's loop; check proxy buffering on polling responses."),
    _c("socketio-server-disconnect", WARNING, "The server ended the session",
       "A Socket.IO DISCONNECT or Engine.IO close packet, or the transport closed, inside the "
       "window: the server called disconnect(), restarted, or dropped a client it took for "
       "gone; or it sent a packet the client cannot decode.",
       "Read the reason in the detail; clients reconnect after a server disconnect only if "
       "told to, so make sure the server means it."),
    # --- suites (issue 5) ----------------------------------------------------------------------
    _c("threshold-missed", ERROR, "A suite threshold was missed",
       "The stream was slower or sparser than the suite allows: max_first_event_ms, "
       "max_gap_s or min_events (the evidence has the measured value and the limit).",
       "Find what delays or thins out the events (the other findings and the timeline help), "
       "or change the threshold if the expectation was wrong."),
    _c("check-incomplete", ERROR, "The check did not complete",
       "The check ran past its deadline (the window, the timeouts and a margin) or stopped "
       "on an internal error; the detail says which.",
       "Re-run the check alone with -v; if it keeps timing out, lower --jobs or raise "
       "--timeout; report an internal error with the detail."),
    # --- MCP profile (issue 10): probe --profile mcp ------------------------------------------
    _c("mcp-initialize-failed", ERROR, "The MCP session could not be initialized",
       "The initialize request was refused or never answered: 406 over the Accept header, "
       "400 over the protocol version, 421 from the SDK's DNS-rebinding protection when a "
       "proxy passes a Host it does not expect, a JSON-RPC error, or no answer.",
       "Read the reason: let proxies pass 'Accept: application/json, text/event-stream' and "
       "the original Host (or add the public host to the server's allowed hosts), offer a "
       "version the server supports with --mcp-version, give credentials with --bearer/-H."),
    _c("mcp-session-lost", ERROR, "The server refused its own MCP session on a later request",
       "A load balancer sends the session's requests to a replica that does not hold it "
       "(400 or 404), or the server forgot the session (a restart, a short idle timeout).",
       "Pin sessions to one replica (sticky sessions on the Mcp-Session-Id header), share "
       "session state between replicas, or run the server stateless."),
    _c("mcp-response-missing", ERROR, "A request got no JSON-RPC response",
       "The POST's SSE stream closed (or the window ran out) before the response with the "
       "request's id: the handler failed, or a proxy cut the stream.",
       "Look for an exception in the server log at that moment; keep the stream open until "
       "the response is sent, and check the proxy's timeouts."),
    _c("mcp-invalid-message", ERROR, "A message from the server is not JSON-RPC 2.0",
       "A body or an SSE event's data that is not JSON, lacks \"jsonrpc\": \"2.0\", or is "
       "neither a request, a notification nor a response (debug prints, keepalives sent as "
       "data).",
       "Send only JSON-RPC 2.0 messages, one per SSE event; keep keepalives as SSE comments "
       "(': ping')."),
    _c("mcp-legacy-transport", WARNING, "The server speaks only the old HTTP+SSE transport",
       "It implements the 2024-11-05 HTTP+SSE transport (a GET stream with an `endpoint` "
       "event) and not Streamable HTTP.",
       "Serve Streamable HTTP (spec 2025-03-26 and later) on one endpoint; keep the old "
       "endpoints beside it for old clients."),
    _c("mcp-resume-broken", ERROR, "Resuming an MCP stream loses or repeats messages",
       "The server attaches event ids but a GET with Last-Event-ID is refused (409), or "
       "replays from the wrong place, so messages are lost or delivered twice.",
       "Replay exactly the events after Last-Event-ID on the stream they belong to (the "
       "SDK's EventStore does), or send no event ids."),
    _c("mcp-session-not-terminated", WARNING, "The MCP session still answers after DELETE",
       "DELETE answered with success but the server keeps serving the session.",
       "Discard the session on DELETE and answer 404 to its id from then on; answer 405 if "
       "clients may not end sessions."),
    # --- MCP revisions (issue 20): 2026-07-28 first, every older one still -----------------
    _c("mcp-revision-unsupported", ERROR, "The server will not speak the MCP revision asked for",
       "An explicit --mcp-version the server answered with another revision (a counter-offer "
       "to initialize, a discover that is not modern, -32022 with its data.supported list), "
       "or, under auto, a modern-only server with no revision in common.",
       "Probe with --mcp-version auto to walk what the server speaks; serve the revision your "
       "clients ask for (the SDKs 2.x speak 2026-07-28 and the 2025 handshake side by side)."),
    _c("mcp-host-rejected", ERROR, "The server refused the request's Host or Origin header",
       "The server's DNS-rebinding protection: 421 Misdirected Request for a Host it does not "
       "allow (the Python SDK), 403 Forbidden for an Origin it does not allow (the spec's "
       "answer). Behind a proxy, the proxy's Host or the page's Origin reaches the server.",
       "Add the public host (or the page's origin) to the server's allowed hosts/origins, or "
       "let the proxy pass the original Host; do not turn the protection off on a server "
       "reachable from a browser."),
    _c("mcp-discover-failed", ERROR, "A modern MCP server refused server/discover",
       "server/discover (mandatory in 2026-07-28) was answered with a 2026-07-28 error "
       "(-32020 header mismatch, -32021 missing capability, -32022 without data.supported): "
       "the server is modern but the official clients cannot negotiate with it.",
       "Answer server/discover with supportedVersions, capabilities and serverInfo for every "
       "client, whatever capabilities it declares; -32022 must carry data.supported."),
    _c("mcp-listen-unacknowledged", ERROR, "The subscriptions/listen stream was never acknowledged",
       "The listen stream did not start with notifications/subscriptions/acknowledged naming "
       "the request's id: it stayed silent, sent something else first, or answered JSON.",
       "Send the acknowledgement (with the honored filter and _meta subscriptionId) as the "
       "stream's first event, then keepalive comments (': ping') while nothing changes."),
    _c("mcp-headers-ignored", WARNING, "The server ignores the MCP request headers",
       "A request whose Mcp-Method header contradicts its body was served: 2026-07-28 asks "
       "for 400 with -32020 (HeaderMismatch), since gateways route and rate-limit on the "
       "mirrored headers.",
       "Compare MCP-Protocol-Version, Mcp-Method and Mcp-Name with the body on every request "
       "and refuse a mismatch (the SDKs 2.x do)."),
    _c("mcp-call-failed", WARNING, "The tool call asked for failed",
       "The tool named with --call answered a JSON-RPC error, or a result with isError: "
       "true. (input_required is a valid answer, not a failure.)",
       "Read the error in the detail: check the tool's name and --args against its "
       "inputSchema (tools/list), then the server's log."),
    _c("mcp-call-not-cancelled", ERROR, "The tool call kept running after its stream was closed",
       "disconnect --profile mcp --call TOOL closed the call's response stream, which 2026-07-28 "
       "defines as cancelling the request, and a watched value (running calls, busy workers) "
       "did not return to its baseline within the grace: the work went on for nobody.",
       "Tie the tool's work to the request: stop it when the response stream closes (the SDKs "
       "cancel the handler's task; work moved to a detached task or a queue must watch for it)."),
    # --- load (fleet level, issue 12) ----------------------------------------------------------
    _c("load-refused", ERROR, "The server turned away a share of the streams",
       "A connection or worker limit: an HTTP status (503, 429; nginx answers 500 when it has "
       "no connection left for the upstream), a reset or a close before any response (nginx "
       "out of worker_connections, uvicorn out of file descriptors), or no response head "
       "within --timeout (the kernel queues connections the server never accepts).",
       "Find the limit that bites at that stream count: open files (ulimit -n), worker "
       "connections, the accept backlog, a per-client cap; raise it or scale out, and answer "
       "503 with Retry-After rather than letting connections hang."),
    _c("load-dropped", ERROR, "Open streams were lost under load",
       "The server (or a proxy in front of it) resets or ends streams it cannot keep: memory, "
       "per-worker caps, idle or maximum-duration timeouts, a crashing worker.",
       "Look at the server and proxy logs at the drop times; check memory and timeouts; if "
       "streams end on purpose, send retry: and ids so clients resume (test with --reconnect)."),
    _c("load-stalled", ERROR, "Streams went silent for longer than the idle limit under load",
       "The server cannot keep up with writing to every stream (a blocked event loop, a "
       "broadcast loop that serializes writes), or heartbeats stop when it is busy.",
       "Send heartbeats from a task that does not wait on the slow work; profile the write "
       "path; lower the streams per process."),
    _c("load-degraded", WARNING, "Latency grew many times over as streams were added",
       "The server's capacity knee: a per-stream cost (a loop over every connection per event, "
       "a lock, CPU) makes delivery slower the more streams are open.",
       "Keep the load below the reported knee, or remove the per-stream cost (fan out once, "
       "write without awaiting each client), or scale out."),
    _c("load-malformed", WARNING, "Streams broke the event-stream format under load",
       "The server sent bytes that are not server-sent events to some streams: misspelt "
       "field names, invalid UTF-8, oversize lines, a binary or compressed body sent raw, or "
       "writes from several tasks interleaved on one stream.",
       "Probe one of those streams (`sse-doctor probe URL`) to see the bytes; fix the "
       "serializer, and make sure one task at a time writes each stream."),
    _c("load-generator-saturated", WARNING, "The load generator itself ran out of CPU or file "
       "descriptors",
       "More streams or events per worker than one core handles, or our own open-files limit.",
       "Trust no lag or timing figure from this run: use more --workers (one per core), fewer "
       "streams per machine, or several machines (Locust), and raise ulimit -n."),
    # --- LLM completions under load (load --profile llm, issue 24) ----------------------------
    _c("llm-load-errors", ERROR, "Completions failed under load",
       "HTTP refusals (429/503), errors inside a 200 stream, invalid JSON, answers cut short, "
       "stalled or without their terminal marker, timeouts: the server or a gateway in front "
       "of it sheds or breaks requests at this load.",
       "Read the failure kinds and example requests in the report; size the server for the "
       "load (or rate-limit upstream), and make every failure visible to clients instead of "
       "a silent cut."),
    _c("llm-load-queueing", WARNING, "Time to first token grows with concurrency while tokens "
       "flow as fast",
       "Requests wait in a queue for a generation slot (the server's concurrency limit or "
       "batch size); once generating, each answer streams at its usual rate.",
       "Keep the load below the reported knee, add replicas or slots (larger batches, "
       "max_num_seqs), or route by queue length; set --slo to judge it by your objectives."),
    _c("llm-load-saturated", WARNING, "Output tokens per second stopped growing with load",
       "The server's throughput is at its ceiling: more concurrent requests add latency, not "
       "tokens.",
       "Treat the saturation level as the capacity of this deployment; scale out or tune "
       "batching before sending more load."),
    _c("llm-load-cancel-ignored", ERROR, "The server kept working for completions the client "
       "cancelled",
       "The watched gauge (running requests) did not return to its baseline after the run "
       "closed streams mid-answer: the server keeps generating for clients that left (no "
       "abort on disconnect).",
       "Abort generation when the client disconnects (vLLM and TGI do; check the gateway "
       "passes the disconnect through), or the cancelled work eats the capacity of live "
       "requests."),
]

REGISTRY: dict[str, Code] = {c.code: c for c in _ALL}


def get(code: str) -> Code:
    return REGISTRY[code]


def unknown_code(code: str) -> str | None:
    """None for a registered code; else the problem in words, with the nearest codes."""
    if code in REGISTRY:
        return None
    import difflib

    near = difflib.get_close_matches(code, sorted(REGISTRY), n=3, cutoff=0.5)
    return f"unknown finding code {code!r}" + (
        f" (did you mean {', '.join(repr(c) for c in near)}?)" if near else
        " (the codes are listed in the README and by the findings' 'code' in --json)")
