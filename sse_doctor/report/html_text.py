"""How a value becomes text on the HTML page: redacted, cut, cleaned. Escaping is not done here:
the templates autoescape (Jinja2), and the SVG module escapes its own text with markupsafe.

Everything a server or a user sent (event data, headers, reasons, URLs, scenario names) is
hostile input: it is redacted first (so a cut never leaves half a secret), then cut, then
cleaned of characters a document may not contain, so the page stays well-formed XML.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from sse_doctor.redact import Redactor
from sse_doctor.units import ms_text

EXCERPT = 120  # characters of event data / message text in a tooltip
MAX_HEADER_VALUE = 300

# Characters a document may not contain (C0 controls, DEL, lone surrogates from undecodable
# bytes, XML non-characters): a hostile stream must not make the page unparseable.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


class Shown(str):
    """Text already redacted, cut and cleaned: the page's finalize step passes it as is."""

    __slots__ = ()


def clean(s: str) -> str:
    return _UNSAFE.sub("\ufffd", s)


def cut(s: str, limit: int | None) -> str:
    return s[: limit - 1] + "…" if limit is not None and len(s) > limit else s


def shown(red: Redactor, value: object, limit: int | None = None) -> Shown:
    """Any value as page text: redacted, then cut at ``limit`` characters, then cleaned."""
    return Shown(clean(cut(red.text(str(value)), limit)))


def shown_url(red: Redactor, url: str) -> Shown:
    return Shown(clean(red.url(url)))


def shown_header(red: Redactor, name: str, value: str) -> Shown:
    return Shown(clean(cut(red.header(name, value), MAX_HEADER_VALUE)))


def one_line(text: str | None, limit: int = EXCERPT) -> str:
    """A single-line excerpt: newlines shown as ↵, cut at ``limit`` characters."""
    if text is None:
        return ""
    s = text[: limit + 1].replace("\r\n", "↵").replace("\n", "↵").replace("\r", "↵")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def seconds(ms: float) -> str:
    """A moment in the report, in the unit the rest of it uses (milliseconds below 10 s)."""
    return ms_text(ms)


def count(n: int, noun: str) -> str:
    """'1 event', '2 events', '1,000 events'."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def value_text(v: Any) -> str:
    """A JSON value as short text for a person."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dict):
        return " · ".join(f"{k}: {value_text(x) if not isinstance(x, (dict, list)) else _json(x)}"
                          for k, x in v.items())
    if isinstance(v, list):
        if all(not isinstance(x, (dict, list)) for x in v):
            return ", ".join(value_text(x) for x in v)
        return _json(v)
    return str(v)


def _json(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, default=str)


def label(key: object) -> str:
    """A JSON key as words: 'settled_ms' -> 'settled ms'."""
    return str(key).replace("_", " ")


def num(x: Any) -> float | None:
    """A finite JSON number, or None (booleans are not numbers here)."""
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) \
        and math.isfinite(x) else None


def integer(x: Any) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None
