"""`sse-doctor har FILE`: what a browser did to its streams, read from a HAR capture."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from sse_doctor import har
from sse_doctor.checks.client_checks import CLIENT_CHECKS, run_client_checks
from sse_doctor.cli.output import check_outputs, emit_values, exit_code_for
from sse_doctor.model import Report, ScenarioResult, protocol_of
from sse_doctor.redact import Redactor


def _redactor(capture: dict) -> Redactor:
    """Every credential the capture carries (its requests' Authorization and Cookie headers,
    secret query parameters) is masked wherever it would reappear."""
    red = Redactor()
    for entry in capture["log"]["entries"]:
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict):
            continue
        red.add_url(str(request.get("url", "")))
        for name, value in har.headers_of(request):
            red.add_header(name, value)
    return red


def har_command(values: dict[str, Any]) -> int:
    file, json_out = values["file"], values["json_out"]
    check_outputs(values)
    t0 = time.perf_counter()
    started = datetime.now(timezone.utc)
    capture = har.load(file)
    red = _redactor(capture)
    results = []
    for obs in har.observations(capture, file):
        try:  # the panel title shows the whole URL; a host that does not parse keeps it
            name = urlsplit(obs.url).path or obs.url
        except ValueError:
            name = obs.url
        results.append(ScenarioResult(name=name, protocol=obs.kind, url=obs.url,
                                      findings=run_client_checks(obs),
                                      checks_run=list(CLIENT_CHECKS), observation=obs))
    report = Report(command="har", url=file, protocol=protocol_of(results), started_at=started,
                    duration_s=time.perf_counter() - t0, results=results, multi=True)
    if not results and json_out != "-" and not values["quiet"]:
        sys.stderr.write(f"{file}: no SSE or WebSocket requests among its "
                         f"{len(capture['log']['entries'])} entries (save the HAR from the "
                         "page that opens the streams, after they ran)\n")
    emit_values(report, red, values)
    return exit_code_for(report, values["fail_on"])
