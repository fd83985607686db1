"""Writing `classify`'s predictions as TSV or JSON lines."""

from __future__ import annotations

import json
from typing import TextIO

from rnn_cli.predict.classifier import ClassPrediction

FORMATS = ("tsv", "jsonl")


def _clean(text: str) -> str:
    """One TSV field: tabs and line breaks inside the text become spaces."""
    return " ".join(text.split("\t")).replace("\r", " ").replace("\n", " ")


def write_prediction(p: ClassPrediction, fmt: str, out: TextIO, probs: bool, top_k: int, multi_label: bool) -> None:
    chosen = p.top(top_k) if top_k else [(label, p.probs[label]) for label in p.labels]
    if fmt == "jsonl":
        row: dict = {"text": p.example.text}
        if multi_label:
            row["labels"] = p.labels
        else:
            row["label"] = p.labels[0]
        row["probs"] = {k: round(v, 6) for k, v in p.probs.items()}
        if top_k:
            row["top_k"] = [{"label": k, "prob": round(v, 6)} for k, v in chosen]
        if p.attention is not None:
            row["attention"] = [{"token": t, "weight": round(w, 6)} for t, w in zip(p.tokens, p.attention)]
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    if top_k:
        fields = [f"{k}\t{v:.4f}" if probs else k for k, v in chosen]
    else:
        fields = [",".join(k for k, _ in chosen)]
        if probs:
            fields.append(",".join(f"{v:.4f}" for _, v in chosen))
    out.write("\t".join(fields) + "\t" + _clean(p.example.text) + "\n")
