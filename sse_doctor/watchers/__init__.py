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

from sse_doctor.watchers.jsondoc import json_value, parse_json_path, parse_watch_json
from sse_doctor.watchers.prometheus import (
    MetricPick,
    format_selector,
    parse_exposition,
    parse_selector,
    parse_watch_metric,
    select_metric,
)
from sse_doctor.watchers.sampler import Watchers
from sse_doctor.watchers.series import (
    JSON_SAMPLES,
    MAX_SAMPLES,
    Series,
    downsample_indices,
    sparkline,
)
from sse_doctor.watchers.sockets import PortCounts, count_port, parse_watch_port
from sse_doctor.watchers.spec import ReadError, WatchError, WatchSpec

_ReadError = ReadError  # the name tests and older code know


def parse_watches(
    metrics: list[str] | None, jsons: list[str] | None, ports: list[int] | None
) -> list[WatchSpec]:
    """Every watch option, in order, each once (a repeated option would only double-count)."""
    specs = [parse_watch_metric(t) for t in metrics or []]
    specs += [parse_watch_json(t) for t in jsons or []]
    specs += [parse_watch_port(p) for p in ports or []]
    return list(dict.fromkeys(specs))


__all__ = ["JSON_SAMPLES", "MAX_SAMPLES", "MetricPick", "PortCounts", "Series", "WatchError",
           "WatchSpec", "Watchers", "count_port", "downsample_indices", "format_selector",
           "json_value", "parse_exposition", "parse_json_path", "parse_selector",
           "parse_watch_json", "parse_watch_metric", "parse_watch_port", "parse_watches",
           "select_metric", "sparkline"]
