"""`sse-doctor lab` (serve the misbehaving servers) and `sse-doctor demo` (diagnose them)."""

from __future__ import annotations

from typing import Any

from sse_doctor.cli.output import StdoutConsole, check_outputs, emit_values
from sse_doctor.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from sse_doctor.options import validate
from sse_doctor.redact import Redactor


def lab(values: dict[str, Any]) -> int:
    from sse_doctor.lab import LabServer
    from sse_doctor.lab.listing import lab_listing

    validate("lab", values)
    port = values["port"]
    try:
        server = LabServer(port=port).start()
    except (OSError, RuntimeError) as exc:
        raise UsageError(f"cannot serve the lab on port {port}: {exc}") from None
    StdoutConsole(highlight=False).print(lab_listing(server.base_url))
    try:
        server.serve_forever()
    finally:
        server.stop()
    return EXIT_OK


def demo(values: dict[str, Any]) -> int:
    from sse_doctor.demo import run_demo

    check_outputs(values)
    json_out = values["json_out"]
    report, all_match, stop = run_demo(show_progress=not values["quiet"] and json_out != "-")
    emit_values(report, Redactor(), {**values, "fail_on": "never"})
    if stop.interrupted:
        from sse_doctor import interrupt

        interrupt.say_interrupted(stop)
        return stop.exit_code
    if json_out != "-":
        console = StdoutConsole(highlight=False)
        n = len(report.results)
        bad = [r.name for r in report.results if not r.matches_expected]
        if all_match:
            console.print(f"[bold green]All {n} scenarios got exactly their expected diagnosis.[/]")
        else:
            console.print(
                f"[bold red]{len(bad)} of {n} scenarios did not get their expected "
                f"diagnosis: {', '.join(bad)}[/]"
            )
    return EXIT_OK if all_match else EXIT_FINDINGS
