"""The sections of a scenario on the HTML page: which templates, in which order, for each kind
of result, and the pure view functions that turn a result into what its template shows.

A section is a template in ``templates/`` and a view: ``view(result, parts, redactor)``
returns what the template reads as ``view`` (None leaves the section out of the page), from
the Result and its redacted JSON parts. The template also sees ``r`` (the result),
``parts`` and ``fail_on``; it writes values as ``{{ x }}`` (autoescaped, redacted and cleaned
on the way out) or ``{{ x|text(limit) }}`` when they must be cut, and draws charts with
svg.py. Views return text already redacted and cut (report/text.py ``shown``) where they
compose it.

To add a section (a protocol profile's conversation, `load`'s latency, `proxy`'s hops): write
``templates/<name>.html.j2``, then add one ``Section("<name>.html.j2", view)`` line to the
list of each result kind that shows it in ``SECTIONS`` (a new kind also gets a line in
``kind_of``). A template that reads only ``r`` and ``parts`` needs no view.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from markupsafe import Markup

from sse_doctor.codes import SEVERITY_RANK
from sse_doctor.model import Finding, Result, SseObservation
from sse_doctor.redact import Redactor
from sse_doctor.report.html_text import (
    Shown,
    count,
    integer,
    label,
    num,
    shown,
    shown_header,
    value_text,
)
from sse_doctor.report.llm_load_section import llm_load_view
from sse_doctor.report.svg import TimelineChart, watch_chart
from sse_doctor.report.timeline import CLOSE_WORDS, MAX_MARKS, timeline_for
from sse_doctor.units import ms_text, size_text
from sse_doctor.ws import closecodes

MAX_HEADERS = 60
MAX_BODY = 600
MAX_EVIDENCE = 2000
MAX_EXTRA_FACTS = 40
MAX_ROWS = 60  # experiment steps and connections listed
MAX_COLUMNS = 12

View = Callable[[Result, dict[str, Any], Redactor], Any]


@dataclass(frozen=True)
class Section:
    template: str
    view: View | None = None  # None: the template reads ``r`` and ``parts`` only


def by_severity(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: -SEVERITY_RANK[f.severity])


@dataclass(frozen=True)
class Fact:
    """One row of a facts table; ``style`` "bad" shows the value in red, "pre" preformatted."""

    name: str
    value: str
    style: str = ""


# --- findings ------------------------------------------------------------------------------


def findings_view(r: Result, parts: dict[str, Any], red: Redactor) \
        -> list[tuple[Finding, Shown | None]]:
    """The findings, worst first, each with its evidence as indented JSON."""
    out = []
    # Ignored findings (--ignore) last: they decide nothing.
    for f in sorted(by_severity(r.findings), key=lambda f: f.ignored):
        evidence = None
        if f.evidence:
            evidence = shown(red, json.dumps(red.deep(f.evidence), ensure_ascii=False,
                                             default=str, indent=1), MAX_EVIDENCE)
        out.append((f, evidence))
    return out


# --- connection facts ------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionFacts:
    rows: list[Fact]
    headers: list[tuple[Shown, Shown]]  # the first MAX_HEADERS response headers
    n_headers: int
    extra: list[Fact]  # every other field the observation kind reports


def connection_view(r: Result, parts: dict[str, Any], red: Redactor) \
        -> ConnectionFacts | str:
    """Status, timing, what was received and how it ended; a sentence when nothing was
    recorded."""
    obs = r.observation
    conn = parts.get("connection") or {}
    stats = parts.get("stats") or {}
    rows: list[Fact] = []
    error = obs.unreachable if isinstance(obs, SseObservation) else conn.get("error")
    if obs is None:
        return "No connection was recorded."
    if error:
        rows.append(Fact("error", shown(red, error, 600), "bad"))
    if conn.get("status") is not None:
        headers = conn.get("headers") or {}
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        reason = f" {shown(red, conn['reason'])}" if conn.get("reason") else ""
        rows.append(Fact("response", f"{shown(red, conn['status'])}{reason} · "
                                     f"{shown(red, conn.get('http_version') or '-')}"
                                     + (f" · {shown(red, ctype, 200)}" if ctype else "")))
        first = "first message" if "messages_in" in stats else "first event"
        rows.append(Fact("timing", f"headers {ms_text(num(conn.get('headers_ms')))} · first "
                                   f"byte {ms_text(num(conn.get('ttfb_ms')))} · {first} "
                                   f"{ms_text(num(conn.get('first_event_ms')))}"))
    received = []
    if "messages_in" in stats:
        received.append(f"{count(int(stats['messages_in'] or 0), 'message')} in · "
                        f"{int(stats.get('messages_out') or 0):,} out")
    else:
        received.append(f"{count(int(stats.get('events') or 0), 'event')} · "
                        f"{count(int(stats.get('comments') or 0), 'comment')}")
    received.append(f"{size_text(int(stats.get('bytes') or 0))} in "
                    f"{count(int(stats.get('chunks') or 0), 'read')}")
    gap_max = num((stats.get("gap_ms") or {}).get("max"))
    if gap_max is not None:
        received.append(f"longest silence {ms_text(gap_max)}")
    if conn.get("status") is not None:
        rows.append(Fact("received", " · ".join(received)))
    close = parts.get("close")
    if isinstance(close, dict):
        ended = (f"{shown(red, CLOSE_WORDS.get(str(close.get('by')), close.get('by')))} at "
                 f"{ms_text(num(close.get('t_ms')))}")
        code = integer(close.get("code"))
        if code is not None:
            ended += f" · {code} {shown(red, closecodes.name(code))}"
        if close.get("reason"):
            ended += f" · “{shown(red, close['reason'], 300)}”"
        rows.append(Fact("ended", ended))
    if isinstance(obs, SseObservation) and obs.body_excerpt and not obs.streamed:
        body = obs.body_excerpt.decode("utf-8", "replace")
        rows.append(Fact("body", shown(red, body, MAX_BODY), "pre"))
    elif conn.get("body_excerpt"):
        rows.append(Fact("body", shown(red, conn["body_excerpt"], MAX_BODY), "pre"))
    headers = conn.get("headers") or {}
    return ConnectionFacts(
        rows,
        [(shown(red, k, 100), shown_header(red, k, str(v)))
         for k, v in list(headers.items())[:MAX_HEADERS]],
        len(headers), _extra_facts(conn, stats, red))


_SHOWN = {"status", "http_version", "headers", "headers_ms", "ttfb_ms", "first_event_ms",
          "error", "reason", "body_excerpt", "events", "comments", "bytes", "chunks", "gap_ms",
          "messages_in", "messages_out"}


def _extra_facts(conn: dict[str, Any], stats: dict[str, Any], red: Redactor) -> list[Fact]:
    """Every other field an observation kind reports (WebSocket negotiation, pings...)."""
    rows = []
    for key, value in [*conn.items(), *stats.items()]:
        if key in _SHOWN or value is None or value in ([], {}):
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        rows.append(Fact(shown(red, key.replace("_", " "), 60), shown(red, text, 300)))
    return rows[:MAX_EXTRA_FACTS]


# --- timeline --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineView:
    chart: TimelineChart | None
    caption: str = ""  # how to read the chart
    missing: str = ""  # why there is no chart


def timeline_view(r: Result, parts: dict[str, Any], red: Redactor) -> TimelineView:
    tl = timeline_for(r, parts)
    if tl is None:
        status = (parts.get("connection") or {}).get("status")
        return TimelineView(None, missing=(
            f"the server answered {shown(red, status)} without a stream" if status is not None
            else "nothing was received"))
    n = len(tl.marks)
    chart = TimelineChart(tl, red, f"Timeline of {r.name}: {n} items over "
                                   f"{ms_text(tl.span_ms)}")
    how = (f"{n:,} items, drawn as one mark per time slice of "
           f"{ms_text(tl.span_ms / max(1, MAX_MARKS // len(tl.lanes)))}"
           if chart.aggregated else f"{n:,} items")
    note = f" ({shown(red, tl.note)})" if tl.note else ""
    since = "the opening handshake" if r.protocol == "ws" else "the request"
    return TimelineView(chart, caption=f"Seconds since {since} was sent; {how}{note}. "
                                       "Hover a mark for its time, type, id and data.")


# --- an observation's own JSON, by shape (experiments, captures) ----------------------------


@dataclass(frozen=True)
class Step:
    t: str
    ok: bool | None  # passed, failed, or no verdict
    text: Shown


@dataclass(frozen=True)
class Steps:
    """Items with a time, a text and maybe a verdict: what an experiment did, in order."""

    heading: Shown
    steps: list[Step]
    more: int
    template: ClassVar[str] = "steps.html.j2"


@dataclass(frozen=True)
class Records:
    """A list of JSON records (an experiment's connections) as a table."""

    heading: Shown
    columns: list[Shown]
    rows: list[list[Shown]]
    more: int
    template: ClassVar[str] = "records.html.j2"


@dataclass(frozen=True)
class Shaped:
    title: str
    facts: list[Fact] | None  # None: the JSON was not an object, ``text`` says it
    blocks: list[Steps | Records]
    text: Shown | None = None


# A step's "ok": true (or 1) passed, false (or 0) failed, anything else is no verdict.
_VERDICT = {True: True, False: False}


def _steps(heading: Shown, items: list[dict[str, Any]], red: Redactor) -> Steps:
    steps = []
    for step in items[:MAX_ROWS]:
        ok = step.get("ok")
        steps.append(Step(ms_text(num(step.get("t_ms"))),
                          _VERDICT.get(ok) if isinstance(ok, (int, float)) else None,
                          shown(red, step.get("text", ""), 400)))
    return Steps(heading, steps, max(0, len(items) - MAX_ROWS))


def _records(heading: Shown, items: list[dict[str, Any]], red: Redactor) -> Records:
    columns: list[str] = []
    for item in items[:MAX_ROWS]:
        columns.extend(k for k in item if k not in columns)
    columns = columns[:MAX_COLUMNS]
    return Records(heading, [shown(red, label(c), 40) for c in columns],
                   [[shown(red, value_text(item.get(c)), 120) for c in columns]
                    for item in items[:MAX_ROWS]],
                   max(0, len(items) - MAX_ROWS))


def _scalar(v: Any) -> bool:
    return not isinstance(v, (dict, list))


def _table_of(heading: Shown, data: dict[str, Any], red: Redactor) -> list[Records]:
    """An object of figures as tables, as the terminal shows them: its plain values one row
    each (name, value), and its distributions ({"p50": .., "p95": ..} per name, a load
    run's histograms, a profile's itl_ms) one row each with a column per figure."""
    plain = [(k, v) for k, v in data.items() if not isinstance(v, dict)]
    nested = [(k, v) for k, v in data.items()
              if isinstance(v, dict) and v and all(_scalar(x) for x in v.values())]
    deeper = [(k, v) for k, v in data.items() if isinstance(v, dict) and (k, v) not in nested]
    out = []
    rows = [[shown(red, label(k), 60), shown(red, value_text(v), 200)]
            for k, v in plain + deeper if v not in (None, [], {})]
    if rows:
        out.append(Records(heading, [shown(red, "name", 10), shown(red, "value", 10)],
                           rows[:MAX_ROWS], max(0, len(rows) - MAX_ROWS)))
    if nested:
        columns: list[str] = []
        for _, v in nested:
            columns.extend(c for c in v if c not in columns)
        columns = columns[:MAX_COLUMNS]
        title = shown(red, "Distributions", 60) if rows else heading
        out.append(Records(title,
                           [shown(red, "name", 10)] + [shown(red, label(c), 40)
                                                      for c in columns],
                           [[shown(red, label(k), 60)]
                            + [shown(red, value_text(v.get(c)), 40) for c in columns]
                            for k, v in nested[:MAX_ROWS]],
                           max(0, len(nested) - MAX_ROWS)))
    return out


def shaped_view(key: str, title: str) -> View:
    """The JSON an observation files under ``key``, rendered by shape: scalars as facts, lists
    of steps (objects with a "text") in order, other lists of objects as tables."""

    def view(r: Result, parts: dict[str, Any], red: Redactor) -> Shaped | None:
        data = parts.get(key)
        if isinstance(data, dict) and data:
            facts, blocks = [], []
            for k, value in list(data.items())[:MAX_EXTRA_FACTS]:
                if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                    heading = shown(red, label(k).capitalize(), 60)
                    blocks.append(_steps(heading, value, red) if all("text" in v for v in value)
                                  else _records(heading, value, red))
                elif isinstance(value, dict) and value and not all(
                        _scalar(v) for v in value.values()):
                    # figures with distributions inside: tables, never raw JSON
                    blocks.extend(_table_of(shown(red, label(k).capitalize(), 60), value, red))
                elif value not in (None, [], {}):
                    facts.append(Fact(shown(red, label(k), 60),
                                      shown(red, value_text(value), 600)))
            return Shaped(title, facts, blocks)
        if data:
            return Shaped(title, None, [], shown(red, data, 600))
        return None

    return view


# --- watched series --------------------------------------------------------------------------


@dataclass(frozen=True)
class Watch:
    name: Shown
    source: Shown | None
    values: list[str]  # "baseline 0", "peak 3"...
    returned: bool | None  # back to its baseline after the actions, when known
    errors: str  # "2 failed readings", or ""
    chart: Markup | None  # None when there was no reading


def watches_view(r: Result, parts: dict[str, Any], red: Redactor) -> list[Watch] | None:
    watches = [w for w in parts.get("watches") or [] if isinstance(w, dict)]
    if not watches:
        return None
    out = []
    for w in watches:
        returned = w.get("returned")
        out.append(Watch(
            shown(red, w.get("name", "watched value"), 200),
            shown(red, w["source"], 120) if w.get("source") else None,
            [f"{key} {shown(red, value_text(w[key]), 40)}" for key in ("baseline", "peak", "final")
             if w.get(key) is not None],
            None if returned is None else bool(returned),
            count(int(w["error_count"]), "failed reading") if num(w.get("error_count")) else "",
            watch_chart(w, red)))
    return out


# --- load over time --------------------------------------------------------------------------

LOAD_SERIES = (("open", "streams open"), ("failed", "streams refused so far"),
               ("lag_p99_ms", "heartbeat lag p99, ms"), ("events_per_s", "events per second"))


def load_view(r: Result, parts: dict[str, Any], red: Redactor) -> list[Watch] | None:
    """A `load` run's series (one sample a second) as charts: open streams, refusals, lag."""
    load = parts.get("load")
    series = [s for s in (load or {}).get("series") or [] if isinstance(s, dict)] \
        if isinstance(load, dict) else []
    if not series:
        return None
    out = []
    for key, name in LOAD_SERIES:
        samples = [[num(s.get("t_s")) * 1000, num(s.get(key))] for s in series
                   if num(s.get("t_s")) is not None]
        values = [v for _, v in samples if v is not None]
        if not values:
            continue
        w = {"name": name, "samples": samples}
        out.append(Watch(shown(red, name, 100), None,
                         [f"peak {value_text(max(values))}", f"last {value_text(values[-1])}"],
                         None, "", watch_chart(w, red)))
    return out or None


# --- the registry ----------------------------------------------------------------------------

FINDINGS = Section("findings.html.j2", findings_view)
# checks an interrupted run could not decide (Ctrl-C, SIGTERM): not passed, incomplete
INCOMPLETE = Section("incomplete.html.j2",
                     lambda r, parts, red: ", ".join(r.checks_incomplete) or None)
WATCHES = Section("watches.html.j2", watches_view)

SECTIONS: dict[str, list[Section]] = {
    # a probe or an experiment: connections of ours, observed
    "stream": [
        FINDINGS,
        INCOMPLETE,
        # what a protocol profile read: dialect, metrics, its conversation's steps
        Section("shaped.html.j2", shaped_view("profile", "Protocol profile")),
        Section("connection.html.j2", connection_view),
        Section("timeline.html.j2", timeline_view),
        Section("shaped.html.j2", shaped_view("experiment", "Experiment")),
        WATCHES,
    ],
    # a `load` run: fleet figures, no single connection to show
    "load": [
        FINDINGS,
        INCOMPLETE,
        Section("load.html.j2", load_view),
        Section("llm_load.html.j2", llm_load_view),  # load --profile llm: the sweep
        Section("shaped.html.j2", shaped_view("load", "Load")),
    ],
    # a browser capture (HAR): no connection of ours to show
    "capture": [
        FINDINGS,
        INCOMPLETE,
        Section("shaped.html.j2", shaped_view("har", "Capture")),
        WATCHES,
    ],
}


def kind_of(parts: dict[str, Any]) -> str:
    """Which list of SECTIONS a result gets, from its JSON parts."""
    if "load" in parts:
        return "load"
    return "capture" if "har" in parts else "stream"


def sections_for(r: Result, parts: dict[str, Any], red: Redactor) \
        -> list[tuple[str, Any]]:
    """(template, view) for each section the result shows, in order."""
    out = []
    for section in SECTIONS[kind_of(parts)]:
        view = parts if section.view is None else section.view(r, parts, red)
        if view is not None:
            out.append((section.template, view))
    return out
