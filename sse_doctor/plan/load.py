"""`load`: option values in, the fleet's target and settings out (no Typer here)."""

from __future__ import annotations

import os
from typing import Any

from sse_doctor.errors import UsageError
from sse_doctor.options import validate
from sse_doctor.plan.base import target_of
from sse_doctor.target import Target, is_loopback, read_text_arg

MAX_REMOTE_STREAMS = 1000


def plan_load(p: dict[str, Any]) -> tuple[Any, Any, Target]:
    """Option values -> (LoadTarget, LoadSettings, Target); UsageError on bad values."""
    from sse_doctor.load.fleet import default_workers
    from sse_doctor.load.observation import LoadSettings
    from sse_doctor.load.streams import LagSpec, LoadTarget

    validate("load", p)
    if p["http2"]:
        raise UsageError("load speaks HTTP/1.1 (one stream per connection); HTTP/2 multiplexing "
                         "is out of scope here: drop --http2 (probe --http2 checks one stream)")
    if p["profile"] not in ("auto", "none"):
        raise UsageError(f"--profile {p['profile']} has no load form yet: use auto or none")
    target = target_of(p)
    loopback = is_loopback(target.url)
    if p["streams"] > MAX_REMOTE_STREAMS and not loopback and not p["i_know_what_i_am_doing"]:
        raise UsageError(
            f"refusing {p['streams']} streams to {target.display_url()}: more than "
            f"{MAX_REMOTE_STREAMS} against a host that is not this machine looks like a "
            "denial-of-service attack; add --i-know-what-i-am-doing if you own the server")
    if target.protocol != "ws" and (p["send"] or p["ping_interval"]):
        raise UsageError("--send and --ping-interval are for WebSocket (ws://, wss://) URLs")
    try:
        lag = LagSpec.parse(p["lag_from"], loopback)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    send = tuple(read_text_arg(s, "--send") for s in p["send"] or ())
    lt = LoadTarget.from_target(target, send=send, ping_interval=p["ping_interval"],
                                idle_limit=p["idle_limit"])
    settings = LoadSettings(streams=p["streams"], ramp=p["ramp"], duration=p["duration"],
                            workers=p["workers"] or default_workers(),
                            reconnect=p["reconnect"], lag=lag, idle_limit=p["idle_limit"],
                            insecure=p["insecure"], cacert=p["cacert"],
                            # the stock loop even where uvloop is installed (tests, benches)
                            loop=os.environ.get("SSE_DOCTOR_LOAD_LOOP", "auto"))
    return lt, settings, target
