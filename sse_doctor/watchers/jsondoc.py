"""JSON watches (`--watch-json 'URL#dotted.path'`): a number, or the length of a list or
object, at a dotted path of a JSON document."""

from __future__ import annotations

import re
from typing import Any

from sse_doctor.errors import UsageError
from sse_doctor.watchers.prometheus import finite
from sse_doctor.watchers.spec import ReadError, WatchSpec, shown, split_url

ACCEPT = "application/json"
_INDEX = re.compile(r"-?[0-9]+")


def parse_json_path(path: str) -> list[str]:
    """'a.b.0' -> ['a', 'b', '0']; '' is the whole document. ValueError on an empty segment."""
    if path == "":
        return []
    segments = path.split(".")
    if any(s == "" for s in segments):
        raise ValueError(f"empty segment in the path {path!r}")
    return segments


def parse_watch_json(text: str) -> WatchSpec:
    option = "--watch-json"
    url, path = split_url(option, text, "URL#dotted.path")
    path = path.strip()
    try:
        parse_json_path(path)
    except ValueError as exc:
        raise UsageError(f"{option} {shown(text)}: {exc}") from None
    return WatchSpec("json", text, url, path, None)


def _describe(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, str):
        short = v if len(v) <= 30 else v[:27] + "..."
        return f"a string ({short!r})"
    return f"a {type(v).__name__}"


def json_value(doc: Any, path: str) -> float:
    """The number at a dotted path: booleans are 1/0, lists and objects count their items,
    numeric strings count as their number; anything else is a reading error."""
    cur = doc
    where = ""
    for seg in parse_json_path(path):
        at = where or "the document"
        if isinstance(cur, dict):
            if seg not in cur:
                keys = ", ".join(list(cur)[:10]) or "none"
                raise ReadError(f"no key {seg!r} in {at} (keys: {keys})")
            cur = cur[seg]
        elif isinstance(cur, list):
            if not _INDEX.fullmatch(seg):
                raise ReadError(f"{at} is a list; {seg!r} is not an index")
            i = int(seg)
            if not -len(cur) <= i < len(cur):
                raise ReadError(f"index {i} is out of range: {at} has {len(cur)} items")
            cur = cur[i]
        else:
            raise ReadError(f"{at} is {_describe(cur)}, which has no {seg!r}")
        where = f"{where}.{seg}" if where else seg
    at = where or "the document"
    if isinstance(cur, bool):
        return 1.0 if cur else 0.0
    if isinstance(cur, (int, float)):
        return finite(cur, at)
    if isinstance(cur, (list, dict)):
        return float(len(cur))
    if isinstance(cur, str):
        try:
            number = float(cur.strip())
        except ValueError:
            pass
        else:
            return finite(number, at)
    raise ReadError(f"{at} is {_describe(cur)}, not a number")
