"""Error reporting for every ``puhui`` command.

Every ``puhui`` command uses it: a ``DomainError`` prints one line,
``error [code]: message``, to stderr and exits with status 2. Kept apart from ``main.py`` so
sub-apps such as ``loan`` can use it without importing the module that registers them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
import typer
from pydantic import ValidationError as PydanticValidationError

from puhui.domain.errors import DomainError

__all__ = ["fail", "handles_errors"]

F = TypeVar("F", bound=Callable[..., Any])

EXIT_ERROR = 2


def fail(code: str, message: str) -> typer.Exit:
    """Print ``error [code]: message`` to stderr; return the exit to raise."""
    typer.echo(f"error [{code}]: {message}", err=True)
    return typer.Exit(EXIT_ERROR)


def handles_errors(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as err:
            raise fail(err.code, err.message) from None
        except (typer.Exit, typer.Abort, click.ClickException):
            raise
        except PydanticValidationError as err:  # settings from the environment
            reasons = "; ".join(str(e.get("msg", "")) for e in err.errors())
            raise fail("settings.invalid", reasons) from None
        except Exception as err:  # one line, no traceback (PUHUI_DEBUG=1 shows it)
            if os.environ.get("PUHUI_DEBUG"):
                raise
            first = str(err).splitlines()[0] if str(err) else ""
            raise fail(type(err).__name__, first) from None

    return wrapper  # type: ignore[return-value]
