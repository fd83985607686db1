"""Opening input files: plain or gzipped paths, or `-` for stdin, decoded line by
line so that an undecodable byte is reported with its line number.

A reader that must look at the start of its input before choosing how to read it
(`head_lines`) gets those lines without consuming stdin: the bytes read ahead are
put back in front of stdin for the next reader of `-`."""

from __future__ import annotations

import codecs
import gzip
import io
import os
import select
import sys
import time
import zlib
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from rnn_cli.errors import ConfigError, DataFormatError, UnreadableError

STDIN = "-"
NUL = b"\x00"
BOM = "\ufeff"
PEEK_LINES = 200  # lines `head_lines` reads at most
PEEK_BYTES = 1 << 18
PEEK_WAIT = 0.5  # seconds stdin may stay silent, once a line has come, before `head_lines` stops waiting

# What `head_lines` read ahead from stdin: (the stdin buffer it came from, the bytes).
_pushback: tuple[object, bytes] | None = None


def display_name(path: str) -> str:
    return "<stdin>" if path == STDIN else str(path)


def quoted(names: Sequence[str], at_most: int = 3) -> str:
    """`'a', 'b', 'c' and 2 more`: the first `at_most` names, for a one-line message."""
    more = f" and {len(names) - at_most} more" if len(names) > at_most else ""
    return ", ".join(f"'{n}'" for n in names[:at_most]) + more


def _open_binary(path: str) -> BinaryIO:
    if path == STDIN:
        return _stdin()
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
    for lineno, text, _ in iter_raw_lines(path, encoding):
        yield lineno, (text[1:] if lineno == 1 and text.startswith(BOM) else text)


def iter_raw_lines(path: str, encoding: str = "utf-8") -> Iterator[tuple[int, str, str]]:
    """Yield `(line_number, text, end)`: `end` is the line end that was removed ("\\n",
    "\\r\\n", or "" on a last line without one), and a byte-order mark stays at the
    start of line 1, so that `text + end` gives the file back as it was."""
    name = display_name(path)
    _check_encoding(encoding)
    fh = _open_binary(path)
    try:
        lineno = 0
        try:
            for raw in fh:
                lineno += 1
                end = 0
                if raw.endswith(b"\n"):
                    end = 2 if raw.endswith(b"\r\n") else 1
                elif raw.endswith(b"\r"):
                    end = 1
                raw, ending = (raw[:-end], raw[-end:].decode("ascii")) if end else (raw, "")
                if NUL in raw:
                    raise UnreadableError(
                        name, lineno, f"NUL byte at column {raw.index(NUL) + 1}: binary data, or UTF-16/32 text "
                        "(rnn-cli reads UTF-8 and other ASCII-compatible encodings; see --encoding)"
                    )
                try:
                    text = raw.decode(encoding)
                except UnicodeDecodeError as exc:
                    raise UnreadableError(
                        name,
                        lineno,
                        f"cannot decode byte 0x{raw[exc.start]:02x} at column {exc.start + 1} "
                        f"as {encoding} (use --encoding to choose another)",
                    ) from None
                yield lineno, text, ending
        except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
            raise UnreadableError(name, lineno + 1, f"corrupt gzip data: {exc}") from None
        except IsADirectoryError:
            raise DataFormatError(name, None, "is a directory, expected a file") from None
        except OSError as exc:
            raise DataFormatError(name, lineno + 1, f"read error: {exc.strerror or exc}") from None
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()  # a chain in front of stdin leaves stdin itself open


def read_text(path: str, encoding: str = "utf-8") -> str:
    """The whole file as one string with LF line ends (each line ends with `\\n`)."""
    buf = io.StringIO()
    for _, line in iter_lines(path, encoding):
        buf.write(line)
        buf.write("\n")
    return buf.getvalue()


def head_lines(path: str, encoding: str = "utf-8", max_lines: int = PEEK_LINES) -> list[str]:
    """The first lines of a file (at most `max_lines`; line ends removed, a byte-order
    mark dropped, undecodable bytes replaced: the reader proper reports those), for
    deciding how to read it. Stdin is not consumed: what is read ahead is put back
    for the next reader of `-`. On stdin, once a line has come, reading stops when
    nothing more arrives within PEEK_WAIT seconds, so that a pipeline that feeds one
    sentence at a time is answered; the look-ahead is bounded in lines and bytes."""
    _check_encoding(encoding)
    if path == STDIN:
        data, eof = _peek_stdin(max_lines)
    else:
        data, eof = _read_head(path, max_lines), True
    pieces = data.split(b"\n")
    if not eof or not pieces[-1]:
        pieces.pop()  # a partial line, or the empty piece after the last line end
    lines = [raw.rstrip(b"\r").decode(encoding, errors="replace") for raw in pieces[:max_lines]]
    if lines and lines[0].startswith(BOM):
        lines[0] = lines[0][1:]
    return lines


def _read_head(path: str, max_lines: int) -> bytes:
    fh = _open_binary(path)
    chunks: list[bytes] = []
    try:
        for _ in range(max_lines):
            line = fh.readline(PEEK_BYTES)
            if not line:
                break
            chunks.append(line)
    except (gzip.BadGzipFile, zlib.error, EOFError, OSError):
        pass  # the reader proper reports it, with its line
    finally:
        fh.close()
    return b"".join(chunks)


def _peek_stdin(max_lines: int) -> tuple[bytes, bool]:
    """Read ahead on stdin and keep what was read for `_stdin`; `(bytes, at end of input)`."""
    global _pushback
    stream = sys.stdin.buffer
    data = bytearray(_pushback[1] if _pushback is not None and _pushback[0] is stream else b"")
    try:
        fd: int | None = stream.fileno()
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        fd = None  # not a real file (a test's in-memory stdin): all its data is there already
    eof, deadline = False, None
    try:
        while data.count(b"\n") < max_lines and len(data) < PEEK_BYTES:
            if fd is None:
                chunk = stream.readline()
            else:
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0 or not select.select([fd], [], [], left)[0]:
                        break
                # Straight from the descriptor: nothing has been read through `stream` yet,
                # and the rest is read through it after these bytes (see `_stdin`).
                chunk = os.read(fd, 1 << 16)
            if not chunk:
                eof = True
                break
            data += chunk
            if deadline is None and b"\n" in data:
                deadline = time.monotonic() + PEEK_WAIT
    finally:
        _pushback = (stream, bytes(data))
    return bytes(data), eof


def _stdin() -> BinaryIO:
    """Stdin's bytes, with what `head_lines` read ahead (if anything) in front."""
    global _pushback
    stream = sys.stdin.buffer
    if _pushback is None or _pushback[0] is not stream:
        return stream
    head, _pushback = _pushback[1], None
    return io.BufferedReader(_Chain(head, stream))  # type: ignore[return-value]


class _Chain(io.RawIOBase):
    """`head`, then `rest`, as one raw stream. Reads return what is available (`read1`),
    so that a line is passed on as soon as it arrives."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        super().__init__()
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        read1 = getattr(self._rest, "read1", self._rest.read)
        data = read1(len(buffer))
        buffer[: len(data)] = data
        return len(data)
