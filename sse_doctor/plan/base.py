"""A validated command, ready to run: what the CLI, suites, the demo and the Python API all build.

Every command that observes something (probe, the experiments, load, har) is a `Plan`, and every
plan is run the same way (`sse_doctor.plan.execute`): `run(name)` gives its results, `partial`
salvages what it did when a signal cut it short, and `report` concludes them into the one
Report model the renderers read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sse_doctor.model import Report, Result, protocol_of
from sse_doctor.redact import Redactor
from sse_doctor.target import Target, build_target


@dataclass
class Plan:
    """A validated command, ready to run: the suite runner and the commands share it."""

    command: str
    target: Target | None  # None: a plan that reads a file (har), no network
    budget_s: float  # how long run() may take at most, all deadlines included
    run: Callable[[str], Awaitable[list[Result]]]  # scenario name -> results
    # What was done so far, after a signal cancelled `run` (reason: "interrupted (SIGINT)"):
    # experiments hand back the ones they finished and the one under way, a probe the stream
    # as far as it got. None: nothing to salvage.
    partial: Callable[[str], list[Result]] | None = None
    # experiments: give them a callback(done, total) for progress bars
    on_progress: Callable[[Callable[[int, int], None]], None] | None = None
    # A plan that ends early on its own when told to stop (a probe closes its stream, load
    # tells its workers) keeps a live session: a signal sets its stop, `run` returns what it
    # saw within `grace_s`, and `interrupted` marks those results. Without one, a signal
    # cancels `run` at once and `partial` reports.
    session: Any = None  # feed.Feed
    grace_s: float = 1.0
    interrupted: Callable[[list[Result]], list[Result]] | None = None
    # A stop is this plan's normal end (the proxy runs until Ctrl-C): when `run` returns in
    # its grace, the report is complete, not interrupted, and the exit code is its findings'.
    stop_is_end: bool = False
    multi: bool = False  # the report always fills `scenarios` (experiments, har)
    url: str = ""  # what the report names; default: the target's URL (har: the file)
    redactor: Redactor = field(default_factory=Redactor)
    # load: give it a live view (a context manager with update(row)) before it runs
    set_view: Callable[[Any], None] | None = None
    # The command's own settings, for its live views (probe: (ProbeOptions, WsOptions))
    options: Any = None
    # What to tell a person when the run had nothing to check (har: no stream requests).
    empty_note: str | None = None

    def __post_init__(self) -> None:
        if self.target is not None:
            self.url = self.url or self.target.url
            self.redactor = self.target.redactor

    @property
    def protocol(self) -> str:
        return self.target.protocol if self.target is not None else "sse"

    def display_url(self) -> str:
        return self.target.display_url() if self.target is not None else self.url

    def report(self, results: list[Result], started_at: datetime, duration_s: float,
               interrupted: bool = False) -> Report:
        """Conclude: the one report of this run, from its results."""
        protocol = protocol_of(results) if self.target is None else self.target.protocol
        return Report(command=self.command, url=self.url, protocol=protocol,
                      started_at=started_at, duration_s=duration_s, results=results,
                      multi=self.multi, interrupted=interrupted)


def target_of(values: dict[str, Any]) -> Target:
    """The client's identity from the request options (the same for every command)."""
    return build_target(values["url"], method=values["method"], headers=values["header"],
                        data=values["data"], cookie=values["cookie"], bearer=values["bearer"],
                        timeout=values["timeout"], insecure=values["insecure"],
                        cacert=values["cacert"], http2=values["http2"])
