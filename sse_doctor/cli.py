"""The Typer command line: options in, a plan run, a report rendered, an exit code out.
No protocol logic lives here."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Annotated

import typer
from rich.console import Console

from sse_doctor import __version__

try:  # newer typer releases vendor their own click; its exceptions are the ones raised
    from typer import _click as click
except ImportError:  # pragma: no cover - typer that depends on click
    import click
from sse_doctor.errors import (
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    UsageError,
)
from sse_doctor.model import ProbeOptions, Report, ScenarioResult
from sse_doctor.redact import Redactor
from sse_doctor.report import json_report, junit, terminal
from sse_doctor.target import Target, build_target


class FailOn(str, Enum):
    error = "error"
    warning = "warning"
    never = "never"


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Diagnose Server-Sent Events and WebSocket endpoints.",
)

# --- options shared by the network commands ----------------------------------------------
REQ, OUT, WS = "Request", "Output", "WebSocket"
Header = Annotated[
    list[str] | None,
    typer.Option(
        "-H",
        "--header",
        metavar="NAME: VALUE",
        rich_help_panel=REQ,
        help="Request header 'Name: value' (repeatable).",
    ),
]
Method = Annotated[
    str, typer.Option("-X", "--method", metavar="METHOD", rich_help_panel=REQ, help="HTTP method.")
]
Data = Annotated[
    str | None,
    typer.Option(
        "-d",
        "--data",
        metavar="TEXT|@FILE",
        rich_help_panel=REQ,
        help="Request body, TEXT or @FILE (JSON sets Content-Type).",
    ),
]
Cookie = Annotated[
    list[str] | None,
    typer.Option(
        "--cookie",
        metavar="NAME=VALUE",
        rich_help_panel=REQ,
        help="Cookie 'name=value' (repeatable).",
    ),
]
Bearer = Annotated[
    str | None,
    typer.Option(
        "--bearer", metavar="TOKEN", rich_help_panel=REQ, help="Send 'Authorization: Bearer TOKEN'."
    ),
]
Timeout = Annotated[
    float,
    typer.Option(
        "--timeout", metavar="S", rich_help_panel=REQ, help="Seconds to connect and get a response."
    ),
]
Insecure = Annotated[
    bool, typer.Option("--insecure", rich_help_panel=REQ, help="Do not verify TLS certificates.")
]
CaCert = Annotated[
    str | None,
    typer.Option("--cacert", metavar="FILE", rich_help_panel=REQ, help="CA bundle file for TLS."),
]
Http2 = Annotated[bool, typer.Option("--http2", rich_help_panel=REQ, help="Offer HTTP/2.")]
JsonOut = Annotated[
    str | None,
    typer.Option(
        "--json",
        metavar="PATH|-",
        rich_help_panel=OUT,
        help="Write the JSON report to PATH ('-' for stdout).",
    ),
]
JunitOut = Annotated[
    str | None,
    typer.Option("--junit", metavar="PATH", rich_help_panel=OUT, help="Write JUnit XML to PATH."),
]
HtmlOut = Annotated[
    str | None,
    typer.Option("--html", metavar="PATH", rich_help_panel=OUT,
                 help="Write a self-contained HTML report to PATH."),
]
FailOnOpt = Annotated[
    FailOn,
    typer.Option(
        "--fail-on",
        rich_help_panel=OUT,
        help="Lowest severity that makes the exit code 1.",
        case_sensitive=False,
    ),
]
Quiet = Annotated[
    bool, typer.Option("-q", "--quiet", rich_help_panel=OUT, help="Print only the verdict line.")
]
Verbose = Annotated[
    bool, typer.Option("-v", "--verbose", rich_help_panel=OUT, help="Show the raw timeline.")
]


def _version(value: bool) -> None:
    if value:
        from sse_doctor.sse.parser import COMPILED

        path = "compiled" if COMPILED else "pure Python, no C compiler at install"
        print(f"sse-doctor {__version__} (SSE parser: {path})")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Diagnose Server-Sent Events and WebSocket endpoints."""


# --- output -----------------------------------------------------------------------------------
def _check_writable(path: str | None, what: str) -> None:
    if path in (None, "-"):
        return
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write {what} file {path!r}: no such writable directory")


def _write(path: str, text: str, what: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {what} file {path!r}: {exc.strerror}") from None


def exit_code_for(report: Report, fail_on: str) -> int:
    # A single target that never answered is exit 3; in the demo and in suites an unreachable
    # target is one failing scenario among others.
    if report.command not in ("demo", "run") and any(
            f.code == "target-unreachable" for f in report.findings):
        return EXIT_UNREACHABLE
    if any(junit.fails(f.severity, fail_on) for f in report.findings):
        return EXIT_FINDINGS
    return EXIT_OK


def emit(
    report: Report,
    red: Redactor,
    *,
    json_out: str | None,
    junit_out: str | None,
    fail_on: str,
    quiet: bool,
    verbose: bool,
    html_out: str | None = None,
) -> None:
    if html_out:
        from sse_doctor.report import html

        _write(html_out, html.render(report, red, fail_on), "--html")
    if junit_out:
        _write(junit_out, junit.render(report, fail_on, red), "--junit")
    if json_out and json_out != "-":
        _write(json_out, json_report.dumps(report, red) + "\n", "--json")
    if json_out == "-":
        sys.stdout.write(json_report.dumps(report, red) + "\n")
        return
    console = Console(highlight=False)
    if quiet:
        for r in report.results:
            console.print(terminal.verdict_line(r))
        return
    terminal.render(report, console, red, verbose=verbose)


def _positive(name: str, value: float | None) -> None:
    if value is not None and value <= 0:
        raise UsageError(f"{name} must be greater than 0")


def _run(coro):  # noqa: ANN001, ANN202 - thin wrapper
    return asyncio.run(coro)


# --- commands -----------------------------------------------------------------------------------
@app.command()
def probe(
    url: Annotated[
        str, typer.Argument(metavar="URL", help="http(s):// for SSE, ws(s):// for WebSocket.")
    ],
    header: Header = None,
    method: Method = "GET",
    data: Data = None,
    cookie: Cookie = None,
    bearer: Bearer = None,
    timeout: Timeout = 10.0,
    insecure: Insecure = False,
    cacert: CaCert = None,
    http2: Http2 = False,
    json_out: JsonOut = None,
    junit_out: JunitOut = None,
    html_out: HtmlOut = None,
    fail_on: FailOnOpt = FailOn.error,
    quiet: Quiet = False,
    verbose: Verbose = False,
    duration: Annotated[
        float, typer.Option(metavar="S", help="Observation window in seconds.")
    ] = 30.0,
    max_events: Annotated[
        int | None, typer.Option(metavar="N", help="Stop after N events (or messages).")
    ] = None,
    idle_limit: Annotated[
        float, typer.Option(metavar="S", help="Longest acceptable silence in seconds.")
    ] = 30.0,
    expect_event: Annotated[
        list[str] | None,
        typer.Option(metavar="NAME", help="Event type that must arrive (repeatable)."),
    ] = None,
    expect_close: Annotated[
        float | None,
        typer.Option(metavar="S", help="The server must end the stream within S seconds."),
    ] = None,
    keep: Annotated[
        int,
        typer.Option(
            metavar="N", rich_help_panel=OUT, help="Events/comments/messages kept in JSON."
        ),
    ] = 1000,
    send: Annotated[
        list[str] | None,
        typer.Option(
            metavar="TEXT|@FILE",
            rich_help_panel=WS,
            help="Message TEXT or @FILE to send after open (repeatable).",
        ),
    ] = None,
    expect_message: Annotated[
        list[str] | None,
        typer.Option(
            metavar="TEXT",
            rich_help_panel=WS,
            help="Substring a message must contain (repeatable).",
        ),
    ] = None,
    ping_interval: Annotated[
        float | None,
        typer.Option(
            metavar="S", rich_help_panel=WS, help="Send a ping every S seconds and time the pong."
        ),
    ] = None,
    subprotocol: Annotated[
        list[str] | None,
        typer.Option(metavar="NAME", rich_help_panel=WS, help="Subprotocol to offer (repeatable)."),
    ] = None,
    origin: Annotated[
        str | None, typer.Option(metavar="URL", rich_help_panel=WS, help="Origin header.")
    ] = None,
    max_message_size: Annotated[
        int,
        typer.Option(
            metavar="BYTES", rich_help_panel=WS, help="Largest message accepted, in bytes."
        ),
    ] = 1 << 20,
) -> int:
    """Open a stream, time everything that arrives, and say what is wrong."""
    _check_writable(json_out, "--json")
    _check_writable(junit_out, "--junit")
    _check_writable(html_out, "--html")
    params = dict(locals())
    target, opts, ws_opts = plan_probe(params)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    silent = quiet or json_out == "-"
    result = _run(_with_progress(run_probe(target, opts, ws_opts), target, opts.duration, silent))
    report = Report(
        command="probe",
        url=target.url,
        protocol=target.protocol,
        started_at=started,
        duration_s=time.perf_counter() - t0,
        results=[result],
    )
    emit(
        report,
        target.redactor,
        json_out=json_out,
        junit_out=junit_out,
        fail_on=fail_on.value,
        quiet=quiet,
        verbose=verbose,
        html_out=html_out,
    )
    return exit_code_for(report, fail_on.value)


def plan_probe(p: dict) -> tuple[Target, ProbeOptions, object]:
    """Validate probe options (a dict of the probe command's parameters) into a plan."""
    _positive("--duration", p["duration"])
    _positive("--idle-limit", p["idle_limit"])
    _positive("--expect-close", p["expect_close"])
    _positive("--ping-interval", p["ping_interval"])
    if p["max_events"] is not None and p["max_events"] < 1:
        raise UsageError("--max-events must be at least 1")
    if p["keep"] < 0:
        raise UsageError("--keep must be 0 or more")
    target = build_target(
        p["url"],
        method=p["method"],
        headers=p["header"],
        data=p["data"],
        cookie=p["cookie"],
        bearer=p["bearer"],
        timeout=p["timeout"],
        insecure=p["insecure"],
        cacert=p["cacert"],
        http2=p["http2"],
    )
    opts = ProbeOptions(
        duration=p["duration"],
        idle_limit=p["idle_limit"],
        max_events=p["max_events"],
        expect_events=tuple(p["expect_event"] or ()),
        expect_close=p["expect_close"],
        keep=p["keep"],
    )
    ws_opts = None
    if target.protocol == "ws":
        try:
            from sse_doctor.ws.probe import WsOptions
        except ImportError:
            raise UsageError("WebSocket probing (ws://, wss://) is not available yet") from None

        ws_opts = WsOptions.from_cli(
            opts,
            send=p["send"] or [],
            expect_message=p["expect_message"] or [],
            ping_interval=p["ping_interval"],
            subprotocols=p["subprotocol"] or [],
            origin=p["origin"],
            max_message_size=p["max_message_size"],
        )
    return target, opts, ws_opts


async def run_probe(
    target: Target, opts: ProbeOptions, ws_opts: object = None, name: str = "probe"
):  # noqa: ANN201
    if target.protocol == "ws":
        from sse_doctor.ws.probe import probe_ws

        return await probe_ws(target, ws_opts, name=name)
    from sse_doctor.scenarios.probe import probe_sse

    return await probe_sse(target, opts, name=name)


_GROUP: list = []  # (number of registered commands, click group)


def _click_group():  # noqa: ANN202 - a click Group
    """The click group behind `app`, built once: building it inspects every command's
    signature (about 0.1 s), and the demo and suites parse dozens of argument lists."""
    n = len(app.registered_commands)
    if not _GROUP or _GROUP[0][0] != n:
        _GROUP[:] = [(n, typer.main.get_command(app))]
    return _GROUP[0][1]


def command_params(command: str, argv: list[str]) -> dict:
    """Parse a command's arguments with the real command-line parser (demo and suites).

    Raises click's UsageError (or BadParameter) for what the command line would reject."""
    cmd = _click_group().commands[command]  # type: ignore[attr-defined]
    with cmd.make_context(command, list(argv)) as ctx:
        return dict(ctx.params)


def probe_params(argv: list[str]) -> dict:
    return command_params("probe", argv)


@dataclass
class Plan:
    """A validated command, ready to run: the suite runner and the commands share it."""

    command: str
    target: Target
    budget_s: float  # how long run() may take at most, all deadlines included
    run: Callable[[str], Awaitable[list[ScenarioResult]]]  # scenario name -> results
    # experiments: what was done so far, after an interruption
    partial: Callable[[], list[ScenarioResult]] | None = None
    # experiments: give them a callback(done, total) for progress bars
    on_progress: Callable[[Callable[[int, int], None]], None] | None = None


# command name -> planner(params of that command) -> Plan; commands register themselves.
PLANNERS: dict[str, Callable[[dict], Plan]] = {}


def plan_command(command: str, params: dict) -> Plan:
    """Validate a command's parsed parameters into a Plan (UsageError on bad values)."""
    if command not in PLANNERS:
        raise UsageError(f"unknown command {command!r} (have: {', '.join(sorted(PLANNERS))})")
    return PLANNERS[command](params)


def _probe_plan(params: dict) -> Plan:
    target, opts, ws_opts = plan_probe(params)

    async def run(name: str) -> list[ScenarioResult]:
        return [await run_probe(target, opts, ws_opts, name=name)]

    from sse_doctor.scenarios.observe import window_for

    return Plan("probe", target, window_for(opts) + 2 * target.timeout + 2.0, run)


PLANNERS["probe"] = _probe_plan


async def _with_progress(coro, target: Target, window: float, silent: bool):  # noqa: ANN001
    """Show elapsed time on stderr while a long observation runs (only on a terminal)."""
    err = Console(stderr=True)
    if silent or not err.is_terminal or window < 2:
        return await coro
    t0 = time.perf_counter()
    with err.status(f"observing {target.display_url()}") as status:
        task = asyncio.ensure_future(coro)
        while not task.done():
            await asyncio.wait({task}, timeout=0.5)
            status.update(
                f"observing {target.display_url()}  {time.perf_counter() - t0:.0f}/{window:g} s"
            )
        return task.result()


@app.command()
def lab(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = a free one).")] = 0,
) -> int:
    """Serve the lab of misbehaving servers and list its routes."""
    from sse_doctor.lab import LabServer
    from sse_doctor.lab.listing import lab_listing

    if not 0 <= port <= 65535:
        raise UsageError("--port must be between 0 and 65535")
    try:
        server = LabServer(port=port).start()
    except (OSError, RuntimeError) as exc:
        raise UsageError(f"cannot serve the lab on port {port}: {exc}") from None
    Console(highlight=False).print(lab_listing(server.base_url))
    try:
        server.serve_forever()
    finally:
        server.stop()
    return EXIT_OK


@app.command()
def demo(
    json_out: JsonOut = None,
    junit_out: JunitOut = None,
    html_out: HtmlOut = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> int:
    """Start the lab and diagnose every scenario (exit 0 when each gets its diagnosis)."""
    from sse_doctor.demo import run_demo

    _check_writable(json_out, "--json")
    _check_writable(junit_out, "--junit")
    _check_writable(html_out, "--html")
    report, all_match = run_demo(show_progress=not quiet and json_out != "-")
    red = Redactor()
    emit(
        report,
        red,
        json_out=json_out,
        junit_out=junit_out,
        fail_on="never",
        quiet=quiet,
        verbose=verbose,
        html_out=html_out,
    )
    if json_out != "-":
        console = Console(highlight=False)
        n = len(report.results)
        bad = [r.name for r in report.results if not r.matches_expected]
        if all_match:
            console.print(f"[bold green]All {n} scenarios got exactly their expected diagnosis.[/]")
        else:
            console.print(
                f"[bold red]{len(bad)} of {n} scenarios did not get their expected "
                f"diagnosis: {', '.join(bad)}[/]"
            )
    return EXIT_OK if all_match else EXIT_FINDINGS


# --- entry point ---------------------------------------------------------------------------------
def _err(message: str) -> None:
    sys.stderr.write(f"sse-doctor: error: {message}\n")


# click >= 8.2 raises this after printing the help for a bare `sse-doctor`.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def main(argv: list[str] | None = None) -> int:
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=argv, prog_name="sse-doctor", standalone_mode=False)
    except _NO_ARGS_IS_HELP as exc:
        # Typer already printed the help text.
        return EXIT_USAGE if exc.exit_code is None else exc.exit_code
    except click.exceptions.UsageError as exc:
        _err(exc.format_message().replace("\n", " "))
        return EXIT_USAGE
    except UsageError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except (KeyboardInterrupt, typer.Abort):
        _err("interrupted")
        return EXIT_INTERRUPTED
    except typer.Exit as exc:
        return exc.exit_code
    if isinstance(rv, int):
        return rv
    return EXIT_OK


# Commands defined in their own modules register themselves on `app` when imported.
from sse_doctor import cli_experiments, cli_har, cli_suite  # noqa: E402,F401
