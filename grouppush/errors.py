"""The CLI's edge between exceptions and users: one line on stderr and exit 1, never a traceback.

Why here and not in each command: every command (and every helper's new one) gets the same
behaviour from one place, and the library code keeps raising ordinary exceptions whose
messages already name the file and the next step. `--debug` or GROUPPUSH_DEBUG=1 re-raises,
so a developer still sees the traceback.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

DEBUG_ENV = "GROUPPUSH_DEBUG"
DEBUG_HINT = f"--debug or {DEBUG_ENV}=1 shows the traceback"
_STATE = {"debug": False}


class UserError(Exception):
    """A problem the user can fix; the message says what to do next."""


def fail(message: str) -> NoReturn:
    raise UserError(message)


def set_debug(flag: bool) -> None:
    """Per run (the callback sets it each time): a test's --debug does not stick."""
    _STATE["debug"] = flag


def debug_enabled() -> bool:
    env = os.environ.get(DEBUG_ENV, "").strip().lower()
    return _STATE["debug"] or env in ("1", "true", "yes")


HIDDEN_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning, UserWarning)


def quiet_library_warnings() -> None:
    """Deprecation chatter from ibis, SQLAlchemy, pydantic, MLflow ... means nothing to a user
    of the command line (the test suite and --debug still see it). Filters alone are not
    enough: importing feast puts its own "once" filter for DeprecationWarning in front, so
    the display hook drops these categories too."""
    if debug_enabled():
        return
    for category in HIDDEN_WARNINGS:
        warnings.filterwarnings("ignore", category=category)
    shown = warnings.showwarning

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if not issubclass(category, HIDDEN_WARNINGS):
            shown(message, category, *args, **kwargs)

    warnings.showwarning = show
    os.environ.setdefault("PYTHONWARNINGS", "ignore")  # child processes (snapshot builder)


def _flat(text: str) -> str:
    return " ".join(text.split())


def one_line(exc: BaseException) -> str:
    """The message a user sees for EXC: known kinds as they are, anything else with its type
    and the debug hint (it is a bug or an environment problem, not bad input)."""
    text = _flat(str(exc))
    if isinstance(exc, UserError):
        return text
    if isinstance(exc, FileNotFoundError):
        return text if exc.filename is None else f"{exc.filename}: not found"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename or text}"
    if isinstance(exc, MemoryError):
        return "out of memory: try a smaller --as-of range, preset or input, or a larger machine"
    if type(exc).__name__ == "ValidationError":  # pydantic: the settings key and the problem
        errors: list[dict[str, Any]] = exc.errors()  # type: ignore[attr-defined]
        parts = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:3]]
        return "invalid settings: " + "; ".join(parts)
    if isinstance(exc, LookupError) and not isinstance(exc, KeyError | IndexError):
        return text  # e.g. "no champion for grouppush_repurchase ...; run train"
    if type(exc).__name__ == "IngestError":  # names the file, column or limit
        return text
    if isinstance(exc, ValueError) and text:  # library checks of values say what is wrong
        return f"{text} ({DEBUG_HINT})"
    return f"{type(exc).__name__}: {text} ({DEBUG_HINT})"


def report(exc: BaseException) -> None:
    typer.secho("error: ", fg=typer.colors.RED, bold=True, err=True, nl=False)
    typer.echo(one_line(exc), err=True)


class OneLineErrors(TyperGroup):
    """The top-level command group: every subcommand runs inside its invoke, so this is the
    single place an exception turns into one line (Typer's runner in tests sees the same)."""

    def invoke(self, ctx: Any) -> Any:  # a Typer (vendored click) Context
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # help, usage: Typer's own
            raise
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:
            if debug_enabled():
                raise
            report(exc)
            raise typer.Exit(1) from None
