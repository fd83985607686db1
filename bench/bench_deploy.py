"""Deployment benchmark (not a test): `make bench-deploy DATA=../shared/data`.

For a CoNLL-2003 NER tagger and an SST-2 classifier, one table of: file size,
throughput (sentences/s at --batch-size, model already loaded, input already read)
and quality (entity F1 on eng.testb / accuracy on stsa.binary.test) of

  fp32          the model file, as `rnn-cli tag` / `classify` run it
  fp32-ts       its TorchScript export (`rnn-cli export`)
  int8          an int8 copy made on loading (`--quantize int8`)
  int8-ts       the int8 TorchScript export (`rnn-cli export --quantize int8`)
  bf16          only where the CPU has native bf16 (AVX512-BF16 or AMX); else a note

The models are --tagger / --classifier, or trained here first into --out-dir (capped by
--tagger-epochs / --classifier-epochs; reused by later runs): the figures compare precisions of one
model, not the best model rnn-cli can train (see bench-tag / bench-classify for that).
Markdown table on stdout, one JSON line per row on stderr.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

import rnn_cli
from rnn_cli.data.sentences import read_tagged_file
from rnn_cli.data.text import iter_lines
from rnn_cli.metrics import tagging_scores
from rnn_cli.predict.export import export_model


def train_if_missing(path: Path, args: list[str], epochs: int) -> None:
    if path.exists():
        return
    cmd = [sys.executable, "-m", "rnn_cli", *args, "--epochs", str(epochs), "-o", str(path)]
    print("training:", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def variants(model: Path, out_dir: Path) -> list[tuple[str, str, str | None, int]]:
    """(name, file, quantize-on-load, bytes) per variant, exporting as needed."""
    rows = [("fp32", str(model), None, model.stat().st_size)]
    for name, quantize in (("fp32-ts", None), ("int8-ts", "int8")):
        out = out_dir / f"{model.stem}.{name}.ts"
        export_model(str(model), str(out), "torchscript", quantize)
        rows.append((name, str(out), None, out.stat().st_size))
        if name == "fp32-ts":
            rows.append(("int8", str(model), "int8", 0))
    return rows


def timed(fn: Any, repeats: int) -> tuple[Any, float]:
    """The result of `fn()` and its best wall time over `repeats` runs."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def bench_tagger(model: Path, data: Path, out_dir: Path, batch: int, repeats: int, threads: int) -> list[dict]:
    sentences = read_tagged_file(str(data), "conll", 0, -1, "upos", "utf-8")
    tokens = [s.tokens for s in sentences]
    rows = []
    for name, path, quantize, size in variants(model, out_dir):
        m = rnn_cli.load(path, threads=threads, quantize=quantize)
        m.tag_many(tokens[:batch], batch_size=batch)  # warm up
        preds, seconds = timed(lambda m=m: m.tag_many(tokens, batch_size=batch), repeats)
        scores = tagging_scores([s.tags or [] for s in sentences], [p.tags for p in preds], m.scheme)
        rows.append({"task": "ner (CoNLL-2003 test)", "variant": name, "bytes": size,
                     "items_per_s": len(tokens) / seconds, "quality": 100 * scores["f1"], "metric": "F1",
                     "tags": [p.tags for p in preds]})
    return rows


def bench_classifier(model: Path, data: Path, out_dir: Path, batch: int, repeats: int, threads: int) -> list[dict]:
    items = [line.split(" ", 1) for _, line in iter_lines(str(data))]
    texts, gold = [text for _, text in items], [label for label, _ in items]
    rows = []
    for name, path, quantize, size in variants(model, out_dir):
        m = rnn_cli.load(path, threads=threads, quantize=quantize)
        m.classify_many(texts[:batch], batch_size=batch)
        preds, seconds = timed(lambda m=m: m.classify_many(texts, batch_size=batch), repeats)
        accuracy = sum(p.label == g for p, g in zip(preds, gold)) / len(gold)
        rows.append({"task": "sst-2 (test)", "variant": name, "bytes": size, "items_per_s": len(texts) / seconds,
                     "quality": 100 * accuracy, "metric": "accuracy", "tags": [p.label for p in preds]})
    return rows


def agreement(rows: list[dict]) -> None:
    """Each row's share of outputs equal to the fp32 model file's (tags or labels)."""
    reference = rows[0]["tags"]
    for row in rows:
        flat_ref = [t for s in reference for t in (s if isinstance(s, list) else [s])]
        flat = [t for s in row.pop("tags") for t in (s if isinstance(s, list) else [s])]
        row["same_as_fp32"] = 100 * sum(a == b for a, b in zip(flat, flat_ref)) / len(flat_ref)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out-dir", type=Path, default=Path("runs/bench-deploy"))
    parser.add_argument("--tagger", type=Path, help="a CoNLL-2003 tagger (default: train one into --out-dir)")
    parser.add_argument("--classifier", type=Path, help="an SST-2 classifier (default: train one into --out-dir)")
    parser.add_argument("--tagger-epochs", type=int, default=10, help="when training the tagger here")
    parser.add_argument("--classifier-epochs", type=int, default=5, help="when training the classifier here")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the best counts")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    root = args.data_dir
    tagger = args.tagger or args.out_dir / "ner.pt"
    glove = str(root / "glove/glove.6B.50d.trimmed.txt.gz")
    train_if_missing(tagger, ["train-tagger", str(root / "conll2003/eng.train.gz"), "--dev",
                              str(root / "conll2003/eng.testa"), "--embeddings", glove,
                              "--threads", str(args.threads), "-q"], args.tagger_epochs)
    classifier = args.classifier or args.out_dir / "sst2.pt"
    train_if_missing(classifier, ["train-classifier", str(root / "sst/stsa.binary.train"), "--dev",
                                  str(root / "sst/stsa.binary.dev"), "--input-format", "label-text",
                                  "--threads", str(args.threads), "-q"], args.classifier_epochs)
    tables = [bench_tagger(tagger, root / "conll2003/eng.testb", args.out_dir, args.batch_size, args.repeats,
                           args.threads),
              bench_classifier(classifier, root / "sst/stsa.binary.test", args.out_dir, args.batch_size,
                               args.repeats, args.threads)]
    capability = torch.backends.cpu.get_cpu_capability()
    print(f"CPU capability {capability}, {args.threads} thread(s), batch {args.batch_size}, torch {torch.__version__}"
          f", best of {args.repeats} passes\n")
    print("| task | variant | file size | items/s | speed-up | quality | same output as fp32 |")
    print("|---|---|---|---|---|---|---|")
    for rows in tables:
        agreement(rows)
        base = rows[0]
        for row in rows:
            size = f"{row['bytes'] / 1e6:.2f} MB ({row['bytes'] / base['bytes']:.2f}x)" if row["bytes"] else "as fp32"
            print(f"| {row['task']} | {row['variant']} | {size} | {row['items_per_s']:.0f} | "
                  f"{row['items_per_s'] / base['items_per_s']:.2f}x | {row['metric']} {row['quality']:.2f} | "
                  f"{row['same_as_fp32']:.2f}% |")
            print(json.dumps({**row, "threads": args.threads, "batch": args.batch_size}), file=sys.stderr)
    if "AVX512_BF16" not in capability and "AMX" not in capability:
        print(f"\nbf16: not measured, this CPU ({capability}) has no native bf16 arithmetic (AVX512-BF16 or AMX); "
              "torch would emulate it, slower than fp32.")


if __name__ == "__main__":
    main()
