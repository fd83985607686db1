"""Reading tagged or untagged sentences for the tagger, in any supported format."""

from __future__ import annotations

from collections.abc import Iterator

from rnn_cli.data.conll import Sentence, detect_format, read_conll, read_conllu, read_tokenized
from rnn_cli.data.text import STDIN, display_name
from rnn_cli.errors import ConfigError, DataFormatError

FORMATS = ("auto", "conll", "conllu", "text")


def read_sentences(path: str, fmt: str = "auto", word_column: int = 0, tag_column: int | None = -1,
                   tag_field: str = "upos", encoding: str = "utf-8") -> Iterator[Sentence]:
    """Sentences of a CoNLL, CoNLL-U or plain tokenized file (one sentence a line).

    `auto` looks at the first line of a file (stdin is read as CoNLL columns)."""
    if fmt not in FORMATS:
        raise ConfigError(f"--input-format: unknown format '{fmt}' ({', '.join(FORMATS)})")
    if tag_column is not None and tag_column == word_column and fmt in ("auto", "conll"):
        raise ConfigError(f"the word and tag columns are the same ({word_column}): choose another tag or word column")
    if fmt == "auto":
        fmt = "conll" if path == STDIN else detect_format(path, encoding)
    if fmt == "conllu":
        return read_conllu(path, tag_field=tag_field if tag_column is not None else None, encoding=encoding)
    if fmt == "text":
        return read_tokenized(path, encoding)
    return read_conll(path, word_column=word_column, tag_column=tag_column, encoding=encoding)


def read_tagged_file(path: str, fmt: str = "auto", word_column: int = 0, tag_column: int = -1,
                     tag_field: str = "upos", encoding: str = "utf-8") -> list[Sentence]:
    """The non-empty sentences of a tagged file, every one with tags."""
    sentences = [s for s in read_sentences(path, fmt, word_column, tag_column, tag_field, encoding) if len(s) > 0]
    if not sentences:
        raise DataFormatError(display_name(path), None, "file is empty (no sentences)")
    if any(s.tags is None for s in sentences):
        raise DataFormatError(display_name(path), None, "has no tag column")
    return sentences
