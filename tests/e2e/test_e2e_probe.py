"""End to end: the real CLI in a subprocess against the lab on 127.0.0.1, one probe per lab
scenario (started together so the whole module takes one window, not twenty)."""

from __future__ import annotations

import json
import subprocess

import pytest

from sse_doctor.lab import DEMO_ARGS, SCENARIOS, LabScenario
from tests.support import start_cli_together

# The plain SSE scenarios: the protocol profiles' routes have their own tests
# (test_llm_e2e.py, test_mcp_lab.py, test_protocol_lab.py) and the demo.
SSE_SCENARIOS = [s for s in SCENARIOS if s.protocol == "sse" and s.in_demo
                 and not s.name.startswith("llm-") and "--profile" not in s.probe_args]


@pytest.fixture(scope="module")
def probes(lab) -> dict[str, subprocess.Popen[str]]:
    # Warm first, then all at once: no process start-up inside another probe's window.
    return start_cli_together({s.name: ("probe", lab.url(s.path), *DEMO_ARGS, *s.probe_args,
                                        "--json", "-") for s in SSE_SCENARIOS})


@pytest.mark.parametrize("scenario", SSE_SCENARIOS, ids=lambda s: s.name)
def test_probe_finds_exactly_the_scenario_diagnosis(probes, scenario: LabScenario) -> None:
    out, err = probes[scenario.name].communicate(timeout=60)
    report = json.loads(out)
    codes = {f["code"] for f in report["findings"]}
    assert codes == set(scenario.expect), err
    severities = {f["severity"] for f in report["findings"]}
    expected_exit = 1 if "error" in severities else 0
    assert probes[scenario.name].returncode == expected_exit
    assert "Traceback" not in err
