"""The experiment commands' plans: disconnect, duplicates, storm, resume, checkup.

Each turns option values into a Plan (shared by the CLI, suites and the demo) with one
`scenarios` entry per experiment it runs; an interrupted plan still hands back what it did.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from sse_doctor import feed
from sse_doctor.conclude.experiments import (
    disconnect_result,
    duplicates_result,
    resume_result,
    storm_result,
)
from sse_doctor.conclude.probe import salvage
from sse_doctor.errors import UsageError
from sse_doctor.experiments.observation import ExperimentObservation
from sse_doctor.experiments.runner import ExperimentOptions
from sse_doctor.model import Result
from sse_doctor.options import validate
from sse_doctor.plan.base import Plan, target_of
from sse_doctor.plan.probe import plan_probe, run_probe
from sse_doctor.target import Target, is_loopback


def _ws_connect(p: dict[str, Any], target: Target) -> Any:
    """What each WebSocket connection sends and offers (--send, --subprotocol, --origin,
    --max-message-size), as `probe` reads them; None for SSE, where they are refused."""
    from sse_doctor.model import ProbeOptions
    from sse_doctor.ws.options import WsOptions

    given = [flag for key, flag in (("send", "--send"), ("subprotocol", "--subprotocol"),
                                    ("origin", "--origin")) if p.get(key)]
    if target.protocol != "ws":
        if given:
            raise UsageError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for "
                             "WebSocket (ws://, wss://) URLs")
        return None
    return WsOptions.from_cli(ProbeOptions(), send=p.get("send") or [], expect_message=[],
                              ping_interval=None, subprotocols=p.get("subprotocol") or [],
                              origin=p.get("origin"),
                              max_message_size=p.get("max_message_size") or 1 << 20)


def _experiment_options(p: dict[str, Any], target: Target) -> ExperimentOptions:
    from sse_doctor.watchers import parse_watches

    watches = parse_watches(p.get("watch_metric"), p.get("watch_json"), p.get("watch_port"))
    return ExperimentOptions(duration=p["duration"], grace=p.get("grace", 0.0) or 0.0,
                             watches=watches, ws=_ws_connect(p, target))


class _Runs:
    """The experiments a plan has started, so an interrupted run can still be reported."""

    def __init__(self, target: Target, opts: ExperimentOptions) -> None:
        self.target, self.opts = target, opts
        self.done: list[Result] = []
        self.current: tuple[ExperimentObservation, Callable[[], Result]] | None = None
        self.probe_session: feed.Feed | None = None  # checkup's probe, while it runs
        self.probe_plan: tuple[Target, Any, Any] | None = None

    async def run(self, command: str, settings: Any, runner: Callable, result: Callable,
                  name: str) -> Result:
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

    def partial(self, reason: str = "interrupted") -> list[Result]:
        """What was done when a signal cancelled the plan: the experiments it finished and
        the one under way (its observation closed now, its checks run on what it saw)."""
        from sse_doctor.conclude.interrupted import interrupted_result

        out = list(self.done)
        if self.probe_session is not None:  # checkup: interrupted during its probe
            target, opts, ws_opts = self.probe_plan
            # "interrupted" as before: the salvaged stream's close reason names no signal
            out.append(interrupted_result(salvage(self.probe_session, target, opts, ws_opts,
                                                  "interrupted")))
        if self.current is not None:
            obs, finish = self.current
            obs.interrupted = True
            if not obs.end_ms and obs.started_at is not None:
                obs.end_ms = (datetime.now(timezone.utc) - obs.started_at).total_seconds() * 1000
            obs.step(obs.end_ms, "interrupted (Ctrl-C or SIGTERM): the report stops here",
                     False)
            from sse_doctor.conclude.interrupted import interrupted_experiment

            out.append(interrupted_experiment(finish()))
        return out

    def set_progress(self, callback: Callable[[int, int], None]) -> None:
        self.opts.progress = callback


def _experiment_plan(command: str, target: Target, opts: ExperimentOptions, settings: Any,
                     runner: Callable, result: Callable, budget_s: float) -> Plan:
    runs = _Runs(target, opts)

    async def run(name: str) -> list[Result]:
        return [await runs.run(command, settings, runner, result, name)]

    return Plan(command, target, budget_s, run, partial=runs.partial,
                on_progress=runs.set_progress, multi=True)


def _settings_json(settings: Any, opts: ExperimentOptions) -> dict[str, Any]:
    out = dict(vars(settings))
    out.update(duration_s=opts.duration, grace_s=opts.grace,
               watches=[w.option() for w in opts.watches])
    if opts.ws is not None and opts.ws.send:
        out["messages_sent_per_connection"] = len(opts.ws.send)  # counted, never quoted
    return out


# --- disconnect ---------------------------------------------------------------------------------
def plan_disconnect(p: dict[str, Any]) -> Plan:
    from sse_doctor.experiments.disconnect import (
        DisconnectSettings,
        run_disconnect,
    )

    validate("disconnect", p)
    target = target_of(p)
    opts = _experiment_options(p, target)
    if p["after_events"] is not None and p["after"] is not None:
        raise UsageError("give either --after-events N or --after S, not both")
    d = DisconnectSettings(after_events=p["after_events"] if p["after"] is None else None,
                           after=p["after"], mode=p["mode"], repeat=p["repeat"])
    if p.get("profile") or p.get("call") or p.get("args") is not None:
        from sse_doctor.profiles.mcp.cancel import DEFAULT_AFTER_S, call_target

        target = call_target(target, p)  # a tools/call's stream is the one dropped
        d.profile = "mcp"
        if d.after is None and d.after_events is None:
            d.after = DEFAULT_AFTER_S
    if d.after is None and d.after_events is None:
        d.after_events = 2
    hold = d.after if d.after is not None else opts.duration
    budget = d.repeat * (hold + 2 * target.timeout + 3) + 2 * opts.grace + opts.duration \
        + 2 * target.timeout + 10
    return _experiment_plan("disconnect", target, opts, d, run_disconnect, disconnect_result,
                            budget)


# --- duplicates ---------------------------------------------------------------------------------
def plan_duplicates(p: dict[str, Any]) -> Plan:
    from sse_doctor.experiments.duplicates import (
        STAGGER_S,
        DuplicateSettings,
        run_duplicates,
    )

    validate("duplicates", p)
    target = target_of(p)
    opts = _experiment_options(p, target)
    d = DuplicateSettings(connections=p["connections"], policy=p["policy"])
    budget = STAGGER_S * d.connections + opts.duration + 2 * target.timeout + opts.grace + 10
    return _experiment_plan("duplicates", target, opts, d, run_duplicates, duplicates_result,
                            budget)


# --- storm ----------------------------------------------------------------------------------------
def plan_storm(p: dict[str, Any]) -> Plan:
    from sse_doctor.experiments.storm import (
        MAX_REMOTE_CONCURRENCY,
        StormSettings,
        run_storm,
    )

    validate("storm", p)
    target = target_of(p)
    opts = _experiment_options(p, target)
    if p["concurrency"] > MAX_REMOTE_CONCURRENCY and not is_loopback(target.url) \
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


# --- resume ---------------------------------------------------------------------------------------
def plan_resume(p: dict[str, Any]) -> Plan:
    from sse_doctor.experiments.resume import ResumeSettings, run_resume

    validate("resume", p)
    target = target_of(p)
    if target.protocol != "sse":
        raise UsageError("resume is for SSE streams (Last-Event-ID); WebSocket has no "
                         "standard resume")
    opts = ExperimentOptions(duration=p["duration"], grace=0.0)
    r = ResumeSettings(after_events=p["after_events"])
    budget = 2 * (opts.duration + 2 * target.timeout + 2) + 10
    return _experiment_plan("resume", target, opts, r, run_resume, resume_result, budget)


# --- checkup ------------------------------------------------------------------------------------
# Findings of the probe that leave nothing for the experiments to try.
NOT_SERVED = {"target-unreachable", "http-error", "not-event-stream", "ws-handshake-failed"}


def plan_checkup(p: dict[str, Any]) -> Plan:
    from sse_doctor.experiments.disconnect import (
        DisconnectSettings,
        run_disconnect,
    )
    from sse_doctor.experiments.duplicates import (
        DuplicateSettings,
        run_duplicates,
    )
    from sse_doctor.experiments.resume import ResumeSettings, run_resume
    from sse_doctor.experiments.storm import StormSettings, run_storm
    from sse_doctor.options import COMMANDS

    validate("checkup", p)
    # The probe runs with its defaults for everything checkup does not take.
    probe_values = {**COMMANDS["probe"].defaults(), **p}
    target, probe_opts, ws_opts = plan_probe(probe_values)
    opts = _experiment_options(p, target)
    if p["concurrency"] > 1000 or p["cycles"] > 10_000:
        raise UsageError("checkup allows at most 1000 concurrent and 10000 storm cycles; "
                         "use the storm command for more")
    hold = min(opts.duration, 5.0)
    exp_opts = ExperimentOptions(duration=hold, grace=opts.grace, watches=opts.watches,
                                 ws=opts.ws)
    runs = _Runs(target, exp_opts)
    runs.probe_plan = (target, probe_opts, ws_opts)

    async def run(name: str) -> list[Result]:
        # The probe runs in a live session, so an interrupted checkup still reports the
        # stream it was watching (runs.partial salvages it).
        runs.probe_session = feed.Feed()
        feed.start(runs.probe_session)
        try:
            probe = await run_probe(target, probe_opts, ws_opts, name="probe")
        finally:
            feed.start(None)
        runs.probe_session = None
        runs.done.append(probe)
        if {f.code for f in probe.findings} & NOT_SERVED:
            return list(runs.done)
        obs = probe.observation
        saw_items = (obs.n_events if target.protocol == "sse" else obs.n_messages_in) > 0
        d = DisconnectSettings(after_events=2 if saw_items else None,
                               after=None if saw_items else 1.0, mode="rst", repeat=1)
        await runs.run("disconnect", d, run_disconnect, disconnect_result, "disconnect")
        await runs.run("duplicates", DuplicateSettings(3, p["policy"]), run_duplicates,
                       duplicates_result, "duplicates")
        await runs.run("storm", StormSettings(p["cycles"], min(p["concurrency"], p["cycles"])),
                       run_storm, storm_result, "storm")
        if target.protocol == "sse" and any(e.id for e in obs.events):
            await runs.run("resume", ResumeSettings(3), run_resume, resume_result, "resume")
        return list(runs.done)

    budget = probe_opts.duration + 4 * (hold + 2 * target.timeout + 2 * opts.grace + 10) \
        + p["cycles"] / max(1, p["concurrency"]) * (2 * target.timeout + 2)
    return Plan("checkup", target, budget, run, partial=runs.partial,
                on_progress=runs.set_progress, multi=True)
