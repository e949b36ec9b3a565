"""`load`: option values in, the fleet's target and settings out (no Typer here)."""

from __future__ import annotations

import os
from typing import Any

from sse_doctor.errors import UsageError
from sse_doctor.options import validate
from sse_doctor.plan.base import target_of
from sse_doctor.target import Target, is_loopback, read_text_arg

MAX_REMOTE_STREAMS = 1000
MAX_REMOTE_RPS = 20.0  # load --profile llm: completions started per second to a remote host
MAX_SWEEP_LEVELS = 20
# options of the llm form alone: the stream form refuses them rather than ignore them
LLM_ONLY = {"concurrency": "--concurrency", "rate": "--rate", "requests": "--requests",
            "sweep": "--sweep", "slo": "--slo", "watch_metric": "--watch-metric",
            "watch_json": "--watch-json", "watch_port": "--watch-port"}
STREAM_ONLY = {"workers": "--workers", "reconnect": "--reconnect", "lag_from": "--lag-from",
               "send": "--send", "ping_interval": "--ping-interval"}


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
        raise UsageError(f"--profile {p['profile']} has no load form yet: use auto, none or llm")
    for key, flag in LLM_ONLY.items():
        if p.get(key):
            raise UsageError(f"{flag} is for completions under load: add --profile llm")
    if p.get("cancel_rate"):
        raise UsageError("--cancel-rate is for completions under load: add --profile llm")
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


def _sweep(text: str) -> list[float]:
    try:
        levels = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--sweep takes concurrency levels like 1,2,4,8, not {text!r}") from None
    if not levels or any(n < 1 or n > 10_000 for n in levels):
        raise UsageError("--sweep levels must be between 1 and 10000")
    if any(b <= a for a, b in zip(levels, levels[1:])):
        raise UsageError("--sweep levels must grow: 1,2,4,8")
    if len(levels) > MAX_SWEEP_LEVELS:
        raise UsageError(f"--sweep takes at most {MAX_SWEEP_LEVELS} levels")
    return [float(n) for n in levels]


def plan_llm_load(p: dict[str, Any]) -> tuple[Any, Target, bool]:
    """`load --profile llm`: option values -> (LlmLoadSettings, Target, remote); UsageError
    on bad values or combinations."""
    from sse_doctor.load.llm.aggregate import parse_slo
    from sse_doctor.load.llm.observation import MAX_INFLIGHT, LlmLoadSettings
    from sse_doctor.watchers import WatchError, parse_watches

    validate("load", p)
    for key, flag in STREAM_ONLY.items():
        if p.get(key):
            raise UsageError(f"{flag} is for streams; --profile llm sends completions")
    target = target_of(p)
    if target.protocol != "sse":
        raise UsageError("--profile llm loads http(s):// completion endpoints, not WebSocket")
    remote = not is_loopback(target.url)
    if remote and not p["i_know_what_i_am_doing"]:
        raise UsageError(
            f"refusing to load {target.display_url()}: it is not this machine; add "
            "--i-know-what-i-am-doing if you own the server (completions are then started "
            f"at most {MAX_REMOTE_RPS:g} a second)")
    try:
        slo = parse_slo(p["slo"])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if p["rate"] is not None:
        if p["sweep"]:
            raise UsageError("--sweep runs concurrency levels (closed loop): drop --rate, or "
                             "run one --rate per command")
        if remote and p["rate"] > MAX_REMOTE_RPS:
            raise UsageError(f"--rate {p['rate']:g} to a remote host: at most "
                             f"{MAX_REMOTE_RPS:g} completions a second")
        mode, levels = "rate", [float(p["rate"])]
        inflight = p["concurrency"] or MAX_INFLIGHT
    else:
        mode = "concurrency"
        levels = _sweep(p["sweep"]) if p["sweep"] else [float(p["concurrency"] or 1)]
        if p["concurrency"] and p["sweep"]:
            raise UsageError("give either --concurrency N or --sweep N,N,..., not both")
        inflight = int(max(levels))
    if p["cancel_rate"] and p["cancel_after"] >= p["request_timeout"]:
        raise UsageError("--cancel-after must be shorter than --request-timeout")
    if p["duration"] <= 0:
        raise UsageError("--duration must be greater than 0 with --profile llm (seconds per "
                         "level)")
    try:
        watches = parse_watches(p.get("watch_metric"), p.get("watch_json"), p.get("watch_port"))
    except WatchError as exc:
        raise UsageError(str(exc)) from None
    settings = LlmLoadSettings(
        mode=mode, levels=levels, requests=p["requests"], duration=p["duration"],
        arrival=p["arrival"], max_inflight=inflight, ramp=p["ramp"], slo=slo,
        idle_limit=p["idle_limit"], request_timeout=p["request_timeout"],
        cancel_rate=p["cancel_rate"] or 0.0, cancel_after=p["cancel_after"],
        grace=p["grace"], watches=watches,
        remote_rps=MAX_REMOTE_RPS if remote else None)
    return settings, target, remote
