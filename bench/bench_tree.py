"""Tai, Socher & Manning 2015's tables (not a test): `make bench-tree DATA=../shared/data`.

Rows, each over --seeds seeds, with the GloVe 6B 50-d vectors (Tai et al. used 300-d):

  sst-fine-tree   SST, 5 classes: the binary (N-ary) Tree-LSTM trained on every labelled
                  phrase of the constituency trees, scored on the roots (DATA/sst_trees)
  sst-fine-rnn    the same task with the sequential BiLSTM (max pooling) trained on every
                  phrase as an item of its own
  sst-bin-tree    SST-2: --binary (labels 0-1 -> 0, 3-4 -> 1, neutral phrases unlabelled,
  sst-bin-rnn     neutral roots dropped: the published 6,920 / 872 / 1,821 split)
  sick-tree       SICK relatedness: the Child-Sum Tree-LSTM over the Stanford dependency
                  parses of Tai et al.'s preprocessing (DATA/sick/{train,dev,test}), pairs
                  compared by product and absolute difference, the score the expectation of
                  a distribution over 1..5 trained with KL to the sparse target
  sick-lstm       the same with a sequential LSTM (one direction, last state), as Tai's
                  "LSTM" row
  *-ens5          the row's model as an ensemble of five (--ensemble 5: five members trained
                  side by side, their probabilities averaged; five times the training time);
                  the published figures beside them are of single models

The SICK folders are converted to JSONL (text, heads, text_pair, heads_pair, label) in
OUT first. Every finished run is a line of OUT/results.jsonl (`--resume` skips those
already there); the Markdown table on stdout gives test accuracy (SST) or Pearson r
(SICK; and Spearman, MSE) as mean ± standard deviation over seeds, the published
figure beside it, training time per run and trees (items) per second of training.
`--epochs` caps every run (a reduced table: --epochs 2 --seeds 1); `--set KEY=VALUE`
overrides a training option of every run (a variant: give it its own --out-dir).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from runlog import RunLog, config_overrides

from rnn_cli.predict.classifier import evaluate_classifier_file, load_classifier
from rnn_cli.recipes import recipe_config
from rnn_cli.training.classifier import TrainClassifierConfig, train_classifier
from rnn_cli.training.events import Evaluated

GLOVE = "glove/glove.6B.50d.trimmed.txt.gz"
# The tai-sst and tai-sick recipes (`rnn-cli recipes tai-sst`); the rows change the encoder.
SST = recipe_config(TrainClassifierConfig, "tai-sst")
SICK = recipe_config(TrainClassifierConfig, "tai-sick", input_format="jsonl")
ROWS: dict[str, tuple[str, TrainClassifierConfig]] = {
    "sst-fine-tree": ("sst", replace(SST, encoder="tree-lstm")),
    "sst-fine-rnn": ("sst", replace(SST, encoder="rnn", hidden_size=150, batch_size=50, lr=0.001, epochs=6,
                                    patience=2, schedule="constant")),
    "sst-bin-tree": ("sst", replace(SST, encoder="tree-lstm", binary=True)),
    "sst-bin-rnn": ("sst", replace(SST, encoder="rnn", binary=True, batch_size=50, lr=0.001, epochs=6, patience=2,
                                   schedule="constant")),
    "sick-tree": ("sick", replace(SICK, encoder="tree-lstm")),
    "sick-lstm": ("sick", replace(SICK, encoder="rnn", bidirectional=False, pooling="last")),
}
ENSEMBLED = ("sst-bin-tree", "sst-bin-rnn", "sick-tree", "sick-lstm")  # each also as a `-ens5` row
ROWS.update({f"{row}-ens5": (ROWS[row][0], replace(ROWS[row][1], ensemble=5)) for row in ENSEMBLED})
# Tai et al. 2015, Tables 2 and 3 (300-d GloVe; SST: the constituency Tree-LSTM and the
# LSTM; SICK: the dependency Tree-LSTM and the LSTM, Pearson r).
PUBLISHED = {"sst-fine-tree": 51.0, "sst-fine-rnn": 46.4, "sst-bin-tree": 88.0, "sst-bin-rnn": 84.9,
             "sick-tree": 0.8676, "sick-lstm": 0.8528}
PUBLISHED.update({f"{row}-ens5": PUBLISHED[row] for row in ENSEMBLED})


def sick_jsonl(root: Path, out_dir: Path) -> dict[str, str]:
    """Tai et al.'s SICK folders (a.toks, a.parents, b.toks, b.parents, sim.txt) as JSONL."""
    paths = {}
    for split in ("train", "dev", "test"):
        src, dst = root / "sick" / split, out_dir / f"sick.{split}.jsonl"
        if not dst.exists():
            cols = {name: (src / name).read_text(encoding="utf-8").splitlines()
                    for name in ("a.toks", "a.parents", "b.toks", "b.parents", "sim.txt")}
            with open(dst, "w", encoding="utf-8") as fh:
                for a, ap, b, bp, sim in zip(*(cols[k] for k in ("a.toks", "a.parents", "b.toks", "b.parents",
                                                                 "sim.txt"))):
                    fh.write(json.dumps({"text": a, "heads": [int(h) for h in ap.split()], "text_pair": b,
                                         "heads_pair": [int(h) for h in bp.split()], "label": float(sim)}) + "\n")
        paths[split] = str(dst)
    return paths


def run_one(row: str, seed: int, args: argparse.Namespace) -> dict:
    task, cfg = ROWS[row]
    if task == "sst":
        files = {s: str(args.data_dir / "sst_trees" / n) for s, n in
                 (("train", "train.txt.gz"), ("dev", "dev.txt"), ("test", "test.txt"))}
    else:
        files = sick_jsonl(args.data_dir, args.out_dir)
    cfg = replace(cfg, embeddings=str(args.data_dir / GLOVE), seed=seed, **args.overrides)
    if args.epochs:
        cfg = replace(cfg, epochs=args.epochs)
    out = args.out_dir / f"{row}-s{seed}.pt"
    started = time.perf_counter()
    rates, epochs = [], 0
    for event in train_classifier(cfg, files["train"], files["dev"], out):
        if isinstance(event, Evaluated):
            epochs = event.record["epoch"]
            rates.append(event.record["items_per_s"])
    seconds = time.perf_counter() - started
    device = torch.device("cpu")
    scores = evaluate_classifier_file(load_classifier(str(out), device), files["test"], device)
    result = {"row": row, "seed": seed, "epochs": epochs, "seconds": round(seconds, 1),
              "items_per_s": round(statistics.mean(rates), 1), "threads": torch.get_num_threads()}
    if task == "sick":
        result.update({k: scores[k] for k in ("pearson", "spearman", "mse")})
    else:
        result["accuracy"] = 100 * scores["accuracy"]
    return result


def _timing(result: dict, out_dir: Path) -> tuple[float, float]:
    """A run's training minutes and items/s, from the median epoch of its metrics log
    (robust to an epoch slowed or paused by other work on the machine), or as recorded."""
    log = out_dir / f"{result['row']}-s{result['seed']}.metrics.jsonl"
    if not log.exists():
        return result["seconds"] / 60, result["items_per_s"]
    epochs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    seconds = statistics.median(e["epoch_seconds"] for e in epochs)
    return seconds * len(epochs) / 60, statistics.median(e["items_per_s"] for e in epochs)


def table(results: list[dict], out_dir: Path) -> str:
    def stat(values: list[float], digits: int) -> str:
        if not values:
            return "–"
        spread = f" ± {statistics.stdev(values):.{digits}f}" if len(values) > 1 else ""
        return f"{statistics.mean(values):.{digits}f}{spread}"

    lines = ["| row | test (ours, 50-d) | published (300-d) | Spearman | MSE | seeds | epochs | min / run | "
             "items/s (train) |", "|---|---|---|---|---|---|---|---|---|"]
    for row in ROWS:
        rs = [r for r in results if r["row"] == row]
        if not rs:
            continue
        sick = "pearson" in rs[0]
        main = stat([r["pearson"] if sick else r["accuracy"] for r in rs], 4 if sick else 2)
        other = [stat([r[k] for r in rs], 4) if sick else "–" for k in ("spearman", "mse")]
        timing = [_timing(r, out_dir) for r in rs]
        lines.append(f"| {row} | {main} | {PUBLISHED[row]} | {other[0]} | {other[1]} | {len(rs)} | "
                     f"{stat([r['epochs'] for r in rs], 1)} | {stat([m for m, _ in timing], 1)} | "
                     f"{stat([v for _, v in timing], 0)} |")
    threads = sorted({r["threads"] for r in results})
    return "\n".join(lines) + (f"\n\n(SST: root accuracy %; SICK: Pearson r; {threads} thread(s) per run; minutes "
                               "and items/s from each run's median epoch)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out-dir", type=Path, default=Path("runs/bench-tree"))
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, help="cap on epochs per run (default: each row's, early stopping)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a training option of every run (e.g. --set hidden_size=300)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--resume", action="store_true", help="skip the runs already in OUT/results.jsonl")
    parser.add_argument("--table-only", action="store_true", help="print the table of OUT/results.jsonl")
    args = parser.parse_args()
    rows = args.rows.split(",")
    if any(r not in ROWS for r in rows):
        sys.exit(f"unknown row in {rows} ({', '.join(ROWS)})")
    args.overrides = config_overrides(args.set, TrainClassifierConfig)
    torch.set_num_threads(args.threads)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    log = RunLog(args.out_dir)
    results = log.results
    if not args.table_only:
        done = {(r["row"], r["seed"]) for r in results}
        for row in rows:
            for seed in range(1, args.seeds + 1):
                if args.resume and (row, seed) in done:
                    continue
                log.add(run_one(row, seed, args))
    print(table(results, args.out_dir))


if __name__ == "__main__":
    main()
