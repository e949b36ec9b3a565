"""The Python API: the doctor's commands as functions that return a Report.

    import sse_doctor

    report = sse_doctor.probe("http://127.0.0.1:8000/events", duration=5, idle_limit=2)
    if report.verdict != "healthy":
        print(report.advice_text())

Every command that diagnoses a target has a sync form and an async form (`a` + its name):
`probe`/`aprobe`, `disconnect`/`adisconnect`, `duplicates`/`aduplicates`, `storm`/`astorm`,
`resume`/`aresume`, `checkup`/`acheckup` and `load_test`/`aload_test` (the `load` command;
`sse_doctor.load` is the load engine's package). Options are named as on the command line,
long flag with '-' written as '_' (`--idle-limit 2` is `idle_limit=2`, `--expect-event done`
is `expect_event=["done"]` or `expect_event="done"`), the same keys a suite file takes; a
`headers={"Name": "value"}` mapping is accepted beside `header=["Name: value"]`. They are
parsed and validated by the command line's own parser and planners, so a value means the same
here as there, and a bad one raises OptionError with the command line's message.

Stability: the names in `sse_doctor.__all__` (these functions, Report, Finding, OptionError)
and the documented members of Report and Finding are the public API and follow semantic
versioning from 1.0: within a major version nothing is removed or changes meaning, new
options and new finding codes may be added. `Report.to_json()` is the stable JSON report
(`schema: sse-doctor/report@1`). Every other module of the package is private and may change
in any release.
"""

from __future__ import annotations

import asyncio
import difflib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sse_doctor.errors import UsageError

if TYPE_CHECKING:
    from sse_doctor.model import Finding
    from sse_doctor.model import Report as ReportModel
    from sse_doctor.plan import Plan
    from sse_doctor.redact import Redactor

__all__ = [
    "OptionError", "Report", "Finding",
    "probe", "aprobe", "disconnect", "adisconnect", "duplicates", "aduplicates",
    "storm", "astorm", "resume", "aresume", "checkup", "acheckup", "load_test", "aload_test",
]


class OptionError(UsageError, ValueError):
    """An option the command does not take, or a value it refuses (the command line's own
    message, which names the option)."""


def __getattr__(name: str) -> Any:
    if name == "Finding":  # the model's own class, imported when asked for
        from sse_doctor.model import Finding

        return Finding
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Report:
    """What the doctor found: the one report the command line renders, as an object.

    `verdict` is "healthy", "warning" or "error" (the worst finding's severity);
    `findings` every finding (code, severity, title, detail, evidence, advice), worst
    first; `codes` their codes. `connection`, `stats`, `profile` and `load` are the parts of
    the JSON report of the same names (None when the report has none); `scenarios` one entry
    per experiment for multi-scenario commands. Secrets are redacted in everything a Report
    shows or writes.
    """

    def __init__(self, model: ReportModel, redactor: Redactor) -> None:
        self._model = model
        self._redactor = redactor
        self._json: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return (f"<sse_doctor.Report {self.command} {self.url} verdict={self.verdict!r} "
                f"codes={sorted(self.codes)}>")

    @property
    def command(self) -> str:
        return self._model.command

    @property
    def url(self) -> str:
        """The target's URL, secrets redacted."""
        return self._redactor.url(self._model.url)

    @property
    def verdict(self) -> str:
        return self._model.verdict

    @property
    def healthy(self) -> bool:
        return self.verdict == "healthy"

    @property
    def findings(self) -> list[Finding]:
        from sse_doctor.codes import SEVERITY_RANK

        return sorted(self._model.findings, key=lambda f: -SEVERITY_RANK[f.severity])

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(f.code for f in self._model.findings)

    @property
    def interrupted(self) -> bool:
        return self._model.interrupted

    def failed(self, fail_on: str = "error") -> bool:
        """True when a finding reaches `fail_on` ("error", "warning" or "never"): what makes
        the command line exit 1."""
        from sse_doctor.codes import fails

        if fail_on not in ("error", "warning", "never"):
            raise OptionError(f"fail_on must be error, warning or never, not {fail_on!r}")
        return any(fails(f.severity, fail_on) for f in self._model.findings)

    def to_json(self) -> dict[str, Any]:
        """The JSON report (schema sse-doctor/report@1), as `--json` writes it."""
        if self._json is None:
            from sse_doctor.report.json_report import report_json

            self._json = report_json(self._model, self._redactor)
        return self._json

    def _part(self, key: str) -> Any:
        value = self.to_json().get(key)
        return value or None

    @property
    def connection(self) -> dict[str, Any] | None:
        return self._part("connection")

    @property
    def stats(self) -> dict[str, Any] | None:
        return self._part("stats")

    @property
    def profile(self) -> dict[str, Any] | None:
        return self._part("profile")

    @property
    def load(self) -> dict[str, Any] | None:
        return self._part("load")

    @property
    def scenarios(self) -> list[dict[str, Any]]:
        return list(self.to_json().get("scenarios") or [])

    def advice_text(self) -> str:
        """The doctor's verdict and "what to do" for each finding, as plain text: the
        terminal report's verdict lines and advice, without colours or the timeline, one
        line per sentence group (no wrapping: test runners and logs wrap for themselves)."""
        import io

        from rich.console import Console
        from rich.text import Text

        from sse_doctor.report.terminal import findings_block, verdict_line

        out = io.StringIO()
        console = Console(file=out, width=200, color_system=None, force_terminal=False,
                          soft_wrap=True)
        for r in self._model.results:
            where = r.name if self._model.multi else f"sse-doctor {self.command}"
            console.print(Text(f"{where}  {self._redactor.url(r.url)}"))
            console.print(verdict_line(r))
            if r.findings:
                console.print(Text("What to do"))
                console.print(findings_block(r.findings, self._redactor))
            if r.checks_incomplete:
                console.print(Text("Incomplete (interrupted before the window ended, so not "
                                   "passed): " + ", ".join(r.checks_incomplete)))
        return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"

    def write_json(self, path: str | os.PathLike[str]) -> str:
        """Write the JSON report (as `--json PATH`); returns the path."""
        from sse_doctor.report.json_report import dumps

        return _write(path, dumps(self._model, self._redactor) + "\n")

    def write_html(self, path: str | os.PathLike[str], fail_on: str = "error") -> str:
        """Write the self-contained HTML report (as `--html`); returns the path."""
        from sse_doctor.report import html

        return _write(path, html.render(self._model, self._redactor, fail_on))

    def write_junit(self, path: str | os.PathLike[str], fail_on: str = "error") -> str:
        """Write JUnit XML (as `--junit`); returns the path."""
        from sse_doctor.report import junit

        return _write(path, junit.render(self._model, fail_on, self._redactor))


def _write(path: str | os.PathLike[str], text: str) -> str:
    """Whole or not at all: a reader (a CI step, a browser) never sees half a report."""
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


# --- options to a plan ----------------------------------------------------------------------
def _argv(command: str, options: Mapping[str, Any]) -> list[str]:
    from sse_doctor.suite.loader import command_options, header_argv, option_argv

    known = command_options(command)
    argv: list[str] = []
    for key, value in options.items():
        if key == "headers":
            part, problem = header_argv(dict(value) if isinstance(value, Mapping) else value)
        elif key in known:
            info = known[key]
            if not info.is_flag and info.multiple and isinstance(value, tuple):
                value = list(value)
            part, problem = option_argv(info, value, "")
        else:
            close = difflib.get_close_matches(key, sorted([*known, "headers"]), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise OptionError(f"{command}: unknown option {key!r}{hint}")
        if problem:
            raise OptionError(f"{command}: {key}: {problem}")
        argv.extend(part)
    return argv


def plan_for(command: str, url: str, options: Mapping[str, Any]) -> Plan:
    """The command's plan from keyword options, by the command line's parser and planner."""
    from sse_doctor.commandline import ConversionError, click, parse_args
    from sse_doctor.plan import plan_command

    if not isinstance(url, str) or not url:
        raise OptionError(f"{command}: the URL must be a non-empty string, not {url!r}")
    try:
        values = parse_args(command, [*_argv(command, options), "--", url])
    except click.exceptions.BadParameter as exc:
        # the option by its keyword, as it was given here, and the value
        key = exc.param.name if exc.param is not None else "?"
        bare = exc.bare if isinstance(exc, ConversionError) else exc.message
        raise OptionError(f"{command}: {key}: {bare} (got {options.get(key)!r})") from None
    except click.exceptions.ClickException as exc:
        raise OptionError(f"{command}: {exc.format_message()}".replace("\n", " ")) from None
    try:
        return plan_command(command, values)
    except OptionError:
        raise
    except UsageError as exc:
        raise OptionError(f"{command}: {exc}") from None


async def _arun(command: str, url: str, options: Mapping[str, Any]) -> Report:
    from sse_doctor.plan.execute import conclude

    plan = plan_for(command, url, options)
    return Report(await conclude(plan), plan.redactor)


def _run(command: str, url: str, options: Mapping[str, Any], async_name: str) -> Report:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            f"sse_doctor.{'load_test' if command == 'load' else command}() was called inside a "
            f"running event loop, which it would block: use `await sse_doctor.{async_name}(...)`"
            " there")
    return asyncio.run(_arun(command, url, options))


# --- the commands ---------------------------------------------------------------------------
def probe(url: str, **options: Any) -> Report:
    """Open one stream (http/https: SSE, ws/wss: WebSocket), time everything that arrives and
    judge it: `sse-doctor probe URL`. Options as `probe`'s: duration, idle_limit,
    expect_event, expect_close, max_events, send, profile, header, bearer, timeout..."""
    return _run("probe", url, options, "aprobe")


async def aprobe(url: str, **options: Any) -> Report:
    """`probe` inside a running event loop."""
    return await _arun("probe", url, options)


def disconnect(url: str, **options: Any) -> Report:
    """Drop the stream abruptly, then check the server lets the client back in and cleans up
    (`sse-doctor disconnect`): after_events or after, mode, repeat, grace, watch_*."""
    return _run("disconnect", url, options, "adisconnect")


async def adisconnect(url: str, **options: Any) -> Report:
    """`disconnect` inside a running event loop."""
    return await _arun("disconnect", url, options)


def duplicates(url: str, **options: Any) -> Report:
    """Open several streams with one identity and see which the server keeps
    (`sse-doctor duplicates`): connections, policy, watch_*."""
    return _run("duplicates", url, options, "aduplicates")


async def aduplicates(url: str, **options: Any) -> Report:
    """`duplicates` inside a running event loop."""
    return await _arun("duplicates", url, options)


def storm(url: str, **options: Any) -> Report:
    """Rapid connect/reset cycles, then check resources return (`sse-doctor storm`): cycles,
    concurrency, watch_*."""
    return _run("storm", url, options, "astorm")


async def astorm(url: str, **options: Any) -> Report:
    """`storm` inside a running event loop."""
    return await _arun("storm", url, options)


def resume(url: str, **options: Any) -> Report:
    """Read N events, drop, reconnect with Last-Event-ID and check where the server resumes
    (`sse-doctor resume`): after_events, duration."""
    return _run("resume", url, options, "aresume")


async def aresume(url: str, **options: Any) -> Report:
    """`resume` inside a running event loop."""
    return await _arun("resume", url, options)


def checkup(url: str, **options: Any) -> Report:
    """Probe, then every experiment that applies, one report (`sse-doctor checkup`)."""
    return _run("checkup", url, options, "acheckup")


async def acheckup(url: str, **options: Any) -> Report:
    """`checkup` inside a running event loop."""
    return await _arun("checkup", url, options)


def load_test(url: str, **options: Any) -> Report:
    """Hold many streams at once (`sse-doctor load`): streams, ramp, duration, workers,
    reconnect, lag_from... The workers are forked processes: call it where no other
    connection of yours is open (a fork would hold those sockets too)."""
    return _run("load", url, options, "aload_test")


async def aload_test(url: str, **options: Any) -> Report:
    """`load_test` inside a running event loop."""
    return await _arun("load", url, options)
