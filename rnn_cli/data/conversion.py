"""Rewriting the tag column of a CoNLL file into another tag scheme, as a stream that
keeps every other byte of the file (`data/rewrite.py`)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace

from rnn_cli.data.conll import Sentence, check_tags
from rnn_cli.data.rewrite import replace_field, word_texts
from rnn_cli.data.schemes import PLAIN, SCHEMES, convert
from rnn_cli.data.sentences import detect_input_format, detect_sentence_scheme, read_sentences
from rnn_cli.data.text import display_name
from rnn_cli.errors import ConfigError, DataFormatError

DETECT_WINDOW = 1000  # sentences read ahead to detect the source scheme


def detect_stream(sentences: Iterator[Sentence], path: str, fix: str = "use --scheme plain") -> tuple[
        str, Iterator[Sentence]]:
    """Detect the tag scheme from the first sentences (`detect_sentence_scheme`: a mix of
    chunk tags and other tags is refused at its line); give them back in front of the rest."""
    head = list(itertools.islice(sentences, DETECT_WINDOW))
    scheme = detect_sentence_scheme(head, path, fix=fix)
    return scheme, itertools.chain(head, sentences)


def convert_sentences(path: str, target: str, source: str = "auto", tag_column: int = -1,
                      encoding: str = "utf-8", input_format: str = "auto") -> Iterator[Sentence]:
    """Yield the sentences of a CoNLL file with the tag column rewritten in `target`,
    each with its layout (lines as they stood, the tag changed), and last the lines
    after the last sentence as an empty sentence: `write_kept` gives the file back."""
    for name in (target, source):
        if name != "auto" and (name not in SCHEMES or name == PLAIN):
            raise ConfigError(f"unknown tag scheme '{name}' (choose from iob1, bio, bioes)")
    if tag_column == 0:
        raise ConfigError("--tag-column 0 is the word column")
    fmt = detect_input_format(path, input_format, encoding, tagged=True).format
    if fmt != "conll":
        what = "CoNLL-U" if fmt == "conllu" else "text"
        raise DataFormatError(display_name(path), None, f"is read as {what}: convert rewrites the tag column of "
                              "CoNLL column files")
    sentences: Iterator[Sentence] = read_sentences(path, "conll", tag_column=tag_column, encoding=encoding,
                                                   layout=True)
    head = next(sentences, None)
    if head is None or len(head) == 0:
        raise DataFormatError(display_name(path), None, "file is empty (no sentences)")
    sentences = itertools.chain([head], sentences)
    if source == "auto":
        source, sentences = detect_stream(sentences, path, fix="there is nothing to convert")
        if source == PLAIN:
            raise DataFormatError(display_name(path), None,
                                  "the tag column holds no B-/I- chunk or entity tags; nothing to convert")
    for s in sentences:
        if len(s) == 0:
            yield s  # the lines after the last sentence
            continue
        check_tags(s, source, path)
        assert s.tags is not None and s.layout is not None
        new = convert(s.tags, source, target)
        col = tag_column if tag_column >= 0 else len(s.rows[0]) + tag_column
        rows = [row[:col] + [tag] + row[col + 1:] for row, tag in zip(s.rows, new)]
        lines = list(s.layout.lines)
        for i, text, tag in zip(s.layout.word_lines, word_texts(s), new):
            lines[i] = (replace_field(text, col, tag), lines[i][1])
        yield Sentence(s.tokens, new, rows, s.first_line, layout=replace(s.layout, lines=lines))
