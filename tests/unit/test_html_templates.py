"""How the HTML report is built: Jinja2 templates that autoescape, a finalize step that redacts
and cleans every value a template writes, markup only from the SVG module, and sections that
a new feature adds with one template and one registration line."""

from __future__ import annotations

import ast
import pathlib
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest
from jinja2 import ChoiceLoader, DictLoader
from markupsafe import Markup

from sse_doctor.model import Close, EventRec, ProbeOptions, Report, Result, SseObservation
from sse_doctor.redact import MASK, Redactor
from sse_doctor.report import html as html_report
from sse_doctor.report import sections, svg
from sse_doctor.report.timeline import sse_timeline

REPORT_DIR = pathlib.Path(html_report.__file__).parent
SECRET = "hunter2-very-secret"
HOSTILE = "<script>alert(1)</script>"


def _redactor() -> Redactor:
    red = Redactor()
    red.add_secret(SECRET)
    return red


def _report(name: str = "stream") -> Report:
    obs = SseObservation("http://example.test/sse", status=200, http_version="HTTP/1.1",
                         headers=[("content-type", "text/event-stream")], end_ms=2000.0,
                         headers_ms=1.0, ttfb_ms=1.0, first_event_ms=5.0)
    obs.events = [EventRec(5.0, f"type{HOSTILE}", f"{SECRET} \x00 {HOSTILE}", "1", None, False,
                           10, 0)]
    obs.n_events = 1
    obs.close = Close("server", 1500.0, reason=HOSTILE)
    r = Result(name, "sse", obs.url, [], [], obs, ProbeOptions(idle_limit=1))
    return Report("probe", obs.url, "sse", datetime.now(timezone.utc), 1.0, [r])


def test_every_value_a_template_writes_is_redacted_cleaned_and_escaped() -> None:
    env = html_report.environment()
    assert env.autoescape is True
    out = env.from_string("{{ x }}|{{ y|text(8) }}").render(
        redactor=_redactor(), x=f"a\x00{HOSTILE} {SECRET}", y=f"{SECRET} and more")
    plain, cut = out.split("|")
    assert plain == f"a\ufffd&lt;script&gt;alert(1)&lt;/script&gt; {MASK}"
    # redacted before the cut: no beginning of the secret survives it
    assert cut == MASK[:7] + "…"


def test_a_template_without_the_pages_redactor_refuses_to_write() -> None:
    with pytest.raises(RuntimeError, match="redactor"):
        html_report.environment().from_string("{{ x }}").render(x="anything")


def test_only_the_svg_module_makes_markup_and_nothing_escapes_by_hand() -> None:
    for path in REPORT_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        attrs = {f"{n.value.id}.{n.attr}" for n in ast.walk(tree)
                 if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
        assert "html.escape" not in attrs, path.name
        if path.name != "svg.py":
            assert "escape" not in names, path.name
            calls = {n.func.id for n in ast.walk(tree)
                     if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
            assert "Markup" not in calls, path.name


def test_svg_escapes_its_own_text() -> None:
    red = _redactor()
    r = _report().results[0]
    chart = svg.TimelineChart(sse_timeline(r.observation, 1.0), red, f"Timeline of {HOSTILE}")
    drawn = chart.svg()
    assert isinstance(drawn, Markup)
    root = ET.fromstring(str(drawn))  # well-formed: no stray tag, no control character
    assert HOSTILE not in str(drawn) and SECRET not in str(drawn)
    assert root.find("title").text == f"Timeline of {HOSTILE}"
    tips = [t.text for t in root.iter("title")]
    assert any(MASK in t and HOSTILE in t for t in tips)
    assert all(SECRET not in item.label for item in chart.legend())
    watch = svg.watch_chart({"name": f"{HOSTILE} {SECRET}", "baseline": 1,
                             "samples": [[0, 1], [10, 2]]}, red)
    assert isinstance(watch, Markup)
    assert ET.fromstring(str(watch)).find("title").text == f"{HOSTILE} {MASK} over time"
    assert svg.watch_chart({"name": "none", "samples": []}, red) is None


def test_every_registered_section_template_ships_and_loads() -> None:
    env = html_report.environment()
    for kind, listed in sections.SECTIONS.items():
        assert listed, kind
        for section in listed:
            assert (REPORT_DIR / "templates" / section.template).is_file(), section.template
            env.get_template(section.template)
    assert sections.kind_of({"har": {}}) == "capture"
    assert sections.kind_of({"connection": {}}) == "stream"


def test_a_new_section_is_one_template_and_one_registration_line(monkeypatch) -> None:  # noqa: ANN001
    env = html_report.environment()
    monkeypatch.setattr(env, "loader", ChoiceLoader([
        DictLoader({"extra.html.j2": '<h3>Extra</h3><p class="extra">{{ r.name }} · '
                                     '{{ parts.close.reason }} · {{ view }}</p>\n'}),
        env.loader]))
    monkeypatch.setitem(sections.SECTIONS, "stream", [
        *sections.SECTIONS["stream"],
        sections.Section("extra.html.j2", lambda r, parts, red: f"{SECRET} {len(r.findings)}"),
    ])
    doc = html_report.render(_report(f"named {HOSTILE}"), _redactor())
    root = ET.fromstring(doc.split("\n", 1)[1])
    scenario = next(s for s in root.iter("section") if s.get("class") == "scenario")
    extra = scenario.find("p[@class='extra']")
    assert extra is not None
    assert extra.text == f"named {HOSTILE} · {HOSTILE} · {MASK} 0"
    # after the built-in sections, before the link back
    children = list(scenario)
    at = children.index(extra)
    assert children[at - 1].text == "Extra" and at == len(children) - 2
    assert children[-1].get("class") == "back"
    assert SECRET not in doc and HOSTILE not in doc
