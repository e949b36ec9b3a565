"""`har FILE` as a Plan: a browser's capture read and validated when planned (a bad file is a
UsageError then, in a suite before anything runs), its stream requests judged by the client
checks when run. No network: the plan has no target, its report names the file."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sse_doctor import har
from sse_doctor.model import Result
from sse_doctor.plan.base import Plan
from sse_doctor.redact import Redactor


def capture_redactor(capture: dict) -> Redactor:
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


def har_results(observations: list[Any]) -> list[Result]:
    """One scenario per stream request, judged by the client checks."""
    from sse_doctor.checks.client_checks import CLIENT_CHECKS, run_client_checks

    results = []
    for obs in observations:
        try:  # the panel title shows the whole URL; a host that does not parse keeps it
            name = urlsplit(obs.url).path or obs.url
        except ValueError:
            name = obs.url
        results.append(Result(name=name, protocol=obs.kind, url=obs.url,
                              findings=run_client_checks(obs),
                              checks_run=list(CLIENT_CHECKS), observation=obs))
    return results


def plan(values: dict[str, Any]) -> Plan:
    file = values["file"]
    capture = har.load(file)
    observations = har.observations(capture, file)

    async def run(name: str) -> list[Result]:
        return har_results(observations)

    return Plan("har", None, 1.0, run, multi=True, url=file, redactor=capture_redactor(capture),
                empty_note=f"{file}: no SSE or WebSocket requests among its "
                          f"{len(capture['log']['entries'])} entries (save the HAR from the "
                          "page that opens the streams, after they ran)")
