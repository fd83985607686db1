"""Where output goes: results to stdout; logs, warnings, errors and progress to
stderr (rich `Console(stderr=True)`); progress only when stderr is a terminal."""

from __future__ import annotations

import errno
import functools
import io
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from rich.console import Console

from rnn_cli.errors import EXIT_INTERRUPTED, EXIT_PIPE, EXIT_UNEXPECTED, EXIT_USAGE, RnnCliError

# Never wrapped when stderr is a file or a pipe: a log line stays one line for grep.
err = Console(stderr=True, highlight=False, soft_wrap=not sys.stderr.isatty())
_WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS)
F = TypeVar("F", bound=Callable[..., Any])


def debug_enabled() -> bool:
    return os.environ.get("RNN_CLI_DEBUG", "") not in ("", "0")


def quiet_requested() -> bool:
    """`--quiet` / `-q`, given before or after any command's name (see `app.main`)."""
    return os.environ.get("RNN_CLI_QUIET", "") not in ("", "0")


def show_progress(quiet: bool) -> bool:
    return not (quiet or quiet_requested()) and sys.stderr.isatty()


def log(message: str, quiet: bool = False) -> None:
    """A note on stderr (a log line; `--quiet` silences it, warnings and errors stay)."""
    if not (quiet or quiet_requested()):
        err.print(message, markup=False)


def warn(message: str) -> None:
    err.print(f"rnn-cli: warning: {message}", markup=False, style="yellow", soft_wrap=True)


def error_line(message: str) -> None:
    # One line, whatever the message holds.
    err.print(f"rnn-cli: error: {' '.join(str(message).split())}", markup=False, style="red", soft_wrap=True)


def _drop_stdout() -> bool:
    """Point stdout at /dev/null, so that what is still buffered goes nowhere quietly;
    False when there is no real stdout (in-process tests)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return True
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False


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
            if _drop_stdout():
                # Leave at once: the background reader of an endless stdin (`yes | rnn-cli
                # tag m | head -1`) may hold stdin's lock, and the interpreter's shutdown
                # would then abort with "Fatal Python error" instead of exiting quietly.
                sys.stderr.flush()
                os._exit(EXIT_PIPE)
            raise SystemExit(EXIT_PIPE) from None
        except OSError as exc:
            # A file or device the command could not read or write (a full disk, a
            # directory, no permission): the user's to fix, so exit status 2.
            if debug_enabled():
                traceback.print_exc()
            where = f"{exc.filename}: " if exc.filename else ""
            if exc.filename is None and exc.errno in _WRITE_ERRORS:
                where = "cannot write output: "
                _drop_stdout()  # the interpreter's last flush would fail again, loudly
            error_line(f"{where}{exc.strerror or exc}")
            raise SystemExit(EXIT_USAGE) from None
        except Exception as exc:  # noqa: BLE001 - the last resort, reported in one line
            if debug_enabled():
                traceback.print_exc()
            error_line(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
            raise SystemExit(EXIT_UNEXPECTED) from None

    return wrapper  # type: ignore[return-value]


@contextmanager
def graceful_interrupt(announce: bool = True) -> Iterator[Callable[[], bool]]:
    """First Ctrl-C (or SIGTERM, as schedulers send) asks the trainer to save its
    state and stop after the current step; a second Ctrl-C aborts at once.
    `announce=False` keeps the notice off stderr (the quiet ranks of a torchrun job).
    Under torchrun a Ctrl-C reaches each worker twice (from the terminal, then
    forwarded by torchrun), so there the second one does not abort: torchrun itself
    kills workers that have not stopped within its shutdown timeout."""
    requested = False
    under_torchrun = "TORCHELASTIC_RUN_ID" in os.environ

    def handler(signum: int, frame: Any) -> None:
        nonlocal requested
        if requested and signum == signal.SIGINT and not under_torchrun:
            raise KeyboardInterrupt
        if requested:
            return
        requested = True
        if announce:
            what = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
            err.print(f"rnn-cli: {what}: stopping after this step (Ctrl-C again to abort)", markup=False)

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, handler)
    try:
        yield lambda: requested
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
