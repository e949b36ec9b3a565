"""The Typer command line: a thin shell. Each command takes its option values (declared in
sse_doctor.options), builds a plan (sse_doctor.plan), runs it, renders the report and returns
the exit code. No protocol or planning logic lives here."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

import typer

from sse_doctor.cli.app import app
from sse_doctor.commandline import click, command
from sse_doctor.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError
from sse_doctor.options import COMMANDS

# Which function runs each command: "module:function", or "module:function(name)" for one
# function serving several commands. A command's module (and what it imports: the report
# renderers, the load engine, the lab) is imported only when that command runs, so
# `sse-doctor probe` does not pay for the proxy, the lab or the load engine at start-up.
BODIES = {
    "probe": "probe:probe",
    "lab": "lab:lab",
    "demo": "lab:demo",
    "load": "load:load_command",
    "proxy": "proxy:proxy_command",
    "har": "har:har_command",
    "exporter": "exporter:exporter_command",
    "run": "suite:run_command",
    "init": "suite:init",
    **{name: "experiments:execute_command(name)"
       for name in ("disconnect", "duplicates", "storm", "resume", "checkup")},
}


def body(name: str) -> Callable[[dict[str, Any]], int]:
    """The function that runs command `name`, its module imported now."""
    where, _, function = BODIES[name].partition(":")
    module = importlib.import_module(f"sse_doctor.cli.{where}")
    if function.endswith("(name)"):
        return functools.partial(getattr(module, function.removesuffix("(name)")), name)
    return getattr(module, function)


for _name in COMMANDS:
    command(app, _name)(lambda values, _name=_name: body(_name)(values))


def err(message: str) -> None:
    from sse_doctor.cli.output import err as write_err  # rich and the renderers: error paths only

    write_err(message)

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
    except BrokenPipeError:
        # stdout's reader went away (`| head`): every report file is written by then; the
        # rest of the output has nobody to read it. End quietly, as --follow does.
        from sse_doctor.cli.live_view import discard_stdout

        discard_stdout()
        return EXIT_OK
    if isinstance(rv, int):
        return rv
    return EXIT_OK


__all__ = ["app", "main"]
