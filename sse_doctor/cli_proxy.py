"""`sse-doctor proxy --listen H:P --upstream URL`: a counting reverse proxy in front of a
server, to watch live what real clients do to their streams."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Annotated

import typer

from sse_doctor.checks.client_checks import CLIENT_CHECKS, run_client_checks
from sse_doctor.cli import (
    FailOn,
    FailOnOpt,
    HtmlOut,
    JsonOut,
    JunitOut,
    Quiet,
    Verbose,
    _check_writable,
    _err,
    _write,
    app,
    emit,
    exit_code_for,
)
from sse_doctor.errors import EXIT_UNREACHABLE, UsageError
from sse_doctor.model import Report, ScenarioResult, protocol_of
from sse_doctor.proxy import mitm_env, session
from sse_doctor.proxy.har_out import to_har
from sse_doctor.redact import Redactor


def _learn_secrets(red: Redactor, s: session.Session) -> None:
    """Every credential that passed through (request and response headers, secret query
    parameters) is registered with the redactor as it arrives."""
    for rec in s.streams.take_changed():
        red.add_url(rec.url)
        for name, value in rec.request_headers + rec.response_headers:
            red.add_header(name, value)


@app.command(name="proxy")
def proxy_command(
    listen: Annotated[str, typer.Option("--listen", metavar="HOST:PORT",
                                        help="Where clients connect.")],
    upstream: Annotated[str, typer.Option("--upstream", metavar="URL",
                                          help="The server, http(s)://HOST:PORT.")],
    client_key: Annotated[str, typer.Option(
        "--client-key", metavar="ip|header:NAME|cookie:NAME|query:NAME",
        help="What names a client (default: its address).")] = "ip",
    duration: Annotated[float | None, typer.Option(
        "--duration", metavar="S", help="Stop after S seconds (default: at Ctrl-C).")] = None,
    har_out: Annotated[str | None, typer.Option(
        "--har-out", metavar="FILE", help="Save the stream requests seen as HAR 1.2.")] = None,
    json_out: JsonOut = None,
    junit_out: JunitOut = None,
    html_out: HtmlOut = None,
    fail_on: FailOnOpt = FailOn.error,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> int:
    """Reverse proxy that counts what clients do to their streams, live; reports at the end."""
    for path, what in ((json_out, "--json"), (junit_out, "--junit"), (html_out, "--html"),
                       (har_out, "--har-out")):
        _check_writable(path, what)
    if har_out == "-":
        raise UsageError("--har-out needs a file name")
    p = session.plan(listen, upstream, client_key, duration)
    session.check_listen(p)
    try:
        session.check_upstream(p)
    except session.UpstreamUnreachable as exc:
        _err(str(exc))
        return EXIT_UNREACHABLE
    mitmdump = mitm_env.mitmdump()

    from sse_doctor.proxy.live import LiveView, is_tty

    red = Redactor()
    listen_text = f"{p.listen_host}:{p.listen_port}"
    view = LiveView(red, listen_text, p.upstream, tty=is_tty() and json_out != "-",
                    quiet=quiet)

    def on_tick(s: session.Session, fresh: list) -> None:
        _learn_secrets(red, s)
        view.tick(s, fresh)

    started = datetime.now(timezone.utc)
    try:
        seen = session.run(p, mitmdump, on_tick)
    finally:
        view.close()
    _learn_secrets(red, seen)

    where = f"{listen_text} → {p.upstream}"
    results = []
    for path, obs in seen.streams.by_path(where).items():
        results.append(ScenarioResult(name=path, protocol=obs.kind, url=obs.url,
                                      findings=run_client_checks(obs),
                                      checks_run=list(CLIENT_CHECKS), observation=obs))
    report = Report(command="proxy", url=p.upstream, protocol=protocol_of(results),
                    started_at=started, duration_s=seen.ended - seen.started, results=results,
                    multi=True)
    if har_out:
        _write(har_out, json.dumps(to_har(list(seen.streams.records.values()), red),
                                   indent=1) + "\n", "--har-out")
    if seen.stopped_by == "mitmdump exited" and seen.errors:
        _err(f"mitmdump stopped: {red.text(seen.errors[-1])}")
    if not results and json_out != "-" and not quiet:
        sys.stderr.write("proxy: no SSE or WebSocket requests passed through\n")
    emit(report, red, json_out=json_out, junit_out=junit_out, fail_on=fail_on.value,
         quiet=quiet, verbose=verbose, html_out=html_out)
    return exit_code_for(report, fail_on.value)
