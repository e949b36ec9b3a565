"""The HTML report, from real probes against the lab: structure, self-containment, redaction,
escaping, bounded size, the generic path for new observation kinds, and the page as headless
Chromium renders it."""

from __future__ import annotations

import asyncio
import html
import os
import re
import shutil
import struct
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest

from sse_doctor.model import (
    Chunk,
    Close,
    CommentRec,
    EventRec,
    ProbeOptions,
    Report,
    Result,
    SseObservation,
)
from sse_doctor.plan.probe import plan_probe, probe_values, run_probe
from sse_doctor.redact import MASK, Redactor
from sse_doctor.report import html as html_report
from sse_doctor.report.json_report import result_parts
from tests.support import free_port

TOKEN = "s3cr3t-T0KEN-4f9a"  # sent with --bearer; the lab's echo routes send it back
QUERY_SECRET = "qwerty-123456"
HOSTILE = "<script>alert(1)</script>"
COMMON = ["--duration", "2", "--idle-limit", "1"]



@dataclass
class Built:
    report: Report
    redactor: Redactor
    html: str

    def result(self, name: str) -> Result:
        return next(r for r in self.report.results if r.name == name)


async def _probe(name: str, argv: list[str]) -> tuple[Result, Redactor]:
    target, opts, ws_opts = plan_probe(probe_values(argv))
    return await run_probe(target, opts, ws_opts, name=name), target.redactor


@pytest.fixture(scope="module")
def built(lab) -> Built:  # noqa: ANN001 - the conftest fixture
    base = lab.base_url
    ws = base.replace("http://", "ws://", 1)
    echo_url = f"{base}/sse/echo?token={QUERY_SECRET}&q={HOSTILE}"
    specs = [
        ("healthy", [f"{base}/sse/healthy", *COMMON]),
        # a stall needs 2 s without data while pings go on: a longer window than the rest
        ("stalled", [f"{base}/sse/stalled", "--duration", "4", "--idle-limit", "1"]),
        ("no-heartbeat", [f"{base}/sse/no-heartbeat", *COMMON]),
        ("http-error", [f"{base}/sse/http-error", *COMMON]),
        ("ws echo", [f"{ws}/ws/healthy-echo", "--send", f"{HOSTILE} {TOKEN}", "--bearer", TOKEN,
                     "--ping-interval", "0.5", *COMMON]),
        ("ws 1011", [f"{ws}/ws/generate-code", "--send", '{"prompt":"hello"}', *COMMON]),
        ("echo <b>&", [echo_url, "--bearer", TOKEN, *COMMON]),
        ("unreachable", [f"http://127.0.0.1:{free_port()}/sse", "--timeout", "2", *COMMON]),
    ]
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()

    async def all_probes() -> list[tuple[Result, Redactor]]:
        return await asyncio.gather(*(_probe(n, a) for n, a in specs))

    probed = asyncio.run(all_probes())
    results = [r for r, _ in probed]
    results[0].expected = []  # the demo's "expected vs found" column
    redactor = probed[6][1]  # knows the bearer token and the URL's token
    report = Report("run", echo_url, "sse", started, time.perf_counter() - t0, results,
                    multi=True)
    return Built(report, redactor, html_report.render(report, redactor))


def parse(doc: str) -> ET.Element:
    """The page is well-formed XML after its doctype: parse it strictly."""
    assert doc.startswith("<!DOCTYPE html>\n")
    return ET.fromstring(doc.split("\n", 1)[1])


def text_of(el: ET.Element) -> str:
    return "".join(el.itertext())


def section(root: ET.Element, name: str) -> ET.Element:
    for sec in root.iter("section"):
        h2 = sec.find("h2")
        if h2 is not None and text_of(h2).strip().endswith(name):
            return sec
    raise AssertionError(f"no section for {name!r}")


def classes(el: ET.Element) -> set[str]:
    return set((el.get("class") or "").split())


def marks(el: ET.Element) -> list[ET.Element]:
    return [e for e in el.iter() if "mk" in classes(e)]


# --- structure ----------------------------------------------------------------------------


def test_every_scenario_has_a_section_linked_from_the_summary(built: Built) -> None:
    root = parse(built.html)
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    rows = root.findall(".//table[@class='summary']/tbody/tr")
    assert len(rows) == len(built.report.results)
    for row, r in zip(rows, built.report.results):
        link = row.find("th/a")
        assert link is not None and text_of(link) == r.name
        assert link.get("href", "").lstrip("#") in ids
        assert r.verdict.upper() in text_of(row)
        for f in r.findings:
            assert f.code in text_of(row)
        sec = section(root, r.name)
        assert link.get("href") == f"#{sec.get('id')}"
        assert r.verdict.upper() in text_of(sec.find("h2"))
    # the one scenario with an expectation gets the demo's comparison
    assert "as expected" in text_of(root.find(".//table[@class='summary']/thead"))


def test_header_says_worst_verdict_command_and_redacted_target(built: Built) -> None:
    root = parse(built.html)
    header = root.find(".//header")
    text = text_of(header)
    assert built.report.verdict == "error"  # an unreachable target is in the mix
    assert "ERROR" in text and "sse-doctor run" in text
    assert built.redactor.url(built.report.url) in text
    assert built.report.started_at.strftime("%Y-%m-%d %H:%M:%S") in text
    failing = sum(1 for r in built.report.results if r.verdict == "error")
    assert f"{failing} of {len(built.report.results)} fail" in text


def test_findings_carry_their_advice_and_severity(built: Built) -> None:
    root = parse(built.html)
    seen = 0
    for r in built.report.results:
        sec = section(root, r.name)
        items = sec.findall(".//ol[@class='findings']/li")
        assert len(items) == len(r.findings)
        for f in r.findings:
            item = next(i for i in items if i.find("p/code").text == f.code)
            assert f"sev-{f.severity}" in classes(item)
            assert f.advice in text_of(item)
            seen += 1
        if not r.findings:
            assert "Nothing wrong found." in text_of(sec)
    assert seen >= 5


def test_streams_get_a_timeline_with_marks_and_unreachable_gets_none(built: Built) -> None:
    root = parse(built.html)
    for r in built.report.results:
        sec = section(root, r.name)
        svg = sec.find(".//svg[@class='timeline']")
        if r.name in ("unreachable", "http-error"):
            assert svg is None
            assert "No timeline" in text_of(sec)
            continue
        assert svg is not None, r.name
        found = marks(svg)
        assert found, r.name
        # every mark explains itself in a tooltip that starts with its time
        for m in found:
            assert re.match(r"(\d+ ms|\d+\.\d s) · ", m.find("title").text), m.find("title").text
        assert svg.find("title") is not None  # the chart's accessible name


def test_sse_marks_match_what_was_received(built: Built) -> None:
    root = parse(built.html)
    r = built.result("healthy")
    svg = section(root, "healthy").find(".//svg[@class='timeline']")
    lanes = [text_of(t) for t in svg.iter("text") if "lanelabel" in classes(t)]
    assert lanes == ["events", "comments", "reads"]
    rects = [m for m in marks(svg) if m.tag == "rect"]
    dots = [m for m in marks(svg) if m.tag == "circle"]
    assert len(rects) == len(r.observation.events)
    assert len(dots) == len(r.observation.comments) + len(r.observation.chunks)
    first = r.observation.events[0]
    assert any(f"· {first.type} · id {first.id}" in m.find("title").text for m in rects)


def test_silence_over_the_idle_limit_is_shaded_with_its_length(built: Built) -> None:
    root = parse(built.html)
    r = built.result("no-heartbeat")
    finding = next(f for f in r.findings if f.code == "no-heartbeat")
    svg = section(root, "no-heartbeat").find(".//svg[@class='timeline']")
    gaps = [g for g in svg.iter("g") if "gap" in classes(g)]
    assert len(gaps) == finding.evidence["silences_over_limit"]
    longest = finding.evidence["longest_silence_ms"] / 1000
    labels = [text_of(t) for g in gaps for t in g.iter("text")]
    assert f"{longest:.1f} s" in labels
    # on every stream, exactly the silences the check counted are shaded (none on a healthy
    # one, unless a loaded machine held its first byte back past the idle limit)
    for r in built.report.results:
        if not isinstance(r.observation, SseObservation) or not r.observation.streamed:
            continue
        svg = section(root, r.name).find(".//svg[@class='timeline']")
        shaded = [g for g in svg.iter("g") if "gap" in classes(g)]
        over = [f.evidence["silences_over_limit"] for f in r.findings if f.code == "no-heartbeat"]
        assert len(shaded) == sum(over), r.name


def test_the_close_is_marked_with_who_closed(built: Built) -> None:
    root = parse(built.html)
    closes = {}
    for name in ("ws 1011", "healthy", "echo <b>&"):
        svg = section(root, name).find(".//svg[@class='timeline']")
        g = next(g for g in svg.iter("g") if "close" in classes(g))
        closes[name] = (classes(g), text_of(g.find("text")))
    assert "close-server" in closes["ws 1011"][0]
    assert "1011" in closes["ws 1011"][1] and "closed by the server" in closes["ws 1011"][1]
    assert "close-deadline" in closes["healthy"][0]  # the window ran out
    assert "close-server" in closes["echo <b>&"][0]  # a finite stream: the server ended it


def test_connection_facts(built: Built) -> None:
    root = parse(built.html)
    facts = text_of(section(root, "healthy").find(".//table[@class='facts']"))
    obs = built.result("healthy").observation
    assert f"{obs.status} · {obs.http_version} · text/event-stream" in facts
    assert html_report.count(obs.n_events, "event") in facts and "reads" in facts
    assert "window over" in facts
    err = text_of(section(root, "http-error"))
    assert "500" in err and "simulated failure" in err  # the body excerpt
    ws = text_of(section(root, "ws 1011"))
    assert "101 Switching Protocols" in ws and "1011 internal error" in ws
    gone = text_of(section(root, "unreachable"))
    assert "refused" in gone


# --- safety --------------------------------------------------------------------------------


def test_self_contained(built: Built) -> None:
    doc = built.html
    assert "<link" not in doc and "@import" not in doc and "url(" not in doc
    assert not re.search(r"\bsrc\s*=", doc)
    root = parse(doc)
    hrefs = [e.get("href") for e in root.iter() if e.get("href") is not None]
    assert hrefs and all(h.startswith("#") for h in hrefs)
    scripts = list(root.iter("script"))
    assert len(scripts) == 1 and scripts[0].get("src") is None
    assert not [e for e in root.iter() if e.tag in ("img", "iframe", "object", "embed")]


def test_secrets_are_redacted_everywhere(built: Built) -> None:
    doc = built.html
    assert TOKEN not in doc and QUERY_SECRET not in doc
    assert MASK in doc
    root = parse(doc)
    # the WebSocket echo sent the token back inside a message: the tooltip shows the mask
    svg = section(root, "ws echo").find(".//svg[@class='timeline']")
    tips = [m.find("title").text for m in marks(svg)]
    assert any(MASK in t and '"echo"' in t for t in tips)


def test_hostile_text_is_escaped(built: Built) -> None:
    doc = built.html
    assert HOSTILE not in doc
    assert html.escape(HOSTILE) in doc
    root = parse(doc)  # a stray tag or attribute would break the strict parse
    # the server's echo of our hostile message is in a tooltip, as text
    svg = section(root, "ws echo").find(".//svg[@class='timeline']")
    assert any(HOSTILE in m.find("title").text for m in marks(svg))
    # a scenario name with markup in it is text too
    assert section(root, "echo <b>&") is not None
    assert not list(root.iter("b"))


def _event(i: int, t: float, data: str, type_: str = "message") -> EventRec:
    return EventRec(t, type_, data, str(i), None, False, len(data), hash(data))


def _report(obs: Any, name: str = "synthetic", options: Any = None) -> Report:
    r = Result(name, "sse", obs.url, [], [], obs, options or ProbeOptions(idle_limit=1))
    return Report("probe", obs.url, "sse", datetime.now(timezone.utc), 1.0, [r])


def test_a_firehose_is_aggregated_and_the_page_stays_small() -> None:
    n = 50_000
    huge = "x" * 65536
    obs = SseObservation("http://example.test/sse", status=200, http_version="HTTP/1.1",
                         headers=[("content-type", "text/event-stream")], end_ms=10_000.0,
                         headers_ms=1.0, ttfb_ms=1.0, first_event_ms=1.0)
    obs.events = [_event(i, 1.0 + i * 0.19, huge if i == 7 else f"tick {i}",
                         "tick" if i % 3 else "progress") for i in range(n)]
    obs.comments = [CommentRec(5.0 + i * 100, " ping") for i in range(90)]
    obs.chunks = [Chunk(1.0 + i * 0.19, 20, 1) for i in range(n)]
    obs.n_events, obs.n_chunks, obs.n_comments = n, n, 90
    obs.close = Close("deadline", 10_000.0)
    doc = html_report.render(_report(obs), Redactor())
    root = parse(doc)
    svg = root.find(".//svg[@class='timeline']")
    found = marks(svg)
    assert 0 < len(found) <= html_report.MAX_MARKS
    tips = [m.find("title").text for m in found if m.find("title") is not None]
    assert any(re.match(r"\d+ events from ", t) and "tick ×" in t for t in tips)
    assert "time slice" in text_of(root.find(".//figure/figcaption"))
    assert len(doc) < 1_000_000
    assert huge not in doc


def test_hostile_bytes_and_long_data_keep_the_page_well_formed() -> None:
    nasty = "a\x00b\x1b[31m\udcff\ufffe" + HOSTILE + "\n" + "y" * 5000
    obs = SseObservation("http://example.test/sse?api_key=abcdef123", status=200,
                         http_version="HTTP/1.1",
                         headers=[("content-type", "text/event-stream"),
                                  ("x-evil", f'"><svg onload=alert(1)> {nasty}'),
                                  ("set-cookie", "session=topsecret")],
                         end_ms=3000.0, headers_ms=1.0)
    obs.events = [_event(1, 10.0, nasty, f"type{HOSTILE}")]
    obs.chunks = [Chunk(10.0, 100, 1)]
    obs.n_events = obs.n_chunks = 1
    obs.close = Close("transport", 2000.0, reason=nasty)
    red = Redactor()
    red.add_url(obs.url)
    doc = html_report.render(_report(obs, name=f"name {HOSTILE}"), red)
    root = parse(doc)  # raises on control characters, lone surrogates or stray markup
    assert "abcdef123" not in doc and "topsecret" not in doc
    assert "onload" not in [a for e in root.iter() for a in e.attrib]
    assert len(list(root.iter("script"))) == 1  # ours: the hostile header and data added none
    tip = next(m.find("title").text for m in marks(root.find(".//svg[@class='timeline']")))
    assert HOSTILE in tip and len(tip) < html_report.EXCERPT + 100  # cut
    assert "↵" in tip  # the newline is shown, the excerpt stays on one line


# --- observation kinds this module does not know ----------------------------------------------


def test_a_real_experiment_renders_from_its_json_parts(lab) -> None:  # noqa: ANN001
    from sse_doctor.experiments.disconnect import DisconnectSettings, run_disconnect
    from sse_doctor.experiments.observation import ExperimentObservation
    from sse_doctor.experiments.runner import ExperimentOptions

    target = plan_probe(probe_values([f"{lab.base_url}/sse/healthy"]))[0]
    opts = ExperimentOptions(duration=2.0, grace=0.5)
    settings = DisconnectSettings(after_events=2)
    obs = ExperimentObservation("disconnect", target.protocol, target.url, vars(settings))
    asyncio.run(run_disconnect(target, opts, settings, obs))
    r = Result("disconnect", "sse", target.url, [], ["reconnect-rejected"], obs, opts)
    report = Report("disconnect", target.url, "sse", datetime.now(timezone.utc), 1.0, [r],
                    multi=True)
    root = parse(html_report.render(report, target.redactor))
    sec = section(root, "disconnect")
    # the first connection's events, from the generic JSON path
    svg = sec.find(".//svg[@class='timeline']")
    assert len(marks(svg)) == len(obs.legs[0].obs.events)
    close = next(g for g in svg.iter("g") if "close" in classes(g))
    assert "close-client" in classes(close)  # the experiment dropped it
    # the steps, in order, with their verdicts
    steps = sec.findall(".//ol[@class='steps']/li")
    assert len(steps) == len(obs.steps)
    for li, step in zip(steps, obs.steps):
        assert text_of(li).endswith(step.text)
    assert any("✓" in text_of(li) for li in steps)  # the reconnect was accepted
    # the connections, one row each
    rows = sec.findall(".//table[@class='records']/tbody/tr")
    assert len(rows) == len(obs.legs)
    assert "drop #1" in text_of(rows[0])


class JsonOnlyObservation:
    """A kind the renderer has never seen: nothing but ``json_parts``."""

    def __init__(self, parts: dict[str, Any]) -> None:
        self.parts = parts

    def json_parts(self, keep: int, redactor: Redactor) -> dict[str, Any]:
        return self.parts


def test_watched_series_are_charted_against_their_baseline(built: Built) -> None:
    ws = built.result("ws echo")
    parts = result_parts(ws, built.redactor)
    pending = [[i * 10.0, min(3, i // 100)] for i in range(2000)]
    pending[1000][1] = None  # a failed reading breaks the line
    parts["experiment"] = {"kind": "storm", "settings": {"cycles": 50, "note": HOSTILE}}
    parts["watches"] = [
        {"name": 'sessions{state="pending"}', "kind": "metric", "source": "http://x/metrics",
         "baseline": 0, "final": 3, "peak": 3, "returned": False, "settled_ms": None,
         "end_ms": 15000.0, "samples": pending, "error_count": 1},
        {"name": "open_sockets", "kind": "port", "source": "port 8000", "baseline": 4,
         "final": 4, "peak": 6, "returned": True, "settled_ms": 1500.0, "end_ms": 1000.0,
         "samples": [[0, 4], [500, 6], [1000, 5], [1500, 4]], "error_count": 0},
    ]
    r = Result("storm", "ws", ws.url, [], [], JsonOnlyObservation(parts), ws.options)
    report = Report("storm", ws.url, "ws", built.report.started_at, 1.0, [r], multi=True)
    doc = html_report.render(report, built.redactor)
    root = parse(doc)
    # the WebSocket frames in the JSON still make a timeline
    svg = root.find(".//svg[@class='timeline']")
    assert len(marks(svg)) == len(parts["messages"])
    lanes = [text_of(t) for t in svg.iter("text") if "lanelabel" in classes(t)]
    assert lanes == ["from server", "sent"]
    charts = root.findall(".//svg[@class='watchchart']")
    assert len(charts) == 2
    for chart in charts:
        assert chart.find("line[@class='baseline']") is not None
    leaky, sockets = charts
    lines = leaky.findall("polyline")
    assert len(lines) == 2  # split at the failed reading
    assert sum(len(p.get("points").split()) for p in lines) <= html_report.MAX_WATCH_POINTS
    labels = [text_of(t) for t in sockets.iter("text")]
    assert "settled" in labels and "actions ended" in labels
    text = text_of(root)
    assert "did not return to baseline" in text and "returned to baseline" in text
    assert "1 failed reading" in text and "cycles: 50" in text
    assert HOSTILE not in doc


# --- in a browser ---------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:  # noqa: ANN001
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, text=True, timeout=90,
        env={**os.environ, "HOME": str(tmp_path)})


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_the_page_renders_in_headless_chromium(built: Built, tmp_path) -> None:  # noqa: ANN001
    page = tmp_path / "report.html"
    page.write_text(built.html, encoding="utf-8")
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    for r in built.report.results:
        assert html.escape(r.name, quote=False) in rendered
        assert r.verdict.upper() in rendered
    assert rendered.count("<svg class=\"timeline\"") == sum(
        1 for r in built.report.results if r.name not in ("unreachable", "http-error"))
    assert len(re.findall(r'class="mk ', rendered)) >= 10
    assert HOSTILE not in rendered and TOKEN not in rendered

    shot = tmp_path / "report.png"
    run = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2000)
    # a blank page compresses to almost nothing; the report's text and charts do not
    assert len(data) > 50_000
