"""What the server looks like from outside before, during and after an experiment.

Three kinds of watch, each a series of (t_ms, value) samples:

- ``--watch-metric 'URL#name{label="v"}'``: a sample from a Prometheus text exposition
  (or OpenMetrics, by Content-Type), parsed by prometheus-client's parser;
- ``--watch-json 'URL#dotted.path'``: a number (or the length of a list/object) in a JSON
  document;
- ``--watch-port PORT``: server-side TCP sockets on a local port, by state (ESTABLISHED and
  CLOSE_WAIT), through psutil.

The spec parsing, the metric selection, the JSON path rules and the Series bookkeeping are
pure functions; :class:`Watchers` is the shell that fetches and samples on a deadline.
A watched value "returns" when it is back at or below its pre-experiment baseline.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import parse_labels, text_string_to_metric_families
from rich.text import Text

from sse_doctor.errors import UsageError
from sse_doctor.redact import Redactor

MAX_SAMPLES = 10_000  # per series in memory (about 33 min at 5 Hz); halved evenly beyond
MAX_ERRORS = 20  # per series: the first ones, and the last slot keeps the latest
JSON_SAMPLES = 300  # samples per series in JSON output
MAX_BODY = 16 << 20  # a watch URL's answer; bigger is an error, not a memory problem
# A settle() called late, or with a zero grace, still gets this long for one fresh reading
# (or 2.5 times what the slowest source's last reading took, up to the timeout).
SETTLE_FLOOR_S = 0.5
# Readings at or below baseline, in a row after the end, before settle() stops early: the
# first one may have been served before the server even noticed the experiment ended.
CONFIRM_READINGS = 2
# Listing sockets is CPU work in this process (psutil parses /proc/net/tcp in Python: about
# 0.2-0.4 s for 10,000 sockets). Port readings are spaced so they take at most this share of
# the time, which keeps a storm's own event loop responsive; watch URLs are I/O waits.
PORT_DUTY = 0.25

_ACCEPT = {
    # The classic text format: the most lenient to parse, and every client library serves it
    # (prometheus_client switches to OpenMetrics when the Accept header merely mentions it).
    "metric": "text/plain;version=0.0.4;q=1,*/*;q=0.1",
    "json": "application/json",
}
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_INDEX = re.compile(r"-?[0-9]+")
_BARS = "▁▂▃▄▅▆▇█"


class WatchError(Exception):
    """A watch cannot be read at baseline: one line that names the option."""


class _ReadError(Exception):
    """One reading failed; the message is the reason, without the option."""


@dataclass(frozen=True)
class WatchSpec:
    kind: str  # "metric" | "json" | "port"
    text: str  # as the user wrote it
    url: str | None  # metric/json source
    selector: str  # metric selector, dotted path, or "" for port
    port: int | None

    def option(self) -> str:
        """The option as the user gave it, for messages (secret query parameters masked)."""
        if self.kind == "port":
            return f"--watch-port {self.port}"
        return f"--watch-{self.kind} {Redactor().url(self.url or '')}#{self.selector}"


# --- parsing the options ---------------------------------------------------------------------


def _shown(text: str) -> str:
    """The option's text for a message, with secret-looking query parameters masked."""
    url, sep, rest = text.partition("#")
    return repr(Redactor().url(url) + sep + rest)


def _split_url(option: str, text: str, form: str) -> tuple[str, str]:
    # The first '#' splits: a URL fragment is never sent to a server, while a metric's label
    # value may well contain '#'.
    url, sep, rest = text.partition("#")
    if not sep:
        raise UsageError(f"{option} {_shown(text)}: expected {form} (no '#' found)")
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UsageError(f"{option} {_shown(text)}: bad URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{option} {_shown(text)}: the URL must start with http:// or https:// "
                         f"and name a host")
    return url, rest


def parse_selector(selector: str) -> tuple[str, dict[str, str]]:
    """``name{label="v",...}`` -> (name, labels); ValueError with a reason when malformed.

    The label part is read by prometheus-client's own label parser, so escapes (\\", \\\\,
    \\n) mean exactly what they mean in an exposition.
    """
    selector = selector.strip()
    m = _METRIC_NAME.match(selector)
    if not m:
        raise ValueError(f"{selector!r} does not start with a metric name")
    name, rest = m.group(), selector[m.end():].strip()
    if not rest:
        return name, {}
    if not (rest.startswith("{") and rest.endswith("}")):
        raise ValueError(f"unexpected {rest!r} after the metric name; write "
                         f'name{{label="value",...}}')
    inner = rest[1:-1]
    if re.search(r'(=~|!~|!=)\s*"', inner):
        raise ValueError('only exact label matches (label="value") are supported')
    try:
        labels = parse_labels(inner)
    except Exception:  # the parser raises several types on malformed text
        raise ValueError(f"bad label selector {rest}; write label=\"value\" pairs separated "
                         f"by commas") from None
    return name, labels


def format_selector(name: str, labels: dict[str, str]) -> str:
    if not labels:
        return name
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    inner = ",".join(f'{k}="{esc(v)}"' for k, v in labels.items())
    return f"{name}{{{inner}}}"


def parse_watch_metric(text: str) -> WatchSpec:
    option = "--watch-metric"
    url, selector = _split_url(option, text, 'URL#metric_name{label="value",...}')
    if not selector.strip():
        raise UsageError(f"{option} {_shown(text)}: no metric name after '#'")
    try:
        name, labels = parse_selector(selector)
    except ValueError as exc:
        raise UsageError(f"{option} {_shown(text)}: {exc}") from None
    return WatchSpec("metric", text, url, format_selector(name, labels), None)


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
    url, path = _split_url(option, text, "URL#dotted.path")
    path = path.strip()
    try:
        parse_json_path(path)
    except ValueError as exc:
        raise UsageError(f"{option} {_shown(text)}: {exc}") from None
    return WatchSpec("json", text, url, path, None)


def parse_watch_port(port: int) -> WatchSpec:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise UsageError(f"--watch-port {port}: a port is a number from 1 to 65535")
    return WatchSpec("port", str(port), None, "", port)


def parse_watches(
    metrics: list[str] | None, jsons: list[str] | None, ports: list[int] | None
) -> list[WatchSpec]:
    """Every watch option, in order, each once (a repeated option would only double-count)."""
    specs = [parse_watch_metric(t) for t in metrics or []]
    specs += [parse_watch_json(t) for t in jsons or []]
    specs += [parse_watch_port(p) for p in ports or []]
    return list(dict.fromkeys(specs))


# --- reading values (pure) -------------------------------------------------------------------


def _number(v: float) -> str:
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _finite(value: float, what: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise _ReadError(f"{what} is {value}, not a finite number")
    return value


def parse_exposition(text: str, content_type: str = "") -> list[Any]:
    """Metric families from a /metrics body; OpenMetrics when the server says so."""
    try:
        if "openmetrics" in content_type.lower():
            return list(openmetrics_families(text))
        return list(text_string_to_metric_families(text))
    except Exception as exc:  # the parser raises ValueError, IndexError, ... on bad input
        first = text.lstrip()[:40].splitlines()[0] if text.strip() else ""
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        hint = f" (starts with {first!r})" if first else " (empty body)"
        raise _ReadError(f"not Prometheus text exposition format: {reason}{hint}") from None


@dataclass(frozen=True)
class MetricPick:
    value: float
    matched: int  # samples summed


def select_metric(families: Iterable[Any], name: str, labels: dict[str, str],
                  *, strict: bool = True) -> MetricPick:
    """Sum the samples called ``name`` whose labels include every given pair.

    prometheus-client names a counter family without ``_total`` and its samples with it, so
    a counter's family name selects its ``_total`` samples too. A name declared (# TYPE)
    without samples, e.g. a labelled gauge with no children yet, reads as 0.

    When samples of that name exist but none has the labels, ``strict`` (at baseline, where
    it is most likely a typo) raises with what is there; otherwise it reads 0: the labelled
    child went away, which is what a cleaned-up per-session gauge does.
    """
    by_name: dict[str, list[Any]] = {}
    empty: set[str] = set()  # declared, no samples yet: reads as 0
    counters: set[str] = set()
    compound: dict[str, Any] = {}  # histogram/summary families: their name is no sample
    for fam in families:
        if fam.type == "counter":
            counters.add(fam.name)
        if not fam.samples:
            empty.add(fam.name)
            if fam.type == "counter":
                empty.add(fam.name + "_total")
        elif fam.type in ("histogram", "gaugehistogram", "summary"):
            compound[fam.name] = fam
        for s in fam.samples:
            by_name.setdefault(s.name, []).append(s)
    sample_name = name
    if name not in by_name and name in counters:
        sample_name = name + "_total"
    if sample_name not in by_name and sample_name in compound:
        fam = compound[sample_name]
        parts = ", ".join(sorted({s.name for s in fam.samples}))
        raise _ReadError(f"{name} is a {fam.type}, not one sample: watch one of {parts}")
    if sample_name not in by_name and sample_name not in empty:
        known = sorted(set(by_name) | empty | counters)
        close = difflib.get_close_matches(name, known, n=3)
        if close:
            hint = f" (did you mean {', '.join(close)}?)"
        elif known:
            more = f", ... {len(known) - 8} more" if len(known) > 8 else ""
            hint = f" (have: {', '.join(known[:8])}{more})"
        else:
            hint = " (the exposition has no metrics)"
        raise _ReadError(f"no metric named {name}{hint}")
    candidates = by_name.get(sample_name, [])
    matched = [s for s in candidates
               if all(s.labels.get(k) == v for k, v in labels.items())]
    if not matched and candidates and strict:
        have = [format_selector(s.name, dict(s.labels)) for s in candidates[:5]]
        more = f", ... {len(candidates) - 5} more" if len(candidates) > 5 else ""
        raise _ReadError(f"no sample named {sample_name} with labels "
                         f"{format_selector('', labels)} (have: {', '.join(have)}{more})")
    what = format_selector(sample_name, labels)
    total = sum(_finite(s.value, what) for s in matched)
    return MetricPick(total, len(matched))


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
                raise _ReadError(f"no key {seg!r} in {at} (keys: {keys})")
            cur = cur[seg]
        elif isinstance(cur, list):
            if not _INDEX.fullmatch(seg):
                raise _ReadError(f"{at} is a list; {seg!r} is not an index")
            i = int(seg)
            if not -len(cur) <= i < len(cur):
                raise _ReadError(f"index {i} is out of range: {at} has {len(cur)} items")
            cur = cur[i]
        else:
            raise _ReadError(f"{at} is {_describe(cur)}, which has no {seg!r}")
        where = f"{where}.{seg}" if where else seg
    at = where or "the document"
    if isinstance(cur, bool):
        return 1.0 if cur else 0.0
    if isinstance(cur, (int, float)):
        return _finite(cur, at)
    if isinstance(cur, (list, dict)):
        return float(len(cur))
    if isinstance(cur, str):
        try:
            number = float(cur.strip())
        except ValueError:
            pass
        else:
            return _finite(number, at)
    raise _ReadError(f"{at} is {_describe(cur)}, not a number")


@dataclass(frozen=True)
class PortCounts:
    listening: bool
    established: int
    close_wait: int


def count_port(conns: Iterable[Any], port: int) -> PortCounts:
    """Server-side TCP sockets on a local port: the LOCAL port is the server's, so the
    client ends of loopback connections (remote port = PORT) are not counted."""
    listening = False
    established = close_wait = 0
    for c in conns:
        if not c.laddr or c.laddr.port != port:
            continue
        if c.status == psutil.CONN_LISTEN:
            listening = True
        elif c.status == psutil.CONN_ESTABLISHED:
            established += 1
        elif c.status == psutil.CONN_CLOSE_WAIT:
            close_wait += 1
    return PortCounts(listening, established, close_wait)


# --- series ----------------------------------------------------------------------------------


def downsample_indices(values: list[float | None], limit: int,
                       keep: Iterable[int] = ()) -> list[int]:
    """Evenly spaced indices, at most ``limit``, always with the first, the last, the peak
    and any ``keep`` index."""
    n = len(values)
    if n <= limit:
        return list(range(n))
    must = {0, n - 1, *(i for i in keep if 0 <= i < n)}
    good = [(v, i) for i, v in enumerate(values) if v is not None]
    if good:
        must.add(max(good)[1])
    slots = max(limit - len(must), 2)
    even = {round(k * (n - 1) / (slots - 1)) for k in range(slots)}
    chosen = sorted(must | even)
    while len(chosen) > limit:  # rounding collisions can leave one or two too many
        drop = next(i for i in chosen[1:-1] if i not in must)
        chosen.remove(drop)
    return chosen


@dataclass
class Series:
    name: str  # human label, e.g. 'lab_pending_sessions{route="leaky-session"}'
    kind: str  # metric | json | port
    source: str  # URL (unredacted; renderers redact) or "port 8000"
    samples: list[tuple[float, float | None]] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)  # bounded (MAX_ERRORS)
    baseline: float | None = None
    # First t_ms after the end from which every reading stayed <= baseline (kept exactly as
    # samples arrive, so downsampling cannot move it).
    settled_ms: float | None = None
    end_ms: float | None = None  # when the experiment's actions ended (mark_end)
    error_count: int = 0

    def add(self, t_ms: float, value: float | None, error: str | None = None) -> None:
        self.samples.append((t_ms, value))
        if error is not None:
            self.error_count += 1
            if len(self.errors) < MAX_ERRORS:
                self.errors.append((t_ms, error))
            else:
                self.errors[-1] = (t_ms, error)
        self._track(t_ms, value)
        if len(self.samples) > MAX_SAMPLES:
            self._compact()

    def _track(self, t_ms: float, value: float | None) -> None:
        """Move settled_ms for one reading: set at a return, cleared when it rises again."""
        if value is None or self.end_ms is None or t_ms < self.end_ms:
            return
        if self.baseline is not None and value <= self.baseline:
            if self.settled_ms is None:
                self.settled_ms = t_ms
        else:
            self.settled_ms = None

    def _compact(self) -> None:
        values = [v for _, v in self.samples]
        keep = [i for i, (t, _) in enumerate(self.samples) if t == self.settled_ms]
        idx = downsample_indices(values, MAX_SAMPLES // 2, keep)
        self.samples = [self.samples[i] for i in idx]

    def mark_end(self, end_ms: float) -> None:
        self.end_ms = end_ms
        self.settled_ms = None
        for t, v in self.samples:
            self._track(t, v)

    # -- summaries ---------------------------------------------------------------------------

    def good_after_end(self) -> list[tuple[float, float]]:
        """Good readings taken after the end (all good readings before mark_end)."""
        start = self.end_ms if self.end_ms is not None else -math.inf
        return [(t, v) for t, v in self.samples if v is not None and t >= start]

    def final(self) -> float | None:
        for _, v in reversed(self.samples):
            if v is not None:
                return v
        return None

    def peak(self) -> float | None:
        good = [v for _, v in self.samples if v is not None]
        if self.baseline is not None:
            good.append(self.baseline)
        return max(good) if good else None

    def returned(self) -> bool:
        """The last good reading is back at or below baseline. Once the end is marked only
        readings after it count: an unreadable watch after the experiment is no pass."""
        if self.baseline is None:
            return False
        after = self.good_after_end()
        return bool(after) and after[-1][1] <= self.baseline

    def confirmed_back(self, readings: int = CONFIRM_READINGS) -> bool:
        """The last ``readings`` readings after the end were all good and <= baseline."""
        if self.baseline is None or self.end_ms is None:
            return False
        n = 0
        for t, v in reversed(self.samples):
            if t < self.end_ms or v is None or v > self.baseline:
                break
            n += 1
            if n >= readings:
                return True
        return False

    def last_error(self) -> str | None:
        return self.errors[-1][1] if self.errors else None

    def to_json(self, redactor: Redactor) -> dict[str, Any]:
        values = [v for _, v in self.samples]
        keep = [i for i, (t, _) in enumerate(self.samples) if t == self.settled_ms]
        idx = downsample_indices(values, JSON_SAMPLES, keep)
        source = redactor.url(self.source) if self.kind != "port" else self.source

        def num(v: float | None) -> float | int | None:
            if v is None:
                return None
            return int(v) if float(v).is_integer() and abs(v) < 2**53 else v

        return {
            "name": redactor.text(self.name),
            "kind": self.kind,
            "source": source,
            "baseline": num(self.baseline),
            "final": num(self.final()),
            "peak": num(self.peak()),
            "returned": self.returned(),
            "settled_ms": None if self.settled_ms is None else round(self.settled_ms, 1),
            "end_ms": None if self.end_ms is None else round(self.end_ms, 1),
            "samples": [[round(self.samples[i][0], 1), num(self.samples[i][1])] for i in idx],
            "sample_count": len(self.samples),
            "errors": [{"t_ms": round(t, 1), "error": redactor.text(e)}
                       for t, e in self.errors],
            "error_count": self.error_count,
        }


def sparkline(series: Series, width: int = 32) -> Text:
    """One line for the terminal: bars over the samples, then baseline, peak and final."""
    values = [v for _, v in series.samples]
    cols: list[float | None] = []
    if values:
        # Each column shows the highest reading it covers, so a short spike stays visible.
        n = min(width, len(values))
        for c in range(n):
            chunk = values[c * len(values) // n:(c + 1) * len(values) // n]
            good = [v for v in chunk if v is not None]
            cols.append(max(good) if good else None)
    good_cols = [v for v in cols if v is not None]
    lo = min(good_cols + ([series.baseline] if series.baseline is not None else []), default=0)
    hi = max(good_cols + ([series.baseline] if series.baseline is not None else []), default=0)
    ok = series.returned()
    text = Text()
    for v in cols:
        if v is None:
            text.append("·", style="dim red")
            continue
        level = 0 if hi == lo else round((v - lo) / (hi - lo) * (len(_BARS) - 1))
        above = series.baseline is not None and v > series.baseline
        text.append(_BARS[level], style="yellow" if above else "green")

    def fmt(v: float | None) -> str:
        return "?" if v is None else _number(v)

    text.append(f"  {series.name}: {fmt(series.baseline)} before, peak {fmt(series.peak())}, "
                f"now {fmt(series.final())}")
    if ok and series.settled_ms is not None and series.end_ms is not None:
        text.append(f", back {(series.settled_ms - series.end_ms) / 1000:.1f} s after the end",
                    style="green")
    elif ok:
        text.append(", back at baseline", style="green")
    elif series.end_ms is not None and not series.good_after_end():
        text.append(", unreadable after the end", style="bold red")
    else:
        text.append(", not back", style="bold red")
    return text


# --- the shell: sampling on a deadline -------------------------------------------------------


async def _wait_event(event: asyncio.Event, timeout: float) -> None:
    """Wait for `event` at most `timeout` seconds.

    Not wait_for inside suppress(TimeoutError): on Python 3.11 a cancellation that lands as
    the timeout fires comes out of wait_for as TimeoutError, and suppressing that would
    swallow the cancellation (the sampling loop then never stops)."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()


def _fetch_error(exc: BaseException, budget: float) -> str:
    if isinstance(exc, (asyncio.TimeoutError, httpx.TimeoutException)):
        return f"no answer within {budget:g} s"
    if isinstance(exc, httpx.ConnectError):
        reason = str(exc) or type(exc).__name__
        return f"cannot connect ({reason})"
    return f"request failed ({type(exc).__name__}: {exc})"


@dataclass
class _Watch:
    spec: WatchSpec
    series: list[Series]  # one for metric/json, two for port (ESTABLISHED, CLOSE_WAIT)
    labels: dict[str, str] = field(default_factory=dict)
    name: str = ""


@dataclass
class _Source:
    key: str  # the URL, or "ports"
    watches: list[_Watch]
    kick: asyncio.Event | None = None
    task: asyncio.Task[None] | None = None
    took: float = 0.0  # seconds the last completed reading took
    stopping: bool = False  # set by _stop_tasks, checked by _loop each turn


class Watchers:
    """Samples every watch before (``baseline``), during (``start``) and after
    (``mark_end`` + ``settle``) an experiment. Each distinct URL is fetched once per reading
    and all port watches share one socket listing; each source samples on its own, so a slow
    watch URL does not starve the others."""

    def __init__(self, specs: list[WatchSpec], t0: float, *, timeout: float = 5.0,
                 interval: float = 0.2, verify: Any = True) -> None:
        self.specs = list(specs)
        self.t0 = t0
        self.timeout = timeout
        self.interval = interval
        self._verify = verify
        self.series: list[Series] = []
        self._sources: dict[str, _Source] = {}
        for spec in self.specs:
            if spec.kind == "port":
                src = f"port {spec.port}"
                series = [Series(f"ESTABLISHED on :{spec.port}", "port", src),
                          Series(f"CLOSE_WAIT on :{spec.port}", "port", src)]
                key = "ports"
            else:
                series = [Series(spec.selector or "(whole document)", spec.kind,
                                 spec.url or "")]
                key = spec.url or ""
            watch = _Watch(spec, series)
            if spec.kind == "metric":
                watch.name, watch.labels = parse_selector(spec.selector)
            self.series.extend(series)
            self._sources.setdefault(key, _Source(key, [])).watches.append(watch)
        self._client: httpx.AsyncClient | None = None
        self._baselined = False
        self._deadline: float | None = None  # perf_counter; settle() stops sampling there
        self._end: float | None = None
        self._changed: asyncio.Event | None = None
        self._closed = False

    # -- context manager ---------------------------------------------------------------------

    async def __aenter__(self) -> Watchers:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    # -- time --------------------------------------------------------------------------------

    def _ms(self, t: float) -> float:
        return (t - self.t0) * 1000


    # -- reading -----------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # trust_env=False: a watch URL is usually on the server's own host; a proxy from
            # the environment would watch something else, or fail.
            self._client = httpx.AsyncClient(
                trust_env=False, verify=self._verify, follow_redirects=True,
                timeout=httpx.Timeout(self.timeout),
                headers={"User-Agent": "sse-doctor-watch"},
            )
        return self._client

    async def _get(self, url: str, accept: str) -> tuple[str, str]:
        client = self._http()
        async with client.stream("GET", url, headers={"Accept": accept}) as resp:
            if resp.status_code >= 400:
                raise _ReadError(f"HTTP {resp.status_code} {resp.reason_phrase}".rstrip())
            body = bytearray()
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY:
                    raise _ReadError(f"the answer is larger than {MAX_BODY >> 20} MiB")
            try:
                text = bytes(body).decode(resp.charset_encoding or "utf-8", errors="replace")
            except LookupError:  # a charset Python does not know
                text = bytes(body).decode("utf-8", errors="replace")
            return text, resp.headers.get("content-type", "")

    async def _read_url(self, src: _Source, *, strict: bool
                        ) -> list[tuple[_Watch, float | None, str | None, int]]:
        """One fetch of a URL, then every watch on it: (watch, value, error, matched)."""
        kinds = {w.spec.kind for w in src.watches}
        accept = _ACCEPT["metric"] if kinds == {"metric"} else (
            _ACCEPT["json"] if kinds == {"json"} else "*/*")
        # settle() cancels a reading still running at the grace deadline, so nothing waits
        # past it; a reading cut off that way is not recorded (the server did not fail it).
        budget = self.timeout
        try:
            text, ctype = await asyncio.wait_for(self._get(src.key, accept), budget)
        except _ReadError as exc:
            return [(w, None, str(exc), 0) for w in src.watches]
        except (asyncio.TimeoutError, httpx.HTTPError, OSError) as exc:
            reason = _fetch_error(exc, budget)
            return [(w, None, reason, 0) for w in src.watches]
        out: list[tuple[_Watch, float | None, str | None, int]] = []
        families: list[Any] | None = None
        doc: Any = None
        doc_error: str | None = None
        if "json" in kinds:
            try:
                doc = json.loads(text)
            except ValueError as exc:
                msg = getattr(exc, "msg", str(exc))
                doc_error = f"the answer is not JSON ({msg}; starts with {text[:30]!r})"
        for w in src.watches:
            try:
                if w.spec.kind == "metric":
                    if families is None:
                        families = await asyncio.to_thread(parse_exposition, text, ctype)
                    pick = select_metric(families, w.name, w.labels, strict=strict)
                    out.append((w, pick.value, None, pick.matched))
                else:
                    if doc_error is not None:
                        raise _ReadError(doc_error)
                    out.append((w, json_value(doc, w.spec.selector), None, 1))
            except _ReadError as exc:
                out.append((w, None, str(exc), 0))
        return out

    async def _read_ports(self, src: _Source, *, baseline: bool
                          ) -> list[tuple[_Watch, PortCounts | None, str | None]]:
        budget = self.timeout
        try:
            # In a thread: listing thousands of sockets takes long enough to stall the loop.
            # "tcp" (v4 and v6) rather than "inet": the states counted are TCP's, and
            # skipping UDP saves parsing.
            conns = await asyncio.wait_for(
                asyncio.to_thread(psutil.net_connections, "tcp"), budget)
        except psutil.AccessDenied:
            reason = ("listing this machine's sockets needs more privileges here "
                      "(psutil: access denied)")
            return [(w, None, reason) for w in src.watches]
        except asyncio.TimeoutError:
            return [(w, None, f"listing sockets took longer than {budget:g} s")
                    for w in src.watches]
        out: list[tuple[_Watch, PortCounts | None, str | None]] = []
        for w in src.watches:
            port = w.spec.port or 0
            counts = count_port(conns, port)
            if not counts.listening:
                reason = (f"nothing listens on port {port} on this machine" if baseline
                          else f"nothing listens on port {port} any more")
                out.append((w, None, reason))
            else:
                out.append((w, counts, None))
        return out

    async def _sample(self, src: _Source, *, baseline: bool = False) -> list[tuple[_Watch, str]]:
        """Read one source once and record it; returns the failures as (watch, reason)."""
        started = time.perf_counter()
        t_ms = self._ms(started)
        failures: list[tuple[_Watch, str]] = []
        if src.key == "ports":
            for w, counts, err in await self._read_ports(src, baseline=baseline):
                if counts is None:
                    failures.append((w, err or "unreadable"))
                    values: list[float | None] = [None, None]
                else:
                    values = [float(counts.established), float(counts.close_wait)]
                self._record(w, t_ms, values, err, baseline)
        else:
            for w, value, err, matched in await self._read_url(src, strict=baseline):
                if value is None:
                    failures.append((w, err or "unreadable"))
                elif baseline and matched > 1:
                    w.series[0].name = f"{w.spec.selector} (sum of {matched} samples)"
                self._record(w, t_ms, [value], err, baseline)
        src.took = time.perf_counter() - started
        if self._changed is not None:
            self._changed.set()
        return failures

    @staticmethod
    def _record(w: _Watch, t_ms: float, values: list[float | None], err: str | None,
                baseline: bool) -> None:
        for s, v in zip(w.series, values):
            if baseline:
                s.baseline = v
            s.add(t_ms, v, err)

    # -- the experiment's phases -------------------------------------------------------------

    async def baseline(self) -> None:
        """Read every watch once; any that cannot be read raises WatchError (one line)."""
        if self._closed:
            raise RuntimeError("these Watchers are closed")
        results = await asyncio.gather(
            *(self._sample(src, baseline=True) for src in self._sources.values()))
        failed = {id(w): reason for failures in results for w, reason in failures}
        for src in self._sources.values():
            for w in src.watches:
                if id(w) in failed:
                    raise WatchError(f"{w.spec.option()}: {failed[id(w)]}")
        self._baselined = True

    async def start(self) -> None:
        """Sample every ``interval`` in the background until settle() or aclose()."""
        if self._closed:
            raise RuntimeError("these Watchers are closed")
        if not self._baselined:
            await self.baseline()
        if self._changed is None:
            self._changed = asyncio.Event()
        for src in self._sources.values():
            if src.task is None or src.task.done():
                src.stopping = False
                src.kick = asyncio.Event()
                src.task = asyncio.create_task(self._loop(src), name=f"watch {src.key}")

    async def _loop(self, src: _Source) -> None:
        assert src.kick is not None
        # Ends on cancel, or, should Python 3.11's wait_for turn that cancel into a caught
        # TimeoutError, on the stop flag at the next turn: sampling never outlives settle().
        while not src.stopping:
            started = time.perf_counter()
            src.kick.clear()
            try:
                await self._sample(src)
            except Exception as exc:  # noqa: BLE001 - a reading must not end the sampling
                t_ms = self._ms(started)
                for w in src.watches:
                    self._record(w, t_ms, [None] * len(w.series),
                                 f"reading failed ({type(exc).__name__}: {exc})", False)
            spacing = self.interval
            if src.key == "ports":
                spacing = max(spacing, (time.perf_counter() - started) / PORT_DUTY)
            delay = started + spacing - time.perf_counter()
            if delay > 0:
                await _wait_event(src.kick, delay)

    def mark_end(self) -> None:
        """The experiment's actions are over: settle time counts from now."""
        self._end = time.perf_counter()
        end_ms = self._ms(self._end)
        for s in self.series:
            s.mark_end(end_ms)

    def _all_back(self) -> bool:
        return all(s.confirmed_back() for s in self.series)

    async def settle(self, grace_s: float) -> None:
        """Sample until every series is back at or below its baseline (confirmed by
        CONFIRM_READINGS readings in a row) or ``grace_s`` has passed since mark_end; then
        stop sampling. Returns by the grace deadline (or a short floor after the call,
        whichever is later: SETTLE_FLOOR_S, or 2.5 times the slowest source's last reading,
        at most ``timeout``) whatever the watch URLs do."""
        now = time.perf_counter()
        if self._end is None:
            self.mark_end()
        assert self._end is not None
        # The floor lets a slow but working source (a socket listing with thousands of
        # sockets) finish one reading after the end; a hung one is still cut at the deadline.
        slowest = max((src.took for src in self._sources.values()), default=0.0)
        floor = max(SETTLE_FLOOR_S, min(2.5 * slowest, self.timeout))
        self._deadline = max(self._end + max(grace_s, 0.0), now + floor)
        try:
            if not self.series:
                return
            await self.start()
            assert self._changed is not None
            for src in self._sources.values():
                if src.kick is not None:
                    src.kick.set()  # a fresh reading now rather than after the interval
            while True:
                self._changed.clear()
                if self._all_back():
                    return
                remaining = self._deadline - time.perf_counter()
                if remaining <= 0:
                    return
                await _wait_event(self._changed, remaining)
        finally:
            await self._stop_tasks()

    async def _stop_tasks(self) -> None:
        tasks = [src.task for src in self._sources.values() if src.task is not None]
        for src in self._sources.values():
            src.stopping = True
        for task in tasks:
            task.cancel()
        # return_exceptions: the tasks' own CancelledError is expected; ours still propagates.
        await asyncio.gather(*tasks, return_exceptions=True)
        for src in self._sources.values():
            src.task = None

    async def aclose(self) -> None:
        """Stop sampling and close the HTTP client; safe to call twice or after errors."""
        self._closed = True
        try:
            await self._stop_tasks()
        finally:
            client, self._client = self._client, None
            if client is not None:
                await client.aclose()
