"""Kumar et al. 2016's bAbI table (not a test): `make bench-babi DATA=../shared/data`.

One Dynamic Memory Network per task (`--encoder dmn`: the DMN+ input module, 3 passes,
ReLU memory updates), on the 1k English training set of each of the 20 tasks
(DATA/babi/en); every 10th story of the training file is held out as dev (early
stopping), and the test file scores the best model. Two settings:

  strong   --supervise-facts: the gates are also trained on the supporting facts (the
           setting of the paper's table: DMN 93.6 mean, 18 tasks passed at >= 95%),
           and --fact-dropout 0.5 (the recipe's) leaves out facts that support nothing
  weak     answers only (end-to-end memory networks report about 86 mean on 1k); no
           fact dropout, which would read the supporting facts

Every finished (task, setting, seed) run is a line of OUT/results.jsonl (`--resume`
skips those there). The Markdown table on stdout gives per-task test accuracy beside
MemNN's and the DMN's published figures, the mean, the tasks passed, and training
time per task. `--tasks 1,2,3`, `--settings strong`, `--epochs` narrow a run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from runlog import RunLog, config_overrides

from rnn_cli.data.text import iter_lines
from rnn_cli.predict.classifier import evaluate_classifier_file, load_classifier
from rnn_cli.recipes import recipe_config
from rnn_cli.training.classifier import TrainClassifierConfig, train_classifier
from rnn_cli.training.events import Evaluated

# The dmn-babi recipe (`rnn-cli recipes dmn-babi`); SETTINGS chooses the supervision.
BASE = recipe_config(TrainClassifierConfig, "dmn-babi", seed=1)
SETTINGS = {"strong": {"supervise_facts": True}, "weak": {"supervise_facts": False, "fact_dropout": 0.0}}
# Kumar et al. 2016, Table 1 (bAbI 1k, test accuracy %): MemNN (Weston et al., strongly
# supervised) and the DMN.
MEMNN = [100, 100, 100, 100, 98, 100, 85, 91, 100, 98, 100, 100, 100, 99, 100, 100, 65, 95, 36, 100]
DMN = [100, 98.2, 95.2, 100, 99.3, 100, 96.9, 96.5, 100, 97.5, 99.9, 100, 99.8, 100, 100, 99.4, 59.6, 95.3, 34.5,
       100]
PASS = 95.0


def split_train(train: Path, out_dir: Path) -> tuple[str, str]:
    """The training file less every 10th story, and those stories (dev)."""
    keep, held, story, n = [], [], [], 0
    for _, line in iter_lines(str(train)):
        if line.split(" ", 1)[0] == "1" and story:
            (held if n % 10 == 9 else keep).extend(story)
            story, n = [], n + 1
        story.append(line)
    (held if n % 10 == 9 else keep).extend(story)
    paths = out_dir / f"{train.stem}.fit.txt", out_dir / f"{train.stem}.dev.txt"
    for path, lines in zip(paths, (keep, held)):
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(paths[0]), str(paths[1])


def task_files(root: Path, task: int) -> tuple[Path, Path]:
    (train,) = sorted((root / "babi" / "en").glob(f"qa{task}_*_train.txt"))
    (test,) = sorted((root / "babi" / "en").glob(f"qa{task}_*_test.txt"))
    return train, test


def run_one(task: int, setting: str, seed: int, args: argparse.Namespace) -> dict:
    train, test = task_files(args.data_dir, task)
    fit, dev = split_train(train, args.out_dir)
    cfg = replace(BASE, seed=seed, **SETTINGS[setting], **args.overrides)  # type: ignore[arg-type]
    if args.epochs:
        cfg = replace(cfg, epochs=args.epochs)
    out = args.out_dir / f"qa{task}-{setting}-s{seed}.pt"
    started, epochs = time.perf_counter(), 0
    for event in train_classifier(cfg, fit, dev, out):
        if isinstance(event, Evaluated):
            epochs = event.record["epoch"]
    seconds = time.perf_counter() - started
    device = torch.device("cpu")
    scores = evaluate_classifier_file(load_classifier(str(out), device), str(test), device)
    return {"task": task, "setting": setting, "seed": seed, "test": 100 * scores["accuracy"], "epochs": epochs,
            "seconds": round(seconds, 1), "threads": torch.get_num_threads()}


def table(results: list[dict], settings: list[str]) -> str:
    head = ["task", "MemNN", "DMN"] + [f"ours, {s}" for s in settings] + [f"min ({s})" for s in settings]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    ours: dict[str, dict[int, float]] = {s: {} for s in settings}
    for task in range(1, 21):
        cols = [str(task), f"{MEMNN[task - 1]:g}", f"{DMN[task - 1]:g}"]
        times = []
        for s in settings:
            rs = [r for r in results if (r["task"], r["setting"]) == (task, s)]
            if rs:
                ours[s][task] = statistics.mean(r["test"] for r in rs)
                cols.append(f"{ours[s][task]:.1f}")
                times.append(f"{statistics.mean(r['seconds'] for r in rs) / 60:.1f}")
            else:
                cols.append("–")
                times.append("–")
        lines.append("| " + " | ".join(cols + times) + " |")

    def mean(values: list[float] | dict[int, float]) -> str:
        v = list(values.values()) if isinstance(values, dict) else values
        return f"{statistics.mean(v):.1f}" + (f" ({len(v)} tasks)" if len(v) < 20 else "") if v else "–"

    def passed(values: list[float] | dict[int, float]) -> str:
        v = list(values.values()) if isinstance(values, dict) else values
        return f"{sum(x >= PASS for x in v)}" + (f" of {len(v)}" if len(v) < 20 else "")

    blank = [""] * len(settings)
    lines.append("| " + " | ".join(["mean", mean(MEMNN), mean(DMN)] + [mean(ours[s]) for s in settings] + blank)
                 + " |")
    lines.append("| " + " | ".join(["passed (>= 95)", passed(MEMNN), passed(DMN)] + [passed(ours[s]) for s in settings]
                                   + blank) + " |")
    threads = sorted({r["threads"] for r in results})
    return "\n".join(lines) + f"\n\n(test accuracy %, mean over seeds; {threads} thread(s) per run)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out-dir", type=Path, default=Path("runs/bench-babi"))
    parser.add_argument("--tasks", default=",".join(str(t) for t in range(1, 21)))
    parser.add_argument("--settings", default="strong,weak")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=1,
                        help="seeds FIRST .. FIRST+SEEDS-1 (runs of other seeds side by side, each its own --out-dir)")
    parser.add_argument("--epochs", type=int, help="cap on epochs per run (default: the recipe's 100, early stopping)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a training option of every run (e.g. --set passes=4 --set lr=0.001)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--resume", action="store_true", help="skip the runs already in OUT/results.jsonl")
    parser.add_argument("--table-only", action="store_true", help="print the table of OUT/results.jsonl")
    args = parser.parse_args()
    tasks = [int(t) for t in args.tasks.split(",")]
    args.overrides = config_overrides(args.set, TrainClassifierConfig)
    settings = args.settings.split(",")
    if "seed" in args.overrides:
        sys.exit("--set seed=... : use --first-seed (and --seeds)")
    if any(s not in SETTINGS for s in settings) or any(not 1 <= t <= 20 for t in tasks):
        sys.exit(f"tasks are 1-20, settings {', '.join(SETTINGS)}")
    torch.set_num_threads(args.threads)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    log = RunLog(args.out_dir)
    results = log.results
    if not args.table_only:
        done = {(r["task"], r["setting"], r["seed"]) for r in results}
        for setting in settings:
            for task in tasks:
                for seed in range(args.first_seed, args.first_seed + args.seeds):
                    if args.resume and (task, setting, seed) in done:
                        continue
                    log.add(run_one(task, setting, seed, args))
    print(table(results, settings))


if __name__ == "__main__":
    main()
