"""The Typer command line: a thin shell. Each command takes its option values (declared in
sse_doctor.options), builds a plan (sse_doctor.plan), runs it, renders the report and returns
the exit code. No protocol or planning logic lives here."""

from __future__ import annotations

import typer

from sse_doctor.cli import experiments, har, lab, load, probe, proxy, suite  # noqa: F401
from sse_doctor.cli.app import app
from sse_doctor.cli.output import err
from sse_doctor.commandline import click
from sse_doctor.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError

# click >= 8.2 raises this after printing the help for a bare `sse-doctor`.
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def main(argv: list[str] | None = None) -> int:
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=argv, prog_name="sse-doctor", standalone_mode=False)
    except _NO_ARGS_IS_HELP as exc:
        # Typer already printed the help text.
        return EXIT_USAGE if exc.exit_code is None else exc.exit_code
    except click.exceptions.UsageError as exc:
        err(exc.format_message().replace("\n", " "))
        return EXIT_USAGE
    except UsageError as exc:
        err(str(exc))
        return EXIT_USAGE
    except (KeyboardInterrupt, typer.Abort):
        err("interrupted")
        return EXIT_INTERRUPTED
    except typer.Exit as exc:
        return exc.exit_code
    if isinstance(rv, int):
        return rv
    return EXIT_OK


__all__ = ["app", "main"]
