"""The tagging lecture's ablation table (not a test): `make bench-ablation DATA=../shared/data`.

Rows build the tagger up part by part (Ma & Hovy 2016, Table 3; the lecture's
"every added part helps"):

  blstm-random    BiRNN over random 100-d word embeddings, softmax
  blstm-glove     the same over the GloVe 6B 50-d vectors
  blstm-cnn       + a character CNN (30 filters of width 3)
  blstm-cnn-crf   + a CRF instead of the softmax (the full model)

each with --cells (lstm, gru, sru), on CoNLL-2000 POS (the WSJ sections 15-18 / 20 of
DATA/conll2000, the last 10% of train held out as dev; Ma & Hovy's figures are on the
full WSJ, sections 0-18 / 22-24) and CoNLL-2003 NER, over --seeds seeds. Everything
else is bench_tag.py's Ma & Hovy setup (SGD 0.015, momentum 0.9, batch 10, dropout
0.5, 200 units, early stopping on dev).

--epochs / --minutes cap each run (a reduced table in under an hour: --epochs 1
--seeds 1); every finished run is a line of OUT/results.jsonl (or --results FILE), so
`--resume` goes on where a stopped run left off (a run cut mid-training resumes from its
state file). Runs go seed by seed, so a stopped table is whole for its first seeds.
Markdown table on stdout: test accuracy (POS) and F1 (NER), mean ± standard deviation
over seeds, with Ma & Hovy's figures beside them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from bench_tag import data_files
from runlog import RunLog, train_seconds

from rnn_cli.predict.tagger import evaluate_tagger_file, load_tagger
from rnn_cli.training.events import Evaluated
from rnn_cli.training.tagger import train_tagger

ROWS = {
    "blstm-random": {"char_encoder": "none", "decoder": "softmax", "glove": False},
    "blstm-glove": {"char_encoder": "none", "decoder": "softmax", "glove": True},
    "blstm-cnn": {"char_encoder": "cnn", "decoder": "softmax", "glove": True},
    "blstm-cnn-crf": {"char_encoder": "cnn", "decoder": "crf", "glove": True},
}
# Ma & Hovy 2016, Table 3 (GloVe 100-d; the random-embedding row is not in it).
PUBLISHED = {"pos": {"blstm-glove": 96.93, "blstm-cnn": 97.33, "blstm-cnn-crf": 97.55},
             "ner": {"blstm-glove": 87.00, "blstm-cnn": 89.36, "blstm-cnn-crf": 91.21}}
TASKS = {"pos": "pos", "ner": "ner"}


def run_one(task: str, row: str, cell: str, seed: int, args: argparse.Namespace) -> dict:
    parts = ROWS[row]
    train, dev, test, cfg = data_files(f"{task}-glove" if parts["glove"] else task, args.data_dir, args.out_dir)
    if not parts["glove"]:
        cfg = replace(cfg, embeddings=None, embedding_size=100)
    cfg = replace(cfg, char_encoder=parts["char_encoder"], decoder=parts["decoder"], cell=cell, seed=seed)
    if args.epochs:
        cfg = replace(cfg, epochs=args.epochs)
    out = args.out_dir / f"{task}-{row}-{cell}-s{seed}.pt"
    resume = args.resume and out.with_suffix(".state.pt").exists()
    started = time.perf_counter()
    deadline = started + args.minutes * 60 if args.minutes else float("inf")
    epochs = 0
    # The test file is named to the trainer (as bench_tag.py does) so that its words with a
    # GloVe vector join the vocabulary and keep that vector; without it they read as <unk>.
    for event in train_tagger(cfg, train, dev, out, test=test, resume=resume,
                              should_stop=lambda: time.perf_counter() > deadline):
        if isinstance(event, Evaluated):
            epochs = event.record["epoch"]
    if not out.exists():
        sys.exit(f"{out}: the run stopped before its first epoch ended (no model yet): raise --minutes")
    device = torch.device("cpu")
    scores = evaluate_tagger_file(load_tagger(str(out), device), test, device)
    value = scores["accuracy"] if task == "pos" else scores["f1"]
    return {"task": task, "row": row, "cell": cell, "seed": seed, "test": 100 * value, "epochs": epochs,
            "seconds": train_seconds(out), "wall_seconds": round(time.perf_counter() - started, 1),
            "threads": torch.get_num_threads()}


def table(results: list[dict], tasks: list[str], cells: list[str]) -> str:
    def figure(task: str, row: str, cell: str) -> str:
        values = [r["test"] for r in results if (r["task"], r["row"], r["cell"]) == (task, row, cell)]
        if not values:
            return "–"
        spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
        return f"{statistics.mean(values):.2f}{spread}"

    head = ["row"] + [f"{t} {c}" for t in tasks for c in cells] + [f"{t} Ma & Hovy" for t in tasks]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in ROWS:
        cols = [figure(t, row, c) for t in tasks for c in cells]
        cols += [f"{PUBLISHED[t][row]:.2f}" if row in PUBLISHED[t] else "–" for t in tasks]
        lines.append(f"| {row} | " + " | ".join(cols) + " |")
    seeds = sorted({r["seed"] for r in results})
    epochs = sorted({r["epochs"] for r in results})
    return "\n".join(lines) + (f"\n\n(test accuracy for pos, F1 for ner; seeds {seeds}, epochs trained {epochs}, "
                               f"{results[0]['threads'] if results else '?'} thread(s) per run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out-dir", type=Path, default=Path("runs/bench-ablation"))
    parser.add_argument("--tasks", default="pos,ner")
    parser.add_argument("--cells", default="lstm,gru,sru")
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, help="cap on epochs per run (default: the setup's 50, early stopping)")
    parser.add_argument("--minutes", type=float, default=0.0, help="cap on training minutes per run (0: none)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--resume", action="store_true", help="skip finished runs, resume a cut one")
    parser.add_argument("--results", type=Path, help="the results file (default OUT/results.jsonl)")
    parser.add_argument("--table-only", action="store_true", help="print the table of the results file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    log = RunLog(args.out_dir, args.results)
    results = log.results
    tasks, cells, rows = args.tasks.split(","), args.cells.split(","), args.rows.split(",")
    for name, values, known in (("task", tasks, TASKS), ("cell", cells, None), ("row", rows, ROWS)):
        if known is not None and any(v not in known for v in values):
            sys.exit(f"unknown {name} in {values} ({', '.join(known)})")
    if not args.table_only:
        done = {(r["task"], r["row"], r["cell"], r["seed"]) for r in results}
        # Seed by seed: a stopped table is whole for its first seeds rather than for its first rows.
        for seed in range(1, args.seeds + 1):
            for task in tasks:
                for row in rows:
                    for cell in cells:
                        if args.resume and (task, row, cell, seed) in done:
                            continue
                        log.add(run_one(task, row, cell, seed, args))
    print(table(results, tasks, cells))


if __name__ == "__main__":
    main()
