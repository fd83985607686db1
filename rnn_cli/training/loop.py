"""The epoch loop every trainer runs on (language model, tagger, classifier).

A trainer hands over a `Task`: its model, how to draw one epoch's steps, how to build
a step's batch, the loss of a batch, and how to score dev (and test). The loop does the
rest the same way for every task: the learning-rate schedule, the step of `engine.py`
(clipping, AMP, non-finite checks, DDP), progress events, early stopping on the dev
metric, the best model in `out` (atomically replaced), the metrics log, and a
resumable state file every `checkpoint_every` steps and after every epoch.

Exact resume mid-epoch: an epoch's steps are drawn from a seeded generator, so the
state holds that generator as it was at the epoch's start and the number of steps
done; a resumed run draws the same steps and skips what was done. What a task carries
from step to step (a language model's hidden state) goes into the state through
`extra_state` / `restore_extra`.

With `--optimizer nt-asgd` each evaluation may start the engine's weight averaging
(`averaging.py`); from then on dev, the saved best model and the final test score
use the averaged weights, while training goes on from the trained ones."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from rnn_cli import checkpoint
from rnn_cli.config import from_dict
from rnn_cli.data.atomic import atomic_write_text, check_target
from rnn_cli.models import kernels
from rnn_cli.training.averaging import should_trigger
from rnn_cli.training.distributed import Dist
from rnn_cli.training.engine import Engine, LossFn
from rnn_cli.training.events import Done, Evaluated, Info, Step
from rnn_cli.training.optim import after_bad_epoch, epoch_lr, set_lr
from rnn_cli.training.options import TrainOptions

C = TypeVar("C", bound=TrainOptions)
Event = Step | Evaluated | Info | Done


def state_path(out: str | Path) -> Path:
    return Path(out).with_suffix(".state.pt")


def metrics_path(out: str | Path) -> Path:
    return Path(out).with_suffix(".metrics.jsonl")


def _nothing(*_: Any) -> None:
    return None


@dataclass
class Task:
    """What the loop needs from a trainer. `order(generator)` lists one epoch's steps
    (any descriptors; their shuffling drawn from `generator` alone); `make_batch(step)`
    builds this process's batch of a step and the weight of its mean loss (see
    `Dist.shard`); `loss(batch)` returns the batch's mean loss and its number of items
    (and optionally a penalty to train on but not report, see `engine.py`);
    `evaluate()` scores dev as `{"dev_...": value}` with `metric` among the keys (without
    it, the training loss is the metric); `test()`, if given, scores the test set with
    the best weights as `{"test_...": value}`."""

    task: str
    model: nn.Module
    model_config: dict[str, Any]
    train_config: dict[str, Any]
    vocab: dict[str, list[str]]
    order: Callable[[torch.Generator], list[Any]]
    make_batch: Callable[[Any], tuple[Any, float]]
    loss: LossFn
    evaluate: Callable[[], dict[str, Any]] | None = None
    metric: str = "train_loss"
    minimize: bool = False
    unit: str = "sent"  # of the progress rate
    rate_key: str = "sentences_per_s"  # the rate's name in the metrics log
    perplexity: bool = False  # the loss is a per-token cross-entropy: show its perplexity
    test: Callable[[], dict[str, Any]] | None = None
    summary: dict[str, Any] = field(default_factory=dict)  # added to the final summary
    end_epoch: Callable[[], None] = _nothing  # after an epoch's last step
    extra_state: Callable[[], dict[str, Any]] = dict  # saved with the state (a collective call)
    restore_extra: Callable[[dict[str, Any]], None] = _nothing
    # What is saved beyond the trained weights (`widen.py`): (model config, vocab, weights)
    # -> the same to save, and saved weights -> the training model's.
    widen: Callable[[dict[str, Any], dict[str, list[str]], dict[str, torch.Tensor]],
                    tuple[dict[str, Any], dict[str, list[str]], dict[str, torch.Tensor]]] = (
        lambda config, vocab, state: (config, vocab, state))
    narrow: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] = lambda state: state


def sharded(build: Callable[[list[int]], Any], dist: Dist) -> Callable[[list[int]], tuple[Any, float]]:
    """`make_batch` for a task whose steps are global batches of item indices."""
    def make_batch(indices: list[int]) -> tuple[Any, float]:
        part, weight = dist.shard(indices)
        return build(part), weight

    return make_batch


@dataclass
class Progress:
    epoch: int = 0  # finished epochs
    global_step: int = 0
    lr: float = 0.0
    bad_epochs: int = 0
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    best_metrics: dict[str, Any] = field(default_factory=dict)
    batches_done: int = 0  # of the current epoch
    loss_sum: float = 0.0  # of the current epoch, over all ranks
    items: float = 0.0
    seconds: float = 0.0  # spent on the current epoch before the last save


def resume_or_start(cls: type[C], cfg: C, out: str | Path, task: str,
                    resume: bool) -> tuple[C, dict[str, Any] | None, list[Info]]:
    """The options and the saved state to train with: with `resume` and a state file
    beside `out`, the stored options (with this run's `epochs`) and that state."""
    check_target(out)
    spath = state_path(out)
    if not resume:
        return cfg, None, []
    if not spath.exists():
        return cfg, None, [Info(f"nothing to resume ({spath} does not exist); starting a new run")]
    state = checkpoint.load(spath, task=task, kind="train-state")
    stored = replace(from_dict(cls, state["train_config"], where=f"{spath}: config"), epochs=cfg.epochs)
    p = state["progress"]
    where = f"epoch {p['epoch'] + 1}, batch {p['batches_done']}" if p["batches_done"] else \
        f"the end of epoch {p['epoch']}"
    notes = [Info(f"resuming from {spath} at {where} (step {p['global_step']}; --epochs {cfg.epochs}, the other "
                  "options are the stored ones)")]
    if p["stopped_early"]:
        notes.append(Info("this run had already stopped early; nothing left to train"))
    return stored, state, notes


def _improved(record: dict[str, Any], best: dict[str, Any], metric: str, minimize: bool) -> bool:
    """Whether an epoch's `record` beats the best one so far (`best`, empty before the
    first). A tie on the metric is broken by the training loss: a metric that has not
    moved yet (a tagger's dev F1 at 0 while it still tags everything O, a classifier
    still on the majority class) is no reason to decay the lr or stop while the model
    is still learning its training data."""
    score = record[metric]
    if not math.isfinite(score):
        return False
    if not best:
        return True
    if score == best[metric]:
        return record["train_loss"] < best["train_loss"]
    return score < best[metric] if minimize else score > best[metric]


def _trigger_averaging(engine: Engine, p: Progress, task: Task, nonmono: int) -> Info | None:
    """Start NT-ASGD's averaging (from the next step) if the evaluation just recorded,
    the last of `p.history`, says so; the note to show, or None."""
    if engine.averager is None or engine.averager.active:
        return None
    scores = [r[task.metric] for r in p.history]
    if not should_trigger(scores[:-1], scores[-1], nonmono, task.minimize):
        return None
    engine.averager.begin(p.global_step + 1)
    best = (min if task.minimize else max)(s for s in scores[:-1 - nonmono] if math.isfinite(s))
    return Info(f"NT-ASGD: averaging from step {p.global_step + 1} ({task.metric} {scores[-1]:.4f} did not improve "
                f"on {best:.4f}, the best before the last {nonmono} evaluation(s))")


def run_epochs(task: Task, opts: TrainOptions, out: str | Path, state: dict[str, Any] | None = None,
               should_stop: Callable[[], bool] = lambda: False, device: torch.device | None = None,
               dist: Dist | None = None) -> Iterator[Event]:
    out = Path(out)
    device, dist = device or torch.device("cpu"), dist or Dist()
    spath, mpath = state_path(out), metrics_path(out)
    engine = Engine(task.model, task.loss, opts, device, dist)
    for note in kernels.prepare(task.model, device):
        yield Info(note)
    batch_gen = torch.Generator().manual_seed(opts.seed)
    p = Progress(lr=opts.lr)
    if state is not None:
        engine.restore(state)
        batch_gen.set_state(state["rng_batches"])
        # States written before ties were broken by the training loss also hold `best`,
        # the best epoch's metric, which `best_metrics` holds too.
        p = Progress(**{k: v for k, v in state["progress"].items() if k != "best"})
        task.restore_extra(state)
        if note := engine.world_note(state):
            yield Info(note)
    epoch_start = batch_gen.get_state()

    def save_model(metrics: dict[str, Any]) -> None:
        if dist.is_main:
            config, vocab, weights = task.widen(task.model_config, task.vocab, task.model.state_dict())
            checkpoint.save(out, checkpoint.make_payload(task.task, config, task.train_config, vocab, weights, metrics))

    def save_state() -> None:
        # Mid-epoch, the generator as it was when this epoch's steps were drawn.
        rng = epoch_start if p.batches_done > 0 else batch_gen.get_state()
        engine.save_state(spath, p.global_step, {
            "format_version": checkpoint.FORMAT_VERSION, "kind": "train-state", "task": task.task,
            "train_config": task.train_config, "vocab": task.vocab, "rng_batches": rng, "progress": asdict(p),
            **task.extra_state(),
        })

    def record_of(loss: float, elapsed: float, scores: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {"epoch": p.epoch + 1, "step": p.global_step, "lr": p.lr, "train_loss": loss}
        if task.perplexity:
            record["train_ppl"] = math.exp(min(loss, 700.0))
        record.update(scores)
        record[task.rate_key] = round(p.items / max(elapsed, 1e-9), 1)
        record["epoch_seconds"] = round(elapsed, 2)
        if opts.skip_nonfinite:
            record["skipped_batches"] = engine.skipped
        return record

    while p.epoch < opts.epochs and not p.stopped_early:
        if p.batches_done == 0:
            p.lr = epoch_lr(opts, p.epoch, p.lr)
        set_lr(engine.optimizer, p.lr)
        engine.train()
        epoch_start = batch_gen.get_state()
        order = task.order(batch_gen)
        started, seconds0, items0 = time.perf_counter(), p.seconds, p.items
        for i in range(p.batches_done, len(order)):
            batch, weight = task.make_batch(order[i])
            r = engine.step(batch, p.global_step + 1, weight, should_stop())
            p.batches_done, p.global_step = i + 1, p.global_step + 1
            p.loss_sum, p.items = p.loss_sum + r.loss_sum, p.items + r.items
            if r.skipped:
                yield Info(f"step {p.global_step}: non-finite loss, batch skipped ({engine.skipped} so far)")
            if p.batches_done % opts.log_every == 0 or p.batches_done == len(order):
                loss = p.loss_sum / max(p.items, 1)
                yield Step(p.epoch + 1, p.batches_done, len(order), loss, p.lr,
                           (p.items - items0) / max(time.perf_counter() - started, 1e-9), task.unit,
                           math.exp(min(loss, 700.0)) if task.perplexity else None)
            if r.stop or (opts.checkpoint_every and p.global_step % opts.checkpoint_every == 0
                          and p.batches_done < len(order)):
                p.seconds = seconds0 + time.perf_counter() - started
                save_state()
            if r.stop:
                yield Info(f"interrupted at step {p.global_step}: training state saved to {spath}; "
                           "to continue, run the same command again with --resume")
                yield Done({"interrupted": True, "state": str(spath)}, interrupted=True)
                return
        elapsed = seconds0 + time.perf_counter() - started
        task.end_epoch()
        engine.eval()
        train_loss = p.loss_sum / max(p.items, 1)
        with engine.averaged():
            scores = dist.from_main(task.evaluate) if task.evaluate is not None else {}
            record = record_of(train_loss, elapsed, scores)
            improved = _improved(record, p.best_metrics, task.metric, task.minimize)
            if improved:
                p.bad_epochs, p.best_metrics = 0, dict(record)
                save_model(p.best_metrics)
        if not improved:
            p.bad_epochs += 1
            p.lr = after_bad_epoch(opts, p.lr, p.bad_epochs)
            p.stopped_early = bool(opts.patience and p.bad_epochs >= opts.patience)
        p.history.append(record)
        triggered = _trigger_averaging(engine, p, task, opts.nonmono)
        if dist.is_main:
            atomic_write_text(mpath, "".join(json.dumps(r) + "\n" for r in p.history))
        p.epoch, p.batches_done, p.loss_sum, p.items, p.seconds = p.epoch + 1, 0, 0.0, 0.0, 0.0
        save_state()
        yield Evaluated(record, improved)
        if triggered is not None:
            yield triggered
        if p.stopped_early:
            yield Info(f"early stop: no improvement for {p.bad_epochs} epoch(s)")

    if not out.exists():  # no epoch improved, or the file went away before a --resume
        last = p.history[-1] if p.history else {}
        if p.best_metrics and last.get("epoch") != p.best_metrics.get("epoch"):
            yield Info(f"{out} is missing: it holds the last weights (epoch {last.get('epoch')}), not the best "
                       f"epoch's ({p.best_metrics.get('epoch')})")
        with engine.averaged():
            save_model(last)
    summary: dict[str, Any] = {"model": str(out), "epochs": p.epoch, **task.summary}
    summary.update({k: v for k, v in p.best_metrics.items() if k.startswith("dev_") or k == "epoch"})
    if task.test is not None and dist.is_main:
        payload = checkpoint.load(out, task=task.task)
        task.model.load_state_dict(task.narrow(payload["state_dict"]))
        task.model.eval()
        test = task.test()
        summary.update(test)
        payload["metrics"] = {**payload["metrics"], **test}
        checkpoint.save(out, payload)
    yield Done(summary)
