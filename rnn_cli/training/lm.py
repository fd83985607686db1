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
from rnn_cli.training.epochs import metrics_path, state_path
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
    """The model, optimiser and files of one training run."""

    def __init__(self, cfg: TrainLMConfig, vocab: Vocab, out: Path, device: torch.device) -> None:
        self.cfg, self.vocab, self.out, self.device = cfg, vocab, out, device
        self.state_path, self.metrics_path = state_path(out), metrics_path(out)
        self.model_cfg = cfg.model_config(len(vocab))
        self.model = RNNLM(self.model_cfg).to(device)
        self.optimizer = build_optimizer(cfg.optimizer, self.model.parameters(), cfg.lr, cfg.momentum,
                                         cfg.weight_decay)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.window_gen = torch.Generator().manual_seed(cfg.seed)
        self.progress = _Progress(lr=cfg.lr)
        self.hidden: Hidden | None = None
        self.epoch_seconds, self.epoch_tokens = 0.0, 0  # of the last finished epoch

    def restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model_state"])
        self.optimizer.load_state_dict(state["optimizer_state"])
        torch.set_rng_state(state["rng_cpu"])
        if state.get("rng_cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        self.window_gen.set_state(state["rng_windows"])
        self.progress = _Progress(**state["progress"])
        saved = state["hidden"]
        if saved is not None:
            self.hidden = tuple(h.to(self.device) for h in saved) if isinstance(saved, tuple) else saved.to(self.device)

    def save_state(self) -> None:
        checkpoint.save(self.state_path, {
            "format_version": checkpoint.FORMAT_VERSION, "kind": "train-state", "task": "lm",
            "train_config": to_dict(self.cfg), "vocab": {"tokens": self.vocab.to_list()},
            "model_state": self.model.state_dict(), "optimizer_state": self.optimizer.state_dict(),
            "rng_cpu": torch.get_rng_state(), "rng_windows": self.window_gen.get_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
            "progress": asdict(self.progress),
            "hidden": detach_hidden(self.hidden) if self.progress.row > 0 else None,
        })

    def save_model(self, metrics: dict[str, Any]) -> None:
        checkpoint.save(self.out, checkpoint.make_payload(
            "lm", to_dict(self.model_cfg), to_dict(self.cfg), {"tokens": self.vocab.to_list()},
            self.model.state_dict(), metrics))

    def train_epoch(self, data: _Data, should_stop: Callable[[], bool]) -> Generator[Step, None, bool]:
        """Train from the current row to the end of the epoch. Returns True if
        `should_stop` asked to stop (the state is then saved)."""
        cfg, p, model = self.cfg, self.progress, self.model
        n_rows = data.train_x.size(0)
        steps = math.ceil(n_rows / cfg.bptt)
        model.train()
        started, epoch_tokens = time.perf_counter(), 0
        # Summed on the device without a sync per step; read at each report.
        loss_acc = torch.zeros((), dtype=torch.float64, device=self.device)
        acc_tokens = 0

        def flush() -> None:
            nonlocal acc_tokens
            p.loss_sum, p.loss_tokens = p.loss_sum + float(loss_acc), p.loss_tokens + acc_tokens
            loss_acc.zero_()
            acc_tokens = 0

        for row, length in window_lengths(n_rows, cfg.bptt, p.row, cfg.variable_bptt, self.window_gen):
            x = data.train_x[row : row + length].to(self.device, non_blocking=True)  # (length, B)
            y = data.train_y[row : row + length].to(self.device, non_blocking=True)
            self.hidden = detach_hidden(self.hidden)
            loss, self.hidden = model.loss(x, y, self.hidden)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip > 0:
                torch.nn.utils.clip_grad_norm_(self.params, cfg.clip, foreach=True)
            self.optimizer.step()
            p.step, p.global_step, p.row = p.step + 1, p.global_step + 1, row + length
            epoch_tokens += y.numel()
            loss_acc += loss.detach().double() * y.numel()
            acc_tokens += y.numel()
            if p.step % cfg.log_every == 0 or p.row >= n_rows:
                flush()
                yield Step(p.epoch + 1, p.step, steps, p.loss_sum / p.loss_tokens, p.lr,
                           epoch_tokens / max(time.perf_counter() - started, 1e-9))
            stop = should_stop()  # asked once per step: the answer may change at any time
            if stop or (cfg.save_every and p.global_step % cfg.save_every == 0 and p.row < n_rows):
                flush()
                self.save_state()
            if stop:
                return True
        self.epoch_seconds = time.perf_counter() - started
        self.epoch_tokens = epoch_tokens
        return False

    def end_epoch(self, data: _Data) -> Evaluated:
        """Validate, keep the best model, anneal the lr, log, and save the state."""
        cfg, p = self.cfg, self.progress
        train_loss = p.loss_sum / max(p.loss_tokens, 1)
        record: dict[str, Any] = {
            "epoch": p.epoch + 1, "step": p.global_step, "lr": p.lr,
            "train_loss": train_loss, "train_ppl": math.exp(min(train_loss, 700.0)),
            "tokens_per_s": round(self.epoch_tokens / max(self.epoch_seconds, 1e-9), 1),
            "epoch_seconds": round(self.epoch_seconds, 2),
        }
        current = train_loss
        if data.valid is not None:
            scores = score_lm(self.model, data.valid, cfg.eval_batch_size, cfg.bptt, self.device)
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
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in p.history))
        p.epoch, p.row, p.step, p.loss_sum, p.loss_tokens = p.epoch + 1, 0, 0, 0.0, 0
        self.hidden = None
        self.save_state()
        return Evaluated(record, improved)


def _load_state(cfg: TrainLMConfig, spath: Path) -> tuple[TrainLMConfig, dict[str, Any]]:
    state = checkpoint.load(spath, task="lm", kind="train-state")
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
) -> Iterator[Step | Evaluated | Info | Done]:
    """Train a language model, yielding events; see the module docstring."""
    device = device or torch.device("cpu")
    out = Path(out)
    state: dict[str, Any] | None = None
    if resume and state_path(out).exists():
        stored_epochs = cfg.epochs
        cfg, state = _load_state(cfg, state_path(out))
        p = state["progress"]
        yield Info(f"resuming from {state_path(out)} at epoch {p['epoch'] + 1}, step {p['step']} "
                   f"(--epochs {stored_epochs}; the other options are the stored ones)")
    elif resume:
        yield Info(f"nothing to resume ({state_path(out)} does not exist); starting a new run")

    seed_everything(cfg.seed)
    if state is not None:
        vocab = Vocab(state["vocab"]["tokens"])
        data = _Data(cfg, vocab, train, valid, test)
    else:
        tokens = read_tokens(train, cfg.level, cfg.encoding)
        vocab = build_vocab(tokens, cfg.level, cfg.min_freq, cfg.max_vocab)
        data = _Data(cfg, vocab, train, valid, test, train_tokens=tokens)
        yield Info(f"{train}: {data.n_tokens:,} tokens, vocabulary {len(vocab):,}")

    run = _Run(cfg, vocab, out, device)
    p = run.progress
    if state is not None:
        run.restore(state)
        p = run.progress
        if p.stopped_early:
            yield Info("this run had already stopped early; nothing left to train")

    while p.epoch < cfg.epochs and not p.stopped_early:
        p.lr = _lr_for_epoch(cfg, p.epoch + 1, p.lr)
        set_lr(run.optimizer, p.lr)
        interrupted = yield from run.train_epoch(data, should_stop)
        if interrupted:
            yield Info(f"interrupted: training state saved to {run.state_path}; continue with --resume")
            yield Done({"interrupted": True, "state": str(run.state_path)}, interrupted=True)
            return
        yield run.end_epoch(data)
        if p.stopped_early:
            yield Info(f"early stop: no improvement for {p.bad_epochs} epoch(s)")

    if not out.exists():
        run.save_model(p.best_metrics)
    summary: dict[str, Any] = {"model": str(out), "epochs": p.epoch, "vocab_size": len(vocab)}
    summary.update({k: v for k, v in p.best_metrics.items() if k.startswith("valid_") or k == "epoch"})
    if data.test is not None:
        payload = checkpoint.load(out, task="lm")
        run.model.load_state_dict(payload["state_dict"])
        scores = {f"test_{k}": v for k, v in score_lm(run.model, data.test, cfg.eval_batch_size, cfg.bptt,
                                                          device).items()}
        summary.update(scores)
        payload["metrics"] = {**payload["metrics"], **scores}
        checkpoint.save(out, payload)
    yield Done(summary)
