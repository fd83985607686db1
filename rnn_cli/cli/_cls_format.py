"""Writing `classify`'s predictions as TSV or JSON lines.

TSV: the prediction's fields, then the input's: its text, or the row's columns (less
a gold label column) when the input was TSV read as columns, under a header row when
the input had one. JSONL: the text, the prediction and, for such rows, `columns`."""

from __future__ import annotations

import json
from typing import TextIO

from rnn_cli.data.trees import to_ptb
from rnn_cli.predict.classifier import ClassPrediction

FORMATS = ("tsv", "jsonl")


def _clean(text: str) -> str:
    """One TSV field: tabs and line breaks inside the text become spaces."""
    return " ".join(text.split("\t")).replace("\r", " ").replace("\n", " ")


def write_header(p: ClassPrediction, fmt: str, out: TextIO, probs: bool, top_k: int) -> None:
    """The header row of TSV output, when the input had one (call before the first row)."""
    if fmt != "tsv" or p.example.columns is None:
        return
    if top_k:
        names = [n for k in range(1, top_k + 1) for n in (f"predicted_{k}", f"prob_{k}")[: 2 if probs else 1]]
    else:
        names = ["predicted", "prob"] if probs else ["predicted"]
    out.write("\t".join(names + [_clean(c) for c in p.example.columns]) + "\n")


def write_prediction(p: ClassPrediction, fmt: str, out: TextIO, probs: bool, top_k: int, multi_label: bool) -> None:
    chosen = p.top(top_k) if top_k else [(label, p.probs[label]) for label in p.labels]
    tree = p.example.tree
    if fmt == "jsonl":
        row: dict = {"text": p.example.text}
        if p.example.text_pair is not None:
            row["text_pair"] = p.example.text_pair
        if p.score is not None:
            row["score"] = round(p.score, 6)
        elif multi_label:
            row["labels"] = p.labels
        else:
            row["label"] = p.labels[0]
        row["probs"] = {k: round(v, 6) for k, v in p.probs.items()}
        if p.nodes is not None and tree is not None:
            row["nodes"] = [{"text": " ".join(tree.words[a:b]), "label": label}
                            for (a, b), label in zip(tree.spans(), p.nodes)]
        if top_k:
            row["top_k"] = [{"label": k, "prob": round(v, 6)} for k, v in chosen]
        kept, names = p.example.fields, p.example.columns
        if kept is not None and len(kept) > 1:
            row["columns"] = dict(zip(names, kept)) if names is not None else kept
        elif p.example.extra:  # a JSON line's other keys (its id), as they were
            row["columns"] = p.example.extra
        if p.attention is not None and p.example.story is not None:  # a DMN's gates: per fact, one weight a pass
            facts = p.example.story[len(p.example.story) - len(p.attention[0]):]
            row["attention"] = [{"fact": f, "weights": [round(w[k], 6) for w in p.attention]}
                                for k, f in enumerate(facts)]
        elif p.attention is not None:
            row["attention"] = [{"token": t, "weight": round(w, 6)} for t, w in zip(p.tokens, p.attention)]
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    if p.score is not None:
        fields = [f"{p.score:.4f}"]
    elif top_k:
        fields = [f"{k}\t{v:.4f}" if probs else k for k, v in chosen]
    else:
        fields = [",".join(k for k, _ in chosen)]
        if probs:
            fields.append(",".join(f"{v:.4f}" for _, v in chosen))
    if p.example.fields is not None:
        row_fields = p.example.fields
    elif p.nodes is not None and tree is not None:
        row_fields = [to_ptb(tree, p.nodes)]
    else:
        row_fields = [p.example.text] + ([p.example.text_pair] if p.example.text_pair is not None else [])
    out.write("\t".join(fields + [_clean(f) for f in row_fields]) + "\n")
