"""How a probe concludes: an observed (or replayed) SSE stream or WebSocket, with the checks
that apply, becomes the probe's result.

With --profile auto the stream's first items were offered to the profiles that recognise
their protocol from data (profiles.base.AutoTap); when one did, its checks join the generic
ones. Otherwise the plain probe says which --profile the stream's signs point to
(profile-hint)."""

from __future__ import annotations

import time
from typing import Any

from sse_doctor.checks.selection import run_sse_checks
from sse_doctor.checks.ws_checks import run_ws_checks
from sse_doctor.model import Close, ProbeOptions, Result, SseObservation
from sse_doctor.profiles.base import AutoTap
from sse_doctor.target import Target
from sse_doctor.ws.observation import WsObservation
from sse_doctor.ws.options import WsOptions


def sse_result(target: Target, opts: ProbeOptions, obs: SseObservation,
               tap: AutoTap | None = None, name: str = "probe") -> Result:
    """The checks on an observed SSE stream: the recognised profile's on top of the generic
    ones, else the generic ones and profile-hint."""
    choice = opts.profile
    if tap is not None and tap.chosen is not None:
        from sse_doctor.profiles.base import finish

        profile, popts, _ = tap.chosen
        return finish(profile, name, target, opts, popts, obs, tap.result(obs))
    findings, checks_run = run_sse_checks(obs, opts)
    result = Result(name=name, protocol="sse", url=target.url, findings=findings,
                    checks_run=checks_run, observation=obs, options=opts)
    if choice is not None:
        add_hints(result)
    return result


def ws_result(target: Target, opts: WsOptions, obs: WsObservation, name: str = "probe",
              hints: bool = False) -> Result:
    """The WebSocket checks on an observed connection (and profile-hint when asked)."""
    findings, checks_run = run_ws_checks(obs, opts)
    result = Result(name=name, protocol="ws", url=target.url, findings=findings,
                    checks_run=checks_run, observation=obs, options=opts)
    if hints:
        add_hints(result)
    return result


def add_hints(result: Result) -> None:
    """profile-hint on a probe no profile read (not for an unreachable target)."""
    from sse_doctor.profiles.hints import profile_hints

    obs = result.observation
    if obs is None or getattr(obs, "unreachable", None):
        return
    result.findings += profile_hints(obs, result.url, result.protocol)
    result.checks_run.append("profile-hint")


def salvage(session: Any, target: Target, opts: ProbeOptions, ws_opts: Any,
            reason: str, name: str = "probe") -> Result:
    """The result of a probe cancelled before its connection ended (a feed.Feed saw it
    start): the observation as far as it got, closed now, with every check run on it."""
    obs = session.observations[-1] if session.observations else None
    if obs is None:
        return Result(name=name, protocol=target.protocol, url=target.url,
                      findings=[], checks_run=[], options=opts)
    start = session.started.get(id(obs), time.perf_counter())
    obs.end_ms = max(obs.end_ms, (time.perf_counter() - start) * 1000)
    if obs.close is None:
        obs.close = Close("client", obs.end_ms, None, reason)
    if isinstance(obs, SseObservation):
        findings, checks_run = run_sse_checks(obs, opts)
        return Result(name=name, protocol="sse", url=target.url, findings=findings,
                      checks_run=checks_run, observation=obs, options=opts)
    return ws_result(target, ws_opts, obs, name)
