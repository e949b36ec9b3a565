"""`sse-doctor load URL`: many streams at once, fleet-level findings."""

from __future__ import annotations

import ipaddress
import os
import time
from datetime import datetime, timezone
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.console import Console

from sse_doctor.cli import (
    Bearer,
    CaCert,
    Cookie,
    Data,
    FailOn,
    FailOnOpt,
    Header,
    HtmlOut,
    Http2,
    Insecure,
    JsonOut,
    JunitOut,
    Method,
    Quiet,
    Timeout,
    Verbose,
    _check_writable,
    _err,
    app,
    emit,
    exit_code_for,
)
from sse_doctor.errors import EXIT_INTERRUPTED, UsageError
from sse_doctor.model import Report, ScenarioResult

LOAD, WS = "Load", "WebSocket"
MAX_REMOTE_STREAMS = 1000
MAX_STREAMS = 1_000_000


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plan_load(p: dict[str, Any]):  # noqa: ANN201 - (LoadTarget, LoadSettings, Target)
    """Option values -> (LoadTarget, LoadSettings, Target); UsageError on bad values."""
    from sse_doctor.load.fleet import default_workers
    from sse_doctor.load.observation import LoadSettings
    from sse_doctor.load.streams import LagSpec, LoadTarget
    from sse_doctor.target import build_target, read_text_arg

    if p["http2"]:
        raise UsageError("load speaks HTTP/1.1 (one stream per connection); HTTP/2 multiplexing "
                         "is out of scope here: drop --http2 (probe --http2 checks one stream)")
    if p["profile"] not in ("auto", "none"):
        raise UsageError(f"--profile {p['profile']} has no load form yet: use auto or none")
    if not 1 <= p["streams"] <= MAX_STREAMS:
        raise UsageError(f"--streams must be 1..{MAX_STREAMS}")
    if p["ramp"] <= 0:
        raise UsageError("--ramp must be greater than 0 (new streams per second)")
    if p["duration"] < 0:
        raise UsageError("--duration must be 0 or more")
    if p["idle_limit"] <= 0:
        raise UsageError("--idle-limit must be greater than 0")
    if p["workers"] is not None and p["workers"] < 1:
        raise UsageError("--workers must be at least 1")
    if p["ping_interval"] is not None and p["ping_interval"] <= 0:
        raise UsageError("--ping-interval must be greater than 0")
    target = build_target(p["url"], method=p["method"], headers=p["header"], data=p["data"],
                          cookie=p["cookie"], bearer=p["bearer"], timeout=p["timeout"],
                          insecure=p["insecure"], cacert=p["cacert"])
    loopback = is_loopback(target.url)
    if p["streams"] > MAX_REMOTE_STREAMS and not loopback and not p["i_know_what_i_am_doing"]:
        raise UsageError(
            f"refusing {p['streams']} streams to {target.display_url()}: more than "
            f"{MAX_REMOTE_STREAMS} against a host that is not this machine looks like a "
            "denial-of-service attack; add --i-know-what-i-am-doing if you own the server")
    if target.protocol != "ws" and (p["send"] or p["ping_interval"]):
        raise UsageError("--send and --ping-interval are for WebSocket (ws://, wss://) URLs")
    try:
        lag = LagSpec.parse(p["lag_from"], loopback)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    send = tuple(read_text_arg(s, "--send") for s in p["send"] or ())
    lt = LoadTarget.from_target(target, send=send, ping_interval=p["ping_interval"],
                                idle_limit=p["idle_limit"])
    settings = LoadSettings(streams=p["streams"], ramp=p["ramp"], duration=p["duration"],
                            workers=p["workers"] or default_workers(),
                            reconnect=p["reconnect"], lag=lag, idle_limit=p["idle_limit"],
                            insecure=p["insecure"], cacert=p["cacert"],
                            # the stock loop even where uvloop is installed (tests, benches)
                            loop=os.environ.get("SSE_DOCTOR_LOAD_LOOP", "auto"))
    return lt, settings, target


@app.command(name="load")
def load_command(
    url: Annotated[str, typer.Argument(metavar="URL",
                                       help="http(s):// for SSE, ws(s):// for WebSocket.")],
    streams: Annotated[int, typer.Option(metavar="N", rich_help_panel=LOAD,
                                         help="Streams to open in total.")] = 100,
    ramp: Annotated[float, typer.Option(metavar="R", rich_help_panel=LOAD,
                                        help="New streams per second.")] = 100.0,
    duration: Annotated[float, typer.Option(metavar="S", rich_help_panel=LOAD,
                                            help="Seconds to hold them after the ramp.")] = 30.0,
    workers: Annotated[int | None, typer.Option(metavar="N", rich_help_panel=LOAD,
                                                help="Worker processes (default: cores).")] = None,
    reconnect: Annotated[bool, typer.Option(
        "--reconnect", rich_help_panel=LOAD,
        help="Reconnect ended streams like EventSource (retry, Last-Event-ID).")] = False,
    idle_limit: Annotated[float, typer.Option(metavar="S", rich_help_panel=LOAD,
                                              help="Longest acceptable silence.")] = 30.0,
    lag_from: Annotated[str | None, typer.Option(
        metavar="comment:PREFIX|json:PATH", rich_help_panel=LOAD,
        help="Where the server stamps send time (epoch seconds).")] = None,
    profile: Annotated[str, typer.Option(metavar="NAME", rich_help_panel=LOAD,
                                         help="auto or none (no profile has a load form yet).")
                       ] = "auto",
    i_know_what_i_am_doing: Annotated[bool, typer.Option(
        "--i-know-what-i-am-doing", rich_help_panel=LOAD,
        help="Allow more than 1000 streams to a remote host.")] = False,
    send: Annotated[list[str] | None, typer.Option(
        metavar="TEXT|@FILE", rich_help_panel=WS, help="Message to send after open.")] = None,
    ping_interval: Annotated[float | None, typer.Option(
        metavar="S", rich_help_panel=WS, help="Send a ping every S seconds.")] = None,
    header: Header = None, method: Method = "GET", data: Data = None, cookie: Cookie = None,
    bearer: Bearer = None, timeout: Timeout = 10.0, insecure: Insecure = False,
    cacert: CaCert = None, http2: Http2 = False,
    json_out: JsonOut = None, junit_out: JunitOut = None, html_out: HtmlOut = None,
    fail_on: FailOnOpt = FailOn.error, quiet: Quiet = False, verbose: Verbose = False,
) -> int:
    """Hold many streams at once: where does the server refuse, drop or lag?"""
    for path, what in ((json_out, "--json"), (junit_out, "--junit"), (html_out, "--html")):
        _check_writable(path, what)
    lt, settings, target = plan_load(dict(locals()))
    from sse_doctor.load.fleet import plan_workers, preflight, run_fleet

    settings.workers, _ = plan_workers(settings.streams, settings.workers)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    unreachable = preflight(lt)
    if unreachable is not None:
        return _unreachable(target, started, t0, unreachable, json_out=json_out,
                            junit_out=junit_out, html_out=html_out, fail_on=fail_on.value,
                            quiet=quiet, verbose=verbose)
    err = Console(stderr=True)
    live = not (quiet or json_out == "-") and err.is_terminal
    interrupted = False
    try:
        view = None
        if live:
            from sse_doctor.load.terminal import LiveView

            view = LiveView(err, target.display_url())
        obs = run_fleet(lt, settings, view)
    except KeyboardInterrupt:  # between runs of the loop that gathers the workers' counts
        _err("interrupted before the workers reported: no report")
        return EXIT_INTERRUPTED
    interrupted = obs.interrupted
    from sse_doctor.checks.load_checks import LOAD_CHECKS, run_load_checks

    result = ScenarioResult(name="load", protocol=target.protocol, url=target.url,
                            findings=run_load_checks(obs),
                            checks_run=LOAD_CHECKS + ["check-incomplete"] * obs.interrupted,
                            observation=obs)
    report = Report(command="load", url=target.url, protocol=target.protocol,
                    started_at=started, duration_s=time.perf_counter() - t0, results=[result])
    emit(report, target.redactor, json_out=json_out, junit_out=junit_out,
         fail_on=fail_on.value, quiet=quiet, verbose=verbose, html_out=html_out)
    if interrupted:
        _err("interrupted: every connection was closed; the report above is partial")
        return EXIT_INTERRUPTED
    return exit_code_for(report, fail_on.value)


def _unreachable(target: Any, started: datetime, t0: float, reason: str, **out: Any) -> int:
    from sse_doctor.model import SseObservation, finding

    obs = SseObservation(url=target.url, method=target.method, started_at=started,
                         unreachable=reason)
    result = ScenarioResult(
        name="load", protocol=target.protocol, url=target.url,
        findings=[finding("target-unreachable", f"{target.display_url()}: {reason}")],
        checks_run=["target-unreachable"], observation=obs)
    report = Report(command="load", url=target.url, protocol=target.protocol, started_at=started,
                    duration_s=time.perf_counter() - t0, results=[result])
    emit(report, target.redactor, **out)
    return exit_code_for(report, out["fail_on"])
