"""Tagging benchmarks (not tests): `make bench-tag DATA=../shared/data`.

ner:        CoNLL-2003 English NER (IOB1), random word embeddings, word dropout 0.5 on
            words seen once (Lample et al. 2016). Target test F1 >= 84.
ner-glove:  the same with the GloVe 6B 50-d vectors in DATA/glove. Target >= 90.
pos, chunk: CoNLL-2000 (the last 10% of train held out as dev). Targets: POS
            accuracy >= 96.5, chunking F1 >= 93.5. pos-glove, chunk-glove: the same
            with the GloVe vectors (as Ma & Hovy used for POS).
The model is Ma & Hovy 2016's, the `ma-hovy` recipe: char CNN (30 filters of
width 3), BiLSTM 200, CRF, dropout 0.5, SGD lr 0.015 with momentum 0.9 and lr / (1 +
0.05 epoch), batch 10, clip 5. `--minutes` caps the training time (the best model so far is
then scored). Prints one JSON line of figures on stdout.

speed:      one training epoch over CoNLL-2003 train with the size of flair's
            SequenceTagger in the issue's comparison (GloVe 50-d + char CNN, BiLSTM
            200, CRF, batch 32), and tagging CoNLL-2003 test in batches. flair's
            epoch is timed too when `--flair-python` names a Python with flair
            installed (bench/flair_epoch.py; its character dictionary is built from
            the corpus, so nothing is downloaded); otherwise the issue's reference
            figure for this machine (240 s per epoch) is used.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from rnn_cli.data.conll import read_conll, write_conll
from rnn_cli.predict.tagger import evaluate_tagger_file, load_tagger, predict
from rnn_cli.recipes import recipe_config
from rnn_cli.training.events import Done, Evaluated, Info
from rnn_cli.training.tagger import TrainTaggerConfig, train_tagger

BASE = recipe_config(TrainTaggerConfig, "ma-hovy")


def data_files(task: str, root: Path, out_dir: Path) -> tuple[str, str, str, TrainTaggerConfig]:
    if (root / "eng.testa").exists() or (root / "train.txt.gz").exists():
        root = root.parent
    if task == "speed":
        d = root / "conll2003"
        cfg = replace(BASE, epochs=1, batch_size=32, embeddings=str(root / "glove" / "glove.6B.50d.trimmed.txt.gz"))
        return str(d / "eng.train.gz"), str(d / "eng.testa"), str(d / "eng.testb"), cfg
    if task.startswith("ner"):
        d = root / "conll2003"
        # Random embeddings: words seen once sometimes stand for <unk> (Lample et al. 2016).
        cfg = replace(BASE, embedding_size=100, singleton_dropout=0.5)
        if task == "ner-glove":
            cfg = replace(cfg, singleton_dropout=0.0, embeddings=str(root / "glove" / "glove.6B.50d.trimmed.txt.gz"))
        return str(d / "eng.train.gz"), str(d / "eng.testa"), str(d / "eng.testb"), cfg
    # CoNLL-2000: hold out the last 10% of the training sentences as dev.
    out_dir.mkdir(parents=True, exist_ok=True)
    train = list(read_conll(str(root / "conll2000" / "train.txt.gz")))
    cut = len(train) * 9 // 10
    for name, part in (("train", train[:cut]), ("dev", train[cut:])):
        with open(out_dir / f"conll2000.{name}.txt", "w", encoding="utf-8") as fh:
            write_conll(part, fh)
    cfg = replace(BASE, tag_column=1 if task.startswith("pos") else 2)
    if task.endswith("-glove"):
        cfg = replace(cfg, embeddings=str(root / "glove" / "glove.6B.50d.trimmed.txt.gz"))
    return (str(out_dir / "conll2000.train.txt"), str(out_dir / "conll2000.dev.txt"),
            str(root / "conll2000" / "test.txt.gz"), cfg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["ner", "ner-glove", "pos", "pos-glove", "chunk", "chunk-glove", "speed"])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out-dir", type=Path, default=Path("runs/bench"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--minutes", type=float, default=0.0, help="cap on training time (0: none)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--flair-python", help="speed: a Python with flair installed, to time flair's epoch")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    train, dev, test, cfg = data_files(args.task, args.data_dir, args.out_dir)
    if args.epochs:
        cfg = replace(cfg, epochs=args.epochs)
    device = torch.device(args.device)
    out = args.out_dir / f"tag-{args.task}.pt"
    started = time.perf_counter()
    deadline = started + args.minutes * 60 if args.minutes else float("inf")
    speeds = []
    events = train_tagger(cfg, train, dev, out, test=test, device=device,
                          should_stop=lambda: time.perf_counter() > deadline)
    for event in events:
        if isinstance(event, Evaluated):
            r = event.record
            speeds.append(r["sentences_per_s"])
            epoch_seconds = r["epoch_seconds"]
            print(f"epoch {r['epoch']:2d} lr {r['lr']:.4g} loss {r['train_loss']:.3f} dev f1 {r.get('dev_f1', 0):.4f} "
                  f"dev acc {r['dev_accuracy']:.4f} {r['sentences_per_s']:.0f} sent/s", file=sys.stderr, flush=True)
        elif isinstance(event, Info):
            print(event.message, file=sys.stderr, flush=True)
        elif isinstance(event, Done):
            pass
    train_seconds = time.perf_counter() - started
    tagger = load_tagger(str(out), device)
    scores = evaluate_tagger_file(tagger, test, device, batch_size=64)
    # Tagging speed: read the test file and tag it as `rnn-cli tag` does (batches of 64),
    # without the scoring; the best of two passes (the first warms the caches).
    batch_speed = 0.0
    for _ in range(2):
        t0 = time.perf_counter()
        n = sum(1 for _ in predict(tagger, (s for s in read_conll(test, tag_column=None) if len(s)), 64, device))
        batch_speed = max(batch_speed, n / (time.perf_counter() - t0))
    sentences = list(read_conll(test, tag_column=None))[:200]
    t0 = time.perf_counter()
    for s in sentences:
        list(predict(tagger, [s], 1, device))
    latency_ms = (time.perf_counter() - t0) / len(sentences) * 1000
    result = {
        "task": args.task, "device": str(device), "threads": torch.get_num_threads(), "epochs": len(speeds),
        "best_dev": tagger.payload["metrics"].get("dev_f1", tagger.payload["metrics"].get("dev_accuracy")),
        "test_f1": scores.get("f1"), "test_accuracy": scores["accuracy"],
        "train_sentences_per_s": round(sum(speeds) / max(len(speeds), 1), 1),
        "tag_sentences_per_s": round(batch_speed, 1), "latency_ms_per_sentence": round(latency_ms, 2),
        "train_seconds": round(train_seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if args.task == "speed":
        result["train_epoch_seconds"] = epoch_seconds
        flair = flair_epoch_seconds(args.flair_python, train, args.data_dir, args.out_dir)
        result["flair_epoch_seconds"] = flair if flair is not None else FLAIR_REFERENCE_SECONDS
        result["flair_measured"] = flair is not None
        result["speedup_vs_flair"] = round(result["flair_epoch_seconds"] / epoch_seconds, 2)
    print(json.dumps(result))


FLAIR_REFERENCE_SECONDS = 240.0  # the figure for flair on this 2-core machine


def flair_epoch_seconds(python: str | None, train: str, data_dir: Path, out_dir: Path) -> float | None:
    """Seconds of one flair training epoch of the same size, or None when flair is absent."""
    if not python:
        return None
    import subprocess

    if subprocess.run([python, "-c", "import flair"], capture_output=True).returncode != 0:
        print(f"# {python} has no flair; using the reference figure", file=sys.stderr)
        return None
    script = Path(__file__).with_name("flair_epoch.py")
    glove = data_dir / "glove" / "glove.6B.50d.trimmed.txt.gz"
    if not glove.exists():
        glove = data_dir.parent / "glove" / "glove.6B.50d.trimmed.txt.gz"
    res = subprocess.run([python, str(script), train, str(glove), str(out_dir / "flair")], stdout=subprocess.PIPE)
    if res.returncode != 0:
        print("# flair run failed; using the reference figure", file=sys.stderr)
        return None
    return float(json.loads(res.stdout.decode().strip().splitlines()[-1])["epoch_seconds"])


if __name__ == "__main__":
    main()
