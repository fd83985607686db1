"""Tagging data: CoNLL column files (CoNLL-2000, CoNLL-2003), CoNLL-U (Universal
Dependencies) and tokenized text, read as streams of `Sentence`s that keep their
original rows, and written back with predicted columns appended.

All readers take a path, `-` for stdin, or a `.gz` file, and report bad input as
`DataFormatError` with the line number. With `layout=True` each sentence also keeps
its lines as they stood in the file (`Layout`: separators, line ends, the blank,
`-DOCSTART-` and comment lines around it), so that a file can be written back byte
for byte with only its tags changed (`data/rewrite.py`); the lines after the last
sentence then come as a last, empty sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from rnn_cli.data.schemes import SchemeError, validate
from rnn_cli.data.text import BOM, display_name, iter_raw_lines
from rnn_cli.errors import DataFormatError

FORMATS: dict[str, str] = {
    "conll": "one token a line in space- or tab-separated columns, a blank line between sentences",
    "conllu": "CoNLL-U (Universal Dependencies): 10 tab-separated columns, # comment lines",
    "tokenized": "one sentence a line, tokens separated by spaces",
}
CONLLU_FIELDS: dict[str, int] = {"upos": 3, "xpos": 4, "misc": 9}  # misc: its Tag=... attribute
CONLLU_COLUMNS = 10
MISC_TAG = "Tag"
DOCSTART = "-DOCSTART-"

# ASCII whitespace only: str.split() would also split on U+0085 and U+00A0, which
# latin-1 text (a cp1252 ellipsis) and some tokens contain.
_BLANK = " \t\r\x0b\x0c"
_SEP = re.compile(r"[ \t\r\x0b\x0c]+")
_CONLLU_ID = re.compile(r"[0-9]+(?:-[0-9]+|\.[0-9]+)?")
_BAD_VALUE = re.compile(r"^$|[\t\n\r]")


Line = tuple[str, str]  # (text as it stood, line end: "\n", "\r\n" or "")


@dataclass
class Layout:
    """A sentence's place in its file: `before`, the lines since the previous sentence
    (blank, `-DOCSTART-`, CoNLL-U comments); `lines`, the sentence's own lines (CoNLL-U: multiword and empty-node rows
    too); `word_lines[i]`, the index in `lines` of token i (CoNLL and CoNLL-U); and
    `after`, the line that closed the sentence, if any. `fmt` is the file's format."""

    fmt: str
    before: list[Line]
    lines: list[Line]
    word_lines: list[int]
    after: list[Line]


@dataclass
class Sentence:
    """One sentence: `rows[i]` holds all columns of token i, `first_line` is the line of
    token 0. CoNLL-U keeps its `# ...` lines in `comments`, and its multiword-token and
    empty-node rows in `other_rows` as `(i, row)`, i the index of the token they precede."""

    tokens: list[str]
    tags: list[str] | None
    rows: list[list[str]]
    first_line: int
    comments: list[str] = field(default_factory=list)
    other_rows: list[tuple[int, list[str]]] = field(default_factory=list)
    layout: Layout | None = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.tokens)

    def line_of(self, index: int) -> int:
        """The line number of token `index`."""
        return self.first_line + index + sum(1 for k, _ in self.other_rows if 0 < k <= index)


def split_fields(line: str) -> list[str]:
    """A CoNLL line's columns (`[""]` for a blank line)."""
    return _SEP.split(line.strip(_BLANK))


def is_conllu_row(line: str) -> bool:
    """10 tab-separated fields, the first a CoNLL-U ID."""
    fields = line.split("\t")
    return len(fields) == CONLLU_COLUMNS and _CONLLU_ID.fullmatch(fields[0]) is not None


def _lines(path: str, encoding: str) -> Iterator[tuple[int, str, str]]:
    """`(line number, text, end)`. A byte-order mark is dropped: it says how the file
    was encoded, as `--encoding` does, and output is UTF-8 without one."""
    for lineno, text, end in iter_raw_lines(path, encoding):
        yield lineno, (text[1:] if lineno == 1 and text.startswith(BOM) else text), end


class _Kept:
    """Collects the lines around and within sentences into `Layout`s (when `keep`)."""

    def __init__(self, fmt: str, keep: bool) -> None:
        self.fmt, self.keep = fmt, keep
        self.before: list[Line] = []
        self.lines: list[Line] = []

    def gap(self, text: str, end: str) -> None:
        if self.keep:
            self.before.append((text, end))

    def line(self, text: str, end: str) -> None:
        if self.keep:
            self.lines.append((text, end))

    def close(self, word_lines: list[int], after: list[Line] | None = None) -> Layout | None:
        if not self.keep:
            return None
        layout = Layout(self.fmt, self.before, self.lines, word_lines, after or [])
        self.before, self.lines = [], []
        return layout

    def tail(self) -> Iterator[Sentence]:
        """The lines after the last sentence, as an empty sentence (if any)."""
        if self.keep and self.before:
            yield Sentence([], None, [], 0, layout=Layout(self.fmt, self.before, [], [], []))
            self.before = []


def _resolve(column: int, n: int) -> int | None:
    i = column + n if column < 0 else column
    return i if 0 <= i < n else None


def read_conll(
    path: str, word_column: int = 0, tag_column: int | None = -1, encoding: str = "utf-8", layout: bool = False
) -> Iterator[Sentence]:
    """Sentences of a column file. Columns are separated by spaces or tabs (so fields
    hold no spaces), sentences by blank lines; `-DOCSTART-` lines are skipped. Every
    line of a sentence must have as many columns as its first. Negative columns count
    from the end; `tag_column=None` reads no tags (input to a tagger)."""
    if tag_column is not None and tag_column == word_column:
        raise ValueError(f"the word and tag columns are the same ({word_column})")
    return _read_conll(path, word_column, tag_column, encoding, _Kept("conll", layout))


def _read_conll(path: str, word_column: int, tag_column: int | None, encoding: str, kept: _Kept) -> Iterator[Sentence]:
    name = display_name(path)
    rows: list[list[str]] = []
    first = w = 0
    t: int | None = None
    for lineno, line, end in _lines(path, encoding):
        fields = split_fields(line)
        if not fields[0] or fields[0] == DOCSTART:
            if rows:
                yield _column_sentence(rows, first, w, t, kept.close(list(range(len(rows))), [(line, end)]))
                rows = []
            else:
                kept.gap(line, end)
            continue
        if rows:
            if len(fields) != len(rows[0]):
                raise DataFormatError(
                    name, lineno, f"found {len(fields)} columns, but the sentence's first line ({first}) has "
                    f"{len(rows[0])} (is a blank line missing between sentences?)"
                )
        else:
            first, n = lineno, len(fields)
            wi = _resolve(word_column, n)
            ti = _resolve(tag_column, n) if tag_column is not None else -1
            if wi is None or ti is None:
                col = word_column if wi is None else tag_column
                raise DataFormatError(name, lineno, f"found {n} column(s), too few for column {col}")
            if wi == ti:
                raise DataFormatError(name, lineno, f"found {n} column(s): the tag column would be the word column")
            w, t = wi, (None if tag_column is None else ti)
        rows.append(fields)
        kept.line(line, end)
    if rows:
        yield _column_sentence(rows, first, w, t, kept.close(list(range(len(rows)))))
    yield from kept.tail()


def _column_sentence(rows: list[list[str]], first: int, w: int, t: int | None, layout: Layout | None) -> Sentence:
    return Sentence([r[w] for r in rows], None if t is None else [r[t] for r in rows], rows, first, layout=layout)


def read_conllu(path: str, tag_field: str | None = "upos", encoding: str = "utf-8",
                layout: bool = False) -> Iterator[Sentence]:
    """Sentences of a CoNLL-U file, tagged with `tag_field` ("upos", "xpos", or "misc" for
    the value of a `Tag=` attribute in MISC; None for no tags). Words are the lines with
    an integer ID, numbered 1, 2, ... in each sentence; multiword-token ranges (`1-2`)
    and empty nodes (`8.1`) are kept aside for writing back."""
    if tag_field is not None and tag_field not in CONLLU_FIELDS:
        raise ValueError(f"invalid CoNLL-U tag field: {tag_field!r} (choose from {', '.join(CONLLU_FIELDS)})")
    return _read_conllu(path, None if tag_field is None else CONLLU_FIELDS[tag_field], encoding,
                        _Kept("conllu", layout))


def misc_value(misc: str, key: str) -> str | None:
    """The value of `key=` in a CoNLL-U MISC field (`_` or `A=x|B=y`), None if absent."""
    for item in misc.split("|"):
        k, sep, v = item.partition("=")
        if sep and k == key:
            return v
    return None


def _conllu_sentence(rows: list[list[str]], first: int, comments: list[str], others: list[tuple[int, list[str]]],
                     tag_index: int | None, name: str, layout: Layout | None) -> Sentence:
    tags: list[str] | None = None
    if tag_index == CONLLU_FIELDS["misc"]:
        tags = []
        for i, r in enumerate(rows):
            value = misc_value(r[tag_index], MISC_TAG)
            if not value:
                line = first + i + sum(1 for k, _ in others if 0 < k <= i)
                raise DataFormatError(name, line, f"no {MISC_TAG}= value in the MISC field {r[tag_index]!r}")
            tags.append(value)
    elif tag_index is not None:
        tags = [r[tag_index] for r in rows]
    return Sentence([r[1] for r in rows], tags, rows, first, comments, others, layout)


def _read_conllu(path: str, tag_index: int | None, encoding: str, kept: _Kept) -> Iterator[Sentence]:
    name = display_name(path)
    comments: list[str] = []
    rows: list[list[str]] = []
    others: list[tuple[int, list[str]]] = []
    words: list[int] = []
    first = start = 0
    for lineno, line, end in _lines(path, encoding):
        if not line.strip(_BLANK):
            if rows:
                yield _conllu_sentence(rows, first, comments, others, tag_index, name, kept.close(words, [(line, end)]))
            elif others:
                raise DataFormatError(name, start, "sentence has no words, only multiword or empty-node lines")
            else:
                kept.gap(line, end)
            comments, rows, others, words = [], [], [], []
            continue
        if line.startswith("#"):
            if rows or others:
                raise DataFormatError(name, lineno, "comment line inside a sentence (is a blank line missing?)")
            comments.append(line)
            kept.gap(line, end)
            continue
        fields = line.split("\t")
        if len(fields) != CONLLU_COLUMNS:
            hint = " (are the columns separated by spaces?)" if len(line.split()) == CONLLU_COLUMNS else ""
            raise DataFormatError(
                name, lineno, f"expected {CONLLU_COLUMNS} tab-separated columns, found {len(fields)}{hint}"
            )
        ident = fields[0]
        if not _CONLLU_ID.fullmatch(ident):
            raise DataFormatError(
                name, lineno, f"invalid ID {ident!r} (expected a number, a range like 1-2 or an empty node like 8.1)"
            )
        if not rows and not others:
            start = lineno
        kept.line(line, end)
        if not ident.isdigit():
            others.append((len(rows), fields))
            continue
        if int(ident) != len(rows) + 1:
            hint = " (is a blank line missing between sentences?)" if ident == "1" else ""
            raise DataFormatError(name, lineno, f"expected word ID {len(rows) + 1}, found {ident}{hint}")
        if not fields[1] or (tag_index is not None and not fields[tag_index]):
            raise DataFormatError(name, lineno, "empty FORM or tag field")
        if not rows:
            first = lineno
        rows.append(fields)
        words.append(len(rows) + len(others) - 1)
    if rows:
        yield _conllu_sentence(rows, first, comments, others, tag_index, name, kept.close(words))
    elif others:
        raise DataFormatError(name, start, "sentence has no words, only multiword or empty-node lines")
    yield from kept.tail()


def read_tokenized(path: str, encoding: str = "utf-8", layout: bool = False) -> Iterator[Sentence]:
    """One sentence a line, tokens separated by spaces or tabs; blank lines are skipped."""
    kept = _Kept("text", layout)
    for lineno, line, end in _lines(path, encoding):
        tokens = split_fields(line)
        if not tokens[0]:
            kept.gap(line, end)
            continue
        kept.line(line, end)
        yield Sentence(tokens, None, [[tok] for tok in tokens], lineno, layout=kept.close([]))
    yield from kept.tail()


def check_tags(sentence: Sentence, scheme: str, path: str) -> None:
    """`validate` a sentence's tags, reporting an invalid one at its line in `path`."""
    if sentence.tags is None:
        return
    try:
        validate(sentence.tags, scheme)
    except SchemeError as exc:
        raise DataFormatError(display_name(path), sentence.line_of(exc.position), exc.message) from None


def write_conll(
    sentences: Iterable[Sentence], file: TextIO, extra_columns: Iterable[Sequence[Sequence[str]]] | None = None
) -> int:
    """Write each sentence's rows tab-separated with its extra columns appended, then a
    blank line; return the number of sentences. `extra_columns` has one item per
    sentence: a list of columns, each one value per token (e.g. `[predicted_tags]`).
    CoNLL-U comments, ranges and empty nodes are written back too (`_` in the extra
    columns), so a CoNLL-U file with no extra columns comes back as it was read."""
    extras = iter(extra_columns) if extra_columns is not None else None
    count = 0
    for sentence in sentences:
        columns: Sequence[Sequence[str]] = ()
        if extras is not None:
            columns = next(extras, None)  # type: ignore[assignment]
            if columns is None:
                raise ValueError(f"extra columns end after {count} sentences")
        for col in columns:
            if len(col) != len(sentence):
                raise ValueError(f"an extra column has {len(col)} values for a sentence of {len(sentence)} tokens")
            for value in col:
                if _BAD_VALUE.search(value):
                    raise ValueError(f"cannot write {value!r} as a column value (empty or holds a tab or newline)")
        pad = ["_"] * len(columns)
        for comment in sentence.comments:
            file.write(comment + "\n")
        others = iter(sentence.other_rows)
        other = next(others, None)
        for i, row in enumerate(sentence.rows):
            while other is not None and other[0] <= i:
                file.write("\t".join(other[1] + pad) + "\n")
                other = next(others, None)
            file.write("\t".join([*row, *(col[i] for col in columns)]) + "\n")
        while other is not None:
            file.write("\t".join(other[1] + pad) + "\n")
            other = next(others, None)
        file.write("\n")
        count += 1
    if extras is not None and next(extras, None) is not None:
        raise ValueError(f"more extra columns than sentences ({count})")
    return count
