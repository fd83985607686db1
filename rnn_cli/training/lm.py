"""Training and scoring of language models with truncated BPTT.

`train_lm` is a generator of events (see `events.py`); it knows nothing of the
terminal. It keeps two files beside each other: the best model by validation
loss (`out`) and the full training state (`<out>.state.pt`) from which
`resume=True` continues exactly where the last save left off."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from rnn_cli.config import from_dict, to_dict
from rnn_cli.data.atomic import atomic_write_text
from rnn_cli.data.batching import IGNORE_INDEX, lay_out_streams, window_lengths
from rnn_cli.data.lm_corpus import LEVELS, build_vocab, encode_corpus, read_tokens
from rnn_cli.data.vocab import Vocab
from rnn_cli.errors import ConfigError
from rnn_cli.metrics import lm_scores
from rnn_cli.models.lm import PRECISIONS, RNNLM, LMConfig
from rnn_cli.models.rnn import CELLS, Hidden, detach_hidden
from rnn_cli.seed import seed_everything
from rnn_cli.training import checkpoint
from rnn_cli.training.events import Done, Evaluated, Info, Step
from rnn_cli.training.optim import OPTIMIZERS, build_optimizer, set_lr

SCHEDULES = ("plateau", "step")


@dataclass
class TrainLMConfig:
    """Every option of `train-lm` that shapes the result; stored in the model file."""

    level: str = "word"
    min_freq: int = 1
    max_vocab: int = 0  # 0: no limit
    encoding: str = "utf-8"
    cell: str = "lstm"
    layers: int = 2
    hidden_size: int = 200
    embedding_size: int = 200
    dropout: float = 0.2
    tie_weights: bool = False
    init_range: float | None = None
    precision: str = "fp32"  # softmax layer in training: fp32, or bf16 mixed precision
    epochs: int = 10
    batch_size: int = 20
    eval_batch_size: int = 10
    bptt: int = 35
    variable_bptt: bool = False
    optimizer: str = "sgd"
    lr: float = 20.0
    momentum: float = 0.0
    weight_decay: float = 0.0
    clip: float = 0.25  # 0: no clipping
    schedule: str = "plateau"  # plateau: decay when valid stops improving; step: every epoch
    lr_decay: float = 0.25
    decay_start: int = 1  # step schedule: epoch e > decay_start runs at lr * decay^(e - decay_start)
    patience: int = 3  # stop after this many epochs without improvement; 0: never
    min_lr: float = 0.0
    seed: int = 1234
    save_every: int = 0  # also save the training state every N steps; 0: each epoch only
    log_every: int = 20

    def __post_init__(self) -> None:
        checks = [
            (self.level in LEVELS, "level", f"choose from {', '.join(LEVELS)}"),
            (self.cell in CELLS, "cell", f"choose from {', '.join(CELLS)}"),
            (self.optimizer in OPTIMIZERS, "optimizer", f"choose from {', '.join(OPTIMIZERS)}"),
            (self.schedule in SCHEDULES, "schedule", f"choose from {', '.join(SCHEDULES)}"),
            (self.layers >= 1, "layers", "must be >= 1"),
            (self.hidden_size >= 1, "hidden_size", "must be >= 1"),
            (self.embedding_size >= 1, "embedding_size", "must be >= 1"),
            (0.0 <= self.dropout < 1.0, "dropout", "must be in [0, 1)"),
            (self.epochs >= 0, "epochs", "must be >= 0"),
            (self.batch_size >= 1, "batch_size", "must be >= 1"),
            (self.eval_batch_size >= 1, "eval_batch_size", "must be >= 1"),
            (self.bptt >= 1, "bptt", "must be >= 1"),
            (self.lr > 0, "lr", "must be > 0"),
            (self.clip >= 0, "clip", "must be >= 0"),
            (0.0 < self.lr_decay <= 1.0, "lr_decay", "must be in (0, 1]"),
            (self.min_freq >= 1, "min_freq", "must be >= 1"),
            (self.max_vocab >= 0, "max_vocab", "must be >= 0"),
            (self.patience >= 0, "patience", "must be >= 0"),
            (self.save_every >= 0, "save_every", "must be >= 0"),
            (self.log_every >= 1, "log_every", "must be >= 1"),
            (self.init_range is None or self.init_range > 0, "init_range", "must be > 0"),
            (self.precision in PRECISIONS, "precision", f"choose from {', '.join(PRECISIONS)}"),
        ]
        for ok, name, why in checks:
            if not ok:
                raise ConfigError(f"invalid --{name.replace('_', '-')} {getattr(self, name)!r}: {why}")

    def model_config(self, vocab_size: int) -> LMConfig:
        return LMConfig(
            vocab_size=vocab_size,
            cell=self.cell,
            embedding_size=self.embedding_size,
            hidden_size=self.hidden_size,
            layers=self.layers,
            dropout=self.dropout,
            tie_weights=self.tie_weights,
            init_range=self.init_range,
            softmax_precision=self.precision,
        )


def state_path(out: str | Path) -> Path:
    return Path(out).with_suffix(".state.pt")


def metrics_path(out: str | Path) -> Path:
    return Path(out).with_suffix(".metrics.jsonl")


@torch.inference_mode()
def score_lm(model: RNNLM, ids: torch.Tensor, batch_size: int, bptt: int, device: torch.device) -> dict[str, float]:
    """Loss, perplexity and bits per token of `ids` (every token scored once)."""
    model.eval()
    streams = max(1, min(batch_size, ids.numel() - 1))
    x, y = lay_out_streams(ids, streams, pad=True)
    x, y = x.to(device), y.to(device)
    total = torch.zeros((), dtype=torch.float64, device=device)
    hidden: Hidden | None = None
    for row, length in window_lengths(x.size(0), bptt):
        loss, hidden = model.loss(x[row : row + length], y[row : row + length], hidden, reduction="sum")
        total += loss.double()
    return lm_scores(float(total), int((y != IGNORE_INDEX).sum()))


class _Data:
    """The encoded corpora of one run."""

    def __init__(self, cfg: TrainLMConfig, vocab: Vocab, train: str, valid: str | None, test: str | None,
                 train_tokens: list[str] | None = None) -> None:
        tokens = train_tokens if train_tokens is not None else read_tokens(train, cfg.level, cfg.encoding)
        self.vocab = vocab
        ids = encode_corpus(tokens, vocab, cfg.level)
        if ids.numel() - 1 < cfg.batch_size * 2:
            raise ConfigError(
                f"{train}: {ids.numel() - 1} tokens are too few for --batch-size {cfg.batch_size}"
            )
        self.train_x, self.train_y = lay_out_streams(ids, cfg.batch_size)
        self.n_tokens = len(tokens)
        self.valid = encode_corpus(read_tokens(valid, cfg.level, cfg.encoding), vocab, cfg.level) if valid else None
        self.test = encode_corpus(read_tokens(test, cfg.level, cfg.encoding), vocab, cfg.level) if test else None


def _lr_for_epoch(cfg: TrainLMConfig, epoch: int, lr: float) -> float:
    """Step schedule (Zaremba et al. 2014): lr0 * decay^(epochs past decay_start)."""
    if cfg.schedule == "step":
        return cfg.lr * cfg.lr_decay ** max(0, epoch - cfg.decay_start)
    return lr


def train_lm(
    cfg: TrainLMConfig,
    train: str,
    out: str | Path,
    valid: str | None = None,
    test: str | None = None,
    device: torch.device | None = None,
    resume: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[Step | Evaluated | Info | Done]:
    device = device or torch.device("cpu")
    out = Path(out)
    spath, mpath = state_path(out), metrics_path(out)
    state: dict[str, Any] | None = None
    if resume:
        if spath.exists():
            state = checkpoint.load(spath, task="lm", kind="train-state")
            stored = from_dict(TrainLMConfig, state["train_config"], where=f"{spath}: config")
            if stored.epochs != cfg.epochs:
                yield Info(f"resuming with --epochs {cfg.epochs} (was {stored.epochs})")
            cfg = replace(stored, epochs=cfg.epochs)
            yield Info(f"resuming from {spath} at epoch {state['epoch'] + 1}, step {state['step']}")
        else:
            yield Info(f"nothing to resume ({spath} does not exist); starting a new run")

    seed_everything(cfg.seed)
    if state is not None:
        vocab = Vocab(state["vocab"]["tokens"])
        data = _Data(cfg, vocab, train, valid, test)
    else:
        tokens = read_tokens(train, cfg.level, cfg.encoding)
        vocab = build_vocab(tokens, cfg.level, cfg.min_freq, cfg.max_vocab)
        data = _Data(cfg, vocab, train, valid, test, train_tokens=tokens)
        yield Info(f"{train}: {data.n_tokens:,} tokens, vocabulary {len(vocab):,}")

    model_cfg = cfg.model_config(len(vocab))
    model = RNNLM(model_cfg).to(device)
    optimizer = build_optimizer(cfg.optimizer, model.parameters(), cfg.lr, cfg.momentum, cfg.weight_decay)
    window_gen = torch.Generator().manual_seed(cfg.seed)

    epoch, row, step, global_step = 0, 0, 0, 0
    lr, best, bad_epochs = cfg.lr, math.inf, 0
    hidden: Hidden | None = None
    history: list[dict[str, Any]] = []
    loss_sum, loss_tokens = 0.0, 0
    best_metrics: dict[str, Any] = {}
    stopped_early = False
    if state is not None:
        model.load_state_dict(state["model_state"])
        optimizer.load_state_dict(state["optimizer_state"])
        torch.set_rng_state(state["rng_cpu"])
        window_gen.set_state(state["rng_windows"])
        epoch, row, step, global_step = state["epoch"], state["row"], state["step"], state["global_step"]
        lr, best, bad_epochs = state["lr"], state["best"], state["bad_epochs"]
        history, best_metrics = state["history"], state["best_metrics"]
        loss_sum, loss_tokens = state["loss_sum"], state["loss_tokens"]
        stopped_early = state["stopped_early"]
        if state["hidden"] is not None:
            saved = state["hidden"]
            hidden = tuple(h.to(device) for h in saved) if isinstance(saved, tuple) else saved.to(device)
        if stopped_early:
            yield Info("this run had already stopped early; nothing left to train")

    train_config = to_dict(cfg)
    vocab_dict = {"tokens": vocab.to_list()}

    def save_state() -> None:
        checkpoint.save(spath, {
            "format_version": checkpoint.FORMAT_VERSION, "kind": "train-state", "task": "lm",
            "train_config": train_config, "vocab": vocab_dict,
            "model_state": model.state_dict(), "optimizer_state": optimizer.state_dict(),
            "rng_cpu": torch.get_rng_state(), "rng_windows": window_gen.get_state(),
            "epoch": epoch, "row": row, "step": step, "global_step": global_step,
            "lr": lr, "best": best, "bad_epochs": bad_epochs, "history": history,
            "best_metrics": best_metrics, "loss_sum": loss_sum, "loss_tokens": loss_tokens,
            "hidden": detach_hidden(hidden) if row > 0 else None, "stopped_early": stopped_early,
        })

    def save_model(metrics: dict[str, Any]) -> None:
        checkpoint.save(out, checkpoint.make_payload(
            "lm", to_dict(model_cfg), train_config, vocab_dict, model.state_dict(), metrics))

    n_rows = data.train_x.size(0)
    steps_per_epoch = math.ceil(n_rows / cfg.bptt)
    params = [p for p in model.parameters() if p.requires_grad]
    while epoch < cfg.epochs and not stopped_early:
        lr = _lr_for_epoch(cfg, epoch + 1, lr)
        set_lr(optimizer, lr)
        model.train()
        started = time.perf_counter()
        epoch_tokens = 0
        # Summed on the device without a sync per step; read at each report.
        loss_acc = torch.zeros((), dtype=torch.float64, device=device)
        acc_tokens = 0
        for row_start, length in window_lengths(n_rows, cfg.bptt, row, cfg.variable_bptt, window_gen):
            x = data.train_x[row_start : row_start + length].to(device, non_blocking=True)
            y = data.train_y[row_start : row_start + length].to(device, non_blocking=True)
            hidden = detach_hidden(hidden)
            loss, hidden = model.loss(x, y, hidden)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.clip, foreach=True)
            optimizer.step()
            step += 1
            global_step += 1
            row = row_start + length
            n = y.numel()
            epoch_tokens += n
            loss_acc += loss.detach().double() * n
            acc_tokens += n
            if step % cfg.log_every == 0 or row >= n_rows:
                loss_sum, loss_tokens = loss_sum + float(loss_acc), loss_tokens + acc_tokens
                loss_acc.zero_()
                acc_tokens = 0
                elapsed = time.perf_counter() - started
                yield Step(epoch + 1, step, steps_per_epoch, loss_sum / loss_tokens, lr,
                           epoch_tokens / max(elapsed, 1e-9))
            stop = should_stop()  # asked once per step: the answer may change at any time
            if (cfg.save_every and global_step % cfg.save_every == 0 and row < n_rows) or stop:
                loss_sum, loss_tokens = loss_sum + float(loss_acc), loss_tokens + acc_tokens
                loss_acc.zero_()
                acc_tokens = 0
                save_state()
            if stop:
                yield Info(f"interrupted: training state saved to {spath}; continue with --resume")
                yield Done({"interrupted": True, "state": str(spath)}, interrupted=True)
                return
        elapsed = time.perf_counter() - started
        record: dict[str, Any] = {
            "epoch": epoch + 1, "step": global_step, "lr": lr,
            "train_loss": loss_sum / max(loss_tokens, 1),
            "train_ppl": math.exp(min(loss_sum / max(loss_tokens, 1), 700.0)),
            "tokens_per_s": round(epoch_tokens / max(elapsed, 1e-9), 1), "epoch_seconds": round(elapsed, 2),
        }
        if data.valid is not None:
            valid_scores = score_lm(model, data.valid, cfg.eval_batch_size, cfg.bptt, device)
            record.update({f"valid_{k}": v for k, v in valid_scores.items()})
            current = valid_scores["loss"]
        else:
            current = record["train_loss"]
        improved = current < best
        if improved:
            best, bad_epochs = current, 0
            best_metrics = dict(record)
            save_model(best_metrics)
        else:
            bad_epochs += 1
            if cfg.schedule == "plateau":
                lr = max(lr * cfg.lr_decay, cfg.min_lr)
            if cfg.patience and bad_epochs >= cfg.patience:
                stopped_early = True
        history.append(record)
        atomic_write_text(mpath, "".join(json.dumps(r) + "\n" for r in history))
        epoch, row, step = epoch + 1, 0, 0
        hidden, loss_sum, loss_tokens = None, 0.0, 0
        save_state()
        yield Evaluated(record, improved)
        if stopped_early:
            yield Info(f"early stop: no improvement for {bad_epochs} epoch(s)")

    if not out.exists():
        save_model(best_metrics)
    summary: dict[str, Any] = {"model": str(out), "epochs": epoch, "vocab_size": len(vocab)}
    summary.update({k: v for k, v in best_metrics.items() if k.startswith("valid_") or k == "epoch"})
    if data.test is not None:
        payload = checkpoint.load(out, task="lm")
        model.load_state_dict(payload["state_dict"])
        test_scores = score_lm(model, data.test, cfg.eval_batch_size, cfg.bptt, device)
        summary.update({f"test_{k}": v for k, v in test_scores.items()})
        payload["metrics"] = {**payload["metrics"], **{f"test_{k}": v for k, v in test_scores.items()}}
        checkpoint.save(out, payload)
    yield Done(summary)
