"""The epoch loop shared by the sentence-level trainers (tagger, classifier).

A task hands over its model, how to order one epoch's items into batches, how to
build a batch, the loss of a batch, and how to score dev (and test); the loop does
the rest the same way for every task: SGD lr decay or a fixed Adam lr, the step of
`engine.py` (clipping, AMP, non-finite checks, DDP), progress events, early stopping
on a dev metric, the best model in `out` (atomically replaced), the metrics log, and
a resumable state file every `checkpoint_every` steps and after every epoch.

Exact resume mid-epoch: an epoch's batch order is drawn from a seeded generator, so
the state holds that generator as it was at the epoch's start and the number of
batches done; a resumed run draws the same order and skips what was done. Under DDP
every rank draws the same global batches of `batch_size * world_size` items and
trains its share of each (`Dist.shard`)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnn_cli import checkpoint
from rnn_cli.data.atomic import atomic_write_text
from rnn_cli.training.distributed import Dist
from rnn_cli.training.engine import Engine, StepOptions
from rnn_cli.training.events import Done, Evaluated, Info, Step
from rnn_cli.training.optim import set_lr


def state_path(out: str | Path) -> Path:
    return Path(out).with_suffix(".state.pt")


def metrics_path(out: str | Path) -> Path:
    return Path(out).with_suffix(".metrics.jsonl")


def interrupted(spath: Path, global_step: int) -> list[Info | Done]:
    """The last events of a run stopped on request (its state already saved to `spath`)."""
    return [Info(f"interrupted at step {global_step}: training state saved to {spath}; "
                 "to continue, run the same command again with --resume"),
            Done({"interrupted": True, "state": str(spath)}, interrupted=True)]


def skipped(global_step: int, count: int) -> Info:
    """The note for a batch skipped with --skip-nonfinite."""
    return Info(f"step {global_step}: non-finite loss, batch skipped ({count} so far)")


@dataclass
class LoopOptions:
    epochs: int
    optimizer: str
    lr: float
    momentum: float
    weight_decay: float
    lr_decay: float  # SGD: lr / (1 + decay * epoch)
    clip: float
    patience: int  # epochs without a better dev metric before stopping (0: never)
    seed: int
    log_every: int
    checkpoint_every: int = 0  # also save the training state every N steps (0: at epoch ends only)
    amp: bool = False
    skip_nonfinite: bool = False


@dataclass
class TaskSpec:
    """What the loop needs from a task. `order(generator, global_batch_size)` lists
    one epoch's batches as item indices (its shuffling drawn from `generator` alone);
    `make_batch(indices)` builds a batch of those items, and `loss(batch)` returns the
    batch's mean loss and its number of items; `evaluate()` scores dev as
    `{"dev_...": value}` with `metric` among the keys (higher is better); `test()`, if
    given, scores the test set with the best weights as `{"test_...": value}`."""

    task: str
    model: nn.Module
    model_config: dict[str, Any]
    train_config: dict[str, Any]
    vocab: dict[str, list[str]]
    order: Callable[[torch.Generator, int], list[list[int]]]
    make_batch: Callable[[list[int]], Any]
    batch_size: int  # per process
    loss: Callable[[Any], tuple[torch.Tensor, int]]
    evaluate: Callable[[], dict[str, Any]]
    metric: str
    unit: str = "sent"  # of the progress bar's rate
    rate_key: str = "sentences_per_s"  # the rate's name in the metrics log
    test: Callable[[], dict[str, Any]] | None = None


@dataclass
class Progress:
    epoch: int = 0  # finished epochs
    global_step: int = 0
    best: float = -math.inf
    bad_epochs: int = 0
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    best_metrics: dict[str, Any] = field(default_factory=dict)
    batches_done: int = 0  # of the current epoch
    loss_sum: float = 0.0  # of the current epoch, over all ranks
    items: float = 0.0
    seconds: float = 0.0  # spent on the current epoch before the last save


def load_state(out: str | Path, task: str) -> dict[str, Any]:
    """The state file of `out` (train_config and vocab first, to rebuild the model)."""
    return checkpoint.load(state_path(out), task=task, kind="train-state")


def resumed_message(spath: Path, state: dict[str, Any]) -> str:
    p = state["progress"]
    where = f"epoch {p['epoch'] + 1}, batch {p.get('batches_done', 0)}" if p.get("batches_done") else \
        f"the end of epoch {p['epoch']}"
    return f"resuming from {spath} at {where} (step {p['global_step']})"


def run_epochs(spec: TaskSpec, opts: LoopOptions, out: str | Path, state: dict[str, Any] | None = None,
               should_stop: Callable[[], bool] = lambda: False, device: torch.device | None = None,
               dist: Dist | None = None) -> Iterator[Step | Evaluated | Info | Done]:
    out = Path(out)
    device, dist = device or torch.device("cpu"), dist or Dist()
    spath, mpath = state_path(out), metrics_path(out)
    engine = Engine(spec.model, spec.loss, StepOptions(opts.optimizer, opts.lr, opts.momentum, opts.weight_decay,
                                                       opts.clip, opts.amp, opts.skip_nonfinite),
                    device, dist, opts.seed)
    batch_gen = torch.Generator().manual_seed(opts.seed)
    p = Progress()
    if state is not None:
        engine.restore(state)
        batch_gen.set_state(state["rng_batches"])
        p = Progress(**state["progress"])
    if state is not None and (note := engine.world_note(state)):
        yield Info(note)
    global_batch = spec.batch_size * dist.world_size
    epoch_start = batch_gen.get_state()

    def save_model(metrics: dict[str, Any]) -> None:
        if dist.is_main:
            checkpoint.save(out, checkpoint.make_payload(spec.task, spec.model_config, spec.train_config, spec.vocab,
                                                         spec.model.state_dict(), metrics))

    def save_state() -> None:
        # Mid-epoch, the generator as it was when this epoch's order was drawn.
        rng = epoch_start if p.batches_done > 0 else batch_gen.get_state()
        engine.save_state(spath, p.global_step, {
            "format_version": checkpoint.FORMAT_VERSION, "kind": "train-state", "task": spec.task,
            "train_config": spec.train_config, "vocab": spec.vocab, "rng_batches": rng, "progress": asdict(p),
        })

    while p.epoch < opts.epochs and not p.stopped_early:
        lr = opts.lr / (1 + opts.lr_decay * p.epoch) if opts.optimizer == "sgd" else opts.lr
        set_lr(engine.optimizer, lr)
        engine.train()
        epoch_start = batch_gen.get_state()
        order = spec.order(batch_gen, global_batch)
        started, seconds0, items0 = time.perf_counter(), p.seconds, p.items
        for i in range(p.batches_done, len(order)):
            part, weight = dist.shard(order[i])
            r = engine.step(spec.make_batch(part), p.global_step + 1, weight, should_stop())
            p.batches_done, p.global_step = i + 1, p.global_step + 1
            p.loss_sum, p.items = p.loss_sum + r.loss_sum, p.items + r.items
            if r.skipped:
                yield skipped(p.global_step, engine.skipped)
            if p.batches_done % opts.log_every == 0 or p.batches_done == len(order):
                yield Step(p.epoch + 1, p.batches_done, len(order), p.loss_sum / max(p.items, 1), lr,
                           (p.items - items0) / max(time.perf_counter() - started, 1e-9), unit=spec.unit)
            if r.stop or (opts.checkpoint_every and p.global_step % opts.checkpoint_every == 0
                          and p.batches_done < len(order)):
                p.seconds = seconds0 + time.perf_counter() - started
                save_state()
            if r.stop:
                yield from interrupted(spath, p.global_step)
                return
        elapsed = seconds0 + time.perf_counter() - started
        engine.eval()
        scores = dist.from_main(spec.evaluate)
        record: dict[str, Any] = {"epoch": p.epoch + 1, "step": p.global_step, "lr": lr,
                                  "train_loss": p.loss_sum / max(p.items, 1), **scores,
                                  spec.rate_key: round(p.items / max(elapsed, 1e-9), 1),
                                  "epoch_seconds": round(elapsed, 2)}
        if opts.skip_nonfinite:
            record["skipped_batches"] = engine.skipped
        improved = scores[spec.metric] > p.best
        if improved:
            p.best, p.bad_epochs, p.best_metrics = scores[spec.metric], 0, dict(record)
            save_model(p.best_metrics)
        else:
            p.bad_epochs += 1
            p.stopped_early = bool(opts.patience and p.bad_epochs >= opts.patience)
        p.history.append(record)
        if dist.is_main:
            atomic_write_text(mpath, "".join(json.dumps(r) + "\n" for r in p.history))
        p.epoch, p.batches_done, p.loss_sum, p.items, p.seconds = p.epoch + 1, 0, 0.0, 0.0, 0.0
        save_state()
        yield Evaluated(record, improved)
        if p.stopped_early:
            yield Info(f"early stop: no improvement for {p.bad_epochs} epoch(s)")

    if not out.exists():
        save_model(p.best_metrics)
    summary: dict[str, Any] = {"model": str(out), "epochs": p.epoch}
    summary.update({k: v for k, v in p.best_metrics.items() if k.startswith("dev_") or k == "epoch"})
    if spec.test is not None and dist.is_main:
        payload = checkpoint.load(out, task=spec.task)
        spec.model.load_state_dict(payload["state_dict"])
        spec.model.eval()
        test = spec.test()
        summary.update(test)
        payload["metrics"] = {**payload["metrics"], **test}
        checkpoint.save(out, payload)
    yield Done(summary)
