"""The epoch loop shared by the sentence-level trainers (tagger, classifier).

A task hands over its model, how to draw one epoch of batches, the loss of a batch,
and how to score dev (and test); the loop does the rest the same way for every task:
SGD lr decay or a fixed Adam lr, clipping, progress events, early stopping on a dev
metric, the best model in `out` (atomically replaced), the metrics log, a resumable
state file after every epoch, and a clean stop on request (`should_stop`)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnn_cli.data.atomic import atomic_write_text
from rnn_cli.training import checkpoint
from rnn_cli.training.events import Done, Evaluated, Info, Step
from rnn_cli.training.optim import build_optimizer, set_lr


def state_path(out: str | Path) -> Path:
    return Path(out).with_suffix(".state.pt")


def metrics_path(out: str | Path) -> Path:
    return Path(out).with_suffix(".metrics.jsonl")


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


@dataclass
class TaskSpec:
    """What the loop needs from a task. Batches come from `batches(generator)` (its
    shuffling drawn from that generator) and `loss(batch)` returns the batch's mean loss
    and its number of items; `evaluate()` scores dev as `{"dev_...": value}` with
    `metric` among the keys (higher is better); `test()`, if given, scores the test set
    with the best weights as `{"test_...": value}`."""

    task: str
    model: nn.Module
    model_config: dict[str, Any]
    train_config: dict[str, Any]
    vocab: dict[str, list[str]]
    batches: Callable[[torch.Generator], Iterable[Any]]
    steps_per_epoch: int
    loss: Callable[[Any], tuple[torch.Tensor, int]]
    evaluate: Callable[[], dict[str, Any]]
    metric: str
    unit: str = "sent"  # of the progress bar's rate
    rate_key: str = "sentences_per_s"  # the rate's name in the metrics log
    test: Callable[[], dict[str, Any]] | None = None


@dataclass
class Progress:
    epoch: int = 0
    global_step: int = 0
    best: float = -math.inf
    bad_epochs: int = 0
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    best_metrics: dict[str, Any] = field(default_factory=dict)


def load_state(out: str | Path, task: str) -> dict[str, Any]:
    """The state file of `out` (train_config and vocab first, to rebuild the model)."""
    return checkpoint.load(state_path(out), task=task, kind="train-state")


def run_epochs(spec: TaskSpec, opts: LoopOptions, out: str | Path, state: dict[str, Any] | None = None,
               should_stop: Callable[[], bool] = lambda: False) -> Iterator[Step | Evaluated | Info | Done]:
    out = Path(out)
    spath, mpath = state_path(out), metrics_path(out)
    model = spec.model
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = build_optimizer(opts.optimizer, params, opts.lr, opts.momentum, opts.weight_decay)
    batch_gen = torch.Generator().manual_seed(opts.seed)
    p = Progress()
    if state is not None:
        model.load_state_dict(state["model_state"])
        optimizer.load_state_dict(state["optimizer_state"])
        torch.set_rng_state(state["rng_cpu"])
        batch_gen.set_state(state["rng_batches"])
        p = Progress(**state["progress"])

    def save_model(metrics: dict[str, Any]) -> None:
        checkpoint.save(out, checkpoint.make_payload(spec.task, spec.model_config, spec.train_config, spec.vocab,
                                                     model.state_dict(), metrics))

    def save_state() -> None:
        checkpoint.save(spath, {
            "format_version": checkpoint.FORMAT_VERSION, "kind": "train-state", "task": spec.task,
            "train_config": spec.train_config, "vocab": spec.vocab, "model_state": model.state_dict(),
            "optimizer_state": optimizer.state_dict(), "rng_cpu": torch.get_rng_state(),
            "rng_batches": batch_gen.get_state(), "progress": asdict(p),
        })

    while p.epoch < opts.epochs and not p.stopped_early:
        lr = opts.lr / (1 + opts.lr_decay * p.epoch) if opts.optimizer == "sgd" else opts.lr
        set_lr(optimizer, lr)
        model.train()
        started, loss_sum, n_items, step = time.perf_counter(), 0.0, 0, 0
        for batch in spec.batches(batch_gen):
            loss, n = spec.loss(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if opts.clip > 0:
                torch.nn.utils.clip_grad_norm_(params, opts.clip, foreach=True)
            optimizer.step()
            step, p.global_step = step + 1, p.global_step + 1
            loss_sum += float(loss.detach()) * n
            n_items += n
            if step % opts.log_every == 0 or step == spec.steps_per_epoch:
                yield Step(p.epoch + 1, step, spec.steps_per_epoch, loss_sum / n_items, lr,
                           n_items / max(time.perf_counter() - started, 1e-9), unit=spec.unit)
            if should_stop():
                yield Info(f"interrupted: the last finished epoch is saved in {spath}; continue with --resume")
                yield Done({"interrupted": True, "state": str(spath)}, interrupted=True)
                return
        elapsed = time.perf_counter() - started
        model.eval()
        scores = spec.evaluate()
        record: dict[str, Any] = {"epoch": p.epoch + 1, "step": p.global_step, "lr": lr,
                                  "train_loss": loss_sum / max(n_items, 1), **scores,
                                  spec.rate_key: round(n_items / max(elapsed, 1e-9), 1),
                                  "epoch_seconds": round(elapsed, 2)}
        improved = scores[spec.metric] > p.best
        if improved:
            p.best, p.bad_epochs, p.best_metrics = scores[spec.metric], 0, dict(record)
            save_model(p.best_metrics)
        else:
            p.bad_epochs += 1
            p.stopped_early = bool(opts.patience and p.bad_epochs >= opts.patience)
        p.history.append(record)
        atomic_write_text(mpath, "".join(json.dumps(r) + "\n" for r in p.history))
        p.epoch += 1
        save_state()
        yield Evaluated(record, improved)
        if p.stopped_early:
            yield Info(f"early stop: no improvement for {p.bad_epochs} epoch(s)")

    if not out.exists():
        save_model(p.best_metrics)
    summary: dict[str, Any] = {"model": str(out), "epochs": p.epoch}
    summary.update({k: v for k, v in p.best_metrics.items() if k.startswith("dev_") or k == "epoch"})
    if spec.test is not None:
        payload = checkpoint.load(out, task=spec.task)
        model.load_state_dict(payload["state_dict"])
        model.eval()
        test = spec.test()
        summary.update(test)
        payload["metrics"] = {**payload["metrics"], **test}
        checkpoint.save(out, payload)
    yield Done(summary)
