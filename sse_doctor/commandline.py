"""The option table (sse_doctor.options) turned into Typer commands, and argument lists into
option values.

The CLI registers its commands through `command()`; the demo and the suite loader parse
argument lists with `parse_args()`, which builds the same click command from the same
declarations without importing the CLI. Typer reads a function's signature, so `command()`
gives each command body a generated signature: one parameter per declared option.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any

import typer
import typer.core

try:  # newer typer releases vendor their own click; its exceptions are the ones raised
    from typer import _click as click
except ImportError:  # pragma: no cover - typer that depends on click
    import click

from sse_doctor.options import COMMANDS, Command, Opt

__all__ = ["click", "ConversionError", "command", "click_command", "parse_args", "TyperCommand",
           "TyperGroup"]


@functools.cache
def _choice_enum(key: str, choices: tuple[str, ...]) -> type[Enum]:
    # Typer shows and checks choices from an Enum; the planners get the plain string back.
    return Enum(key, {c: c for c in choices}, type=str)  # type: ignore[return-value]


def _annotation(o: Opt) -> Any:
    base: Any = _choice_enum(o.key, o.choices) if o.choices else o.type
    if o.multiple:
        base = list[base] | None  # type: ignore[valid-type]
    elif o.default is None and base is not bool and not o.required:
        base = base | None
    metavar = o.metavar or ("|".join(o.choices) if o.choices else None)
    info = typer.Option(*o.flags, metavar=metavar, help=o.help, rich_help_panel=o.panel,
                        case_sensitive=not o.choices)
    return Annotated[base, info]


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def signature(spec: Command) -> inspect.Signature:
    params = [inspect.Parameter(a.key, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                annotation=Annotated[str, typer.Argument(metavar=a.metavar,
                                                                         help=a.help)])
              for a in spec.args]
    params += [inspect.Parameter(o.key, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                 default=inspect.Parameter.empty if o.required else o.default,
                                 annotation=_annotation(o))
               for o in spec.options]
    # Required options first: a parameter without a default may not follow one with it.
    params.sort(key=lambda p: p.default is not inspect.Parameter.empty)
    return inspect.Signature(params)


def command(app: typer.Typer, name: str) -> Callable[[Callable[[dict[str, Any]], int]],
                                                      Callable[..., int]]:
    """Register `body(values)` as the command `name`, its parameters from the option table."""
    spec = COMMANDS[name]

    def register(body: Callable[[dict[str, Any]], int]) -> Callable[..., int]:
        def run(**values: Any) -> int:
            return body({k: _plain(v) for k, v in values.items()})

        run.__signature__ = signature(spec)  # type: ignore[attr-defined]
        run.__name__ = name
        run.__doc__ = spec.help
        app.command(name=name, help=spec.help, rich_help_panel=spec.panel,
                    cls=TyperCommand)(run)
        return run

    return register


# --- values converted by the table's own types -------------------------------------------------
class ConversionError(click.exceptions.BadParameter):
    """A value that is not of its option's declared type. `bare` says what was expected
    without the value, for messages that show the value themselves (suite files)."""

    def __init__(self, bare: str, value: Any, **kwargs: Any) -> None:
        super().__init__(f"{value!r} is not {bare}", **kwargs)
        self.bare = f"expects {bare}"


def _convert_one(o: Opt, value: Any) -> Any:
    """One command-line string as the declared type (str, int, float or one of the choices).

    Typer converts values through a pydantic TypeAdapter built on the first parse, which
    imports pydantic: about a tenth of a second of every run's start-up. The table knows
    every option's type, and these four conversions are all it needs."""
    if o.choices:
        folded = str(value).lower()  # choices are case-insensitive, as before
        for choice in o.choices:
            if choice.lower() == folded:
                return choice
        raise ConversionError("one of " + ", ".join(o.choices), value)
    if o.type is bool or isinstance(value, o.type):
        return value
    if o.type is int:
        try:
            return int(str(value).strip(), 10)
        except ValueError:
            raise ConversionError("a whole number", value) from None
    if o.type is float:
        try:
            number = float(value)
        except ValueError:
            raise ConversionError("a number", value) from None
        if not math.isfinite(number):  # NaN passes every range check (all its comparisons
            raise ConversionError("a finite number", value)  # are false), and inf never ends
        return number
    return str(value)


class _Converter:
    """What Typer calls to coerce a parameter's value (the `coerce` of its runtime param)."""

    def __init__(self, o: Opt) -> None:
        self.o = o

    def coerce(self, value: Any, param: Any, ctx: click.Context) -> Any:
        multi = param.multiple or param.nargs == -1
        if value is None:
            return () if multi else None
        try:
            if multi:
                return [_convert_one(self.o, v) for v in value]
            return _convert_one(self.o, value)
        except ConversionError as exc:
            exc.ctx, exc.param = ctx, param
            raise


def _plain_conversion(name: str | None, params: list[Any]) -> None:
    """Give each declared parameter our converter instead of Typer's pydantic one. Only where
    this Typer keeps its converter in `_runtime_param` (0.2x); elsewhere Typer's stays."""
    spec = COMMANDS.get(name or "")
    declared = {o.key: o for o in spec.options} if spec else {}
    declared.update({a.key: Opt(a.key, ()) for a in spec.args} if spec else {})  # strings
    for p in params:
        o = declared.get(p.name)
        if o is None and getattr(p, "is_flag", False):  # --help, the app's own flags
            o = Opt(p.name, (), bool)
        if o is not None and hasattr(p, "_runtime_param") and hasattr(p, "get_runtime_param"):
            p._runtime_param = _Converter(o)


# --- help that reads like a well-made CLI ---------------------------------------------------
def _tidy(params: list[Any]) -> list[Any]:
    """Typer's help prints `<bool>` after every flag, `<str>` after arguments and `{URL}` in
    usage lines; a flag takes no value and an argument is shown bare by convention (git,
    curl, click)."""
    for p in params:
        if isinstance(p, typer.core.TyperOption) and p.is_flag:
            p.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
        elif isinstance(p, typer.core.TyperArgument):
            p.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
            p._usage_display_name = (  # type: ignore[method-assign]
                lambda p=p: p.display_name_raw + ("..." if p.nargs != 1 else ""))
    return params


class TyperCommand(typer.core.TyperCommand):
    def get_params(self, ctx: click.Context) -> list[Any]:
        params = _tidy(super().get_params(ctx))
        _plain_conversion(self.name, params)
        return params


class TyperGroup(typer.core.TyperGroup):
    def get_params(self, ctx: click.Context) -> list[Any]:
        params = _tidy(super().get_params(ctx))
        _plain_conversion(None, params)
        return params

    def list_commands(self, ctx: click.Context) -> list[str]:
        # In the table's order, whichever module registered first.
        order = list(COMMANDS)
        return sorted(super().list_commands(ctx),
                      key=lambda n: order.index(n) if n in order else len(order))


# --- argument lists without the CLI -------------------------------------------------------------
@functools.cache
def click_command(name: str) -> Any:
    """The click command for `name`, as the CLI builds it (parameters only)."""
    app = typer.Typer(add_completion=False)
    command(app, name)(lambda values: 0)
    app.command(name="-")(lambda: None)  # two commands make Typer build a group
    return typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]


def parse_args(name: str, argv: list[str]) -> dict[str, Any]:
    """A command's option values from an argument list, by the real command-line parser.

    Raises click's UsageError (or BadParameter) for what the command line would reject."""
    cmd = click_command(name)
    with cmd.make_context(name, list(argv)) as ctx:
        return {k: _plain(v) for k, v in ctx.params.items()}
