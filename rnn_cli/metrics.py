"""Scores computed from model outputs."""

from __future__ import annotations

import math
from typing import Any


def lm_scores(nll_sum: float, count: int) -> dict[str, float]:
    """Mean cross-entropy (nats per token), perplexity and bits per token."""
    if count <= 0:
        raise ValueError("no tokens were scored")
    loss = nll_sum / count
    return {
        "loss": loss,
        "ppl": math.exp(min(loss, 700.0)),
        "bpc": loss / math.log(2.0),
        "tokens": count,
    }


def tagging_scores(gold: list[list[str]], pred: list[list[str]], scheme: str) -> dict[str, Any]:
    """Token accuracy and, for chunk/entity tag sets, entity-level precision, recall
    and F1 per type with micro and macro averages (seqeval, strict mode on BIOES).

    Both sides are read in `scheme` and rewritten as BIOES through their spans, so
    an ill-formed predicted sequence is read the way conlleval reads it."""
    from rnn_cli.data.schemes import PLAIN, convert

    if len(gold) != len(pred) or any(len(g) != len(p) for g, p in zip(gold, pred)):
        raise ValueError("gold and predicted tags differ in length")
    tokens = sum(len(g) for g in gold)
    correct = sum(a == b for g, p in zip(gold, pred) for a, b in zip(g, p))
    result: dict[str, Any] = {"sentences": len(gold), "tokens": tokens,
                              "accuracy": correct / tokens if tokens else 0.0, "scheme": scheme}
    if scheme == PLAIN:
        return result
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOBES

    g = [convert(s, scheme, "bioes") for s in gold]
    p = [convert(s, scheme, "bioes") for s in pred]
    report = classification_report(g, p, mode="strict", scheme=IOBES, output_dict=True, zero_division=0)
    per_type = {}
    for name, row in report.items():
        entry = {"precision": float(row["precision"]), "recall": float(row["recall"]),
                 "f1": float(row["f1-score"]), "support": int(row["support"])}
        if name == "micro avg":
            result["micro"] = entry
        elif name == "macro avg":
            result["macro"] = entry
        elif name != "weighted avg":
            per_type[name] = entry
    result.setdefault("micro", {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0})
    result.setdefault("macro", {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0})
    result["types"] = per_type
    result["f1"] = result["micro"]["f1"]
    return result
