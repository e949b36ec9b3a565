"""The MCP conversation, sans-I/O: which HTTP request comes next, given what the previous
ones answered, and when an answer is complete.

Three eras, as the official clients negotiate them (``--mcp-version auto``): revision
2026-07-28 first (``server/discover``, then stateless requests: modern.py), the 2025
``initialize`` session over Streamable HTTP where the server does not know it, and the
2024-11-05 HTTP+SSE transport last. An explicit revision is asked for as it is; a server
that will not speak it is recorded (a finding), never silently downgraded.

The conversation is a generator: it yields a :class:`Request`, the shell sends it and sends
back a :class:`Reply` (status, headers, body or SSE events, or why nothing came). Everything
the checks need is written to a :class:`McpRecord`; nothing here touches a socket or a clock.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any
from urllib.parse import urljoin, urlsplit

from sse_doctor.profiles.mcp import messages as rpc
from sse_doctor.profiles.mcp import modern
from sse_doctor.profiles.mcp.exchange import (
    McpRecord,
    McpStep,
    Reply,
    Request,
    SseItem,
    answers,
    host_refusal,
    short,
)
from sse_doctor.profiles.mcp.messages import Message

__all__ = ["McpRecord", "McpSession", "McpStep", "Reply", "Request", "SseItem", "answers",
           "host_refusal", "judge_resume", "resume_point", "short"]

# Resume replays at most this many events we saw: enough to see a loss or a repeat.
MAX_REPLAY = 10
MAX_POLLS = 5  # SSE polling: reconnects after a server-closed stream, per request
MAX_RETRY_WAIT_S = 2.0  # a server's `retry` is honoured up to this long
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")


class McpSession:
    """Drives one MCP session: ``start()`` gives the first request, ``receive(reply)`` the
    next one (None when the conversation is over)."""

    def __init__(self, url: str, version: str = "auto", call: str | None = None,
                 call_args: dict[str, Any] | None = None,
                 input_responses: dict[str, Any] | None = None) -> None:
        """version: "auto" or a revision of rpc.KNOWN_REVISIONS (the options check it);
        call/call_args: the one tool call the user allows; input_responses: the user's
        answers should that call answer input_required (2026-07-28)."""
        self.url = url
        offered = rpc.LATEST_HANDSHAKE if version == "auto" or version in rpc.MODERN_REVISIONS \
            else version
        self.record = McpRecord(url=url, version_offered=offered, version_asked=version)
        self.call, self.call_args = call, call_args
        self.input_responses = input_responses
        self._get_events: list[SseItem] = []  # the GET stream's, for the resume
        self._last_post: Reply | None = None  # the tools/list answer, for the resume
        self.now = 0.0  # the latest time a reply told us, for steps without a request
        self._ids = 0
        self._gen = self._conversation()

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def start(self) -> Request | None:
        return next(self._gen, None)

    def receive(self, reply: Reply) -> Request | None:
        self.now = max(self.now, reply.end_ms, reply.t_ms)
        try:
            return self._gen.send(reply)
        except StopIteration:
            return None

    # --- helpers ----------------------------------------------------------------------------
    def _headers(self, session: bool = True) -> list[tuple[str, str]]:
        h = [("Accept", rpc.ACCEPT_POST), ("Content-Type", "application/json")]
        return h + self._session_headers(session)

    def _session_headers(self, session: bool = True) -> list[tuple[str, str]]:
        rec = self.record
        h: list[tuple[str, str]] = []
        if session and rec.session_id:
            h.append(("Mcp-Session-Id", rec.session_id))
        if session and rec.version:
            h.append(("MCP-Protocol-Version", rec.version))
        return h

    def messages(self, where: str, reply: Reply, typed: bool = True) -> list[Message]:
        """The JSON-RPC messages of an answer; invalid ones are recorded. An answer that is
        neither JSON nor SSE is one invalid message (unless `typed` is False: initialize
        reports that as its own failure)."""
        out: list[Message] = []
        if reply.status is not None and not 200 <= reply.status < 300:
            return out  # an error page is read as the refusal it is, not as messages
        if not (reply.is_sse or reply.events) and reply.body.strip() \
                and reply.content_type != "application/json":
            if typed:
                self.record.add_invalid(where, Message(
                    "invalid", why=f"a {reply.content_type or 'untyped'} answer, neither "
                                   "application/json nor text/event-stream",
                    excerpt=rpc.excerpt(reply.body)))
            return out
        if reply.is_sse or reply.events:
            for ev in reply.events:
                if not ev.data.strip() or ev.type == "endpoint":
                    continue  # a priming event (2025-11-25), a keepalive, the old transport's
                    # endpoint announcement: not messages
                out.extend(rpc.read(ev.data))
        elif reply.body.strip():
            out.extend(rpc.read(reply.body))
        for m in out:
            if m.kind == "invalid":
                self.record.add_invalid(where, m)
        return out

    def _lost(self, name: str, reply: Reply) -> bool:
        """A later request refused its session: 404 per the spec, 400 from some servers."""
        rec = self.record
        if rec.session_id and reply.status in (400, 404):
            body = rpc.excerpt(reply.body)
            if reply.status == 400 and _about_version(body):
                return False  # a refused MCP-Protocol-Version, not a lost session
            rec.lost.append((name, reply.status, body))
            rec.step(reply.t_ms, name, reply.status,
                     f"the session {short(rec.session_id)} was refused"
                     + (f": {body}" if body else ""), False)
            return True
        return False

    def _no_answer(self, reply: Reply) -> str:
        if reply.status is None:
            return f"no answer: {reply.error}"
        if reply.ended == "deadline":
            return f"{reply.status}, then no JSON-RPC response before the deadline"
        return f"{reply.status}, but the body ended without the JSON-RPC response"

    # --- the conversation ---------------------------------------------------------------------
    def _conversation(self) -> Generator[Request, Reply, None]:
        asked = self.record.version_asked
        if asked == "auto" or asked in rpc.MODERN_REVISIONS:
            if (yield from modern.negotiate(self)):
                return
        yield from self._handshake()

    def _handshake(self) -> Generator[Request, Reply, None]:
        """The 2025 walk: initialize, initialized, a list, the GET stream, resume, DELETE."""
        rec = self.record
        reply = yield Request("initialize", "POST", self.url, self._headers(session=False),
                              rpc.initialize(1, rec.version_offered), rpc_id=1,
                              until=answers(1))
        rec.init_status = reply.status
        if reply.unreachable:
            rec.unreachable = reply.error
            rec.step(reply.t_ms, "initialize", None, reply.error, False)
            return
        if reply.status in (404, 405):
            rec.negotiation.append(f"initialize {rec.version_offered}: {reply.status}")
            yield from self._legacy(reply)
            return
        if reply.status in (403, 421) and host_refusal(reply) is not None:
            rec.host_rejected = (reply.status, host_refusal(reply) or "")
            rec.step(reply.t_ms, "initialize", reply.status, rec.host_rejected[1], False)
            return
        if not (yield from self._initialize(reply)):
            return
        if not (yield from self._initialized()):
            return
        if not (yield from self._list()):
            yield from self._cleanup()
            return
        if self.call:
            yield from self._call()
        if not (yield from self._get_stream()):
            yield from self._cleanup()
            return
        yield from self._resume()
        yield from self._terminate()

    def _initialized(self) -> Generator[Request, Reply, bool]:
        rec = self.record
        name = "notifications/initialized"
        reply = yield Request(name, "POST", self.url, self._headers(),
                              rpc.notification(name), read="accept")
        if self._lost(name, reply):
            yield from self._cleanup()
            return False
        if reply.status == 202:
            rec.step(reply.t_ms, name, 202, "accepted")
        elif reply.status is not None and 200 <= reply.status < 300:
            rec.step(reply.t_ms, name, reply.status, "accepted, though the spec asks for 202")
        else:
            body = rpc.excerpt(reply.body)
            if reply.status == 400 and _about_version(reply.body):
                why = (f"400 over the protocol version: the server refused "
                       f"MCP-Protocol-Version {rec.version}, the version it chose itself in "
                       f"initialize ({body})")
            elif reply.status is not None:
                why = f"the server refused notifications/initialized with {reply.status}: {body}"
            else:
                why = f"notifications/initialized got no answer: {reply.error}"
            rec.init_failed = why
            rec.step(reply.t_ms, name, reply.status, why, False)
            return False
        return True

    def _initialize(self, reply: Reply) -> Generator[Request, Reply, bool]:
        rec = self.record
        msgs = self.messages("initialize", reply, typed=False)
        answer = next((m for m in msgs if m.answers(1)), None)
        ok_status = reply.status is not None and 200 <= reply.status < 300
        reason = None
        if not ok_status:
            reason = _refusal_reason(reply, rec.version_offered)
        elif answer is None:
            if reply.status == 202:
                reason = "202 Accepted with no response: the server treated initialize as a " \
                         "notification"
            elif not reply.is_sse and reply.content_type != "application/json":
                reason = (f"{reply.status} with Content-Type {reply.content_type or 'none'!r}, "
                          "neither application/json nor text/event-stream")
            elif any(m.kind == "invalid" for m in msgs):
                reason = f"{reply.status}, but the answer is not JSON-RPC 2.0"
            else:
                reason = self._no_answer(reply)
        elif answer.kind == "error":
            reason = f"the server answered with a JSON-RPC {answer.error_text()}"
        elif not isinstance(answer.obj.get("result"), dict):
            reason = "the InitializeResult is not an object"
        if reason is not None:
            rec.init_failed = reason
            rec.step(reply.t_ms, "initialize", reply.status, reason, False)
            return False
        assert answer is not None
        result = answer.obj["result"]
        version = result.get("protocolVersion")
        rec.version = version if isinstance(version, str) and version else rec.version_offered
        info = result.get("serverInfo") if isinstance(result.get("serverInfo"), dict) else {}
        rec.server = " ".join(str(info[k]) for k in ("name", "version") if info.get(k)) or None
        caps = result.get("capabilities")
        rec.capabilities = sorted(caps) if isinstance(caps, dict) else []
        sid = reply.header("mcp-session-id")
        if sid is not None and not _VISIBLE_ASCII.fullmatch(sid):
            reason = ("the Mcp-Session-Id is not visible ASCII (the spec allows 0x21 to 0x7E "
                      "only): clients cannot send it back")
            rec.init_failed = reason
            rec.step(reply.t_ms, "initialize", reply.status, reason, False)
            return False
        rec.session_id = sid
        rec.era = "handshake"
        if rec.version not in rec.revisions_supported:
            rec.revisions_supported.append(rec.version)
        rec.negotiation.append(f"initialize {rec.version_offered}: {rec.version}")
        asked = rec.version_asked
        if asked != "auto" and rec.version != asked:
            if rec.revision_refused is None:
                rec.revision_refused = (f"initialize offering {asked} was answered with "
                                        f"{rec.version}")
            rec.revision_offered = rec.revision_offered or [rec.version]
        rec.initialize_ms = max(0.0, reply.end_ms - reply.t_ms) if reply.end_ms else None
        rec.response_modes.append("sse" if reply.is_sse else "json")
        parts = [f"protocol {rec.version}"
                 + ("" if rec.version == rec.version_offered
                    else f" (offered {rec.version_offered})")]
        if rec.server:
            parts.append(f"server {rec.server}")
        if rec.transport == "http+sse":
            parts.append("session in the endpoint URL")
        else:
            parts.append(f"session {short(rec.session_id)}" if rec.session_id
                         else "no session id (a stateless server)")
        if rec.transport == "http+sse":
            parts.append("answer on the stream")
        else:
            parts.append("SSE answer" if reply.is_sse else "JSON answer")
        rec.step(reply.t_ms, "initialize", reply.status, ", ".join(parts))
        return True
        yield  # pragma: no cover - makes this a generator

    def _list(self) -> Generator[Request, Reply, bool]:
        rec = self.record
        method = "tools/list" if "tools" in rec.capabilities else "ping"
        reply = yield Request(method, "POST", self.url, self._headers(),
                              rpc.request(2, method, {} if method == "tools/list" else None),
                              rpc_id=2, until=answers(2))
        if self._lost(method, reply):
            return False
        if reply.status is None:
            rec.missing.append((method, f"no answer: {reply.error}"))
            rec.step(reply.t_ms, method, None, f"no answer: {reply.error}", False)
            return True
        if reply.status >= 400:
            body = rpc.excerpt(reply.body)
            rec.refused.append((method, reply.status, body))
            rec.step(reply.t_ms, method, reply.status, f"refused: {body}", False)
            return True
        reply, lost = yield from self._poll(method, reply, 2)
        if lost:
            return True
        msgs = self.messages(method, reply)
        answer = next((m for m in msgs if m.answers(2)), None)
        if answer is None:
            if any(m.kind == "invalid" for m in msgs) and not reply.is_sse:
                rec.step(reply.t_ms, method, reply.status, "the answer is not JSON-RPC 2.0",
                         False)
                return True
            other = [m for m in msgs if m.kind in ("response", "error")]
            what = self._no_answer(reply) if reply.status != 202 else \
                "202 Accepted with no body: the request got no response"
            if other:
                what += f" (a response to id {other[0].id!r} came instead)"
            rec.missing.append((method, what))
            rec.step(reply.t_ms, method, reply.status, what, False)
            return True
        rec.response_modes.append("sse" if reply.is_sse else "json")
        if answer.kind == "error":
            rec.step(reply.t_ms, method, reply.status, f"JSON-RPC {answer.error_text()}",
                     False)
            return True
        detail = "answered"
        if method == "tools/list":
            tools = answer.obj["result"].get("tools") if isinstance(
                answer.obj["result"], dict) else None
            if isinstance(tools, list):
                rec.tools = len(tools)
                detail = _n(len(tools), "tool")
        n_other = sum(1 for m in msgs if m is not answer and m.kind != "invalid")
        if n_other:
            detail += f", after {n_other} other message(s)"
        detail += " (SSE)" if reply.is_sse else " (JSON)"
        self._last_post = reply
        rec.step(reply.t_ms, method, reply.status, detail)
        return True

    def _call(self) -> Generator[Request, Reply, None]:
        """The one tool call the user named, in the session (its answer may come by polling)."""
        rec = self.record
        step = f"tools/call {self.call}"
        body = rpc.request(4, "tools/call", {"name": self.call,
                                             "arguments": self.call_args or {}})
        reply = yield Request(step, "POST", self.url, self._headers(), body, rpc_id=4,
                              until=answers(4))
        if self._lost(step, reply):
            return
        if reply.status is None or reply.status >= 400:
            rec.step(reply.t_ms, step, reply.status, f"no answer: {reply.error}"
                     if reply.status is None else f"refused: {rpc.excerpt(reply.body)}", False)
            modern.judge_call(rec, step, reply, None)
            return
        reply, lost = yield from self._poll(step, reply, 4)
        if lost:
            return
        answer = next((m for m in self.messages(step, reply) if m.answers(4)), None)
        if answer is None:
            rec.missing.append((step, self._no_answer(reply)))
            rec.step(reply.t_ms, step, reply.status, self._no_answer(reply), False)
        modern.judge_call(rec, step, reply, answer)

    def _poll(self, step: str, reply: Reply, rpc_id: int) \
            -> Generator[Request, Reply, tuple[Reply, bool]]:
        """2025-11-25 SSE polling: the server sent a priming event with an id, then closed the
        POST's stream before the response; the client waits `retry` and resumes with
        Last-Event-ID, where the response must come. The answer with every event read, and
        whether the response was lost (recorded as a broken resume)."""
        rec = self.record
        done = answers(rpc_id)
        events = list(reply.events)
        polls = 0
        while reply.is_sse and reply.ended == "server" and not any(done(e) for e in events):
            last = next((e.id for e in reversed(events) if e.id), "")
            if not last or polls >= MAX_POLLS:
                break
            polls += 1
            retry = next((e.retry for e in reversed(events) if e.retry is not None), None)
            wait = min((retry or 0) / 1000, MAX_RETRY_WAIT_S)
            headers = [("Accept", "text/event-stream"), ("Last-Event-ID", last)] \
                + self._session_headers()
            reply = yield Request(f"{step} resume", "GET", self.url, headers, read="resume",
                                  rpc_id=rpc_id, until=done, delay_s=wait)
            got = [e for e in reply.events if e.data.strip()]
            others = [m for e in got for m in rpc.read(e.data)
                      if m.kind in ("response", "error") and m.id != rpc_id]
            said = (f"the server closed the stream after event {last!r}; resumed "
                    f"after {wait * 1000:.0f} ms (retry {retry if retry is not None else 'unset'})")
            if others:
                rec.resume, rec.resume_detail = "broken", (
                    f"{step}: {said}, and the resumed stream carried a response to another "
                    f"request (id {others[0].id!r}): events from another stream")
                rec.resume_evidence = {"last_event_id": last, "step": step}
                rec.step(reply.t_ms, f"{step} resume", reply.status, rec.resume_detail, False)
                return reply, True
            if reply.status is None or not 200 <= reply.status < 300 or not reply.is_sse:
                why = (f"no answer: {reply.error}" if reply.status is None
                       else f"{reply.status} ({rpc.excerpt(reply.body) or reply.content_type})")
                rec.resume, rec.resume_detail = "broken", (
                    f"{step}: {said}, but the resume was refused: {why}; the response is lost")
                rec.resume_evidence = {"last_event_id": last, "step": step,
                                       "status": reply.status}
                rec.step(reply.t_ms, f"{step} resume", reply.status, rec.resume_detail, False)
                return reply, True
            events += reply.events
            if any(done(e) for e in reply.events):
                rec.resume = rec.resume or "ok"
                rec.step(reply.t_ms, f"{step} resume", reply.status,
                         f"SSE polling: {said}; the response came on the resumed stream")
            elif not got or reply.ended != "server":
                rec.resume, rec.resume_detail = "broken", (
                    f"{step}: {said}, but the response never came on the resumed stream "
                    f"({len(got)} event(s) with data, then {reply.ended or 'the end'}): "
                    "the response was lost on resume")
                rec.resume_evidence = {"last_event_id": last, "step": step,
                                       "received": [e.id for e in got][:50]}
                rec.step(reply.t_ms, f"{step} resume", reply.status, rec.resume_detail, False)
                return reply, True
        merged = Reply(status=reply.status, t_ms=reply.t_ms, headers=reply.headers,
                       body=reply.body, events=events, ended=reply.ended, error=reply.error,
                       http_version=reply.http_version, head_ms=reply.head_ms,
                       end_ms=reply.end_ms)
        return merged, False

    def _get_stream(self) -> Generator[Request, Reply, bool]:
        rec = self.record
        headers = [("Accept", "text/event-stream")] + self._session_headers()
        reply = yield Request("GET stream", "GET", self.url, headers, read="hold")
        rec.get_status = reply.status
        if self._lost("GET stream", reply):
            return False
        if reply.status == 405:
            rec.step(reply.t_ms, "GET stream", 405,
                     "no server-to-client stream (405 is allowed)")
            return True
        if reply.status is None:
            rec.step(reply.t_ms, "GET stream", None, f"no answer: {reply.error}", False)
            return True
        rec.get_observation = reply.observation
        if not 200 <= reply.status < 300 or not reply.is_sse:
            rec.step(reply.t_ms, "GET stream", reply.status,
                     f"not an event stream ({reply.content_type or 'no Content-Type'})", False)
            return True
        msgs = self.messages("GET stream", reply)
        n_ids = sum(1 for e in reply.events if e.id)
        obs = reply.observation
        comments = getattr(obs, "n_comments", 0)
        held = getattr(obs, "end_ms", 0.0)
        detail = (f"held {held / 1000:.1f} s: {len(msgs)} message(s), {comments} comment(s)"
                  + (f", {n_ids} with event ids" if n_ids else ""))
        rec.step(reply.t_ms, "GET stream", reply.status, detail)
        self._get_events = reply.events
        return True

    def _resume(self) -> Generator[Request, Reply, None]:
        rec = self.record
        post_events = self._last_post.events if self._last_post is not None else []
        source, point = "GET stream", resume_point(self._get_events)
        if point is None:
            source, point = "POST stream", resume_point(post_events)
        if point is None:
            rec.step(self.now, "resume", "skipped",
                     "not tried: no stream carried event ids to resume from")
            return
        last_id, before, expected = point
        headers = [("Accept", "text/event-stream"), ("Last-Event-ID", last_id)] \
            + self._session_headers()
        reply = yield Request("resume", "GET", self.url, headers, read="resume",
                              expect_ids=tuple(i for i, _ in expected))
        if self._lost("resume", reply):
            return
        verdict, detail, evidence = judge_resume(reply, last_id, before, expected)
        detail = f"{source} from Last-Event-ID {last_id!r}: {detail}"
        if rec.resume != "broken":  # a response lost to SSE polling stays the finding
            rec.resume, rec.resume_detail, rec.resume_evidence = verdict, detail, evidence
        self.messages("resume", reply)
        rec.step(reply.t_ms, "resume", reply.status, detail, verdict == "ok")

    def _terminate(self) -> Generator[Request, Reply, None]:
        rec = self.record
        if not rec.session_id:
            rec.step(self.now, "DELETE", "skipped",
                     "no session id was issued: nothing to terminate")
            return
        reply = yield Request("DELETE", "DELETE", self.url, self._session_headers(),
                              read="accept")
        if self._lost("DELETE", reply):
            return
        if reply.status == 405:
            rec.terminate = "405"
            rec.step(reply.t_ms, "DELETE", 405,
                     "the server does not let clients end sessions (405 is allowed)")
            return
        if reply.status is None or not 200 <= reply.status < 300:
            rec.terminate = str(reply.status)
            detail = (f"no answer: {reply.error}" if reply.status is None
                      else f"refused: {rpc.excerpt(reply.body)}")
            if reply.status is not None:
                rec.refused.append(("DELETE", reply.status, rpc.excerpt(reply.body)))
            rec.step(reply.t_ms, "DELETE", reply.status, detail, False)
            return
        rec.step(reply.t_ms, "DELETE", reply.status, f"session {short(rec.session_id)} ended")
        name = "after DELETE"
        reply = yield Request(name, "POST", self.url, self._headers(), rpc.request(3, "ping"),
                              rpc_id=3, until=answers(3))
        if reply.status in (400, 404):
            rec.terminate = "ok"
            rec.step(reply.t_ms, name, reply.status, "the ended session is refused")
            return
        msgs = self.messages(name, reply)
        if reply.status is not None and 200 <= reply.status < 300 and \
                any(m.answers(3) for m in msgs):
            rec.terminate = "not-terminated"
            rec.not_terminated = (f"a ping with the ended session {short(rec.session_id)} was "
                                  f"answered ({reply.status})")
            rec.step(reply.t_ms, name, reply.status, rec.not_terminated, False)
            return
        rec.terminate = str(reply.status)
        rec.step(reply.t_ms, name, reply.status,
                 f"no answer: {reply.error}" if reply.status is None
                 else f"answered {reply.status} without a response", reply.status is not None)

    def _cleanup(self) -> Generator[Request, Reply, None]:
        """The session is gone or broken: end it politely (if it exists), read nothing into
        the answer, stop."""
        rec = self.record
        if not rec.session_id:
            return
        reply = yield Request("DELETE", "DELETE", self.url, self._session_headers(),
                              read="accept")
        rec.step(reply.t_ms, "DELETE", reply.status,
                 "cleanup after the session broke (not judged)")

    # --- the 2024-11-05 HTTP+SSE transport ------------------------------------------------
    def _legacy(self, first: Reply) -> Generator[Request, Reply, None]:
        """The 2024-11-05 HTTP+SSE transport: a GET stream that names the POST URL, requests
        POSTed there, their responses on the stream."""
        if not (yield from self._legacy_open(first)):
            return
        if not (yield from self._legacy_session()):
            return
        yield from self._legacy_hold()

    def _legacy_open(self, first: Reply) -> Generator[Request, Reply, bool]:
        """The GET whose first event must be `endpoint`, naming a URL of the same origin."""
        rec = self.record
        rec.step(first.t_ms, "initialize", first.status,
                 f"refused ({first.status}): trying the 2024-11-05 HTTP+SSE transport", False)
        reply = yield Request("legacy GET", "GET", self.url, [("Accept", "text/event-stream")],
                              read="legacy-open")
        endpoint = next((e for e in reply.events if e.type == "endpoint"), None)
        first_event = reply.events[0] if reply.events else None
        if reply.status is None or not 200 <= reply.status < 300 or endpoint is None \
                or first_event is not endpoint:
            seen = (f"no answer: {reply.error}" if reply.status is None
                    else f"{reply.status}" + (f", first event {first_event.type!r}"
                                              if first_event else ", no endpoint event"))
            rec.init_status = first.status
            rec.init_failed = (f"POST initialize was refused with {first.status} "
                               f"({rpc.excerpt(first.body) or 'no body'}), and a GET did not "
                               f"open the old HTTP+SSE transport either ({seen})")
            rec.step(reply.t_ms, "legacy GET", reply.status, seen, False)
            return False
        try:
            rec.legacy_endpoint = urljoin(self.url, endpoint.data.strip())
            there, here = urlsplit(rec.legacy_endpoint), urlsplit(self.url)
        except ValueError:
            rec.init_failed = f"the `endpoint` event is not a URL: {rpc.excerpt(endpoint.data)}"
            rec.step(reply.t_ms, "legacy GET", reply.status, rec.init_failed, False)
            return False
        if (there.scheme, there.netloc) != (here.scheme, here.netloc):
            # The SDK's client refuses it too ("Endpoint origin does not match").
            rec.init_failed = (f"the `endpoint` event names another origin "
                               f"({there.scheme}://{there.netloc}): clients refuse to POST there")
            rec.step(reply.t_ms, "legacy GET", reply.status, rec.init_failed, False)
            return False
        rec.transport = "http+sse"
        rec.version_offered = rpc.LEGACY_VERSION
        rec.step(reply.t_ms, "legacy GET", reply.status,
                 "an `endpoint` event: the server speaks the 2024-11-05 HTTP+SSE transport")
        return True

    def _legacy_session(self) -> Generator[Request, Reply, bool]:
        """initialize, initialized and a list, POSTed to the endpoint, answered on the stream."""
        rec = self.record
        assert rec.legacy_endpoint is not None
        hdrs = [("Accept", rpc.ACCEPT_POST), ("Content-Type", "application/json")]
        reply = yield Request("initialize", "POST", rec.legacy_endpoint, hdrs,
                              rpc.initialize(1, rpc.LEGACY_VERSION), rpc_id=1,
                              read="legacy-rpc", until=answers(1))
        rec.init_status = reply.post_status
        if not (yield from self._initialize(_legacy_as_post(reply))):
            return False
        rec.session_id = None  # the old transport keeps its session in the endpoint URL
        name = "notifications/initialized"
        reply = yield Request(name, "POST", rec.legacy_endpoint, hdrs,
                              rpc.notification(name), read="accept")
        rec.step(reply.t_ms, name, reply.status,
                 "accepted" if reply.status is not None and 200 <= reply.status < 300
                 else f"refused: {rpc.excerpt(reply.body)}",
                 reply.status is not None and 200 <= reply.status < 300)
        method = "tools/list" if "tools" in rec.capabilities else "ping"
        reply = yield Request(method, "POST", rec.legacy_endpoint, hdrs,
                              rpc.request(2, method, {} if method == "tools/list" else None),
                              rpc_id=2, read="legacy-rpc", until=answers(2))
        msgs = self.messages(method, _legacy_as_post(reply))
        answer = next((m for m in msgs if m.answers(2)), None)
        if answer is None:
            what = (f"POST {reply.post_status}, then no response on the stream"
                    f"{' (' + reply.error + ')' if reply.error else ''}")
            rec.missing.append((method, what))
            rec.step(reply.t_ms, method, reply.post_status, what, False)
        else:
            tools = answer.obj.get("result", {}).get("tools") if answer.kind == "response" \
                and isinstance(answer.obj.get("result"), dict) else None
            if isinstance(tools, list):
                rec.tools = len(tools)
            rec.step(reply.t_ms, method, reply.post_status,
                     f"{_n(len(tools), 'tool')} (on the stream)" if isinstance(tools, list)
                     else "answered (on the stream)")
        return True

    def _legacy_hold(self) -> Generator[Request, Reply, None]:
        """The stream, held to the end of the window and judged as any SSE stream."""
        rec = self.record
        reply = yield Request("legacy stream", "GET", self.url, [], read="legacy-hold")
        rec.get_observation = reply.observation
        rec.get_status = getattr(reply.observation, "status", None)
        self.messages("legacy stream", reply)
        obs = reply.observation
        rec.step(reply.t_ms, "legacy stream", getattr(obs, "status", None),
                 f"held until {getattr(obs, 'end_ms', 0.0) / 1000:.1f} s: "
                 f"{getattr(obs, 'n_events', 0)} event(s), "
                 f"{getattr(obs, 'n_comments', 0)} comment(s)")


def _n(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _legacy_as_post(reply: Reply) -> Reply:
    """A legacy initialize read like a Streamable HTTP one: its response came on the stream."""
    ok = reply.post_status is not None and 200 <= reply.post_status < 300
    return Reply(status=reply.post_status, t_ms=reply.t_ms,
                 headers=[("content-type", "text/event-stream")] if ok else reply.headers,
                 body=reply.body, events=reply.events, ended=reply.ended, error=reply.error,
                 end_ms=reply.end_ms)


_UNSUPPORTED_TEXT = re.compile(r"unsupported protocol version|protocol version .*not supported",
                               re.IGNORECASE)


def _about_version(body: str | bytes) -> bool:
    """A refusal of the protocol version: JSON-RPC -32022 (2026-07-28), or the words the SDKs
    used before it ("Unsupported protocol version: ..."). Not any body that says "version"."""
    raw = body.encode() if isinstance(body, str) else body
    code, message, _ = rpc.body_error(raw)
    if code == rpc.UNSUPPORTED_VERSION:
        return True
    text = message or raw.decode("utf-8", "replace")
    return bool(_UNSUPPORTED_TEXT.search(text)) and "session" not in text.lower()


def _refusal_reason(reply: Reply, offered: str) -> str:
    """Why initialize was refused, in words an MCP developer can act on."""
    status, body = reply.status, rpc.excerpt(reply.body)
    said = f" ({body})" if body else ""
    if status is None:
        return f"no answer: {reply.error}"
    if status == 406:
        return (f"406 Not Acceptable: the server refused the request's Accept header{said}; "
                f"MCP clients send 'Accept: {rpc.ACCEPT_POST}': a proxy may rewrite it")
    if status == 400 and _about_version(reply.body):
        _, _, data = rpc.body_error(reply.body)
        supported = rpc.supported_of(data)
        if supported is not None:
            return (f"400 over the protocol version: the server does not take {offered}; it "
                    f"supports {', '.join(supported) or 'nothing it names'} (-32022)")
        return (f"400 over the protocol version: the server does not take {offered}{said}; "
                "try --mcp-version with a version it supports")
    host = host_refusal(reply)
    if host is not None:
        return host
    if status in (401, 403):
        return f"{status}: authentication refused{said}; give credentials with --bearer or -H"
    return f"{status}{said}"


def resume_point(events: list[SseItem]) \
        -> tuple[str, list[tuple[str, str]], list[tuple[str, str]]] | None:
    """From a stream's events: the Last-Event-ID to resume from, the (id, data) seen up to it
    and the ones the server should send again after it. None when nothing can be resumed."""
    marks: list[tuple[str, str]] = []  # events that set a new id, in order
    prev = ""
    for e in events:
        if e.id and e.id != prev:
            marks.append((e.id, e.data))
        prev = e.id
    if len(marks) < 2:
        return None
    k = max(0, len(marks) - 1 - MAX_REPLAY)
    expected = [(i, d) for i, d in marks[k + 1:] if d.strip()]
    if not expected:
        return None
    return marks[k][0], marks[: k + 1], expected


def judge_resume(reply: Reply, last_id: str, before: list[tuple[str, str]],
                 expected: list[tuple[str, str]]) -> tuple[str, str, dict[str, Any]]:
    """("ok" | "broken", words, evidence) for what a resume request brought back."""
    if reply.status == 409:
        return "broken", "refused with 409 Conflict", {"status": 409}
    if reply.status is None:
        return "broken", f"no answer: {reply.error}", {}
    if not 200 <= reply.status < 300 or not reply.is_sse:
        return "broken", (f"refused with {reply.status} "
                          f"({rpc.excerpt(reply.body) or reply.content_type or 'no body'})"), \
            {"status": reply.status}
    got = [(e.id, e.data) for e in reply.events if e.data.strip()]
    got_ids = [i for i, _ in got]
    seen_before = {i for i, _ in before}
    lost = [i for i, _ in expected if i not in got_ids]
    repeated = [i for i in got_ids if i in seen_before]
    dupes = sorted({i for i in got_ids if got_ids.count(i) > 1})
    evidence = {"last_event_id": last_id, "expected": [i for i, _ in expected],
                "received": got_ids[:50]}
    problems = []
    if lost:
        problems.append(f"{len(lost)} of {len(expected)} events lost (ids {', '.join(lost[:5])})")
    if repeated or dupes:
        rep = list(dict.fromkeys(repeated + dupes))
        problems.append(f"{len(rep)} event(s) repeated (ids {', '.join(rep[:5])})")
    if problems:
        return "broken", "; ".join(problems), evidence
    return "ok", f"the {len(expected)} later event(s) came again, none lost or repeated", \
        evidence
