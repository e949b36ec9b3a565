"""Re-record fixtures/recordings/*.json from the lab (run by hand when a scenario changes):

    python -m tests.support.make_recordings

Each recording is the raw material of one lab stream (head, timed chunks, end) with the demo's
window; tests/unit/test_checks.py replays them through the checks without a network.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import sys

from sse_doctor.lab import DEMO_ARGS, SCENARIOS, LabServer
from sse_doctor.plan.probe import plan_probe, probe_values
from sse_doctor.sse.observe import window_for
from sse_doctor.sse.replay import record

OUT = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "recordings"


async def main(names: set[str]) -> None:
    with LabServer() as lab:
        jobs = []
        for s in SCENARIOS:
            if s.protocol != "sse" or not s.in_demo or (names and s.name not in names):
                continue
            if s.name.startswith("llm-"):  # tests/support/make_llm_fixtures.py records those
                continue
            target, opts, _ = plan_probe(probe_values([lab.url(s.path), *DEMO_ARGS,
                                                       *s.probe_args]))
            jobs.append((s, record(target, window_for(opts), limit=256 * 1024)))
        recs = await asyncio.gather(*(j for _, j in jobs))
    OUT.mkdir(parents=True, exist_ok=True)
    for (s, _), rec in zip(jobs, recs):
        rec["url"] = "http://lab.invalid" + s.path
        rec["probe_args"] = [*DEMO_ARGS, *s.probe_args]
        rec["expect"] = sorted(s.expect)
        (OUT / f"{s.name}.json").write_text(json.dumps(rec, indent=1) + "\n")
        print(f"wrote {s.name}.json ({len(rec['chunks'])} chunks)")


if __name__ == "__main__":
    asyncio.run(main(set(sys.argv[1:])))
