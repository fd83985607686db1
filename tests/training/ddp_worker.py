"""Trains a tiny LM or tagger and writes the per-step losses (rank 0).

Run under torchrun by test_distributed.py (`python -m torch.distributed.run
--standalone --nproc-per-node 2 ddp_worker.py TASK DATA_DIR OUT BATCH`), and called
in-process with one process and twice the batch for the reference. Optional
arguments DROPOUT STOP_AFTER EPOCHS [resume]: request a stop after STOP_AFTER steps
(0: never), train EPOCHS epochs (default 1), or continue a stopped run."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

from rnn_cli.training.distributed import Dist
from rnn_cli.training.events import Step
from rnn_cli.training.lm import TrainLMConfig, train_lm
from rnn_cli.training.tagger import TrainTaggerConfig, train_tagger

# Dropout 0 (word dropout too): masks are drawn per process, everything else is the same maths.
LM = TrainLMConfig(level="char", layers=1, hidden_size=24, embedding_size=8, dropout=0.0, bptt=20, epochs=1,
                   optimizer="sgd", lr=1.0, clip=0.5, log_every=1, patience=0)
TAGGER = TrainTaggerConfig(epochs=1, hidden_size=12, embedding_size=8, char_embedding_size=6, char_filters=6,
                           dropout=0.0, word_dropout=0.0, optimizer="sgd", lr=0.05, log_every=1, clip=1.0)


def step_losses(task: str, data: Path, out: Path, batch: int, dist: Dist, dropout: float = 0.0,
                stop_after: int = 0, epochs: int = 1, resume: bool = False) -> list[float]:
    """The running mean training loss after each step (over all ranks); with
    `stop_after`, a stop is requested after that many steps."""
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return bool(stop_after) and calls["n"] >= stop_after

    if task == "lm":
        events = train_lm(replace(LM, batch_size=batch, dropout=dropout, epochs=epochs), str(data / "train.txt"), out,
                          dev=str(data / "valid.txt"), dist=dist, should_stop=stop, resume=resume)
    else:
        events = train_tagger(replace(TAGGER, batch_size=batch, dropout=dropout, epochs=epochs),
                              str(data / "train.conll"), str(data / "dev.conll"), out, dist=dist, should_stop=stop,
                              resume=resume)
    return [e.loss for e in events if isinstance(e, Step)]


def main() -> None:
    task, data, out, batch = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    dropout, stop_after, epochs = (float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])) if len(sys.argv) > 7 \
        else (0.0, 0, 1)
    resume = len(sys.argv) > 8 and sys.argv[8] == "resume"
    torch.set_num_threads(1)
    with Dist.from_env(torch.device("cpu")) as dist:
        losses = step_losses(task, data, out, batch, dist, dropout, stop_after, epochs, resume)
        if dist.is_main:
            out.with_suffix(".losses.json").write_text(json.dumps({"world": dist.world_size, "losses": losses}))


if __name__ == "__main__":
    main()
