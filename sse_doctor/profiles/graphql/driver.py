"""The I/O shell of the GraphQL profile: the session core's messages over a WebSocket
(ws.conversation; both subprotocols offered) or over one graphql-sse POST (the SSE observer
with the core tapped onto its parser). Every wait has a deadline: the ack by --timeout, the
operation by the window."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from sse_doctor.model import ProbeOptions, SseObservation
from sse_doctor.profiles.core import Interpreter
from sse_doctor.profiles.graphql.protocol import SUBPROTOCOLS, GqlSession
from sse_doctor.sse.parser import Comment, Event
from sse_doctor.target import Target
from sse_doctor.ws.conversation import WsLink
from sse_doctor.ws.observation import WsObservation
from sse_doctor.ws.options import WsOptions


async def over_websocket(target: Target, ws_opts: WsOptions, session: GqlSession) -> WsObservation:
    offered = tuple(dict.fromkeys((*SUBPROTOCOLS, *ws_opts.subprotocols)))
    opts = replace(ws_opts, subprotocols=offered, send=(), ping_interval=None)
    link: WsLink

    def heard(t: float, is_text: bool, data: bytes) -> None:
        assert link.t0 is not None
        for m in session.receive((t - link.t0) * 1000, data.decode("utf-8", "replace")):
            link.send(m)

    link = WsLink(target, opts, heard)
    if not await link.open():
        return link.obs
    assert link.t0 is not None
    end = link.t0 + ws_opts.duration

    def now_ms() -> float:
        return (time.perf_counter() - link.t0) * 1000  # type: ignore[operator]

    if link.obs.subprotocol in SUBPROTOCOLS:
        for m in session.start(now_ms(), link.obs.subprotocol):
            link.send(m)
        ack_by = min(end, time.perf_counter() + target.timeout)
        await link.wait(ack_by, lambda: session.acked or session.over)
        if not session.acked and not session.over and not link.rec.closing.is_set() \
                and time.perf_counter() >= ack_by and ack_by < end:
            session.ack_waited_ms = target.timeout * 1000
        if session.acked:
            await link.wait(end, lambda: session.over)
    else:
        # No GraphQL subprotocol: nothing can be said in it. A server that closes at once
        # (strawberry: 4406) gets a moment to say so.
        await link.wait(min(end, time.perf_counter() + min(1.0, target.timeout)), lambda: False)
    for m in session.finish(now_ms()):
        link.send(m)
    window_over = time.perf_counter() >= end
    reason = "sse-doctor: observation window over" if window_over else \
        "sse-doctor: operation over"
    if session.invalid_ms is not None:  # as the graphql-ws client does
        return await link.close("client", "Invalid message received", code=4400)
    return await link.close("deadline" if window_over else "client", reason)


class SseTap(Interpreter):
    """The graphql-sse events of the stream, fed to the session as they arrive."""

    def __init__(self, session: GqlSession) -> None:
        self.session = session
        self.comments = 0

    def feed(self, items: list[Any]) -> None:
        for item in items:
            if type(item) is Event:
                self.session.sse_event(item.t, item.type, item.data)
            elif type(item) is Comment:
                self.comments += 1
                self.session.keepalive(item.t, "comment")

    def result(self, obs: Any) -> Any:  # the profile builds the result itself
        return None


async def over_sse(target: Target, opts: ProbeOptions, session: GqlSession
                   ) -> tuple[SseObservation, SseTap, Target]:
    from sse_doctor.sse.observe import observe_sse

    post = replace(target, method="POST", body=session.sse_request(), body_is_json=True)
    session.subscribe_ms = 0.0  # the request is the subscription
    tap = SseTap(session)
    obs = await observe_sse(post, opts, tap=tap)
    return obs, tap, post
