"""Classification benchmarks (not tests): `make bench-classify DATA=../shared/data`.

trec:        TREC question type, 6 coarse classes (every 10th training question held
             out as dev; train is latin-1), lower-cased text and the GloVe 6B 50-d
             vectors (uncased). Target test accuracy >= 91.
trec-random: the same with random embeddings.
sst2:        SST-2 sentence level (stsa.binary), random 100-d embeddings (words seen
             twice or more), lr 5e-4. Target >= 82.
sst2-glove:  the same with the GloVe 6B 50-d vectors in DATA/glove, attention pooling.
             Target >= 86.
`--pooling all` trains one model per pooling mode (last, mean, max, attention) on
the task and prints one JSON line each, for the README's side-by-side table.
Model: BiLSTM (--hidden-size per direction) over word embeddings, dropout 0.5,
Adam, batch 32, early stopping on dev accuracy. Prints one JSON line of figures per
model on stdout (progress on stderr).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from rnn_cli.data.classification import Example
from rnn_cli.data.text import iter_lines
from rnn_cli.predict.classifier import evaluate_classifier_file, load_classifier, predict
from rnn_cli.training.classifier import TrainClassifierConfig, train_classifier
from rnn_cli.training.events import Evaluated, Info

BASE = TrainClassifierConfig(epochs=20, batch_size=32, optimizer="adam", lr=0.001, hidden_size=150,
                             embedding_size=300, dropout=0.5, patience=5, pooling="max")


def _write_tsv(path: Path, rows: list[tuple[str, str]]) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        for label, text in rows:
            fh.write(f"{label}\t{text}\n")
    return str(path)


def data_files(task: str, root: Path, out_dir: Path) -> tuple[str, str, str, TrainClassifierConfig]:
    out_dir.mkdir(parents=True, exist_ok=True)
    if task.startswith("trec"):
        def read(name: str) -> list[tuple[str, str]]:
            rows = []
            for _, line in iter_lines(str(root / "trec" / name), "latin-1"):
                label, text = line.split(" ", 1)
                rows.append((label.split(":")[0], text))
            return rows

        train = read("TREC.train")
        dev = train[::10]
        train = [r for i, r in enumerate(train) if i % 10]
        cfg = replace(BASE, lowercase=True)
        if task == "trec":
            cfg = replace(cfg, embeddings=str(root / "glove" / "glove.6B.50d.trimmed.txt.gz"))
        return (_write_tsv(out_dir / "trec.train.tsv", train), _write_tsv(out_dir / "trec.dev.tsv", dev),
                _write_tsv(out_dir / "trec.test.tsv", read("TREC.test")), cfg)
    files = []
    for part in ("train", "dev", "test"):
        rows = [tuple(line.split(" ", 1)) for _, line in iter_lines(str(root / "sst" / f"stsa.binary.{part}"))]
        files.append(_write_tsv(out_dir / f"sst2.{part}.tsv", rows))  # type: ignore[arg-type]
    # The settings of each SST-2 task are the best by dev accuracy of a small sweep
    # (README: pooling, embedding size, min_freq, lr, dropout, hidden size, layers).
    cfg = replace(BASE, embedding_size=100, min_freq=2, lr=0.0005)
    if task == "sst2-glove":
        cfg = replace(BASE, pooling="attention", embeddings=str(root / "glove" / "glove.6B.50d.trimmed.txt.gz"))
    return files[0], files[1], files[2], cfg


def run_one(task: str, cfg: TrainClassifierConfig, train: str, dev: str, test: str, out: Path,
            device: torch.device) -> dict:
    started = time.perf_counter()
    speeds = []
    for event in train_classifier(cfg, train, dev, out, test=test, device=device):
        if isinstance(event, Evaluated):
            r = event.record
            speeds.append(r["items_per_s"])
            print(f"[{cfg.pooling}] epoch {r['epoch']:2d} loss {r['train_loss']:.3f} dev acc {r['dev_accuracy']:.4f} "
                  f"{r['items_per_s']:.0f} items/s", file=sys.stderr, flush=True)
        elif isinstance(event, Info):
            print(event.message, file=sys.stderr, flush=True)
    train_seconds = time.perf_counter() - started
    loaded = load_classifier(str(out), device)
    t0 = time.perf_counter()
    scores = evaluate_classifier_file(loaded, test, device, batch_size=64)
    speed = scores["items"] / (time.perf_counter() - t0)
    texts = [line.split("\t", 1)[1] for _, line in iter_lines(test)][:200]
    t0 = time.perf_counter()
    for i, text in enumerate(texts):
        list(predict(loaded, [Example(text, None, i + 1)], 1, device))
    latency_ms = (time.perf_counter() - t0) / len(texts) * 1000
    return {
        "task": task, "pooling": cfg.pooling, "device": str(device), "threads": torch.get_num_threads(),
        "epochs": len(speeds), "best_epoch": loaded.payload["metrics"].get("epoch"),
        "dev_accuracy": loaded.payload["metrics"].get("dev_accuracy"),
        "test_accuracy": scores["accuracy"], "test_macro_f1": scores["macro_f1"],
        "train_examples_per_s": round(sum(speeds) / max(len(speeds), 1), 1),
        "classify_examples_per_s": round(speed, 1), "latency_ms_per_item": round(latency_ms, 2),
        "train_seconds": round(train_seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["trec", "trec-random", "sst2", "sst2-glove"])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out-dir", type=Path, default=Path("runs/bench"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--pooling", choices=["last", "mean", "max", "attention", "all"],
                        help="default: the task's (max; attention for sst2-glove)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a TrainClassifierConfig field, e.g. --set dropout=0.3 (repeatable)")
    parser.add_argument("--tag", default="", help="suffix of the model file names (parallel runs)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    train, dev, test, cfg = data_files(args.task, args.data_dir, args.out_dir)
    if args.epochs:
        cfg = replace(cfg, epochs=args.epochs)
    cfg = override(cfg, args.set)
    poolings = ["last", "mean", "max", "attention"] if args.pooling == "all" else [args.pooling or cfg.pooling]
    for pooling in poolings:
        out = args.out_dir / f"cls-{args.task}-{pooling}{args.tag}.pt"
        result = run_one(args.task, replace(cfg, pooling=pooling), train, dev, test, out, torch.device(args.device))
        print(json.dumps({**result, "overrides": args.set}), flush=True)


def override(cfg: Any, assignments: list[str]) -> Any:
    """`cfg` with `FIELD=VALUE` assignments applied, each value parsed as the field's type."""
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    changes: dict[str, Any] = {}
    for item in assignments:
        name, _, value = item.partition("=")
        if name not in fields:
            raise SystemExit(f"--set: {cfg.__class__.__name__} has no field {name!r}")
        current = getattr(cfg, name)
        if isinstance(current, bool):
            changes[name] = value.lower() in ("1", "true", "yes")
        elif isinstance(current, (int, float)) and not isinstance(current, bool):
            changes[name] = type(current)(value)
        else:
            changes[name] = None if value == "none" else value
    return replace(cfg, **changes)


if __name__ == "__main__":
    main()
