"""Scoring tagged files without a model (a conlleval replacement): a predicted file
against a gold one (CoNLL or CoNLL-U, any column or field), or one file in conlleval's
layout whose last two columns are the gold and the predicted tag."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import zip_longest
from typing import Any

from rnn_cli.data.conll import DOCSTART, Sentence, check_tags, read_conll, read_conllu
from rnn_cli.data.conlleval import read_conlleval
from rnn_cli.data.conversion import detect_stream
from rnn_cli.data.schemes import PLAIN, SchemeError, to_spans
from rnn_cli.data.sentences import detect_sentence_scheme, hinted, judge_tagged
from rnn_cli.data.text import display_name
from rnn_cli.errors import ConfigError, DataFormatError
from rnn_cli.metrics import ConllevalCounter, tagging_scores

Column = int | str  # a CoNLL column (negative: from the end) or a CoNLL-U field (upos, xpos, misc)


def read_tags(path: str, column: Column | None = None, input_format: str = "auto",
              encoding: str = "utf-8") -> Iterator[Sentence]:
    """The sentences of a tagged CoNLL or CoNLL-U file (detected unless `input_format`
    says), tagged from `column` (default: the last column; CoNLL-U: UPOS)."""
    fmt, hint = judge_tagged(path, input_format, encoding)
    if fmt == "text":
        raise ConfigError(f"{display_name(path)}: --input-format text has no tags (use conll or conllu)")
    if fmt == "conllu":
        if isinstance(column, int):
            raise ConfigError(f"{display_name(path)} is CoNLL-U: name its tag field (upos, xpos or misc), "
                              f"not column {column}")
        return read_conllu(path, column or "upos", encoding)
    if isinstance(column, str):
        raise ConfigError(f"{display_name(path)} is CoNLL columns, not CoNLL-U: give a column number, not {column}")
    sentences = read_conll(path, tag_column=-1 if column is None else column, encoding=encoding)
    return hinted(sentences, hint) if hint else sentences


def _check_readable(s: Sentence, tags: list[str], scheme: str, path: str) -> None:
    """Every tag must be a tag of `scheme` (O or prefix and type); sequences that break
    the scheme's rules are read leniently, as conlleval reads them."""
    if scheme == PLAIN:
        return
    try:
        to_spans(tags, scheme)
    except SchemeError as exc:
        raise DataFormatError(display_name(path), s.line_of(exc.position), exc.message) from None


def _kinds(sequences: list[list[str]], scheme: str) -> set[str]:
    if scheme == PLAIN:
        return {t for seq in sequences for t in seq}
    return {kind for seq in sequences for kind, _, _ in to_spans(seq, scheme)}


def column_note(gold: list[list[str]], pred: list[list[str]], scheme: str) -> list[str]:
    """A warning when gold and predicted tags have no entity type (or tag) in common:
    the wrong column, most likely (a chunk model scored against NER tags)."""
    a, b = _kinds(gold, scheme), _kinds(pred, scheme)
    if not a or not b or a & b:
        return []
    what = "tag" if scheme == PLAIN else "entity type"
    return [f"gold and predicted tags have no {what} in common (gold: {_some(a)}; predicted: {_some(b)}): "
            "is --gold-column or --pred-column right?"]


def _some(kinds: set[str], n: int = 6) -> str:
    return ", ".join(sorted(kinds)[:n]) + (", ..." if len(kinds) > n else "")


def score_files(gold_path: str, pred_path: str, scheme: str = "auto", gold_column: Column | None = None,
                pred_column: Column | None = None, encoding: str = "utf-8",
                input_format: str = "auto") -> dict[str, Any]:
    """Compare the tags of `pred_path` with those of `gold_path`, sentence by sentence;
    the files must hold the same sentences with the same token counts. `notes` in the
    result holds warnings for stderr (see `column_note`)."""
    gold_iter = read_tags(gold_path, gold_column, input_format, encoding)
    pred_iter = read_tags(pred_path, pred_column, input_format, encoding)
    if scheme == "auto":
        scheme, gold_iter = detect_stream(gold_iter, gold_path)
    gold: list[list[str]] = []
    pred: list[list[str]] = []
    for g, p in zip_longest(gold_iter, pred_iter):
        if g is None or p is None:
            if not gold:  # the shorter file has no sentence at all
                raise DataFormatError(display_name(gold_path if g is None else pred_path), None,
                                      "file is empty (no sentences)")
            longer, name = (p, pred_path) if g is None else (g, gold_path)
            raise DataFormatError(display_name(name), longer.first_line,
                                  f"has more sentences than {display_name(gold_path if g is None else pred_path)}")
        check_tags(g, scheme, gold_path)  # the reference must be well formed; predictions are read as conlleval does
        if len(g) != len(p):
            raise DataFormatError(display_name(pred_path), p.first_line,
                                  f"sentence has {len(p)} tokens but the gold sentence at "
                                  f"{display_name(gold_path)}:{g.first_line} has {len(g)}")
        _check_readable(p, p.tags or [], scheme, pred_path)
        gold.append(g.tags or [])
        pred.append(p.tags or [])
    if not gold:
        raise DataFormatError(display_name(gold_path), None, "file is empty (no sentences)")
    result = tagging_scores(gold, pred, scheme)
    return {"gold": gold_path, "pred": pred_path, **result, "notes": column_note(gold, pred, scheme)}


def score_conlleval(path: str, gold_column: int = -2, pred_column: int = -1, scheme: str = "auto",
                    encoding: str = "utf-8") -> dict[str, Any]:
    """Score a file in conlleval's layout (`data/conlleval.py`). `conlleval` in the result
    holds the conlleval script's counts, `-DOCSTART-` tokens included as it counts them;
    the other scores are over the sentences, as `score_files` gives them."""
    counter = ConllevalCounter()
    sentences: list[tuple[Sentence, list[str]]] = []  # (sentence with gold tags, predicted tags)
    words: list[str] = []
    gold: list[str] = []
    pred: list[str] = []
    first = 0

    def close() -> None:
        if words:
            sentences.append((Sentence(list(words), list(gold), [[w] for w in words], first), list(pred)))
        for part in (words, gold, pred):
            part.clear()

    for row in read_conlleval(path, gold_column, pred_column, encoding):
        if row.word is None:
            counter.boundary()
            close()
            continue
        counter.token(row.gold, row.pred)
        if row.word == DOCSTART:
            close()
            continue
        if not words:
            first = row.line
        words.append(row.word)
        gold.append(row.gold)
        pred.append(row.pred)
    close()
    if not sentences:
        raise DataFormatError(display_name(path), None, "file is empty (no sentences)")
    if scheme == "auto":
        scheme = detect_sentence_scheme((s for s, _ in sentences), path)
    for s, p in sentences:
        _check_readable(s, s.tags or [], scheme, path)
        _check_readable(s, p, scheme, path)
    gold_tags = [s.tags or [] for s, _ in sentences]
    pred_tags = [p for _, p in sentences]
    result = tagging_scores(gold_tags, pred_tags, scheme, conlleval=counter.counts())
    return {"file": path, **result, "notes": column_note(gold_tags, pred_tags, scheme)}
