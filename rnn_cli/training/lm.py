"""Training and scoring of language models with truncated BPTT.

`train_lm` is a generator of events (see `events.py`); it knows nothing of the
terminal. It keeps two files beside each other: the best model by validation
loss (`out`) and the full training state (`<out>.state.pt`) from which
`resume=True` continues exactly where the last save left off."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from rnn_cli import checkpoint
from rnn_cli.config import from_dict, to_dict
from rnn_cli.data.atomic import atomic_write_text, check_target
from rnn_cli.data.batching import lay_out_streams, window_lengths
from rnn_cli.data.lm_corpus import build_vocab, encode_corpus, iter_tokens, read_tokens
from rnn_cli.data.vocab import Vocab
from rnn_cli.errors import ConfigError
from rnn_cli.models.lm import RNNLM
from rnn_cli.models.rnn import Hidden, detach_hidden
from rnn_cli.predict.lm import score_lm
from rnn_cli.seed import seed_everything
from rnn_cli.training.distributed import Dist
from rnn_cli.training.engine import Engine, StepOptions
from rnn_cli.training.epochs import interrupted, metrics_path, skipped, state_path
from rnn_cli.training.events import Done, Evaluated, Info, Step
from rnn_cli.training.lm_config import TrainLMConfig
from rnn_cli.training.optim import set_lr

__all__ = ["TrainLMConfig", "metrics_path", "score_lm", "state_path", "train_lm"]

class _Data:
    """The encoded corpora of one run. Under DDP the training text is laid out in
    `batch_size * world_size` streams and each rank trains its own `batch_size`
    adjacent columns: a contiguous slice of the text."""

    def __init__(self, cfg: TrainLMConfig, vocab: Vocab, train: str, valid: str | None, test: str | None,
                 train_tokens: list[str] | None = None, dist: Dist | None = None) -> None:
        dist = dist or Dist()
        tokens = train_tokens if train_tokens is not None else read_tokens(train, cfg.level, cfg.encoding)
        self.vocab = vocab
        ids = encode_corpus(tokens, vocab, cfg.level)
        streams = cfg.batch_size * dist.world_size
        if ids.numel() - 1 < streams * 2:
            raise ConfigError(
                f"{train}: {ids.numel() - 1} tokens are too few for --batch-size {cfg.batch_size}"
                + (f" x {dist.world_size} processes" if dist.enabled else "")
            )
        x, y = lay_out_streams(ids, streams)  # (N, B * world)
        cols = slice(dist.rank * cfg.batch_size, (dist.rank + 1) * cfg.batch_size)
        self.train_x, self.train_y = x[:, cols].contiguous(), y[:, cols].contiguous()  # (N, B)
        self.n_tokens = len(tokens)
        self.valid = encode_corpus(iter_tokens(valid, cfg.level, cfg.encoding), vocab, cfg.level) if valid else None
        self.test = encode_corpus(iter_tokens(test, cfg.level, cfg.encoding), vocab, cfg.level) if test else None


def _lr_for_epoch(cfg: TrainLMConfig, epoch: int, lr: float) -> float:
    """Step schedule (Zaremba et al. 2014): lr0 * decay^(epochs past decay_start)."""
    if cfg.schedule == "step":
        return cfg.lr * cfg.lr_decay ** max(0, epoch - cfg.decay_start)
    return lr


@dataclass
class _Progress:
    """Where a run stands; saved with the training state so that a resumed run
    continues exactly (epoch and row are where the next step starts)."""

    epoch: int = 0
    row: int = 0
    step: int = 0
    global_step: int = 0
    lr: float = 0.0
    best: float = math.inf
    bad_epochs: int = 0
    stopped_early: bool = False
    loss_sum: float = 0.0
    loss_tokens: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_metrics: dict[str, Any] = field(default_factory=dict)


class _Run:
    """The model, its engine and the files of one training run."""

    def __init__(self, cfg: TrainLMConfig, vocab: Vocab, out: Path, device: torch.device, dist: Dist) -> None:
        self.cfg, self.vocab, self.out, self.device, self.dist = cfg, vocab, out, device, dist
        self.state_path, self.metrics_path = state_path(out), metrics_path(out)
        self.model_cfg = cfg.model_config(len(vocab))
        self.model = RNNLM(self.model_cfg).to(device)
        self.hidden: Hidden | None = None
        self.engine = Engine(self.model, self._loss, StepOptions(cfg.optimizer, cfg.lr, cfg.momentum,
                                                                 cfg.weight_decay, cfg.clip, cfg.amp,
                                                                 cfg.skip_nonfinite), device, dist, cfg.seed)
        self.window_gen = torch.Generator().manual_seed(cfg.seed)
        self.progress = _Progress(lr=cfg.lr)
        self.epoch_seconds, self.epoch_tokens = 0.0, 0.0  # of the last finished epoch

    def _loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, int]:
        """The task's loss: the window's mean token loss, carrying the hidden state
        from the previous window (detached: truncated BPTT)."""
        x, y = batch
        loss, self.hidden = self.model.loss(x, y, detach_hidden(self.hidden))
        return loss, y.numel()

    def restore(self, state: dict[str, Any]) -> None:
        self.engine.restore(state)
        self.window_gen.set_state(state["rng_windows"])
        self.progress = _Progress(**state["progress"])
        saved = state["hidden"]
        if saved is not None:
            if "rng" not in state:  # an older state file: one process's hidden state
                saved = [saved]
            mine = saved[self.dist.rank] if len(saved) == self.dist.world_size else saved[0]
            self.hidden = tuple(h.to(self.device) for h in mine) if isinstance(mine, (tuple, list)) \
                else mine.to(self.device)

    def save_state(self) -> None:
        hidden = None
        if self.progress.row > 0 and self.hidden is not None:
            h = detach_hidden(self.hidden)
            hidden = self.dist.gather(tuple(t.cpu() for t in h) if isinstance(h, tuple) else h.cpu())
        self.engine.save_state(self.state_path, self.progress.global_step, {
            "format_version": checkpoint.FORMAT_VERSION, "kind": "train-state", "task": "lm",
            "train_config": to_dict(self.cfg), "vocab": {"tokens": self.vocab.to_list()},
            "rng_windows": self.window_gen.get_state(), "progress": asdict(self.progress), "hidden": hidden,
        })

    def save_model(self, metrics: dict[str, Any]) -> None:
        if self.dist.is_main:
            checkpoint.save(self.out, checkpoint.make_payload(
                "lm", to_dict(self.model_cfg), to_dict(self.cfg), {"tokens": self.vocab.to_list()},
                self.model.state_dict(), metrics))

    def train_epoch(self, data: _Data, should_stop: Callable[[], bool]) -> Generator[Step | Info, None, bool]:
        """Train from the current row to the end of the epoch. Returns True if
        `should_stop` asked to stop (the state is then saved)."""
        cfg, p, engine = self.cfg, self.progress, self.engine
        n_rows = data.train_x.size(0)
        steps = math.ceil(n_rows / cfg.bptt)
        engine.train()
        started, epoch_tokens = time.perf_counter(), 0.0
        for row, length in window_lengths(n_rows, cfg.bptt, p.row, cfg.variable_bptt, self.window_gen):
            x = data.train_x[row : row + length].to(self.device, non_blocking=True)  # (length, B)
            y = data.train_y[row : row + length].to(self.device, non_blocking=True)
            r = engine.step((x, y), p.global_step + 1, stop_requested=should_stop())
            p.step, p.global_step, p.row = p.step + 1, p.global_step + 1, row + length
            epoch_tokens += r.items
            p.loss_sum, p.loss_tokens = p.loss_sum + r.loss_sum, p.loss_tokens + int(r.items)
            if r.skipped:
                yield skipped(p.global_step, engine.skipped)
            if p.step % cfg.log_every == 0 or p.row >= n_rows:
                yield Step(p.epoch + 1, p.step, steps, p.loss_sum / max(p.loss_tokens, 1), p.lr,
                           epoch_tokens / max(time.perf_counter() - started, 1e-9))
            if r.stop or (cfg.checkpoint_every and p.global_step % cfg.checkpoint_every == 0 and p.row < n_rows):
                self.save_state()
            if r.stop:
                return True
        self.epoch_seconds = time.perf_counter() - started
        self.epoch_tokens = epoch_tokens
        return False

    def end_epoch(self, data: _Data) -> Evaluated:
        """Validate (on rank 0), keep the best model, anneal the lr, log, and save the state."""
        cfg, p = self.cfg, self.progress
        train_loss = p.loss_sum / max(p.loss_tokens, 1)
        record: dict[str, Any] = {
            "epoch": p.epoch + 1, "step": p.global_step, "lr": p.lr,
            "train_loss": train_loss, "train_ppl": math.exp(min(train_loss, 700.0)),
            "tokens_per_s": round(self.epoch_tokens / max(self.epoch_seconds, 1e-9), 1),
            "epoch_seconds": round(self.epoch_seconds, 2),
        }
        if cfg.skip_nonfinite:
            record["skipped_batches"] = self.engine.skipped
        current = train_loss
        if data.valid is not None:
            valid = data.valid
            scores = self.dist.from_main(lambda: score_lm(self.model, valid, cfg.eval_batch_size, cfg.bptt,
                                                          self.device))
            record.update({f"valid_{k}": v for k, v in scores.items()})
            current = scores["loss"]
        improved = current < p.best
        if improved:
            p.best, p.bad_epochs, p.best_metrics = current, 0, dict(record)
            self.save_model(p.best_metrics)
        else:
            p.bad_epochs += 1
            if cfg.schedule == "plateau":
                p.lr = max(p.lr * cfg.lr_decay, cfg.min_lr)
            p.stopped_early = bool(cfg.patience and p.bad_epochs >= cfg.patience)
        p.history.append(record)
        if self.dist.is_main:
            atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in p.history))
        p.epoch, p.row, p.step, p.loss_sum, p.loss_tokens = p.epoch + 1, 0, 0, 0.0, 0
        self.hidden = None
        self.save_state()
        return Evaluated(record, improved)


def _load_state(cfg: TrainLMConfig, spath: Path) -> tuple[TrainLMConfig, dict[str, Any]]:
    state = checkpoint.load(spath, task="lm", kind="train-state")
    if "save_every" in state["train_config"]:  # the option's name before --checkpoint-every
        state["train_config"]["checkpoint_every"] = state["train_config"].pop("save_every")
    stored = from_dict(TrainLMConfig, state["train_config"], where=f"{spath}: config")
    return replace(stored, epochs=cfg.epochs), state


def train_lm(
    cfg: TrainLMConfig,
    train: str,
    out: str | Path,
    valid: str | None = None,
    test: str | None = None,
    device: torch.device | None = None,
    resume: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    dist: Dist | None = None,
) -> Iterator[Step | Evaluated | Info | Done]:
    """Train a language model, yielding events; see the module docstring."""
    device, dist = device or torch.device("cpu"), dist or Dist()
    out = Path(out)
    check_target(out)
    state: dict[str, Any] | None = None
    if resume and state_path(out).exists():
        stored_epochs = cfg.epochs
        cfg, state = _load_state(cfg, state_path(out))
        p = state["progress"]
        yield Info(f"resuming from {state_path(out)} at epoch {p['epoch'] + 1}, batch {p['step']} "
                   f"(--epochs {stored_epochs}; the other options are the stored ones)")
    elif resume:
        yield Info(f"nothing to resume ({state_path(out)} does not exist); starting a new run")

    seed_everything(cfg.seed)
    if state is not None:
        vocab = Vocab(state["vocab"]["tokens"])
        data = _Data(cfg, vocab, train, valid, test, dist=dist)
    else:
        tokens = read_tokens(train, cfg.level, cfg.encoding)
        vocab = build_vocab(tokens, cfg.level, cfg.min_freq, cfg.max_vocab)
        data = _Data(cfg, vocab, train, valid, test, train_tokens=tokens, dist=dist)
        yield Info(f"{train}: {data.n_tokens:,} tokens, vocabulary {len(vocab):,}")

    if device.type == "cuda":  # the laid-out token ids (8 bytes a token) fit: no copy per step
        data.train_x, data.train_y = data.train_x.to(device), data.train_y.to(device)
    run = _Run(cfg, vocab, out, device, dist)
    p = run.progress
    if state is not None:
        run.restore(state)
        p = run.progress
        if note := run.engine.world_note(state):
            yield Info(note)
        if p.stopped_early:
            yield Info("this run had already stopped early; nothing left to train")

    while p.epoch < cfg.epochs and not p.stopped_early:
        p.lr = _lr_for_epoch(cfg, p.epoch + 1, p.lr)
        set_lr(run.engine.optimizer, p.lr)
        stopped = yield from run.train_epoch(data, should_stop)
        if stopped:
            yield from interrupted(run.state_path, p.global_step)
            return
        yield run.end_epoch(data)
        if p.stopped_early:
            yield Info(f"early stop: no improvement for {p.bad_epochs} epoch(s)")

    if not out.exists():
        run.save_model(p.best_metrics)
    summary: dict[str, Any] = {"model": str(out), "epochs": p.epoch, "vocab_size": len(vocab)}
    summary.update({k: v for k, v in p.best_metrics.items() if k.startswith("valid_") or k == "epoch"})
    if data.test is not None and dist.is_main:
        payload = checkpoint.load(out, task="lm")
        run.model.load_state_dict(payload["state_dict"])
        scores = {f"test_{k}": v for k, v in score_lm(run.model, data.test, cfg.eval_batch_size, cfg.bptt,
                                                          device).items()}
        summary.update(scores)
        payload["metrics"] = {**payload["metrics"], **scores}
        checkpoint.save(out, payload)
    yield Done(summary)
