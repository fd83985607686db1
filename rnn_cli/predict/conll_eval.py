"""Scoring tagged CoNLL files against gold ones (a conlleval replacement)."""

from __future__ import annotations

from itertools import zip_longest
from typing import Any

from rnn_cli.data.conll import check_tags, read_conll
from rnn_cli.data.conversion import detect_stream
from rnn_cli.data.text import display_name
from rnn_cli.errors import DataFormatError
from rnn_cli.metrics import tagging_scores


def score_files(gold_path: str, pred_path: str, scheme: str = "auto", gold_column: int = -1,
                pred_column: int = -1, encoding: str = "utf-8") -> dict[str, Any]:
    """Compare the tag column of `pred_path` with that of `gold_path`, sentence by
    sentence; the files must hold the same sentences with the same token counts."""
    gold_iter = read_conll(gold_path, tag_column=gold_column, encoding=encoding)
    if scheme == "auto":
        scheme, gold_iter = detect_stream(gold_iter)
    gold: list[list[str]] = []
    pred: list[list[str]] = []
    for g, p in zip_longest(gold_iter, read_conll(pred_path, tag_column=pred_column, encoding=encoding)):
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
        gold.append(g.tags or [])
        pred.append(p.tags or [])
    if not gold:
        raise DataFormatError(display_name(gold_path), None, "file is empty (no sentences)")
    return {"gold": gold_path, "pred": pred_path, **tagging_scores(gold, pred, scheme)}
