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
    if any(t != "O" for s in g for t in s) or any(t != "O" for s in p for t in s):
        report = classification_report(g, p, mode="strict", scheme=IOBES, output_dict=True, zero_division=0)
    else:
        report = {}  # no entity on either side: nothing to average (seqeval would warn and give NaN)
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


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def classification_scores(gold: list[set[str]], pred: list[set[str]], labels: list[str],
                          multi_label: bool = False) -> dict[str, Any]:
    """Accuracy (single-label) or subset accuracy (multi-label: the whole label set
    right), micro and macro precision / recall / F1, per-label scores with support, and
    for single-label data the confusion matrix (rows gold, columns predicted, in
    `labels` order). Macro averages run over the labels that occur in gold or pred."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold items but {len(pred)} predictions")
    per: dict[str, dict[str, Any]] = {}
    totals = [0, 0, 0]
    for label in labels:
        tp = sum(1 for g, p in zip(gold, pred) if label in g and label in p)
        fp = sum(1 for g, p in zip(gold, pred) if label not in g and label in p)
        fn = sum(1 for g, p in zip(gold, pred) if label in g and label not in p)
        totals = [totals[0] + tp, totals[1] + fp, totals[2] + fn]
        if tp + fp + fn:
            p, r, f = _prf(tp, fp, fn)
            per[label] = {"precision": p, "recall": r, "f1": f, "support": tp + fn}
    p, r, f = _prf(*totals)
    n = len(gold)
    out: dict[str, Any] = {
        "items": n,
        "accuracy": sum(1 for g, q in zip(gold, pred) if g == q) / n if n else 0.0,
        "micro": {"precision": p, "recall": r, "f1": f, "support": totals[0] + totals[2]},
        "macro": {key: (sum(e[key] for e in per.values()) / len(per) if per else 0.0)
                  for key in ("precision", "recall", "f1")} | {"support": totals[0] + totals[2]},
        "labels": per,
        "multi_label": multi_label,
    }
    out["macro_f1"] = out["macro"]["f1"]
    if multi_label:
        out["micro_f1"] = f
    else:
        index = {label: i for i, label in enumerate(labels)}
        matrix = [[0] * len(labels) for _ in labels]
        for g, q in zip(gold, pred):
            for a in g:
                for b in q:
                    matrix[index[a]][index[b]] += 1
        out["confusion"] = {"labels": list(labels), "matrix": matrix}
    return out
