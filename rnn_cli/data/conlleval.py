"""conlleval's input: one token a line in whitespace-separated columns, two of which
(by default the last two) hold the gold and the predicted tag, as `paste gold pred`,
`rnn-cli tag` on a gold file or `crfsuite tag -r` write it; blank lines and lines
whose first column is `-X-` separate sentences.

A `-DOCSTART-` line is what conlleval makes of it: a token (normally tagged O, O) when
it has the file's number of columns (so conlleval's token count includes it: 46,666
for CoNLL-2003 test), else a separator, as is a `-X-` line of another width (where
conlleval would stop with "unexpected number of features")."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rnn_cli.data.conll import DOCSTART, split_fields
from rnn_cli.data.text import display_name, iter_lines
from rnn_cli.errors import DataFormatError

BOUNDARY = "-X-"


@dataclass(frozen=True)
class Row:
    """A line of the file: a token (`word` its first column), or a sentence break (`word` None)."""

    line: int
    word: str | None
    gold: str = "O"
    pred: str = "O"


def read_conlleval(path: str, gold_column: int = -2, pred_column: int = -1, encoding: str = "utf-8") -> Iterator[Row]:
    """The rows of a conlleval file. Every token line must have as many columns as the
    first; negative columns count from the end."""
    if gold_column == pred_column:
        raise ValueError(f"the gold and predicted columns are the same ({gold_column})")
    name = display_name(path)
    width = first = 0
    for lineno, text in iter_lines(path, encoding):
        fields = split_fields(text)
        if not fields[0]:
            yield Row(lineno, None)
            continue
        if not width:
            width, first = len(fields), lineno
            for column in (gold_column, pred_column):
                if not -width <= column < width:
                    raise DataFormatError(name, lineno, f"found {width} column(s), too few for column {column}")
            if gold_column % width == pred_column % width:
                raise DataFormatError(name, lineno, f"found {width} columns: the gold and predicted columns are "
                                      f"the same ({gold_column % width})")
        if len(fields) != width:
            if fields[0] in (DOCSTART, BOUNDARY):
                yield Row(lineno, None)
                continue
            raise DataFormatError(name, lineno, f"found {len(fields)} columns, but line {first} has {width} "
                                  "(every line of a conlleval file has the same columns)")
        if fields[0] == BOUNDARY:
            yield Row(lineno, None)
        else:
            yield Row(lineno, fields[0], fields[gold_column], fields[pred_column])
