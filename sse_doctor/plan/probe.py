"""`probe`: option values in, one observed connection planned."""

from __future__ import annotations

from typing import Any

from sse_doctor.model import ProbeOptions, ScenarioResult
from sse_doctor.options import validate
from sse_doctor.plan.base import Plan, target_of
from sse_doctor.target import Target


def plan_probe(values: dict[str, Any]) -> tuple[Target, ProbeOptions, Any]:
    """Validate probe option values into (target, options, WebSocket options or None)."""
    validate("probe", values)
    target = target_of(values)
    opts = ProbeOptions(
        duration=values["duration"],
        idle_limit=values["idle_limit"],
        max_events=values["max_events"],
        expect_events=tuple(values["expect_event"] or ()),
        expect_close=values["expect_close"],
        keep=values["keep"],
    )
    ws_opts = None
    if target.protocol == "ws":
        from sse_doctor.ws.probe import WsOptions

        ws_opts = WsOptions.from_cli(
            opts,
            send=values["send"] or [],
            expect_message=values["expect_message"] or [],
            ping_interval=values["ping_interval"],
            subprotocols=values["subprotocol"] or [],
            origin=values["origin"],
            max_message_size=values["max_message_size"],
        )
    from sse_doctor.profiles import resolve

    opts.profile = resolve(values.get("profile"), target.protocol, target.url, values)
    if opts.profile.profile is not None:  # credentials inside a profile's options
        for secret in opts.profile.profile.secrets(opts.profile.popts):
            target.redactor.add_secret(secret)
    return target, opts, ws_opts


async def run_probe(target: Target, opts: ProbeOptions, ws_opts: Any = None,
                    name: str = "probe") -> ScenarioResult:
    choice = opts.profile
    if choice is not None and choice.profile is not None:
        from sse_doctor.profiles import ProfileContext

        return await choice.profile.run(ProfileContext(target, opts, ws_opts, choice.popts,
                                                       name, choice.detected))
    if target.protocol == "ws":
        from sse_doctor.scenarios.probe import add_hints
        from sse_doctor.ws.probe import probe_ws

        result = await probe_ws(target, ws_opts, name=name)
        if choice is not None:
            add_hints(result)
        return result
    from sse_doctor.scenarios.probe import probe_sse

    return await probe_sse(target, opts, name=name)


def plan(values: dict[str, Any]) -> Plan:
    target, opts, ws_opts = plan_probe(values)

    async def run(name: str) -> list[ScenarioResult]:
        return [await run_probe(target, opts, ws_opts, name=name)]

    from sse_doctor.scenarios.observe import window_for

    return Plan("probe", target, window_for(opts) + 2 * target.timeout + 2.0, run)


def probe_values(argv: list[str]) -> dict[str, Any]:
    """Probe option values from an argument list (tests, recordings)."""
    from sse_doctor.commandline import parse_args

    return parse_args("probe", argv)
