"""The Typer application every command registers on, and its `--version`."""

from __future__ import annotations

from typing import Annotated

import typer

from sse_doctor.commandline import TyperGroup
from sse_doctor.version import __version__

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=TyperGroup,
    help="Diagnose Server-Sent Events and WebSocket endpoints.",
)


def _version(value: bool) -> None:
    if value:
        from sse_doctor.sse.parser import COMPILED

        path = "compiled" if COMPILED else "pure Python, no C compiler at install"
        print(f"sse-doctor {__version__} (SSE parser: {path})")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Diagnose Server-Sent Events and WebSocket endpoints."""
