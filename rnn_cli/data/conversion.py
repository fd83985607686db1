"""Rewriting the tag column of a CoNLL file into another tag scheme, as a stream."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from rnn_cli.data.conll import Sentence, check_tags, read_conll
from rnn_cli.data.schemes import PLAIN, SCHEMES, convert, detect_scheme
from rnn_cli.data.text import display_name
from rnn_cli.errors import ConfigError, DataFormatError

DETECT_WINDOW = 1000  # sentences read ahead to detect the source scheme


def detect_stream(sentences: Iterator[Sentence]) -> tuple[str, Iterator[Sentence]]:
    """Detect the tag scheme from the first sentences; give them back in front of the rest."""
    head = list(itertools.islice(sentences, DETECT_WINDOW))
    scheme = detect_scheme(s.tags or [] for s in head)
    return scheme, itertools.chain(head, sentences)


def convert_sentences(path: str, target: str, source: str = "auto", tag_column: int = -1,
                      encoding: str = "utf-8") -> Iterator[Sentence]:
    """Yield the sentences of a CoNLL file with the tag column rewritten in `target`."""
    for name in (target, source):
        if name != "auto" and (name not in SCHEMES or name == PLAIN):
            raise ConfigError(f"unknown tag scheme '{name}' (choose from iob1, bio, bioes)")
    if tag_column == 0:
        raise ConfigError("--tag-column 0 is the word column")
    sentences: Iterator[Sentence] = read_conll(path, tag_column=tag_column, encoding=encoding)
    head = next(sentences, None)
    if head is None:
        raise DataFormatError(display_name(path), None, "file is empty (no sentences)")
    sentences = itertools.chain([head], sentences)
    if source == "auto":
        source, sentences = detect_stream(sentences)
        if source == PLAIN:
            raise DataFormatError(display_name(path), None,
                                  "the tag column holds no B-/I- chunk or entity tags; nothing to convert")
    for s in sentences:
        check_tags(s, source, path)
        assert s.tags is not None
        new = convert(s.tags, source, target)
        col = tag_column if tag_column >= 0 else len(s.rows[0]) + tag_column
        rows = [row[:col] + [tag] + row[col + 1 :] for row, tag in zip(s.rows, new)]
        yield Sentence(s.tokens, new, rows, s.first_line)
