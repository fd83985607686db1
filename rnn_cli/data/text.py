"""Opening input files: plain or gzipped paths, or `-` for stdin, decoded line by
line so that an undecodable byte is reported with its line number."""

from __future__ import annotations

import codecs
import gzip
import io
import os
import sys
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from rnn_cli.errors import ConfigError, DataFormatError

STDIN = "-"
NUL = b"\x00"


def display_name(path: str) -> str:
    return "<stdin>" if path == STDIN else str(path)


def _open_binary(path: str) -> BinaryIO:
    if path == STDIN:
        return sys.stdin.buffer
    name = str(path)
    if os.path.isdir(name):
        raise DataFormatError(name, None, "is a directory, expected a file")
    try:
        fh: BinaryIO = open(name, "rb")  # noqa: SIM115 - closed by the caller
    except FileNotFoundError:
        raise DataFormatError(name, None, "no such file") from None
    except PermissionError:
        raise DataFormatError(name, None, "permission denied") from None
    except OSError as exc:
        raise DataFormatError(name, None, f"cannot open: {exc.strerror}") from None
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    return fh


def _check_encoding(encoding: str) -> None:
    """Lines are split on the byte `\\n`, so the encoding must keep ASCII as it is."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(f"--encoding: unknown encoding '{encoding}'") from None
    if info.name.startswith(("utf-16", "utf-32")):
        raise ConfigError(f"--encoding: {info.name} is not supported (convert with iconv -f {info.name} -t utf-8)")


def iter_lines(path: str, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """Yield `(line_number, text)` with the line end (LF or CRLF) removed.

    Lines are split on `\\n` only: some corpora hold bytes (cp1252 0x85 read as
    latin-1) that `str.splitlines()` would wrongly treat as line breaks. A UTF-8
    byte-order mark at the start is dropped.
    """
    name = display_name(path)
    _check_encoding(encoding)
    fh = _open_binary(path)
    try:
        lineno = 0
        try:
            for raw in fh:
                lineno += 1
                if raw.endswith(b"\n"):
                    raw = raw[:-1]
                if raw.endswith(b"\r"):
                    raw = raw[:-1]
                if NUL in raw:
                    raise DataFormatError(
                        name, lineno, f"NUL byte at column {raw.index(NUL) + 1}: binary data, or UTF-16/32 text "
                        "(rnn-cli reads UTF-8 and other ASCII-compatible encodings; see --encoding)"
                    )
                try:
                    text = raw.decode(encoding)
                except UnicodeDecodeError as exc:
                    raise DataFormatError(
                        name,
                        lineno,
                        f"cannot decode byte 0x{raw[exc.start]:02x} at column {exc.start + 1} "
                        f"as {encoding} (use --encoding to choose another)",
                    ) from None
                if lineno == 1 and text.startswith("\ufeff"):
                    text = text[1:]
                yield lineno, text
        except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
            raise DataFormatError(name, lineno + 1, f"corrupt gzip data: {exc}") from None
        except IsADirectoryError:
            raise DataFormatError(name, None, "is a directory, expected a file") from None
        except OSError as exc:
            raise DataFormatError(name, lineno + 1, f"read error: {exc.strerror or exc}") from None
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()


def read_text(path: str, encoding: str = "utf-8") -> str:
    """The whole file as one string with LF line ends (each line ends with `\\n`)."""
    buf = io.StringIO()
    for _, line in iter_lines(path, encoding):
        buf.write(line)
        buf.write("\n")
    return buf.getvalue()
