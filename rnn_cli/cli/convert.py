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
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write here (atomically) instead of stdout."),
    encoding: str = typer.Option("utf-8", help="Text encoding of the input."),
) -> None:
    """Rewrite a CoNLL file's tags as IOB1, BIO or BIOES; the other columns are kept."""
    from rnn_cli.data.atomic import atomic_open
    from rnn_cli.data.conll import write_conll
    from rnn_cli.data.conversion import convert_sentences

    sentences = convert_sentences(data, to.value, source.value, tag_column, encoding)
    if output is None:
        for s in sentences:
            write_conll([s], sys.stdout)
            sys.stdout.flush()
        return
    with atomic_open(output, "w", encoding="utf-8") as fh:
        write_conll(sentences, fh)
