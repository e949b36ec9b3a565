"""Units and wording (issue 21): one unit family per sentence, rates rounded as people read
them, a short stream's timeline labelled in ms, and a report piped into `head` ending
quietly with exit 0."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sse_doctor.model import ProbeOptions
from sse_doctor.report.terminal import timeline
from sse_doctor.sse.replay import replay
from sse_doctor.units import rate_text, same_unit
from tests.support.recordings import SSE_HEADERS, ev, make


@pytest.mark.parametrize(("values", "shown"), [
    ((2.0, 44.0), ("2 ms", "44 ms")),
    ((40_000.0, 3_500.0, 43_500.0), ("40.0 s", "3.5 s", "43.5 s")),
    ((1_000.0, 2.0), ("1.0 s", "0.0 s")),
])
def test_durations_in_one_sentence_share_a_unit(values: tuple, shown: tuple) -> None:
    assert same_unit(*values) == shown


@pytest.mark.parametrize(("per_s", "shown"), [
    (152.48, "152/s"), (15.248, "15.2/s"), (1.5248, "1.52/s"), (0.05, "0.05/s"),
])
def test_rates_are_rounded(per_s: float, shown: str) -> None:
    assert rate_text(per_s) == shown


def test_a_44_ms_stream_timeline_is_labelled_in_ms() -> None:
    opts = ProbeOptions(duration=10)
    obs = replay(make([(5.0, ev(1)), (30.0, ev(2))], end=44.0, by="server",
                      headers=SSE_HEADERS), opts)
    text = timeline(obs)
    assert text is not None
    first_line = text.plain.splitlines()[0]
    assert first_line.startswith("0 |") and first_line.endswith("| 44 ms")
    assert "0.0 s" not in text.plain


@pytest.mark.parametrize("args", [
    ("probe", "/sse/steady?interval=0.001", "--duration", "1.5", "-v"),
    ("disconnect", "/sse/steady", "--duration", "2"),
])
def test_a_report_piped_into_head_ends_quietly(lab, args: tuple) -> None:  # noqa: ANN001
    command, path, *rest = args
    proc = subprocess.Popen([sys.executable, "-m", "sse_doctor", command, lab.url(path), *rest],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()  # as `| head -1` does: one line, then gone
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0 and err == b""
