"""Scores computed from model outputs."""

from __future__ import annotations

import math
from collections import Counter
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


CONFUSIONS = 10  # the most frequent (gold, predicted) confusions reported for plain tag sets


def tagging_scores(gold: list[list[str]], pred: list[list[str]], scheme: str,
                   conlleval: dict[str, Any] | None = None) -> dict[str, Any]:
    """Token accuracy and, for chunk/entity tag sets, entity-level precision, recall
    and F1 per type with micro and macro averages (seqeval, strict mode on BIOES); for
    plain tag sets (POS), precision, recall and F1 per tag, their macro average and the
    most frequent confusions. `conlleval` holds conlleval's counts (`ConllevalCounter`;
    computed from the sentences when not given).

    Both sides are read in `scheme` and rewritten as BIOES through their spans, so
    an ill-formed predicted sequence is read the way conlleval reads it."""
    from rnn_cli.data.schemes import PLAIN, convert

    if len(gold) != len(pred) or any(len(g) != len(p) for g, p in zip(gold, pred)):
        raise ValueError("gold and predicted tags differ in length")
    tokens = sum(len(g) for g in gold)
    correct = sum(a == b for g, p in zip(gold, pred) for a, b in zip(g, p))
    result: dict[str, Any] = {"sentences": len(gold), "tokens": tokens,
                              "accuracy": correct / tokens if tokens else 0.0, "scheme": scheme}
    if conlleval is None:
        counter = ConllevalCounter()
        for g, p in zip(gold, pred):
            counter.sentence(g, p)
        conlleval = counter.counts()
    result["conlleval"] = conlleval
    if scheme == PLAIN:
        return {**result, **_per_tag(gold, pred)}
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


def _per_tag(gold: list[list[str]], pred: list[list[str]]) -> dict[str, Any]:
    """Precision, recall and F1 of each tag (as in gold or predicted), their macro
    average, and the CONFUSIONS most frequent (gold, predicted) pairs that differ."""
    pairs = Counter((a, b) for g, p in zip(gold, pred) for a, b in zip(g, p))
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for (a, b), n in pairs.items():
        if a == b:
            tp[a] += n
        else:
            fn[a] += n
            fp[b] += n
    tags = {}
    for tag in sorted(set(tp) | set(fp) | set(fn)):
        p, r, f = _prf(tp[tag], fp[tag], fn[tag])
        tags[tag] = {"precision": p, "recall": r, "f1": f, "support": tp[tag] + fn[tag]}
    macro = {key: (sum(e[key] for e in tags.values()) / len(tags) if tags else 0.0)
             for key in ("precision", "recall", "f1")}
    wrong = sorted(((n, a, b) for (a, b), n in pairs.items() if a != b), key=lambda x: (-x[0], x[1], x[2]))
    return {"tags": tags, "macro": {**macro, "support": sum(tp.values()) + sum(fn.values())},
            "confusions": [{"gold": a, "pred": b, "count": n} for n, a, b in wrong[:CONFUSIONS]]}


# conlleval's chunk boundaries (startOfChunk / endOfChunk of the conlleval script, in
# the version that knows BIOES's E- and S-; on IOB1 and BIO tags it is the original).
_ENDS = {("B", "B"), ("B", "O"), ("B", "S"), ("I", "B"), ("I", "S"), ("I", "O"), ("E", "E"), ("E", "I"),
         ("E", "O"), ("E", "S"), ("E", "B"), ("S", "E"), ("S", "I"), ("S", "O"), ("S", "S"), ("S", "B")}
_STARTS = {("B", "B"), ("I", "B"), ("O", "B"), ("S", "B"), ("E", "B"), ("B", "S"), ("I", "S"), ("O", "S"),
           ("S", "S"), ("E", "S"), ("O", "I"), ("S", "I"), ("E", "I"), ("S", "E"), ("E", "E"), ("O", "E")}


def _chunk_end(prev: str, tag: str, prev_type: str, kind: str) -> bool:
    return (prev, tag) in _ENDS or (prev not in ("O", ".") and prev_type != kind) or prev in ("[", "]")


def _chunk_start(prev: str, tag: str, prev_type: str, kind: str) -> bool:
    return (prev, tag) in _STARTS or (tag not in ("O", ".") and prev_type != kind) or tag in ("[", "]")


def _conll_split(tag: str) -> tuple[str, str]:
    """conlleval's reading of a tag: `^([^-]*)-(.*)$` gives (prefix, type); a type that
    Perl takes as false ("" or "0") is ""."""
    prefix, sep, kind = tag.partition("-")
    if not sep:
        return tag, ""
    return prefix, ("" if kind in ("", "0") else kind)


class ConllevalCounter:
    """The counts of the conlleval script, fed line by line as conlleval reads them:
    `token(gold, pred)` for a token line, `boundary()` for a sentence break (a blank or
    `-X-` line). `counts()` gives tokens, correct tags, gold, found and correct chunks,
    each in all and per type, as conlleval counts them (`print_conlleval` renders its report)."""

    def __init__(self) -> None:
        self.tokens = self.correct_tags = 0
        self.gold: Counter[str] = Counter()  # conlleval's foundCorrect
        self.found: Counter[str] = Counter()  # foundGuessed
        self.correct: Counter[str] = Counter()  # correctChunk
        self._in_correct = False
        self._last = ("O", "", "O", "")  # correct, its type, guessed, its type

    def token(self, gold: str, pred: str) -> None:
        self._step(*_conll_split(gold), *_conll_split(pred), counted=True)

    def boundary(self) -> None:
        self._step("O", "", "O", "", counted=False)

    def sentence(self, gold: list[str], pred: list[str]) -> None:
        for a, b in zip(gold, pred):
            self.token(a, b)
        self.boundary()

    def _step(self, correct: str, ctype: str, guessed: str, gtype: str, counted: bool) -> None:
        last_c, last_ct, last_g, last_gt = self._last
        if self._in_correct:
            ends_c = _chunk_end(last_c, correct, last_ct, ctype)
            ends_g = _chunk_end(last_g, guessed, last_gt, gtype)
            if ends_c and ends_g and last_gt == last_ct:
                self._in_correct = False
                self.correct[last_ct] += 1
            elif ends_c != ends_g or gtype != ctype:
                self._in_correct = False
        starts_c = _chunk_start(last_c, correct, last_ct, ctype)
        starts_g = _chunk_start(last_g, guessed, last_gt, gtype)
        if starts_c and starts_g and gtype == ctype:
            self._in_correct = True
        if starts_c:
            self.gold[ctype] += 1
        if starts_g:
            self.found[gtype] += 1
        if counted:
            self.correct_tags += correct == guessed and gtype == ctype
            self.tokens += 1
        self._last = (correct, ctype, guessed, gtype)

    def counts(self) -> dict[str, Any]:
        correct = Counter(self.correct)
        if self._in_correct:
            correct[self._last[1]] += 1
        types = sorted(set(self.gold) | set(self.found))
        return {"tokens": self.tokens, "correct_tags": self.correct_tags, "gold": sum(self.gold.values()),
                "found": sum(self.found.values()), "correct": sum(correct.values()),
                "types": {t: {"gold": self.gold[t], "found": self.found[t], "correct": correct[t]} for t in types}}


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


def _ranks(values: list[float]) -> list[float]:
    """Ranks from 1, ties given the mean of the ranks they span."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def pearson(x: list[float], y: list[float]) -> float:
    """Pearson's r (0.0 when either side is constant)."""
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else 0.0


def regression_scores(gold: list[float], pred: list[float]) -> dict[str, Any]:
    """Pearson's r, Spearman's rho (Pearson's r of the ranks, ties averaged) and the
    mean squared error of predicted against gold scores."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold items but {len(pred)} predictions")
    if not gold:
        raise ValueError("no items to score")
    return {"items": len(gold), "pearson": pearson(gold, pred), "spearman": pearson(_ranks(gold), _ranks(pred)),
            "mse": sum((g - p) ** 2 for g, p in zip(gold, pred)) / len(gold), "regression": True}
