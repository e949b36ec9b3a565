"""`sse-doctor proxy --listen H:P --upstream URL`: a counting reverse proxy in front of a
server, to watch live what real clients do to their streams."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any

from sse_doctor.checks.client_checks import CLIENT_CHECKS, run_client_checks
from sse_doctor.cli.output import (
    check_outputs,
    check_writable,
    emit_values,
    err,
    exit_code_for,
    write,
)
from sse_doctor.errors import EXIT_UNREACHABLE, UsageError
from sse_doctor.model import Report, Result, protocol_of
from sse_doctor.proxy import mitm_env
from sse_doctor.proxy import run as proxy_run
from sse_doctor.proxy.har_out import to_har
from sse_doctor.redact import Redactor


def _learn_secrets(red: Redactor, s: proxy_run.ProxyRun) -> None:
    """Every credential that passed through (request and response headers, secret query
    parameters) is registered with the redactor as it arrives."""
    for rec in s.streams.take_changed():
        red.add_url(rec.url)
        for name, value in rec.request_headers + rec.response_headers:
            red.add_header(name, value)


def proxy_command(values: dict[str, Any]) -> int:
    json_out, har_out, quiet = values["json_out"], values["har_out"], values["quiet"]
    check_outputs(values)
    check_writable(har_out, "--har-out")
    if har_out == "-":
        raise UsageError("--har-out needs a file name")
    p = proxy_run.plan(values["listen"], values["upstream"], values["client_key"],
                     values["duration"])
    proxy_run.check_listen(p)
    try:
        proxy_run.check_upstream(p)
    except proxy_run.UpstreamUnreachable as exc:
        err(str(exc))
        return EXIT_UNREACHABLE
    mitmdump = mitm_env.mitmdump()

    from sse_doctor.proxy.live_table import LiveView, is_tty

    red = Redactor()
    listen_text = f"{p.listen_host}:{p.listen_port}"
    view = LiveView(red, listen_text, p.upstream, tty=is_tty() and json_out != "-",
                    quiet=quiet)

    def on_tick(s: proxy_run.ProxyRun, fresh: list) -> None:
        _learn_secrets(red, s)
        view.tick(s, fresh)

    started = datetime.now(timezone.utc)
    try:
        seen = proxy_run.run(p, mitmdump, on_tick)
    finally:
        view.close()
    _learn_secrets(red, seen)

    where = f"{listen_text} → {p.upstream}"
    results = []
    for path, obs in seen.streams.by_path(where).items():
        results.append(Result(name=path, protocol=obs.kind, url=obs.url,
                                      findings=run_client_checks(obs),
                                      checks_run=list(CLIENT_CHECKS), observation=obs))
    report = Report(command="proxy", url=p.upstream, protocol=protocol_of(results),
                    started_at=started, duration_s=seen.ended - seen.started, results=results,
                    multi=True)
    if har_out:
        write(har_out, json.dumps(to_har(list(seen.streams.records.values()), red),
                                   indent=1) + "\n", "--har-out")
    if seen.stopped_by == "mitmdump exited" and seen.errors:
        err(f"mitmdump stopped: {red.text(seen.errors[-1])}")
    if not results and json_out != "-" and not quiet:
        sys.stderr.write("proxy: no SSE or WebSocket requests passed through\n")
    emit_values(report, red, values)
    return exit_code_for(report, values["fail_on"])
