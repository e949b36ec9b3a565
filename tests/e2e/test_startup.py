"""The package's start-up, seen from a fresh interpreter: a command line's options convert
without importing pydantic."""

from __future__ import annotations

import subprocess
import sys


def test_options_convert_without_pydantic() -> None:
    """Every declared option converts by its declared type (commandline._convert_one), so a
    run never imports pydantic for Typer's coercion (a tenth of a second of start-up)."""
    code = ("import sys\n"
            "from sse_doctor.commandline import parse_args\n"
            "v = parse_args('probe', ['http://x/', '--duration', '2.5', '--max-events', '3',"
            " '--fail-on', 'WARNING', '-H', 'A: b', '-H', 'C: d', '--insecure'])\n"
            "assert v['duration'] == 2.5 and v['max_events'] == 3, v\n"
            "assert v['fail_on'] == 'warning' and v['header'] == ['A: b', 'C: d'], v\n"
            "assert v['insecure'] is True and v['timeout'] is not None, v\n"
            "print('pydantic' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
