"""The error hierarchy. Every error a user can cause is an `RnnCliError`;
the CLI maps it to a one-line message and an exit status in one place."""

from __future__ import annotations

EXIT_UNEXPECTED = 1  # an internal error: a bug (--debug shows the traceback)
EXIT_USAGE = 2  # bad input, options or files, an unwritable output (one line names the file)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_PIPE = 141  # the reader of stdout went away (128 + SIGPIPE), as `seq 1e9 | head -1`


class RnnCliError(Exception):
    """An error caused by the user's input, options or files (exit status 2)."""

    exit_code = EXIT_USAGE


class DataFormatError(RnnCliError):
    """Bad input data, located by path and (where it applies) 1-based line number."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


class UnreadableError(DataFormatError):
    """Input whose bytes cannot be read as text at all (undecodable, NUL bytes, corrupt
    gzip): whatever layout it was taken for, the layout is not the matter."""


class ConfigError(RnnCliError):
    """A bad option value or configuration file."""


class CheckpointError(RnnCliError):
    """A model file that cannot be used: missing, corrupt, wrong task or newer format."""
