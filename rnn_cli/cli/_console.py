"""Where output goes: results to stdout; logs, warnings, errors and progress to
stderr (rich `Console(stderr=True)`); progress only when stderr is a terminal."""

from __future__ import annotations

import functools
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from rich.console import Console

from rnn_cli.errors import EXIT_INTERRUPTED, EXIT_UNEXPECTED, RnnCliError

err = Console(stderr=True, highlight=False)
F = TypeVar("F", bound=Callable[..., Any])


def debug_enabled() -> bool:
    return os.environ.get("RNN_CLI_DEBUG", "") not in ("", "0")


def show_progress(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


def log(message: str, quiet: bool = False) -> None:
    if not quiet:
        err.print(message, markup=False)


def warn(message: str) -> None:
    err.print(f"rnn-cli: warning: {message}", markup=False, style="yellow")


def error_line(message: str) -> None:
    # One line, whatever the message holds.
    err.print(f"rnn-cli: error: {' '.join(str(message).split())}", markup=False, style="red", soft_wrap=True)


def handle_errors(fn: F) -> F:
    """Map exceptions to one line on stderr and an exit status (see README)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RnnCliError as exc:
            if debug_enabled():
                traceback.print_exc()
            error_line(str(exc))
            raise SystemExit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("rnn-cli: interrupted", markup=False)
            raise SystemExit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as `seq | head` does.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(141) from None
        except OSError as exc:
            if debug_enabled():
                traceback.print_exc()
            where = f"{exc.filename}: " if exc.filename else ""
            error_line(f"{where}{exc.strerror or exc}")
            raise SystemExit(EXIT_UNEXPECTED) from None
        except Exception as exc:  # noqa: BLE001 - the last resort, reported in one line
            if debug_enabled():
                traceback.print_exc()
            error_line(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
            raise SystemExit(EXIT_UNEXPECTED) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def graceful_interrupt() -> Iterator[Callable[[], bool]]:
    """First Ctrl-C (or SIGTERM) asks the trainer to save its state and stop after
    the current step; a second Ctrl-C aborts at once."""
    requested = False

    def handler(signum: int, frame: Any) -> None:
        nonlocal requested
        if requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        requested = True
        err.print("rnn-cli: stopping after this step (Ctrl-C again to abort)", markup=False)

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, handler)
    try:
        yield lambda: requested
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
