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
here as there, and a bad one raises OptionError with the command line's message. Every
function takes `deadline=SECONDS` (None: none): at the deadline the run is stopped as Ctrl-C
stops the command line and the Report is made from what it saw (`interrupted` is true).

A suite file's check entry (the keys of a `[[check]]` table) runs through `check`/`acheck`,
judged as `sse-doctor run` judges it (allow, ignore, thresholds, fail_on) into a CheckReport;
`validate_check` validates one without running it. `load_report` makes the `load` command's
Report from a load fleet's merged counts, for load generators that host the load engine
(sse_doctor.locust).

Stability: the names in `sse_doctor.__all__` (these functions, Report, CheckReport, Finding,
OptionError) and the documented members of Report, CheckReport, Finding and OptionError are
the public API and follow semantic
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
    "OptionError", "Report", "CheckReport", "Finding",
    "probe", "aprobe", "disconnect", "adisconnect", "duplicates", "aduplicates",
    "storm", "astorm", "resume", "aresume", "checkup", "acheckup", "load_test", "aload_test",
    "check", "acheck", "validate_check", "check_keys", "output_options", "load_report",
    "warm_up",
]


class OptionError(UsageError, ValueError):
    """An option the command does not take, or a value it refuses (the command line's own
    message, which names the option). `problems` holds one line per problem found (a check
    entry is validated whole, as the suite loader reports a suite file); the message is the
    first."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems) if problems else [message]


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
    def duration_s(self) -> float:
        """How long the run took, in seconds."""
        return self._model.duration_s

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

    def text(self, width: int = 100) -> str:
        """The terminal report, as the command line prints it, in plain text (no colours),
        `width` columns wide."""
        import io

        from rich.console import Console

        from sse_doctor.report import terminal

        out = io.StringIO()
        console = Console(file=out, width=width, color_system=None, force_terminal=False,
                          highlight=False, emoji=False)
        terminal.render(self._model, console, self._redactor, verbose=False)
        return out.getvalue()

    def redact(self, text: str) -> str:
        """`text` with every secret this report knows masked (credentials in the URL, the
        values of sensitive headers, values taken from the environment): for a caller that
        writes its own lines about the run (logs, a debug page)."""
        return self._redactor.text(text)

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


def _deadline(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    if isinstance(deadline, bool) or not isinstance(deadline, (int, float)) \
            or not deadline > 0 or deadline == float("inf"):
        raise OptionError(f"deadline expects a number of seconds greater than 0 (or None), "
                          f"not {deadline!r}")
    return float(deadline)


async def _arun(command: str, url: str, options: Mapping[str, Any],
                deadline: float | None = None) -> Report:
    from sse_doctor.plan.execute import conclude

    deadline = _deadline(deadline)
    plan = plan_for(command, url, options)
    return Report(await conclude(plan, deadline_s=deadline), plan.redactor)


def _sync(coro_fn: Any, name: str, async_name: str) -> Any:
    """Run the async form in a loop of its own; refused inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            f"sse_doctor.{name}() was called inside a running event loop, which it would "
            f"block: use `await sse_doctor.{async_name}(...)` there")
    return asyncio.run(coro_fn())


def _run(command: str, url: str, options: Mapping[str, Any], async_name: str,
         deadline: float | None = None) -> Report:
    name = "load_test" if command == "load" else command
    return _sync(lambda: _arun(command, url, options, deadline), name, async_name)


# --- the commands ---------------------------------------------------------------------------
def probe(url: str, *, deadline: float | None = None, **options: Any) -> Report:
    """Open one stream (http/https: SSE, ws/wss: WebSocket), time everything that arrives and
    judge it: `sse-doctor probe URL`. Options as `probe`'s: duration, idle_limit,
    expect_event, expect_close, max_events, send, profile, header, bearer, timeout..."""
    return _run("probe", url, options, "aprobe", deadline)


async def aprobe(url: str, *, deadline: float | None = None,
                 **options: Any) -> Report:
    """`probe` inside a running event loop."""
    return await _arun("probe", url, options, deadline)


def disconnect(url: str, *, deadline: float | None = None, **options: Any) -> Report:
    """Drop the stream abruptly, then check the server lets the client back in and cleans up
    (`sse-doctor disconnect`): after_events or after, mode, repeat, grace, watch_*."""
    return _run("disconnect", url, options, "adisconnect", deadline)


async def adisconnect(url: str, *, deadline: float | None = None,
                      **options: Any) -> Report:
    """`disconnect` inside a running event loop."""
    return await _arun("disconnect", url, options, deadline)


def duplicates(url: str, *, deadline: float | None = None, **options: Any) -> Report:
    """Open several streams with one identity and see which the server keeps
    (`sse-doctor duplicates`): connections, policy, watch_*."""
    return _run("duplicates", url, options, "aduplicates", deadline)


async def aduplicates(url: str, *, deadline: float | None = None,
                      **options: Any) -> Report:
    """`duplicates` inside a running event loop."""
    return await _arun("duplicates", url, options, deadline)


def storm(url: str, *, deadline: float | None = None, **options: Any) -> Report:
    """Rapid connect/reset cycles, then check resources return (`sse-doctor storm`): cycles,
    concurrency, watch_*."""
    return _run("storm", url, options, "astorm", deadline)


async def astorm(url: str, *, deadline: float | None = None,
                 **options: Any) -> Report:
    """`storm` inside a running event loop."""
    return await _arun("storm", url, options, deadline)


def resume(url: str, *, deadline: float | None = None, **options: Any) -> Report:
    """Read N events, drop, reconnect with Last-Event-ID and check where the server resumes
    (`sse-doctor resume`): after_events, duration."""
    return _run("resume", url, options, "aresume", deadline)


async def aresume(url: str, *, deadline: float | None = None,
                  **options: Any) -> Report:
    """`resume` inside a running event loop."""
    return await _arun("resume", url, options, deadline)


def checkup(url: str, *, deadline: float | None = None, **options: Any) -> Report:
    """Probe, then every experiment that applies, one report (`sse-doctor checkup`)."""
    return _run("checkup", url, options, "acheckup", deadline)


async def acheckup(url: str, *, deadline: float | None = None,
                   **options: Any) -> Report:
    """`checkup` inside a running event loop."""
    return await _arun("checkup", url, options, deadline)


def load_test(url: str, *, deadline: float | None = None, **options: Any) -> Report:
    """Hold many streams at once (`sse-doctor load`): streams, ramp, duration, workers,
    reconnect, lag_from... The workers are forked processes: call it where no other
    connection of yours is open (a fork would hold those sockets too)."""
    return _run("load", url, options, "aload_test", deadline)


async def aload_test(url: str, *, deadline: float | None = None,
                     **options: Any) -> Report:
    """`load_test` inside a running event loop."""
    return await _arun("load", url, options, deadline)


def warm_up() -> None:
    """Import what every command needs and build one HTTP client (its TLS context) now: a
    server that runs checks on request (the exporter) calls it before serving, so its first
    requests do not spend their deadline on it."""
    import importlib

    for name in ("sse_doctor.plan.probe", "sse_doctor.conclude.probe", "sse_doctor.ws.client",
                 "sse_doctor.checks.selection", "sse_doctor.checks.ws_checks",
                 "sse_doctor.profiles", "sse_doctor.report.terminal",
                 "sse_doctor.report.json_report", "sse_doctor.sse.transport",
                 "sse_doctor.suite.loader", "sse_doctor.suite.runner"):
        importlib.import_module(name)
    from sse_doctor.sse import transport
    from sse_doctor.target import build_target

    async def client() -> None:
        await transport.make_client(build_target("http://127.0.0.1:1/")).aclose()

    _sync(client, "warm_up", "warm_up")


# --- suite checks -----------------------------------------------------------------------------
class CheckReport(Report):
    """A suite check's report, judged as `sse-doctor run` judges a check.

    Beside everything a Report has: `name` (the entry's), `passed` (no finding at or above
    `fail_on` that the entry does not allow or ignore), `failing` (those findings, worst
    first), `allowed` (findings the entry allows or ignores), `thresholds` (each threshold
    key -> {"limit", "measured", "met"}) and `fail_on`. The threshold misses are findings
    (`threshold-missed`) like any other.
    """

    def __init__(self, model: ReportModel, redactor: Redactor, outcome: Any,
                 fail_on: str) -> None:
        super().__init__(model, redactor)
        self._outcome = outcome
        self.fail_on = fail_on

    def __repr__(self) -> str:
        return (f"<sse_doctor.CheckReport {self.name!r} {self.url} "
                f"{'passed' if self.passed else 'failed'} codes={sorted(self.codes)}>")

    @property
    def name(self) -> str:
        return self._outcome.spec.name

    @property
    def passed(self) -> bool:
        return self._outcome.passed

    @property
    def failing(self) -> list[Finding]:
        return list(self._outcome.failing)

    @property
    def allowed(self) -> list[Finding]:
        return list(self._outcome.allowed)

    @property
    def thresholds(self) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in self._outcome.thresholds.items()}


_NO_SOURCE = "<check>"  # names the entry's problems when no file holds it


def _check_spec(entry: Mapping[str, Any], env: Mapping[str, str] | None, source: str | None,
                where: str | None) -> Any:
    """The entry as the suite loader reads a `[[check]]` table (OptionError with every
    problem line). Without a `name` the check is named after its command."""
    from sse_doctor.suite.loader import SuiteInvalid, load_check

    if not isinstance(entry, Mapping):
        raise OptionError(f"a check entry is a mapping of suite keys, not {type(entry).__name__}")
    raw = dict(entry)
    raw.setdefault("name", str(raw.get("command", "probe")))
    path = os.fspath(source) if source is not None else _NO_SOURCE
    try:
        return load_check(path, raw, where=where or f"check {raw['name']!r}",
                          env=os.environ if env is None else env)
    except SuiteInvalid as exc:
        problems = [p.removeprefix(f"{_NO_SOURCE}: ") for p in exc.problems]
        raise OptionError(problems[0], problems) from None


def _check_redactor(spec: Any) -> Redactor:
    """Every secret of the check: its target's, what its plan learnt, the values its entry
    took from the environment."""
    from sse_doctor.redact import Redactor

    red = Redactor()
    if spec.plan.target is not None:
        for k, v in spec.plan.target.headers:
            red.add_header(k, v)
        red.add_url(spec.plan.target.url)
    red.merge(spec.plan.redactor)
    for secret in spec.secrets:
        red.add_secret(secret)
    return red


def check_keys(command: str = "probe") -> frozenset[str]:
    """The keys a check entry of `command` takes: the command's options (as suite keys) and
    the suite's own (name, url, command, headers, allow, ignore, thresholds)."""
    from sse_doctor.suite.loader import SUITE_KEYS, command_options

    return frozenset(command_options(_known_command(command))) | frozenset(SUITE_KEYS)


def output_options(command: str = "probe") -> frozenset[str]:
    """The command's output options as keys (json, html, fail_on...): a check entry does not
    take them (a Report writes its outputs; `fail_on` is `check`'s argument)."""
    from sse_doctor.suite.loader import output_keys

    return frozenset(output_keys(_known_command(command)))


def _known_command(command: str) -> str:
    from sse_doctor.plan import PLANNERS

    if command not in PLANNERS:
        raise OptionError(f"unknown command {command!r} (have: {', '.join(sorted(PLANNERS))})")
    return command


def validate_check(entry: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
                   source: str | os.PathLike[str] | None = None,
                   where: str | None = None) -> None:
    """Validate a check entry without running it: OptionError whose `problems` lists every
    problem, one line each, as `sse-doctor run` reports a suite file. `entry` holds the keys
    of a suite's `[[check]]` table (url, command, the command's options, headers, allow,
    ignore, thresholds; `name` optional); `${VAR}` expands from `env` (default: the
    process's environment); `source` is the file it came from (problem lines start with it,
    relative paths in the entry are relative to it), `where` how the lines name the entry."""
    _check_spec(entry, env, None if source is None else os.fspath(source), where)


def check(entry: Mapping[str, Any], *, deadline: float | None = None, fail_on: str = "error",
          env: Mapping[str, str] | None = None,
          source: str | os.PathLike[str] | None = None,
          where: str | None = None) -> CheckReport:
    """Run one suite check entry and judge it as `sse-doctor run` does (`validate_check` says
    what an entry holds). `fail_on` ("error", "warning", "never") is `run`'s --fail-on."""
    return _sync(lambda: acheck(entry, deadline=deadline, fail_on=fail_on, env=env,
                                source=source, where=where), "check", "acheck")


async def acheck(entry: Mapping[str, Any], *, deadline: float | None = None,
                 fail_on: str = "error", env: Mapping[str, str] | None = None,
                 source: str | os.PathLike[str] | None = None,
                 where: str | None = None) -> CheckReport:
    """`check` inside a running event loop. The deadline counts from the call: at it the
    check is stopped as Ctrl-C stops a command and judged on what it saw (`interrupted`);
    a target that had not answered by then is a `check-incomplete` finding."""
    import time
    from datetime import datetime, timezone

    from sse_doctor.model import Report as ReportModel
    from sse_doctor.model import finding
    from sse_doctor.suite.runner import answered, observe, outcome

    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    if fail_on not in ("error", "warning", "never"):
        raise OptionError(f"fail_on must be error, warning or never, not {fail_on!r}")
    deadline = _deadline(deadline)
    spec = _check_spec(entry, env, None if source is None else os.fspath(source), where)
    left = None if deadline is None else max(0.0, deadline - (time.perf_counter() - t0))
    results, extra, cut = await observe(spec, left)
    if cut and not answered(results):
        extra.append(finding("check-incomplete",
                             f"No response within the check's deadline ({deadline:g} s).",
                             deadline_s=round(deadline or 0.0, 3)))
    judged = outcome(spec, results, extra, fail_on, time.perf_counter() - t0)
    model = ReportModel(command=spec.command, url=spec.url, protocol=spec.plan.protocol,
                        started_at=started, duration_s=time.perf_counter() - t0,
                        results=[judged.result], interrupted=cut)
    return CheckReport(model, _check_redactor(spec), judged, fail_on)


# --- a load generator's report ----------------------------------------------------------------
def load_report(target: Any, observation: Any, *, duration_s: float,
                started_at: Any = None, interrupted: bool = False,
                headers: Mapping[str, str] | None = None) -> Report:
    """The `load` command's Report from a load fleet's merged counts, judged as `sse-doctor
    load` judges its own fleet: for load generators that host the load engine
    (`sse_doctor.load`; sse_doctor.locust does). `target` is the engine's LoadTarget,
    `observation` the merged LoadObservation (`sse_doctor.load.fleet.merge_finals`): both
    are the engine's types, which follow the engine, not this API's stability promise.
    `headers` are the streams' request headers (sensitive ones are masked in every output);
    `interrupted`: the run was stopped before its time."""
    from datetime import datetime, timezone

    from sse_doctor.conclude.load import load_result
    from sse_doctor.model import Report as ReportModel
    from sse_doctor.redact import Redactor

    red = Redactor()
    red.add_url(target.url)
    for k, v in (headers or {}).items():
        red.add_header(k, v)
    model = ReportModel(command="load", url=target.url, protocol=target.protocol,
                        started_at=started_at or datetime.now(timezone.utc),
                        duration_s=duration_s, results=[load_result(target, observation)],
                        interrupted=interrupted)
    return Report(model, red)
