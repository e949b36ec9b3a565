"""Re-record fixtures/llm/*.json from the lab's LLM routes (run by hand when one changes):

    python -m tests.support.make_llm_fixtures [NAME...]

The same recordings as tests/support/make_recordings.py (head, timed chunks, end), with the request
body; tests/unit/test_llm_profile.py replays them through the llm profile without a network.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import sys

from sse_doctor.lab import DEMO_ARGS, LabServer
from sse_doctor.lab.scenarios import LLM_SCENARIOS
from sse_doctor.plan.probe import plan_probe, probe_values
from sse_doctor.sse.observe import window_for
from sse_doctor.sse.replay import record

OUT = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "llm"


async def main(names: set[str]) -> None:
    with LabServer() as lab:
        jobs = []
        for s in LLM_SCENARIOS:
            if names and s.name not in names:
                continue
            target, opts, _ = plan_probe(probe_values([lab.url(s.path), *DEMO_ARGS,
                                                       *s.probe_args]))
            jobs.append((s, target, record(target, window_for(opts), limit=256 * 1024)))
        recs = await asyncio.gather(*(j for _, _, j in jobs))
    OUT.mkdir(parents=True, exist_ok=True)
    for (s, target, _), rec in zip(jobs, recs):
        rec["url"] = "http://lab.invalid" + s.path
        rec["method"] = "POST"
        rec["body"] = (target.body or b"").decode()
        rec["probe_args"] = [*DEMO_ARGS, *s.probe_args]
        rec["expect"] = sorted(s.expect)
        (OUT / f"{s.name}.json").write_text(json.dumps(rec, indent=1) + "\n")
        print(f"wrote {s.name}.json ({len(rec['chunks'])} chunks)")


if __name__ == "__main__":
    asyncio.run(main(set(sys.argv[1:])))
