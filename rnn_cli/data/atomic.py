"""Atomic file writes: write a temporary file beside the target, flush it to disk,
then rename it over the target, so a crash never leaves a half-written file and a
failure leaves the previous file as it was."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def check_target(path: str | os.PathLike[str]) -> None:
    """Fail now, naming `path`, if a file could never be written there (it is a
    directory, or a part of its folder is a file): a trainer calls this before it
    spends hours on a model it could not save."""
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory, expected a file", str(target))
    for folder in target.parents:
        if folder.exists():
            if not folder.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, f"{folder} is not a directory", str(target))
            break


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """A file object to write `path` with. A failure (an exception, a full disk) removes
    the temporary file and re-raises; an `OSError` names `path`. A target that exists
    but is not a regular file (`/dev/null`, `/dev/full`, a named pipe) is written
    directly: there is no file to replace, and renaming over a device would replace it."""
    target = Path(path)
    check_target(target)
    if target.exists() and not target.is_file():
        with _naming(target), open(target, mode, encoding=encoding) as fh:
            yield fh
        return
    directory = target.parent if str(target.parent) else Path(".")
    with _naming(target):
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        # mkstemp creates 0600; give the file the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with _naming(target), os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _naming(target: Path) -> Iterator[None]:
    """Give an `OSError` without a file name (a failed write) the target's name."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(target)) from exc
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
