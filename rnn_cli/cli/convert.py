"""`rnn-cli convert`: rewrite the tag column of a CoNLL file in another tag scheme."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from rnn_cli.cli._console import handle_errors
from rnn_cli.cli._options import Scheme, SourceScheme


@handle_errors
def command(
    data: str = typer.Argument("-", help="A CoNLL column file (.gz read transparently; - for stdin)."),
    to: Scheme = typer.Option(..., "--to", help="The scheme to write."),
    source: SourceScheme = typer.Option("auto", "--from", help="The input's scheme (auto: detect it)."),
    tag_column: int = typer.Option(-1, help="The tag column (0-based; negative counts from the end)."),
    input_format: str = typer.Option("auto", "--input-format", metavar="auto|conll",
                                     help="auto or conll (auto: decided on the first "
                                     "lines, stdin too; CoNLL-U and text have no tag column to convert)."),
    output: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE",
                                         help="Write here (atomically) instead of stdout."),
    encoding: str = typer.Option("utf-8", metavar="ENCODING", help="Text encoding of the input."),
) -> None:
    """Rewrite a CoNLL file's tags as IOB1, BIO or BIOES; every other byte is kept.

    Column separators (spaces or tabs), line ends (LF or CRLF), -DOCSTART- lines and
    blank lines come out as they went in; only the tag column changes.
    """
    from rnn_cli.data.atomic import atomic_open
    from rnn_cli.data.conversion import convert_sentences
    from rnn_cli.data.rewrite import write_kept

    sentences = convert_sentences(data, to.value, source.value, tag_column, encoding, input_format)
    if output is None:
        for s in sentences:
            write_kept(s, sys.stdout)
            sys.stdout.flush()
        return
    with atomic_open(output, "w", encoding="utf-8") as fh:
        for s in sentences:
            write_kept(s, fh)
