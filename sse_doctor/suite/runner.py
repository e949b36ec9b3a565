"""Run a validated suite: checks concurrently up to --jobs, each within its own deadline, each
judged against --fail-on, its allow list and its thresholds. A check that times out or fails
inside is a failed check with the reason; the others still run."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sse_doctor import interrupt
from sse_doctor.codes import SEVERITY_RANK
from sse_doctor.errors import UsageError
from sse_doctor.model import Finding, Report, Result, finding, mark_ignored, protocol_of
from sse_doctor.plan import Plan
from sse_doctor.plan.execute import run_within
from sse_doctor.report.junit import fails
from sse_doctor.suite.loader import CheckSpec, Suite
from sse_doctor.suite.thresholds import evaluate

# Past its plan's budget (the window and every timeout), a check gets this much more before it
# is stopped: a loaded CI machine runs late, a hung check must still end.
MARGIN_S = 5.0
MARGIN_RATIO = 0.25


def deadline_for(budget_s: float, margin_s: float = MARGIN_S) -> float:
    return budget_s * (1 + MARGIN_RATIO) + margin_s


@dataclass
class CheckOutcome:
    spec: CheckSpec
    result: Result  # the suite's entry for the check: every finding, thresholds too
    sub_results: list[Result]  # what the command returned, when it was several
    thresholds: dict[str, dict[str, Any]]
    failing: list[Finding]  # at or above --fail-on, not allowed, not ignored: these fail it
    allowed: list[Finding]  # found, but the check allows (or ignores) their code
    duration_s: float

    @property
    def passed(self) -> bool:
        return not self.failing

    @property
    def notes(self) -> list[Finding]:
        """Findings that neither fail the check nor are allowed (below --fail-on)."""
        skip = {id(f) for f in self.failing + self.allowed}
        return [f for f in self.result.findings if id(f) not in skip]


@dataclass
class SuiteRun:
    suite: Suite
    fail_on: str
    started_at: datetime
    duration_s: float
    outcomes: list[CheckOutcome]
    interrupted: bool = False  # Ctrl-C: the checks not finished are check-incomplete
    signal: int | None = None  # which signal interrupted it (SIGINT, SIGTERM)

    @property
    def failed(self) -> list[CheckOutcome]:
        return [o for o in self.outcomes if not o.passed]

    @property
    def passed(self) -> bool:
        return not self.failed

    def report(self) -> Report:
        results = [o.result for o in self.outcomes]
        return Report(command="run", url=self.suite.path, protocol=protocol_of(results),
                      started_at=self.started_at, duration_s=self.duration_s,
                      results=results, multi=True, interrupted=self.interrupted)


def worst_first(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: -SEVERITY_RANK[f.severity])


def judge(findings: list[Finding], allow: frozenset[str], fail_on: str) \
        -> tuple[list[Finding], list[Finding]]:
    """(failing, allowed): a check fails on a finding at or above fail_on it does not allow
    and does not ignore; ignored findings count with the allowed ones."""
    allowed = [f for f in findings if f.code in allow or f.ignored]
    failing = [f for f in findings if f.code not in allow and not f.ignored
               and fails(f.severity, fail_on)]
    return worst_first(failing), allowed


def merge(spec: CheckSpec, results: list[Result]) -> Result:
    """One suite entry per check. A command that returns several scenarios (checkup) keeps
    them as sub-results; the entry has the union of their findings, each naming its scenario
    in its evidence and detail."""
    plan = spec.plan
    if len(results) == 1:
        return dataclasses.replace(results[0], name=spec.name,
                                   findings=list(results[0].findings),
                                   checks_run=list(results[0].checks_run))
    findings: list[Finding] = []
    checks_run: list[str] = []
    for r in results:
        for f in r.findings:
            findings.append(dataclasses.replace(
                f, detail=f"{r.name}: {f.detail}", evidence={"scenario": r.name, **f.evidence}))
        checks_run.extend(c for c in r.checks_run if c not in checks_run)
    # a HAR capture's streams may mix SSE and WebSocket
    return Result(name=spec.name, protocol=protocol_of(results), url=plan.url,
                  findings=findings, checks_run=checks_run)


async def observe(spec: CheckSpec, deadline_s: float | None) \
        -> tuple[list[Result], list[Finding], bool]:
    """Run a check's plan within `deadline_s` (None: none) by the one deadline runner
    (plan.execute.run_within: at the deadline it is stopped as Ctrl-C stops a command and
    reports what it saw). Returns (results, findings about the run itself, cut short)."""
    try:
        results, cut = await run_within(spec.plan, spec.name, deadline_s)
    except UsageError as exc:  # it could not start here (the proxy: no mitmdump, port taken)
        return [], [finding("check-incomplete", f"The check could not start: {exc}",
                            error="UsageError")], False
    except Exception as exc:  # noqa: BLE001 - one broken check must not stop the others
        return [], [finding(
            "check-incomplete", f"The check stopped on an internal error: "
                                f"{type(exc).__name__}: {exc}", error=type(exc).__name__)], False
    return results, [], cut


def answered(results: list[Result]) -> bool:
    """The target answered (or was found unreachable) before the check ended."""
    for r in results:
        obs = r.observation
        if getattr(obs, "status", None) is not None or getattr(obs, "unreachable", None):
            return True
        if r.profile is not None:
            return True
    return False


async def run_check(spec: CheckSpec, fail_on: str, margin_s: float = MARGIN_S) -> CheckOutcome:
    """A suite's check: past its plan's budget (and a margin) it is stopped and fails."""
    t0 = time.perf_counter()
    deadline = deadline_for(spec.plan.budget_s, margin_s)
    results, extra, cut = await observe(spec, deadline)
    if cut:
        extra.append(finding(
            "check-incomplete",
            f"The check did not finish within {deadline:g} s (its plan needs at most "
            f"{spec.plan.budget_s:g} s: window and timeouts) and was stopped.",
            deadline_s=round(deadline, 3), budget_s=round(spec.plan.budget_s, 3)))
    return outcome(spec, results, extra, fail_on, time.perf_counter() - t0)


def interrupted(spec: CheckSpec, fail_on: str) -> CheckOutcome:
    """The outcome of a check that Ctrl-C stopped (or kept from starting)."""
    return outcome(spec, [], [finding(
        "check-incomplete", "The run was interrupted (Ctrl-C or SIGTERM) before this check "
                            "finished.",
        interrupted=True)], fail_on, 0.0)


def outcome(spec: CheckSpec, results: list[Result], extra: list[Finding],
            fail_on: str, duration_s: float) -> CheckOutcome:
    """The suite's entry for a check: what its plan returned, thresholds, and the verdict."""
    if results:
        entry = merge(spec, results)
    else:
        entry = Result(name=spec.name, protocol=spec.plan.protocol, url=spec.plan.url,
                       findings=[], checks_run=[])
    missed, report = evaluate(spec.thresholds, results)
    entry.findings.extend(missed + extra)
    if spec.thresholds and "threshold-missed" not in entry.checks_run:
        entry.checks_run.append("threshold-missed")
    mark_ignored([entry, *results], spec.ignore)
    failing, allowed = judge(entry.findings, spec.allow, fail_on)
    entry.allowed = frozenset(spec.allow)  # so every renderer can tell accepted from failing
    return CheckOutcome(spec=spec, result=entry,
                        sub_results=results if len(results) > 1 else [],
                        thresholds=report, failing=failing, allowed=allowed,
                        duration_s=duration_s)


async def run_checks(suite: Suite, jobs: int, fail_on: str,
                     on_done: Callable[[CheckOutcome], None] | None = None,
                     margin_s: float = MARGIN_S) -> list[CheckOutcome]:
    sem = asyncio.Semaphore(jobs)

    async def one(spec: CheckSpec) -> CheckOutcome:
        async with sem:
            outcome = await run_check(spec, fail_on, margin_s)
        if on_done is not None:
            on_done(outcome)
        return outcome

    # A load check runs alone, after the others: its worker processes are forked, and a fork
    # would hold every socket the other checks have open (a dropped stream would stay open).
    alone = [c for c in suite.checks if c.command == "load"]
    outcomes = {id(o.spec): o for o in await asyncio.gather(
        *(one(c) for c in suite.checks if c.command != "load"))}
    for c in alone:
        outcomes[id(c)] = await one(c)
    return [outcomes[id(c)] for c in suite.checks]


class SuiteChecks:
    """The checks of one `sse-doctor run` as they finish: what its Plan runs, and what it
    salvages when a signal cancels it (the checks done, every other one check-incomplete)."""

    def __init__(self, suite: Suite, jobs: int, fail_on: str, margin_s: float) -> None:
        self.suite, self.jobs, self.fail_on, self.margin_s = suite, jobs, fail_on, margin_s
        self.done: dict[int, CheckOutcome] = {}
        self._progress: Callable[[int, int], None] | None = None

    def set_progress(self, callback: Callable[[int, int], None]) -> None:
        self._progress = callback

    def _record(self, o: CheckOutcome) -> None:
        self.done[id(o.spec)] = o
        if self._progress is not None:
            self._progress(len(self.done), len(self.suite.checks))

    async def run(self, _name: str) -> list[Result]:
        await run_checks(self.suite, self.jobs, self.fail_on, self._record, self.margin_s)
        return [o.result for o in self.outcomes()]

    def outcomes(self) -> list[CheckOutcome]:
        """Every check's outcome, in the suite's order; one that did not finish is
        check-incomplete."""
        return [self.done.get(id(spec)) or interrupted(spec, self.fail_on)
                for spec in self.suite.checks]

    def partial(self, _reason: str) -> list[Result]:
        return [o.result for o in self.outcomes()]

    def suite_run(self, report: Report, stop: interrupt.Stop) -> SuiteRun:
        return SuiteRun(suite=self.suite, fail_on=self.fail_on, started_at=report.started_at,
                        duration_s=report.duration_s, outcomes=self.outcomes(),
                        interrupted=stop.interrupted, signal=stop.signum)


def suite_plan(suite: Suite, *, jobs: int = 4, fail_on: str = "error",
               margin_s: float = MARGIN_S) -> tuple[Plan, SuiteChecks]:
    """`sse-doctor run` as a Plan, like every command: run it with plan.execute (a signal
    cancels the checks under way, each closing its connections, and the report has every
    check, the unfinished ones check-incomplete); `SuiteChecks.suite_run` then gives the
    suite's own view (per-check outcomes, for JUnit, GitHub and the suite JSON)."""
    checks = SuiteChecks(suite, jobs, fail_on, margin_s)
    # at most: every check's deadline, the ones that share the --jobs slots one after another
    budget = sum(deadline_for(c.plan.budget_s, margin_s) for c in suite.checks)
    plan = Plan(command="run", target=None, budget_s=budget, run=checks.run,
                partial=checks.partial, on_progress=checks.set_progress, multi=True,
                url=suite.path, redactor=suite.redactor())
    return plan, checks


def run_suite(suite: Suite, *, jobs: int = 4, fail_on: str = "error",
              margin_s: float = MARGIN_S) -> SuiteRun:
    """Run a suite's plan to its SuiteRun (in a fresh event loop, signals handled)."""
    from sse_doctor.plan.execute import execute

    plan, checks = suite_plan(suite, jobs=jobs, fail_on=fail_on, margin_s=margin_s)
    outcome = execute(plan)
    return checks.suite_run(outcome.report, outcome.stop)
