"""The experiment commands: disconnect, duplicates, storm, resume, checkup.

Each turns its options into a Plan (shared with suites), runs it with progress on a terminal,
and renders one report with one `scenarios` entry per experiment. Ctrl-C closes every
connection, prints what was done so far and exits 130.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.console import Console

from sse_doctor.cli import (
    PLANNERS,
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
    Plan,
    Quiet,
    Timeout,
    Verbose,
    _check_writable,
    _err,
    _positive,
    app,
    emit,
    exit_code_for,
    plan_probe,
    run_probe,
)
from sse_doctor.errors import EXIT_INTERRUPTED, UsageError
from sse_doctor.model import Report, ScenarioResult
from sse_doctor.scenarios.experiment import ExperimentObservation
from sse_doctor.scenarios.runner import ExperimentOptions
from sse_doctor.target import Target, build_target

EXP = "Experiment"
WATCH = "Watch the server"


class Mode(str, Enum):
    rst = "rst"
    fin = "fin"


class Policy(str, Enum):
    allow = "allow"
    single = "single"


Duration = Annotated[
    float,
    typer.Option(metavar="S", rich_help_panel=EXP,
                 help="Longest a connection is held, in seconds."),
]
Grace = Annotated[
    float,
    typer.Option(metavar="S", rich_help_panel=WATCH,
                 help="Seconds the server has to return to its baseline."),
]
WatchMetric = Annotated[
    list[str] | None,
    typer.Option(metavar="URL#NAME{L=\"V\"}", rich_help_panel=WATCH,
                 help="Prometheus metric to watch (repeatable)."),
]
WatchJson = Annotated[
    list[str] | None,
    typer.Option(metavar="URL#PATH", rich_help_panel=WATCH,
                 help="Number at a dotted path of a JSON endpoint to watch (repeatable)."),
]
WatchPort = Annotated[
    list[int] | None,
    typer.Option(metavar="PORT", rich_help_panel=WATCH,
                 help="Server sockets on this local port, by state (repeatable)."),
]
Url = Annotated[str, typer.Argument(metavar="URL", help="http(s):// for SSE, ws(s):// for WS.")]


def _target(p: dict[str, Any]) -> Target:
    _positive("--timeout", p["timeout"])
    return build_target(p["url"], method=p["method"], headers=p["header"], data=p["data"],
                        cookie=p["cookie"], bearer=p["bearer"], timeout=p["timeout"],
                        insecure=p["insecure"], cacert=p["cacert"], http2=p["http2"])


def _experiment_options(p: dict[str, Any]) -> ExperimentOptions:
    from sse_doctor.watchers import parse_watches

    _positive("--duration", p["duration"])
    if p.get("grace") is not None and p["grace"] < 0:
        raise UsageError("--grace must be 0 or more")
    watches = parse_watches(p.get("watch_metric"), p.get("watch_json"), p.get("watch_port"))
    return ExperimentOptions(duration=p["duration"], grace=p.get("grace", 0.0) or 0.0,
                             watches=watches)


def _at_least(name: str, value: int | None, low: int) -> None:
    if value is not None and value < low:
        raise UsageError(f"{name} must be at least {low}")


class _Runs:
    """The experiments a plan has started, so an interrupted run can still be reported."""

    def __init__(self, target: Target, opts: ExperimentOptions) -> None:
        self.target, self.opts = target, opts
        self.done: list[ScenarioResult] = []
        self.current: tuple[ExperimentObservation, Callable[[], ScenarioResult]] | None = None

    async def run(self, command: str, settings: Any, runner: Callable, result: Callable,
                  name: str) -> ScenarioResult:
        obs = ExperimentObservation(kind=command, protocol=self.target.protocol,
                                    url=self.target.url,
                                    settings=_settings_json(settings, self.opts),
                                    started_at=datetime.now(timezone.utc))
        self.current = (obs, lambda: result(self.target, self.opts, settings, obs, name))
        await runner(self.target, self.opts, settings, obs)
        self.current = None
        r = result(self.target, self.opts, settings, obs, name)
        self.done.append(r)
        return r

    def partial(self) -> list[ScenarioResult]:
        out = list(self.done)
        if self.current is not None:
            obs, finish = self.current
            obs.interrupted = True
            obs.step(obs.end_ms, "interrupted (Ctrl-C): the report stops here", False)
            out.append(finish())
        return out

    def set_progress(self, callback: Callable[[int, int], None]) -> None:
        self.opts.progress = callback


def _experiment_plan(command: str, target: Target, opts: ExperimentOptions, settings: Any,
                     runner: Callable, result: Callable, budget_s: float) -> Plan:
    runs = _Runs(target, opts)

    async def run(name: str) -> list[ScenarioResult]:
        return [await runs.run(command, settings, runner, result, name)]

    return Plan(command, target, budget_s, run, partial=runs.partial,
                on_progress=runs.set_progress)


def _settings_json(settings: Any, opts: ExperimentOptions) -> dict[str, Any]:
    out = dict(vars(settings))
    out.update(duration_s=opts.duration, grace_s=opts.grace,
               watches=[w.option() for w in opts.watches])
    return out


# --- disconnect ---------------------------------------------------------------------------------
def _plan_disconnect(p: dict[str, Any]) -> Plan:
    from sse_doctor.scenarios.disconnect import (
        DisconnectSettings,
        disconnect_result,
        run_disconnect,
    )

    target = _target(p)
    opts = _experiment_options(p)
    if p["after_events"] is not None and p["after"] is not None:
        raise UsageError("give either --after-events N or --after S, not both")
    _at_least("--after-events", p["after_events"], 1)
    _positive("--after", p["after"])
    _at_least("--repeat", p["repeat"], 1)
    d = DisconnectSettings(after_events=p["after_events"] if p["after"] is None else None,
                           after=p["after"], mode=p["mode"].value, repeat=p["repeat"])
    if d.after is None and d.after_events is None:
        d.after_events = 2
    hold = d.after if d.after is not None else opts.duration
    budget = d.repeat * (hold + 2 * target.timeout + 3) + 2 * opts.grace + opts.duration \
        + 2 * target.timeout + 10
    return _experiment_plan("disconnect", target, opts, d, run_disconnect, disconnect_result,
                            budget)


@app.command(rich_help_panel="Experiments")
def disconnect(
    url: Url,
    after_events: Annotated[int | None, typer.Option(
        metavar="N", rich_help_panel=EXP, help="Drop after N events (default 2).")] = None,
    after: Annotated[float | None, typer.Option(
        metavar="S", rich_help_panel=EXP, help="Drop after S seconds instead.")] = None,
    mode: Annotated[Mode, typer.Option(
        rich_help_panel=EXP, help="rst: reset (SO_LINGER 0); fin: plain close.")] = Mode.rst,
    repeat: Annotated[int, typer.Option(
        metavar="K", rich_help_panel=EXP, help="Drop K times in a row.")] = 1,
    duration: Duration = 10.0,
    grace: Grace = 5.0,
    watch_metric: WatchMetric = None,
    watch_json: WatchJson = None,
    watch_port: WatchPort = None,
    header: Header = None, method: Method = "GET", data: Data = None, cookie: Cookie = None,
    bearer: Bearer = None, timeout: Timeout = 10.0, insecure: Insecure = False,
    cacert: CaCert = None, http2: Http2 = False,
    json_out: JsonOut = None, junit_out: JunitOut = None, html_out: HtmlOut = None,
    fail_on: FailOnOpt = FailOn.error,
    quiet: Quiet = False, verbose: Verbose = False,
) -> int:
    """Drop the stream abruptly, then check the server lets the client back in and cleans up."""
    return _execute("disconnect", dict(locals()))


# --- duplicates ---------------------------------------------------------------------------------
def _plan_duplicates(p: dict[str, Any]) -> Plan:
    from sse_doctor.scenarios.duplicates import (
        STAGGER_S,
        DuplicateSettings,
        duplicates_result,
        run_duplicates,
    )

    target = _target(p)
    opts = _experiment_options(p)
    _at_least("--connections", p["connections"], 2)
    if p["connections"] > 1000:
        raise UsageError("--connections must be at most 1000")
    d = DuplicateSettings(connections=p["connections"], policy=p["policy"].value)
    budget = STAGGER_S * d.connections + opts.duration + 2 * target.timeout + opts.grace + 10
    return _experiment_plan("duplicates", target, opts, d, run_duplicates, duplicates_result,
                            budget)


@app.command(rich_help_panel="Experiments")
def duplicates(
    url: Url,
    connections: Annotated[int, typer.Option(
        metavar="N", rich_help_panel=EXP, help="Streams opened with one identity.")] = 3,
    policy: Annotated[Policy, typer.Option(
        rich_help_panel=EXP, help="single: more than one kept open is an error.")] = Policy.allow,
    duration: Duration = 5.0,
    grace: Grace = 5.0,
    watch_metric: WatchMetric = None,
    watch_json: WatchJson = None,
    watch_port: WatchPort = None,
    header: Header = None, method: Method = "GET", data: Data = None, cookie: Cookie = None,
    bearer: Bearer = None, timeout: Timeout = 10.0, insecure: Insecure = False,
    cacert: CaCert = None, http2: Http2 = False,
    json_out: JsonOut = None, junit_out: JunitOut = None, html_out: HtmlOut = None,
    fail_on: FailOnOpt = FailOn.error,
    quiet: Quiet = False, verbose: Verbose = False,
) -> int:
    """Open several streams with one identity and see which the server keeps."""
    return _execute("duplicates", dict(locals()))


# --- storm ----------------------------------------------------------------------------------------
def _is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _plan_storm(p: dict[str, Any]) -> Plan:
    from sse_doctor.scenarios.storm import (
        MAX_REMOTE_CONCURRENCY,
        StormSettings,
        run_storm,
        storm_result,
    )

    target = _target(p)
    opts = _experiment_options(p)
    _at_least("--cycles", p["cycles"], 1)
    _at_least("--concurrency", p["concurrency"], 1)
    if p["cycles"] > 100_000:
        raise UsageError("--cycles must be at most 100000")
    if p["concurrency"] > 10_000:
        raise UsageError("--concurrency must be at most 10000")
    if p["concurrency"] > MAX_REMOTE_CONCURRENCY and not _is_loopback(target.url) \
            and not p["i_know_what_i_am_doing"]:
        raise UsageError(
            f"refusing {p['concurrency']} concurrent connections to {target.display_url()}: "
            f"more than {MAX_REMOTE_CONCURRENCY} at once against a host that is not this "
            "machine looks like a denial-of-service attack; add --i-know-what-i-am-doing if "
            "you own the server")
    s = StormSettings(cycles=p["cycles"], concurrency=min(p["concurrency"], p["cycles"]))
    waves = -(-s.cycles // s.concurrency)
    budget = waves * (2 * target.timeout + 2) + opts.grace + opts.duration \
        + 2 * target.timeout + 10
    return _experiment_plan("storm", target, opts, s, run_storm, storm_result, budget)


@app.command(rich_help_panel="Experiments")
def storm(
    url: Url,
    cycles: Annotated[int, typer.Option(
        metavar="N", rich_help_panel=EXP, help="Connect/reset cycles.")] = 50,
    concurrency: Annotated[int, typer.Option(
        metavar="C", rich_help_panel=EXP, help="Cycles at once.")] = 10,
    i_know_what_i_am_doing: Annotated[bool, typer.Option(
        "--i-know-what-i-am-doing", rich_help_panel=EXP,
        help="Allow more than 1000 at once to a remote host.")] = False,
    duration: Duration = 5.0,
    grace: Grace = 5.0,
    watch_metric: WatchMetric = None,
    watch_json: WatchJson = None,
    watch_port: WatchPort = None,
    header: Header = None, method: Method = "GET", data: Data = None, cookie: Cookie = None,
    bearer: Bearer = None, timeout: Timeout = 10.0, insecure: Insecure = False,
    cacert: CaCert = None, http2: Http2 = False,
    json_out: JsonOut = None, junit_out: JunitOut = None, html_out: HtmlOut = None,
    fail_on: FailOnOpt = FailOn.error,
    quiet: Quiet = False, verbose: Verbose = False,
) -> int:
    """Rapid connect/reset cycles, then check resources return and the server still serves."""
    return _execute("storm", dict(locals()))


# --- resume ---------------------------------------------------------------------------------------
def _plan_resume(p: dict[str, Any]) -> Plan:
    from sse_doctor.scenarios.resume import ResumeSettings, resume_result, run_resume

    target = _target(p)
    if target.protocol != "sse":
        raise UsageError("resume is for SSE streams (Last-Event-ID); WebSocket has no "
                         "standard resume")
    _positive("--duration", p["duration"])
    _at_least("--after-events", p["after_events"], 1)
    opts = ExperimentOptions(duration=p["duration"], grace=0.0)
    r = ResumeSettings(after_events=p["after_events"])
    budget = 2 * (opts.duration + 2 * target.timeout + 2) + 10
    return _experiment_plan("resume", target, opts, r, run_resume, resume_result, budget)


@app.command(rich_help_panel="Experiments")
def resume(
    url: Url,
    after_events: Annotated[int, typer.Option(
        metavar="N", rich_help_panel=EXP, help="Events read before the drop.")] = 3,
    duration: Duration = 10.0,
    header: Header = None, method: Method = "GET", data: Data = None, cookie: Cookie = None,
    bearer: Bearer = None, timeout: Timeout = 10.0, insecure: Insecure = False,
    cacert: CaCert = None, http2: Http2 = False,
    json_out: JsonOut = None, junit_out: JunitOut = None, html_out: HtmlOut = None,
    fail_on: FailOnOpt = FailOn.error,
    quiet: Quiet = False, verbose: Verbose = False,
) -> int:
    """Read N events, drop, reconnect with Last-Event-ID and check where the server resumes."""
    return _execute("resume", dict(locals()))


# --- checkup ------------------------------------------------------------------------------------
# Findings of the probe that leave nothing for the experiments to try.
NOT_SERVED = {"target-unreachable", "http-error", "not-event-stream", "ws-handshake-failed"}


def _plan_checkup(p: dict[str, Any]) -> Plan:
    from sse_doctor.scenarios.disconnect import (
        DisconnectSettings,
        disconnect_result,
        run_disconnect,
    )
    from sse_doctor.scenarios.duplicates import (
        DuplicateSettings,
        duplicates_result,
        run_duplicates,
    )
    from sse_doctor.scenarios.resume import ResumeSettings, resume_result, run_resume
    from sse_doctor.scenarios.storm import StormSettings, run_storm, storm_result

    probe_params = dict(p, max_events=None, expect_event=None, expect_close=None, keep=1000,
                        send=None, expect_message=None, ping_interval=None, subprotocol=None,
                        origin=None, max_message_size=1 << 20)
    target, probe_opts, ws_opts = plan_probe(probe_params)
    opts = _experiment_options(p)
    _at_least("--cycles", p["cycles"], 1)
    _at_least("--concurrency", p["concurrency"], 1)
    if p["concurrency"] > 1000 or p["cycles"] > 10_000:
        raise UsageError("checkup allows at most 1000 concurrent and 10000 storm cycles; "
                         "use the storm command for more")
    hold = min(opts.duration, 5.0)
    exp_opts = ExperimentOptions(duration=hold, grace=opts.grace, watches=opts.watches)
    runs = _Runs(target, exp_opts)

    async def run(name: str) -> list[ScenarioResult]:
        probe = await run_probe(target, probe_opts, ws_opts, name="probe")
        runs.done.append(probe)
        if {f.code for f in probe.findings} & NOT_SERVED:
            return list(runs.done)
        obs = probe.observation
        saw_items = (obs.n_events if target.protocol == "sse" else obs.n_messages_in) > 0
        d = DisconnectSettings(after_events=2 if saw_items else None,
                               after=None if saw_items else 1.0, mode="rst", repeat=1)
        await runs.run("disconnect", d, run_disconnect, disconnect_result, "disconnect")
        await runs.run("duplicates", DuplicateSettings(3, p["policy"].value), run_duplicates,
                       duplicates_result, "duplicates")
        await runs.run("storm", StormSettings(p["cycles"], min(p["concurrency"], p["cycles"])),
                       run_storm, storm_result, "storm")
        if target.protocol == "sse" and any(e.id for e in obs.events):
            await runs.run("resume", ResumeSettings(3), run_resume, resume_result, "resume")
        return list(runs.done)

    budget = probe_opts.duration + 4 * (hold + 2 * target.timeout + 2 * opts.grace + 10) \
        + p["cycles"] / max(1, p["concurrency"]) * (2 * target.timeout + 2)
    return Plan("checkup", target, budget, run, partial=runs.partial,
                on_progress=runs.set_progress)


@app.command(rich_help_panel="Experiments")
def checkup(
    url: Url,
    duration: Annotated[float, typer.Option(
        metavar="S", rich_help_panel=EXP, help="Probe window in seconds.")] = 10.0,
    idle_limit: Annotated[float, typer.Option(
        metavar="S", rich_help_panel=EXP, help="Longest acceptable silence.")] = 30.0,
    policy: Annotated[Policy, typer.Option(
        rich_help_panel=EXP, help="Duplicates: single or allow.")] = Policy.allow,
    cycles: Annotated[int, typer.Option(
        metavar="N", rich_help_panel=EXP, help="Storm cycles.")] = 20,
    concurrency: Annotated[int, typer.Option(
        metavar="C", rich_help_panel=EXP, help="Storm cycles at once.")] = 5,
    grace: Grace = 5.0,
    watch_metric: WatchMetric = None,
    watch_json: WatchJson = None,
    watch_port: WatchPort = None,
    header: Header = None, method: Method = "GET", data: Data = None, cookie: Cookie = None,
    bearer: Bearer = None, timeout: Timeout = 10.0, insecure: Insecure = False,
    cacert: CaCert = None, http2: Http2 = False,
    json_out: JsonOut = None, junit_out: JunitOut = None, html_out: HtmlOut = None,
    fail_on: FailOnOpt = FailOn.error,
    quiet: Quiet = False, verbose: Verbose = False,
) -> int:
    """Probe, then every experiment that applies; one report with a scorecard."""
    return _execute("checkup", dict(locals()))


# --- running a command --------------------------------------------------------------------------
def _execute(command: str, params: dict[str, Any]) -> int:
    _check_writable(params["json_out"], "--json")
    _check_writable(params["junit_out"], "--junit")
    _check_writable(params["html_out"], "--html")
    plan = PLANNERS[command](params)
    json_out, quiet = params["json_out"], params["quiet"]
    silent = quiet or json_out == "-"
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    interrupted = False
    try:
        results = run_with_progress(plan, command, silent)
    except KeyboardInterrupt:
        interrupted = True
        results = plan.partial() if plan.partial is not None else []
    report = Report(command=command, url=plan.target.url, protocol=plan.target.protocol,
                    started_at=started, duration_s=time.perf_counter() - t0, results=results,
                    multi=True)
    emit(report, plan.target.redactor, json_out=json_out, junit_out=params["junit_out"],
         fail_on=params["fail_on"].value, quiet=quiet, verbose=params["verbose"],
         html_out=params["html_out"])
    if interrupted:
        _err("interrupted: every connection was closed; the report above is partial")
        return EXIT_INTERRUPTED
    return exit_code_for(report, params["fail_on"].value)


def run_with_progress(plan: Plan, name: str, silent: bool) -> list[ScenarioResult]:
    """Run a plan; on a terminal, show what runs and for how long (and storm cycles)."""
    import asyncio

    err = Console(stderr=True)
    if silent or not err.is_terminal:
        return asyncio.run(plan.run(name))
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as progress:
        task = progress.add_task(f"{name} {plan.target.display_url()}", total=None)
        if plan.on_progress is not None:
            plan.on_progress(lambda done, total: progress.update(task, completed=done,
                                                                 total=total))
        return asyncio.run(plan.run(name))


for _name, _planner in (("disconnect", _plan_disconnect), ("duplicates", _plan_duplicates),
                        ("storm", _plan_storm), ("resume", _plan_resume),
                        ("checkup", _plan_checkup)):
    PLANNERS[_name] = _planner

