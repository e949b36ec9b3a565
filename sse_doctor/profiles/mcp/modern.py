"""Revision 2026-07-28, sans-I/O: the negotiation the official clients run (``server/discover``
first, falling back to the 2025 handshake on anything that is not a modern answer) and the
stateless walk of a modern server: discover, the lists it advertises, a header check, the one
tool call the user allowed, and a ``subscriptions/listen`` stream held for the window.

Wire forms as the spec's 2026-07-28 pages and the `mcp` SDK 2.3 (client/_probe.py,
server/_streamable_http_modern.py, shared/inbound.py, shared/subscriptions.py) have them:
every request carries the version and client capabilities in ``params._meta`` and mirrors
``MCP-Protocol-Version``, ``Mcp-Method`` (and ``Mcp-Name``) as headers.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Protocol

from sse_doctor.profiles.mcp import messages as rpc
from sse_doctor.profiles.mcp.exchange import McpRecord, Reply, Request, answers, host_refusal
from sse_doctor.profiles.mcp.messages import Message


class Conversation(Protocol):
    """What the walks here need of the conversation (protocol.McpSession is the one)."""

    url: str
    record: McpRecord
    call: str | None
    call_args: dict[str, Any] | None
    input_responses: dict[str, Any] | None
    now: float

    def next_id(self) -> int: ...

    def messages(self, where: str, reply: Reply, typed: bool = True) -> list[Message]: ...

# (capability, list method, the result's key) walked when the server advertises them.
LISTS = (("tools", "tools/list", "tools"), ("resources", "resources/list", "resources"),
         ("prompts", "prompts/list", "prompts"))
# subscriptions/listen filter keys for the listChanged capabilities (SubscriptionFilter).
LISTEN_FILTER = {"tools": "toolsListChanged", "resources": "resourcesListChanged",
                 "prompts": "promptsListChanged"}
ACKNOWLEDGED = "notifications/subscriptions/acknowledged"


@dataclass
class Discovered:
    """How the server answered server/discover, read without I/O."""

    kind: str  # modern | legacy-result | unsupported | modern-error | host | fallback
    words: str  # the answer in words, for the steps and the negotiation
    result: dict[str, Any] | None = None
    supported: list[str] | None = None


def read_discover(reply: Reply, rpc_id: int, version: str, msgs: list[Message]) -> Discovered:
    """The era evidence in a discover answer: a DiscoverResult naming a modern revision, a
    recognized modern error (-32022 with data.supported, -32020, -32021), a Host/Origin
    refusal, or anything else (which the official clients read as a handshake-era server)."""
    status = reply.status
    if status is not None and status >= 400:
        host = host_refusal(reply)
        if host is not None:
            return Discovered("host", host)
        code, message, data = rpc.body_error(reply.body)
    else:
        answer = next((m for m in msgs if m.answers(rpc_id)), None)
        if answer is None:
            what = "no answer" if status is None else f"{status} without a JSON-RPC response"
            return Discovered("fallback", what + (f" ({reply.error})" if reply.error else ""))
        if answer.kind == "response":
            result = answer.obj.get("result")
            versions = result.get("supportedVersions") if isinstance(result, dict) else None
            if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
                return Discovered("fallback", f"{status}, a result without supportedVersions")
            if version not in versions:
                kind = "legacy-result" if not any(v in rpc.MODERN_REVISIONS for v in versions) \
                    else "unsupported"
                return Discovered(kind, f"{status}, supportedVersions {versions}", result,
                                  list(versions))
            return Discovered("modern", f"{status}, supportedVersions {versions}", result,
                              list(versions))
        code, message, data = rpc.error_of(answer.obj)
    said = f"{status} error {code}" + (f" {message!r}" if message else "")
    if code == rpc.UNSUPPORTED_VERSION:
        supported = rpc.supported_of(data)
        if supported is not None:
            return Discovered("unsupported", f"{said}, supported {supported}",
                              supported=supported)
        return Discovered("modern-error", f"{said} without a data.supported list")
    if code in rpc.MODERN_ERRORS:
        return Discovered("modern-error", said)
    return Discovered("fallback", said if code is not None else
                      f"{status} ({rpc.excerpt(reply.body) or 'no body'})")


def negotiate(s: Conversation) -> Generator[Request, Reply, bool]:
    """Discover first. True when the conversation is over (a modern walk, or a stop); False
    to fall back to the 2025 handshake (its initialize offers rec.version_offered)."""
    rec = s.record
    asked = rec.version_asked
    version = rpc.LATEST_MODERN if asked == "auto" else asked
    tried: set[str] = set()
    while True:
        tried.add(version)
        rpc_id = s.next_id()
        body, headers = rpc.modern_request(rpc_id, "server/discover", version)
        reply = yield Request("server/discover", "POST", s.url, headers, body, rpc_id=rpc_id,
                              until=answers(rpc_id))
        if reply.unreachable:
            rec.unreachable = reply.error
            rec.step(reply.t_ms, "server/discover", None, reply.error, False)
            return True
        msgs = s.messages("server/discover", reply, typed=False) \
            if reply.status is not None and reply.status < 400 else []
        seen = read_discover(reply, rpc_id, version, msgs)
        rec.negotiation.append(f"discover {version}: " + (
            f"{reply.status}, refused by a DNS-rebinding guard" if seen.kind == "host"
            else seen.words))
        if seen.supported:
            rec.revisions_supported = list(dict.fromkeys(rec.revisions_supported
                                                         + seen.supported))
        if seen.kind == "modern":
            rec.init_status = reply.status
            yield from walk(s, version, seen.result or {}, reply)
            return True
        if seen.kind == "host":
            rec.host_rejected = (reply.status or 0, seen.words)
            rec.step(reply.t_ms, "server/discover", reply.status, seen.words, False)
            return True
        if seen.kind == "modern-error":
            rec.discover_failed = f"server/discover was refused with {seen.words}"
            rec.step(reply.t_ms, "server/discover", reply.status, rec.discover_failed, False)
            return True
        if seen.kind == "unsupported":
            supported = seen.supported or []
            mutual = [v for v in rpc.MODERN_REVISIONS if v in supported and v not in tried]
            if mutual and asked == "auto":
                rec.step(reply.t_ms, "server/discover", reply.status,
                         f"{version} refused ({seen.words}): asking again with {mutual[-1]}")
                version = mutual[-1]
                continue
            handshake = [v for v in rpc.HANDSHAKE_REVISIONS if v in supported]
            if asked != "auto" or not handshake:
                rec.revision_refused = (f"server/discover at {version} was answered with "
                                        f"{seen.words}")
                rec.revision_offered = supported
            if not handshake:
                rec.step(reply.t_ms, "server/discover", reply.status,
                         f"{version} refused: the server speaks only {', '.join(supported)}",
                         False)
                return True
            rec.version_offered = handshake[-1]
            rec.step(reply.t_ms, "server/discover", reply.status,
                     f"{version} refused ({seen.words}): initialize with {handshake[-1]}")
            return False
        # Not modern evidence (legacy-result, fallback): the 2025 handshake, as the SDK does.
        if asked != "auto":
            rec.revision_refused = f"server/discover at {version} was answered with {seen.words}"
        rec.step(reply.t_ms, "server/discover", reply.status,
                 f"not a modern answer ({seen.words}): falling back to initialize")
        return False


def walk(s: Conversation, version: str, result: dict[str, Any], first: Reply) \
        -> Generator[Request, Reply, None]:
    """The 2026-07-28 walk of a server whose discover named the revision."""
    rec = s.record
    rec.era, rec.version, rec.transport = "modern", version, "streamable-http"
    rec.version_offered = version
    meta = result.get("_meta") if isinstance(result.get("_meta"), dict) else {}
    info = meta.get(rpc.META_SERVER_INFO) or result.get("serverInfo")
    if isinstance(info, dict):
        rec.server = " ".join(str(info[k]) for k in ("name", "version") if info.get(k)) or None
    caps = result.get("capabilities") if isinstance(result.get("capabilities"), dict) else {}
    rec.capabilities = sorted(caps)
    rec.initialize_ms = max(0.0, first.end_ms - first.t_ms) if first.end_ms else None
    rec.response_modes.append("sse" if first.is_sse else "json")
    rec.step(first.t_ms, "server/discover", first.status,
             f"protocol {version}" + (f", server {rec.server}" if rec.server else "")
             + f", supports {', '.join(rec.revisions_supported)}"
             + f", capabilities {', '.join(rec.capabilities) or 'none'}, no session")
    for cap, method, key in LISTS:
        if cap in caps:
            yield from _list(s, version, method, key)
    yield from _header_check(s, version)
    if s.call:
        yield from _call(s, version)
    yield from _listen(s, version, caps)


def _exchange(s: Conversation, version: str, step: str, method: str,
              params: dict[str, Any] | None = None) \
        -> Generator[Request, Reply, tuple[Reply, Message | None]]:
    """One stateless request; its reply and the response to it (None: recorded as why)."""
    rec = s.record
    rpc_id = s.next_id()
    body, headers = rpc.modern_request(rpc_id, method, version, params)
    reply = yield Request(step, "POST", s.url, headers, body, rpc_id=rpc_id,
                          until=answers(rpc_id))
    if reply.status is None:
        rec.missing.append((step, f"no answer: {reply.error}"))
        rec.step(reply.t_ms, step, None, f"no answer: {reply.error}", False)
        return reply, None
    if reply.status >= 400:
        code, message, data = rpc.body_error(reply.body)
        if code == rpc.UNSUPPORTED_VERSION:
            # The revision discover named, refused on a later request.
            rec.revision_refused = (f"{method} at {version} was refused with -32022 although "
                                    "server/discover listed it")
            rec.revision_offered = rpc.supported_of(data) or []
        elif code == rpc.METHOD_NOT_FOUND:
            return reply, None  # the caller says what a missing method means there
        else:
            rec.refused.append((step, reply.status, rpc.excerpt(reply.body)))
        rec.step(reply.t_ms, step, reply.status,
                 f"refused: error {code} {message!r}" if code is not None
                 else f"refused: {rpc.excerpt(reply.body) or 'no body'}", False)
        return reply, None
    msgs = s.messages(step, reply)
    answer = next((m for m in msgs if m.answers(rpc_id)), None)
    if answer is None:
        what = ("202 Accepted with no body: the request got no response" if reply.status == 202
                else f"{reply.status}, then no JSON-RPC response before the deadline"
                if reply.ended == "deadline"
                else f"{reply.status}, but the answer ended without the JSON-RPC response")
        rec.missing.append((step, what))
        rec.step(reply.t_ms, step, reply.status, what, False)
        return reply, None
    rec.response_modes.append("sse" if reply.is_sse else "json")
    return reply, answer


def _list(s: Conversation, version: str, method: str, key: str) \
        -> Generator[Request, Reply, None]:
    rec = s.record
    reply, answer = yield from _exchange(s, version, method, method)
    if answer is None:
        if reply.status == 404:
            rec.step(reply.t_ms, method, 404, "method not found, though the capability is "
                     "advertised", False)
        return
    if answer.kind == "error":
        rec.step(reply.t_ms, method, reply.status, f"JSON-RPC {answer.error_text()}", False)
        return
    result = answer.obj.get("result")
    items = result.get(key) if isinstance(result, dict) else None
    if isinstance(items, list):
        setattr(rec, key, len(items))
        word = key[:-1]
        detail = f"{len(items)} {word}{'' if len(items) == 1 else 's'}"
    else:
        detail = "answered"
    rec.step(reply.t_ms, method, reply.status,
             detail + (" (SSE)" if reply.is_sse else " (JSON)"))


def _header_check(s: Conversation, version: str) -> Generator[Request, Reply, None]:
    """The spec's MUST: a body whose Mcp-Method header names another method gets 400 with
    -32020 (HeaderMismatch). A server that serves it lets a gateway route on one method while
    it runs another."""
    rec = s.record
    rpc_id = s.next_id()
    body, headers = rpc.modern_request(rpc_id, "server/discover", version)
    headers = [(k, "tools/list" if k == "Mcp-Method" else v) for k, v in headers]
    step = "header check"
    reply = yield Request(step, "POST", s.url, headers, body, rpc_id=rpc_id,
                          until=answers(rpc_id))
    code, message, _ = rpc.body_error(reply.body)
    if reply.status == 400 and code == rpc.HEADER_MISMATCH:
        rec.step(reply.t_ms, step, 400, "a Mcp-Method header that contradicts the body is "
                 "refused with -32020, as the spec asks")
        return
    msgs = s.messages(step, reply) if reply.status is not None and reply.status < 300 else []
    if any(m.answers(rpc_id) and m.kind == "response" for m in msgs):
        rec.headers_ignored = ("server/discover sent with `Mcp-Method: tools/list` was served "
                               f"({reply.status}) instead of refused with 400 and -32020")
        rec.step(reply.t_ms, step, reply.status, rec.headers_ignored, False)
        return
    rec.step(reply.t_ms, step, reply.status,
             "no answer: " + reply.error if reply.status is None
             else f"refused, though not with 400 and -32020 ({code} {message!r})")


def _call(s: Conversation, version: str) -> Generator[Request, Reply, None]:
    """The one tool call the user named (--call TOOL --args JSON). An input_required answer
    is retried once with the user's --input-responses and the requestState it carried (the
    spec's multi round-trip request); without them the round trip stops there."""
    step = f"tools/call {s.call}"
    params: dict[str, Any] = {"name": s.call, "arguments": s.call_args or {}}
    reply, answer = yield from _exchange(s, version, step, "tools/call", params)
    judge_call(s.record, step, reply, answer)
    if s.record.call != "input_required" or s.input_responses is None or answer is None:
        return
    result = answer.obj.get("result") or {}
    params = {**params, "inputResponses": s.input_responses}
    if isinstance(result.get("requestState"), str):
        params["requestState"] = result["requestState"]
    step = f"tools/call {s.call} (with input)"
    reply, answer = yield from _exchange(s, version, step, "tools/call", params)
    judge_call(s.record, step, reply, answer)


def judge_call(rec: McpRecord, step: str, reply: Reply, answer: Message | None) -> None:
    """What the tool call's answer says (any revision): a result, input_required (a valid
    answer), a tool error (isError), a JSON-RPC error, or nothing."""
    if answer is None:
        rec.call = "missing" if reply.status is not None and reply.status < 400 else "error"
        rec.call_detail = rec.steps[-1].detail if rec.steps else ""
        if reply.status == 404 and not (rec.steps and rec.steps[-1].step == step):
            rec.call_detail = "404: tools/call is not served (-32601)"
            rec.step(reply.t_ms, step, 404, rec.call_detail, False)
        return
    if answer.kind == "error":
        rec.call, rec.call_detail = "error", f"JSON-RPC {answer.error_text()}"
        rec.step(reply.t_ms, step, reply.status, rec.call_detail, False)
        return
    result = answer.obj.get("result") if isinstance(answer.obj.get("result"), dict) else {}
    if result.get("resultType") == "input_required":
        asks = result.get("inputRequests") if isinstance(result.get("inputRequests"), dict) \
            else {}
        rec.call = "input_required"
        rec.call_detail = (f"input_required: the server asks for {len(asks)} input(s) "
                           f"({', '.join(sorted(asks)) or 'none named'}) before it can finish: "
                           "a valid answer (--input-responses completes the round trip)")
        rec.step(reply.t_ms, step, reply.status, rec.call_detail)
        return
    content = result.get("content") if isinstance(result.get("content"), list) else []
    text = " ".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    if result.get("isError") is True:
        rec.call, rec.call_detail = "tool-error", f"isError: {rpc.excerpt(text)}"
        rec.step(reply.t_ms, step, reply.status, rec.call_detail, False)
        return
    rec.call = "ok"
    rec.call_detail = f"result: {rpc.excerpt(text) or 'no text content'}"
    rec.step(reply.t_ms, step, reply.status, rec.call_detail
             + (" (SSE)" if reply.is_sse else " (JSON)"))


def _listen(s: Conversation, version: str, caps: dict[str, Any]) \
        -> Generator[Request, Reply, None]:
    """subscriptions/listen for what the server advertises as changing, held for the window:
    the acknowledgement must come first; the stream is then judged as any SSE stream."""
    rec = s.record
    wanted = {LISTEN_FILTER[c]: True for c in LISTEN_FILTER
              if isinstance(caps.get(c), dict) and caps[c].get("listChanged") is True}
    if not wanted:
        rec.listen = "skipped"
        rec.step(s.now, "subscriptions/listen", "skipped",
                 "the server advertises no listChanged capability to listen for")
        return
    rpc_id = s.next_id()
    body, headers = rpc.modern_request(rpc_id, "subscriptions/listen", version,
                                       {"notifications": wanted})
    reply = yield Request("subscriptions/listen", "POST", s.url, headers, body,
                          rpc_id=rpc_id, read="hold")
    rec.get_status = reply.status
    if reply.status is None:
        rec.listen, rec.listen_detail = "refused", f"no answer: {reply.error}"
        rec.step(reply.t_ms, "subscriptions/listen", None, rec.listen_detail, False)
        return
    if reply.status >= 400:
        code, message, _ = rpc.body_error(reply.body)
        if code == rpc.METHOD_NOT_FOUND:
            rec.listen = "unsupported"
            rec.listen_detail = "not served (-32601): no change notifications"
            rec.step(reply.t_ms, "subscriptions/listen", reply.status, rec.listen_detail)
            return
        rec.listen = "refused"
        rec.listen_detail = f"refused: {code} {message!r}" if code is not None \
            else f"refused: {rpc.excerpt(reply.body) or 'no body'}"
        rec.refused.append(("subscriptions/listen", reply.status, rpc.excerpt(reply.body)))
        rec.step(reply.t_ms, "subscriptions/listen", reply.status, rec.listen_detail, False)
        return
    rec.get_observation = reply.observation  # judged as any stream (a refusal is not one)
    msgs = [m for m in s.messages("subscriptions/listen", reply) if m.kind != "invalid"]
    rec.listen, rec.listen_detail = judge_listen(reply, msgs, rpc_id)
    rec.step(reply.t_ms, "subscriptions/listen", reply.status, rec.listen_detail,
             rec.listen == "ok")


def judge_listen(reply: Reply, msgs: list[Message], rpc_id: int) -> tuple[str, str]:
    """("ok" | "unacknowledged", words) for a listen stream held for the window: it must
    open with notifications/subscriptions/acknowledged naming the request's id."""
    obs = reply.observation
    held = getattr(obs, "end_ms", 0.0) / 1000
    comments = getattr(obs, "n_comments", 0)
    if not reply.is_sse:
        return "unacknowledged", (f"answered {reply.content_type or 'untyped'}, not an event "
                                  "stream: a listen response is a notification stream")
    if not msgs:
        return "unacknowledged", (f"held {held:.1f} s without the acknowledgement"
                                  + (f" ({comments} keepalive comment(s) only)" if comments
                                     else ": not a byte"))
    if msgs[0].method != ACKNOWLEDGED:
        return "unacknowledged", (f"the first message is {msgs[0].method or msgs[0].kind!r}, "
                                  f"not {ACKNOWLEDGED}")
    params = msgs[0].obj.get("params") if isinstance(msgs[0].obj.get("params"), dict) else {}
    meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
    sub = meta.get(rpc.META_SUBSCRIPTION_ID)
    if sub != rpc_id:
        return "unacknowledged", (f"the acknowledgement names subscription {sub!r}, not the "
                                  f"request's id {rpc_id}")
    honored = params.get("notifications") if isinstance(params.get("notifications"), dict) \
        else {}
    kept = ", ".join(k for k, v in honored.items() if v) or "nothing"
    return "ok", (f"acknowledged ({kept} honored), held {held:.1f} s: {len(msgs) - 1} "
                  f"notification(s), {comments} keepalive(s)")
