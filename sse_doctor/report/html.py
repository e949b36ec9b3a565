"""The HTML report: one self-contained page (inline CSS and SVG, no external assets) rendered
from the same Report model as the terminal, JSON and JUnit outputs.

The page's structure is in Jinja2 templates (``templates/``: ``page.html.j2`` and one template
per section) with autoescaping on; the charts come from svg.py; which sections a scenario shows,
and the views that feed them, are in sections.py (the place to add one).

Everything a server or a user sent is hostile input here. Every value a template writes is
redacted and cleaned of characters a document may not contain (the environment's finalize
step), then autoescaped; values that must be cut are redacted before the cut (report/text.py).
Nothing server-controlled ever reaches an attribute name, a class or an id. The page is also
well-formed XML, so tests can parse it strictly.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timezone
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from sse_doctor.model import Report, Result
from sse_doctor.redact import Redactor
from sse_doctor.report.html_text import EXCERPT, Shown, clean, count, shown, shown_url
from sse_doctor.report.json_report import result_parts
from sse_doctor.report.sections import by_severity, sections_for
from sse_doctor.report.svg import MAX_WATCH_POINTS, swatch
from sse_doctor.report.timeline import MAX_MARKS
from sse_doctor.version import __version__

__all__ = ["EXCERPT", "MAX_MARKS", "MAX_WATCH_POINTS", "count", "render"]

VERDICT_WORDS = {"healthy": "HEALTHY", "warning": "WARNING", "error": "ERROR"}
_SLUG = re.compile(r"[^a-z0-9]+")


def _redactor(context: Context) -> Redactor:
    red = context.get("redactor")
    if not isinstance(red, Redactor):  # a macro imported without context, say
        raise RuntimeError("an HTML template wrote a value without the page's redactor")
    return red


@pass_context
def _finalize(context: Context, value: Any) -> Any:
    """Every ``{{ value }}``: markup from svg.py and text already shown pass as they are; any
    other text is redacted and cleaned before autoescaping."""
    if isinstance(value, (Markup, Shown)) or not isinstance(value, str):
        return value
    return clean(_redactor(context).text(value))


@pass_context
def _text(context: Context, value: object, limit: int | None = None) -> Shown:
    """``{{ x|text(200) }}``: redacted, cut at 200 characters, cleaned."""
    return shown(_redactor(context), value, limit)


@pass_context
def _url(context: Context, value: str) -> Shown:
    """``{{ url|url }}``: secret query parameters and passwords masked."""
    return shown_url(_redactor(context), value)


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("sse_doctor.report", "templates"),
        autoescape=True,
        finalize=_finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(text=_text, url=_url)
    env.globals.update(verdict_words=VERDICT_WORDS, swatch=swatch)
    return env


def section_id(i: int, name: str) -> str:
    return f"s{i}-{_SLUG.sub('-', name.lower()).strip('-')[:40]}".rstrip("-")


def scenario_view(i: int, r: Result, red: Redactor, fail_on: str) -> dict[str, Any]:
    parts = result_parts(r, red)
    return {
        "r": r,
        "parts": parts,
        "sid": section_id(i, r.name),
        "failing": r.fails_at(fail_on),
        "findings": by_severity(r.findings),
        "expected": None if r.expected is None else ", ".join(sorted(r.expected)),
        "found": ", ".join(sorted({f.code for f in r.findings})),
        "sections": sections_for(r, parts, red),
    }


def render(report: Report, redactor: Redactor, fail_on: str = "error") -> str:
    """The whole HTML document for ``report``: verdict, summary, one section per scenario."""
    counts = Counter(r.verdict for r in report.results)
    return environment().get_template("page.html.j2").render(
        redactor=redactor,
        report=report,
        fail_on=fail_on,
        version=__version__,
        title=f"sse-doctor {report.command}: {report.verdict} · {redactor.url(report.url)}",
        started=report.started_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        by_verdict=", ".join(f"{counts[v]} {v}" for v in ("error", "warning", "healthy")
                             if counts[v]),
        n_fail=sum(1 for r in report.results if r.fails_at(fail_on)),
        with_expected=any(r.expected is not None for r in report.results),
        scenarios=[scenario_view(i, r, redactor, fail_on) for i, r in enumerate(report.results)],
    )
