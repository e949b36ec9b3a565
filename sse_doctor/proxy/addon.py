"""The mitmproxy addon of `sse-doctor proxy`; also loads on its own:

    mitmdump -s sse_doctor/proxy/addon.py --mode reverse:http://127.0.0.1:8000 \\
        --set sse_doctor_client_key=header:X-User

It passes everything through unchanged and never holds a body: every request and response is
streamed chunk by chunk (`.stream = True`), WebSockets pass through as they are. It picks out
the stream requests (SSE by Accept or response type, WebSocket upgrades), names their client
(`sse_doctor_client_key`), and either writes them as JSON lines to the file descriptor
`sse_doctor_feed` (what `sse-doctor proxy` does: it counts and reports) or, when run on its
own in mitmdump or mitmweb, counts them itself and logs the client findings as they happen.

mitmproxy runs in its own environment (its pins would downgrade h11 and httpcore beside
sse-doctor), where sse-doctor is not installed: this file then loads only the sse_doctor
package it sits in (its core is standard library only), not the environment around it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from mitmproxy import ctx, exceptions, http

if "sse_doctor" not in sys.modules:
    try:
        import sse_doctor  # noqa: F401  - installed in this environment too
    except ImportError:
        _pkg = Path(__file__).resolve().parents[1]
        _spec = importlib.util.spec_from_file_location(
            "sse_doctor", _pkg / "__init__.py", submodule_search_locations=[str(_pkg)])
        assert _spec is not None and _spec.loader is not None
        _mod = importlib.util.module_from_spec(_spec)
        sys.modules["sse_doctor"] = _mod
        _spec.loader.exec_module(_mod)

from sse_doctor.proxy.streams import (  # noqa: E402
    ClientStreams,
    client_label,
    parse_client_key,
    stream_kind,
)

log = logging.getLogger("sse_doctor")
CHECK_EVERY_S = 1.0  # on its own: how often the client checks run again
PARENT_EVERY_S = 0.5  # run by sse-doctor: how often it looks whether sse-doctor is still there
# What mitmproxy logs (at info level, below what `sse-doctor proxy` shows of its log) about a
# client request it could not take or forward: a note for the person watching.
CLIENT_TROUBLE = re.compile(r"bad http|protocol error|invalid http|malformed|"
                            r"error establishing server connection", re.IGNORECASE)


class _TroubleNotes(logging.Handler):
    def __init__(self, addon: SseDoctorAddon) -> None:
        super().__init__(logging.INFO)
        self.addon = addon

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a log record must never break the proxy
            return
        if CLIENT_TROUBLE.search(text):
            self.addon.emit({"ev": "note", "t": record.created, "text": text[:500]})


class SseDoctorAddon:
    def __init__(self) -> None:
        self.key: tuple[str, str] = ("ip", "")
        self.feed: Any = None  # a text file on the feed descriptor, or None (on its own)
        self.streams = ClientStreams()
        self.check_due = False
        self.kinds: dict[str, str] = {}  # flow id -> stream kind, for the flows we follow
        self.notes: logging.Handler | None = None
        self.parent = os.getppid()
        self.watch: asyncio.Task | None = None

    def load(self, loader: Any) -> None:
        loader.add_option("sse_doctor_client_key", str, "ip",
                          "What names a client: ip, header:NAME, cookie:NAME or query:NAME.")
        loader.add_option("sse_doctor_feed", str, "",
                          "File descriptor to write stream events to as JSON lines "
                          "(sse-doctor proxy sets it); empty: log client findings here.")

    def configure(self, updated: set[str]) -> None:
        if "sse_doctor_client_key" in updated:
            try:
                self.key = parse_client_key(ctx.options.sse_doctor_client_key)
            except ValueError as exc:
                raise exceptions.OptionsError(str(exc)) from None
        if "sse_doctor_feed" in updated and ctx.options.sse_doctor_feed:
            try:
                self.feed = os.fdopen(int(ctx.options.sse_doctor_feed), "w", buffering=1,
                                      encoding="utf-8")
            except (ValueError, OSError) as exc:
                raise exceptions.OptionsError(f"sse_doctor_feed: {exc}") from None
            if self.notes is None:  # on its own, mitmproxy's log already says it
                self.notes = _TroubleNotes(self)
                logging.getLogger("mitmproxy").addHandler(self.notes)

    def running(self) -> None:
        if self.feed is not None and self.watch is None:
            self.watch = asyncio.get_running_loop().create_task(self.watch_parent())

    async def watch_parent(self) -> None:
        """Run by sse-doctor in a session of its own, mitmdump gets no Ctrl-C from the
        terminal: sse-doctor stops it by its PID. Should sse-doctor go first (a second Ctrl-C
        exits at once, a kill -9), mitmdump ends too instead of holding the port."""
        while os.getppid() == self.parent:
            await asyncio.sleep(PARENT_EVERY_S)
        log.warning("sse-doctor: the sse-doctor that started this proxy is gone: stopping")
        ctx.master.shutdown()

    # --- output -----------------------------------------------------------------------------
    def emit(self, event: dict[str, Any]) -> None:
        if self.feed is not None:
            try:
                self.feed.write(json.dumps(event, separators=(",", ":")) + "\n")
            except (OSError, ValueError):  # sse-doctor went away: keep proxying
                self.feed = None
            return
        self.streams.feed(event)
        if not self.check_due:  # at most once a second, and soon after anything happened
            self.check_due = True
            asyncio.get_running_loop().call_later(CHECK_EVERY_S, self.check)

    def check(self) -> None:
        self.check_due = False
        self.streams.take_changed()  # mitmproxy shows its own flows; nothing to redact here
        for path, f in self.streams.new_findings():
            log.warning(f"sse-doctor: {f.severity} {f.code} on {path}: {f.detail}")

    # --- hooks --------------------------------------------------------------------------------
    def client_of(self, flow: http.HTTPFlow) -> str:
        kind, name = self.key
        if kind == "ip":
            peer = flow.client_conn.peername
            return client_label(kind, name, str(peer[0]) if peer else None)
        if kind == "header":
            value = flow.request.headers.get(name)
        elif kind == "cookie":
            value = flow.request.cookies.get(name)
        else:
            value = flow.request.query.get(name)
        return client_label(kind, name, value)

    def start(self, flow: http.HTTPFlow, kind: str) -> None:
        self.kinds[flow.id] = kind
        req = flow.request
        self.emit({"ev": "stream", "id": flow.id, "t": req.timestamp_start,
                   "client": self.client_of(flow), "path": req.path.split("?", 1)[0],
                   "kind": kind, "method": req.method, "url": req.url,
                   "http": req.http_version, "headers": list(req.headers.items(multi=True))})

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        headers = flow.request.headers
        if "transfer-encoding" in headers or headers.get("content-length", "0") != "0":
            flow.request.stream = True  # a body passes through as it arrives, never held
        kind = stream_kind(flow.request.method, list(flow.request.headers.items(multi=True)))
        if kind is not None:
            self.start(flow, kind)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        assert flow.response is not None
        flow.response.stream = True  # each chunk is forwarded the moment it arrives
        if flow.id not in self.kinds:
            kind = stream_kind(flow.request.method, [],
                               flow.response.headers.get("content-type", ""))
            if kind is None:
                return
            self.start(flow, kind)
        self.emit({"ev": "response", "id": flow.id,
                   "t": flow.response.timestamp_start or time.time(),
                   "status": flow.response.status_code,
                   "headers": list(flow.response.headers.items(multi=True))})

    def response(self, flow: http.HTTPFlow) -> None:
        # A WebSocket's flow gets its response (101) first and ends in websocket_end.
        if flow.id in self.kinds and flow.websocket is None:
            self.finish(flow, "")

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        if flow.id in self.kinds:
            self.finish(flow, "")

    def error(self, flow: http.HTTPFlow) -> None:
        msg = flow.error.msg if flow.error else "error"
        if flow.id in self.kinds:
            self.finish(flow, msg)
        else:
            self.emit({"ev": "note", "t": time.time(),
                       "text": f"{flow.request.method} {flow.request.path.split('?', 1)[0]}: "
                               f"{msg}"})

    def finish(self, flow: http.HTTPFlow, note: str) -> None:
        self.kinds.pop(flow.id, None)
        self.emit({"ev": "end", "id": flow.id, "t": time.time(), "note": note})

    def done(self) -> None:
        if self.watch is not None:
            self.watch.cancel()
        if self.notes is not None:
            logging.getLogger("mitmproxy").removeHandler(self.notes)
        if self.feed is not None:
            try:
                self.feed.close()
            except OSError:
                pass


addons = [SseDoctorAddon()]
