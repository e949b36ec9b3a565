"""The probe scenario: observe one stream passively, then run the checks.

With --profile auto the stream's first items are offered to the profiles that recognise
their protocol from data (profiles.AutoTap); when one does, its checks join the generic ones.
Otherwise the plain probe says which --profile the stream's signs point to (profile-hint)."""

from __future__ import annotations

import httpx

from sse_doctor.checks.plan import run_sse_checks
from sse_doctor.model import ProbeOptions, ScenarioResult, SseObservation
from sse_doctor.profiles.base import AutoTap
from sse_doctor.scenarios.observe import observe_sse
from sse_doctor.target import Target


async def probe_sse(target: Target, opts: ProbeOptions, name: str = "probe",
                    client: httpx.AsyncClient | None = None) -> ScenarioResult:
    choice = opts.profile
    tap = choice.tap(target) if choice is not None else None
    obs = await observe_sse(target, opts, client=client, tap=tap)
    return conclude(target, opts, obs, tap, name)


def conclude(target: Target, opts: ProbeOptions, obs: SseObservation, tap: AutoTap | None,
             name: str = "probe") -> ScenarioResult:
    """The checks on an observed (or replayed) stream: the recognised profile's on top of
    the generic ones, else the generic ones and profile-hint."""
    choice = opts.profile
    if tap is not None and tap.chosen is not None:
        from sse_doctor.profiles import finish

        profile, popts, _ = tap.chosen
        return finish(profile, name, target, opts, popts, obs, tap.result(obs))
    findings, checks_run = run_sse_checks(obs, opts)
    result = ScenarioResult(name=name, protocol="sse", url=target.url, findings=findings,
                            checks_run=checks_run, observation=obs, options=opts)
    if choice is not None:
        add_hints(result)
    return result


def add_hints(result: ScenarioResult) -> None:
    """profile-hint on a probe no profile read (not for an unreachable target)."""
    from sse_doctor.profiles.hints import profile_hints

    obs = result.observation
    if obs is None or getattr(obs, "unreachable", None):
        return
    result.findings += profile_hints(obs, result.url, result.protocol)
    result.checks_run.append("profile-hint")
