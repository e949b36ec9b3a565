"""`sse-doctor lab` (serve the misbehaving servers) and `sse-doctor demo` (diagnose them)."""

from __future__ import annotations

import shlex
from typing import Any

from rich.console import Console

from sse_doctor.cli.app import app
from sse_doctor.cli.output import check_outputs, emit_values
from sse_doctor.commandline import command
from sse_doctor.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from sse_doctor.options import validate
from sse_doctor.redact import Redactor


@command(app, "lab")
def lab(values: dict[str, Any]) -> int:
    from rich.table import Table

    from sse_doctor.lab import SCENARIOS, LabServer

    validate("lab", values)
    port = values["port"]
    try:
        server = LabServer(port=port).start()
    except (OSError, RuntimeError) as exc:
        raise UsageError(f"cannot serve the lab on port {port}: {exc}") from None
    console = Console(highlight=False)
    table = Table(
        title=f"sse-doctor lab on {server.base_url}  (Ctrl-C to stop)", title_justify="left"
    )
    table.add_column("url")
    table.add_column("models")
    table.add_column("expected diagnosis")
    for s in SCENARIOS:
        base = (
            server.base_url.replace("http://", "ws://") if s.protocol == "ws" else server.base_url
        )
        args = (" " + shlex.join(s.probe_args)) if s.probe_args else ""
        table.add_row(base + s.path + args, s.models, ", ".join(sorted(s.expect)) or "healthy")
    console.print(table)
    from sse_doctor.lab.browser_routes import PAGES

    pages = Table(title="Pages for a browser: open one, save a HAR (DevTools > Network), "
                        "then run sse-doctor har FILE", title_justify="left")
    pages.add_column("url")
    pages.add_column("models")
    pages.add_column("sse-doctor har finds")
    for page in PAGES:
        pages.add_row(server.base_url + page.path, page.models,
                      ", ".join(page.expect) or "healthy")
    console.print(pages)
    try:
        server.serve_forever()
    finally:
        server.stop()
    return EXIT_OK


@command(app, "demo")
def demo(values: dict[str, Any]) -> int:
    from sse_doctor.demo import run_demo

    check_outputs(values)
    json_out = values["json_out"]
    report, all_match = run_demo(show_progress=not values["quiet"] and json_out != "-")
    emit_values(report, Redactor(), {**values, "fail_on": "never"})
    if json_out != "-":
        console = Console(highlight=False)
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
