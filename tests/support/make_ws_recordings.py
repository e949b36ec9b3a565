"""Record WsObservations from the lab's WebSocket scenarios as JSON fixtures (run by hand when
a scenario changes):

    python tests/support/make_ws_recordings.py [fixtures/ws] [scenario ...]

Each fixture holds the probe arguments the demo uses, the expected codes and the observation
(handshake, every frame with its time, pings, close); tests/unit/test_ws_checks.py replays them
through the checks without a network.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import sys
from typing import Any

from sse_doctor.ws.observation import WsObservation

DEFAULT_DIR = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "ws"
LAB_URL = "ws://lab.invalid"
_VOLATILE_HEADERS = {"date", "sec-websocket-accept"}


def _rounded(x: Any) -> Any:
    if isinstance(x, float):
        return round(x, 3)
    if isinstance(x, list):
        return [_rounded(v) for v in x]
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    return x


def fixture(name: str, path: str, probe_args: list[str], expect: list[str],
            obs: WsObservation) -> dict[str, Any]:
    data = obs.to_dict()
    data["url"] = LAB_URL + path
    data["started_at"] = None
    data["headers"] = [[k, "" if k.lower() in _VOLATILE_HEADERS else v]
                       for k, v in data["headers"]]
    return {"name": name, "url": LAB_URL + path, "probe_args": probe_args, "expect": expect,
            "observation": _rounded(data)}


def load(path: pathlib.Path) -> tuple[dict[str, Any], WsObservation]:
    """A recorded fixture: its probe arguments and expected codes, and the observation."""
    raw = json.loads(path.read_text())
    return raw, WsObservation.from_dict(raw["observation"])


async def _record(out: pathlib.Path, names: set[str]) -> None:
    from sse_doctor.lab import DEMO_ARGS, SCENARIOS, LabServer
    from sse_doctor.plan.probe import plan_probe, probe_values
    from sse_doctor.ws.client import observe_ws

    with LabServer() as lab:
        base = lab.base_url.replace("http://", "ws://", 1)
        jobs = []
        for s in SCENARIOS:
            if s.protocol != "ws" or not s.in_demo or (names and s.name not in names):
                continue
            args = [*DEMO_ARGS, *s.probe_args]
            target, _, ws_opts = plan_probe(probe_values([base + s.path, *args]))
            jobs.append((s, args, observe_ws(target, ws_opts)))
        observations = await asyncio.gather(*(job for _, _, job in jobs))
    out.mkdir(parents=True, exist_ok=True)
    for (s, args, _), obs in zip(jobs, observations):
        data = fixture(s.name, s.path, args, sorted(s.expect), obs)
        (out / f"{s.name}.json").write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {s.name}.json ({len(obs.frames)} frames)")


def main(argv: list[str]) -> None:
    out = DEFAULT_DIR
    if argv and ("/" in argv[0] or argv[0].startswith(".")):
        out = pathlib.Path(argv.pop(0))
    asyncio.run(_record(out, set(argv)))


if __name__ == "__main__":
    main(sys.argv[1:])
