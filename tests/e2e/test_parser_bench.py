"""A smoke run of bench/parser_bench.py on a small stream: every path parses the generated
stream to the same events. No timing assertions."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sse_doctor.sse.parser import COMPILED

BENCH = Path(__file__).resolve().parents[2] / "bench" / "parser_bench.py"


def test_parser_bench_runs_every_path_and_they_agree() -> None:
    for crlf in ([], ["--crlf"]):
        proc = subprocess.run([sys.executable, str(BENCH), "--mb", "0.3", "--repeat", "1",
                               *crlf], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout
        assert "WARNING" not in out, out
        n_ours, n_theirs = map(int, re.search(r"SSEParser (\d+), httpx-sse (\d+)", out).groups())
        assert n_ours == n_theirs > 1000 and "identical (type, data, id): True" in out
        assert ("compiled block scanner" in out) == COMPILED
        for row in ("(a) SSEParser.feed", "(a') SSEParser.feed, pure Python",
                    "(b) httpx-sse", "(c) bare bytes.split", "ratio parser / bare split"):
            assert row in out, out
