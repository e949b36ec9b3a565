"""Which view draws which kind of observation: its JSON parts (connection, stats, events,
comments, messages, close, and a section of its own) and its terminal section.

One table instead of methods on the observations, so an observation stays plain data and
never imports its renderer. A new kind (a protocol profile, `load`, `proxy`) adds one row to
VIEWS. A kind that is not in the table may still carry `json_parts(keep, redactor)` and
`render(console, redactor, verbose, result)` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text

from sse_doctor.checks.client_checks import capture_summary
from sse_doctor.experiments.observation import ExperimentObservation
from sse_doctor.har import HarObservation
from sse_doctor.load.llm.observation import LlmLoadObservation
from sse_doctor.load.llm.terminal import render_llm_load
from sse_doctor.load.observation import LoadObservation
from sse_doctor.load.terminal import render_load
from sse_doctor.model import SseObservation
from sse_doctor.profiles.socketio.observation import SioObservation
from sse_doctor.redact import Redactor
from sse_doctor.report.parts import empty_parts, sse_parts
from sse_doctor.units import ms_text
from sse_doctor.ws import render as ws_render
from sse_doctor.ws import stats as ws_stats
from sse_doctor.ws.observation import WsObservation


@dataclass(frozen=True)
class View:
    json: Callable[[Any, int, Redactor], dict[str, Any]]
    terminal: Callable[[Any, Any, Redactor, bool, Any], None] | None = None


def json_parts(obs: Any, keep: int, redactor: Redactor) -> dict[str, Any]:
    """The JSON parts of any observation (the empty parts for none)."""
    if isinstance(obs, SseObservation):
        return sse_parts(obs, keep, redactor)
    view = VIEWS.get(type(obs))
    if view is not None:
        return view.json(obs, keep, redactor)
    if obs is not None and hasattr(obs, "json_parts"):
        return obs.json_parts(keep, redactor)
    return empty_parts()


def has_terminal(obs: Any) -> bool:
    view = VIEWS.get(type(obs))
    return (view is not None and view.terminal is not None) or hasattr(obs, "render")


def render_terminal(obs: Any, console: Any, redactor: Redactor, verbose: bool,
                    result: Any) -> None:
    """The terminal section of an observation that is not an SSE connection (the terminal
    report draws those itself)."""
    view = VIEWS.get(type(obs))
    if view is not None and view.terminal is not None:
        view.terminal(obs, console, redactor, verbose, result)
    elif hasattr(obs, "render"):
        obs.render(console, redactor, verbose, result)


# --- browser captures (har) ---------------------------------------------------------------------
def _har_json(obs: HarObservation, keep: int, redactor: Redactor) -> dict[str, Any]:
    parts = empty_parts()
    parts["har"] = {
        "file": obs.path, "kind": obs.kind, "request_count": len(obs.requests),
        **capture_summary(obs),
        "requests": [{"t_ms": round(r.start_ms, 1),
                      "end_ms": None if r.end_ms is None else round(r.end_ms, 1),
                      "page": r.page, "status": r.status}
                     for r in obs.requests[:keep]],
    }
    return parts


def _har_terminal(obs: HarObservation, console: Any, redactor: Redactor, verbose: bool,
                  result: Any) -> None:
    s = capture_summary(obs)
    console.print(Text("\nCapture", style="bold"))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    first = obs.requests[0].start_ms if obs.requests else 0.0
    last = obs.requests[-1].start_ms if obs.requests else 0.0
    facts.add_row(obs.source, obs.path)
    facts.add_row("requests", f"{len(obs.requests)} {obs.kind.upper()} requests from "
                              f"{s['pages']} {obs.group}(s) over {ms_text(last - first)}")
    facts.add_row("client", f"at most {s['max_open_at_once']} open at once · longest run "
                            f"of reconnects under 1 s: {s['longest_quick_reconnect_streak']}"
                            f" · busiest minute: {s['busiest_minute']} requests")
    console.print(facts)
    if verbose:
        t = Table(title="requests", show_edge=False, header_style="dim")
        t.add_column("start", justify="right")
        t.add_column("end", justify="right")
        t.add_column(obs.group)
        t.add_column("status", justify="right")
        for r in obs.requests[:400]:
            t.add_row(ms_text(r.start_ms), "open" if r.end_ms is None else ms_text(r.end_ms),
                      r.page or "-", str(r.status) if r.status is not None else "-")
        if len(obs.requests) > 400:
            t.add_row("…", "", f"{len(obs.requests) - 400} more", "")
        console.print(t)


# --- experiments ----------------------------------------------------------------------------------
def _experiment_json(obs: ExperimentObservation, keep: int, redactor: Redactor) -> dict[str, Any]:
    first = obs.legs[0] if obs.legs else None
    if first is not None and first.protocol == "sse":
        parts = sse_parts(first.obs, keep, redactor)
    else:
        parts = json_parts(first.obs if first is not None else None, keep, redactor)
    parts["experiment"] = {
        "kind": obs.kind,
        "settings": obs.settings,
        "interrupted": obs.interrupted,
        "duration_ms": round(obs.end_ms, 1),
        "steps": [{"t_ms": round(s.t_ms, 1), "text": redactor.text(s.text), "ok": s.ok}
                  for s in obs.steps],
        "connections": [leg.summary() for leg in obs.legs],
        "connections_not_listed": obs.legs_dropped,
        "stats": obs.stats,
    }
    parts["watches"] = [s.to_json(redactor) for s in obs.series]
    return parts


def _experiment_terminal(obs: ExperimentObservation, console: Any, redactor: Redactor,
                         verbose: bool, result: Any) -> None:
    console.print(Text("\nSteps", style="bold"))
    steps = Table.grid(padding=(0, 2))
    steps.add_column(justify="right", style="dim")
    steps.add_column()
    steps.add_column()
    for s in obs.steps:
        mark = {True: Text("✓", style="green"), False: Text("✗", style="bold red"),
                None: Text("·", style="dim")}[s.ok]
        steps.add_row(ms_text(s.t_ms), mark, redactor.text(s.text))
    console.print(steps)
    if obs.series:
        from sse_doctor.watchers.series import sparkline

        console.print(Text("\nWatched", style="bold"))
        for s in obs.series:
            console.print(Text("  ").append_text(sparkline(s)))
    legs = obs.legs if verbose else obs.legs[:12]
    if legs:
        console.print(Text("\nConnections", style="bold"))
        for leg in legs:
            console.print(Text("  " + redactor.text(leg.line())))
        hidden = len(obs.legs) - len(legs) + obs.legs_dropped
        if hidden:
            console.print(Text(f"  … {hidden} more (-v or --json for the list)", style="dim"))
    if obs.stats:
        console.print(Text("\nCounts", style="bold"))
        console.print(Text("  " + ", ".join(f"{k}: {v}" for k, v in obs.stats.items()
                                            if not isinstance(v, (dict, list)))))


# --- load -----------------------------------------------------------------------------------------
def _load_json(obs: LoadObservation, keep: int, redactor: Redactor) -> dict[str, Any]:
    """The common parts (only `stats.bytes` filled), the `load` object and `interrupted`."""
    parts = empty_parts()
    parts["stats"]["bytes"] = obs.counts.get("bytes", 0)
    parts["load"] = obs.load_json()
    parts["interrupted"] = obs.interrupted
    return parts


def _load_terminal(obs: LoadObservation, console: Any, redactor: Redactor, verbose: bool,
                   result: Any) -> None:
    render_load(console, obs, redactor, verbose)


# --- load --profile llm ---------------------------------------------------------------------------
def _llm_load_json(obs: LlmLoadObservation, keep: int, redactor: Redactor) -> dict[str, Any]:
    """The common parts (empty), `load.llm`, the watched values and `interrupted`."""
    parts = empty_parts()
    llm = obs.llm_json()
    for level in llm["levels"]:  # example details quote server text: redacted like the rest
        for examples in level["examples"].values():
            for e in examples:
                e["detail"] = redactor.text(e["detail"])
    llm.pop("examples", None)
    if llm["levels"]:
        llm["examples"] = llm["levels"][-1]["examples"]
    parts["load"] = {"llm": llm}
    parts["watches"] = [s.to_json(redactor) for s in obs.series]
    parts["interrupted"] = obs.interrupted
    return parts


def _llm_load_terminal(obs: LlmLoadObservation, console: Any, redactor: Redactor,
                       verbose: bool, result: Any) -> None:
    render_llm_load(console, obs, redactor, verbose)


# --- Socket.IO sessions (profiles/socketio) -----------------------------------------------
def _sio_json(obs: SioObservation, keep: int, redactor: Redactor) -> dict[str, Any]:
    parts = ws_stats.json_parts(obs.ws, keep, redactor) if obs.carried_by_ws else empty_parts()
    if not obs.carried_by_ws and obs.requests:  # a session long-polling carried
        first = obs.requests[0]
        parts["connection"].update(status=first.status, http_version="HTTP/1.1",
                                   headers_ms=round(first.ms, 1))
        parts["stats"].update(events=obs.session.n_events, chunks=obs.n_requests,
                              bytes=sum(r.bytes for r in obs.requests))
        parts["close"] = obs.close.to_json() if obs.close is not None else None
    parts["socketio"] = {
        "requests": [r.to_json() for r in obs.requests[:keep]],
        "request_count": obs.n_requests,
        "websocket_opened_at_ms": round(obs.ws_offset_ms, 1) if obs.ws is not None else None,
        "malformed_examples": list(obs.session.malformed_examples),
    }
    return parts


def _sio_terminal(obs: SioObservation, console: Any, redactor: Redactor, verbose: bool,
                  result: Any) -> None:
    if obs.requests:
        console.print(Text("\nLong-polling", style="bold"))
        t = Table.grid(padding=(0, 2))
        t.add_column(justify="right", style="dim")
        t.add_column()
        shown = obs.requests if verbose else obs.requests[:8]
        for r in shown:
            t.add_row(ms_text(r.t_ms), redactor.text(
                f"{r.method} {r.what} → {r.status if r.status is not None else 'no answer'} "
                f"in {ms_text(r.ms)}, {r.packets} packet(s) {r.note}".rstrip()))
        if obs.n_requests > len(shown):
            t.add_row("", f"… {obs.n_requests - len(shown)} more (-v or --json)")
        console.print(t)
    if obs.carried_by_ws:
        ws_render.render(obs.ws, console, redactor, verbose, result)


VIEWS: dict[type, View] = {
    LoadObservation: View(_load_json, _load_terminal),
    LlmLoadObservation: View(_llm_load_json, _llm_load_terminal),
    SioObservation: View(_sio_json, _sio_terminal),
    WsObservation: View(ws_stats.json_parts, ws_render.render),
    HarObservation: View(_har_json, _har_terminal),
    ExperimentObservation: View(_experiment_json, _experiment_terminal),
}
