"""`probe`: option values in, one observed connection planned."""

from __future__ import annotations

import math
from typing import Any

from sse_doctor.errors import UsageError
from sse_doctor.model import ProbeOptions, Result
from sse_doctor.options import validate
from sse_doctor.plan.base import Plan, target_of
from sse_doctor.target import Target

DEFAULT_WINDOW_S = 30.0


def window(values: dict[str, Any]) -> float:
    """--duration, or 30 s; with --follow and no --duration, no limit (Ctrl-C ends it)."""
    if values.get("duration") is not None:
        return float(values["duration"])
    return math.inf if values.get("follow") else DEFAULT_WINDOW_S


def plan_probe(values: dict[str, Any]) -> tuple[Target, ProbeOptions, Any]:
    """Validate probe option values into (target, options, WebSocket options or None)."""
    validate("probe", values)
    if values.get("follow") and values.get("quiet"):
        raise UsageError("--follow prints every item as it arrives; it cannot be combined "
                         "with -q/--quiet")
    target = target_of(values)
    opts = ProbeOptions(
        duration=window(values),
        idle_limit=values["idle_limit"],
        max_events=values["max_events"],
        expect_events=tuple(values["expect_event"] or ()),
        expect_close=values["expect_close"],
        keep=values["keep"],
    )
    ws_opts = None
    if target.protocol == "ws":
        from sse_doctor.ws.options import WsOptions

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
                    name: str = "probe") -> Result:
    """Observe the stream (or let the chosen profile drive its conversation), then conclude."""
    choice = opts.profile
    if choice is not None and choice.profile is not None:
        from sse_doctor.profiles import ProfileContext

        return await choice.profile.run(ProfileContext(target, opts, ws_opts, choice.popts,
                                                       name, choice.detected))
    if target.protocol == "ws":
        from sse_doctor.conclude.probe import ws_result
        from sse_doctor.ws.client import observe_ws

        obs = await observe_ws(target, ws_opts)
        return ws_result(target, ws_opts, obs, name, hints=choice is not None)
    from sse_doctor.conclude.probe import sse_result
    from sse_doctor.sse.observe import observe_sse

    tap = choice.tap(target) if choice is not None else None
    obs = await observe_sse(target, opts, tap=tap)
    return sse_result(target, opts, obs, tap, name)


def plan(values: dict[str, Any]) -> Plan:
    """The probe as a plan: it watches its stream in a live session, so a stop (Ctrl-C)
    ends the stream early and the report is made from what it saw."""
    from sse_doctor import feed
    from sse_doctor.conclude.interrupted import interrupted_result
    from sse_doctor.conclude.probe import salvage
    from sse_doctor.sse.observe import window_for

    target, opts, ws_opts = plan_probe(values)
    session = feed.Feed()
    names: list[str] = []

    async def run(name: str) -> list[Result]:
        names.append(name)
        return [await run_probe(target, opts, ws_opts, name=name)]

    def partial(reason: str) -> list[Result]:
        # cancelled before its connection ended: the stream as far as it got
        return [salvage(session, target, opts, ws_opts, reason,
                        name=names[-1] if names else "probe")]

    def interrupted(results: list[Result]) -> list[Result]:
        return [interrupted_result(r) for r in results]

    # A profile that drives a conversation (MCP: several requests) may need more timeouts.
    choice = opts.profile
    timeouts = max(2, choice.profile.timeouts) if choice is not None and choice.profile \
        else 2
    return Plan("probe", target, window_for(opts) + timeouts * target.timeout + 2.0, run,
                partial=partial, session=session, interrupted=interrupted,
                options=(opts, ws_opts))


def probe_values(argv: list[str]) -> dict[str, Any]:
    """Probe option values from an argument list (tests, recordings)."""
    from sse_doctor.commandline import parse_args

    return parse_args("probe", argv)
