"""The options of `train-lm` that shape the result, as the dataclass stored in
the model file (`TrainLMConfig(**payload["train_config"])`)."""

from __future__ import annotations

from dataclasses import dataclass

from rnn_cli.data.lm_corpus import LEVELS
from rnn_cli.errors import ConfigError
from rnn_cli.models.lm import PRECISIONS, LMConfig
from rnn_cli.models.rnn import CELLS
from rnn_cli.training.optim import OPTIMIZERS

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
    checkpoint_every: int = 0  # also save the training state every N steps; 0: at epoch ends only
    log_every: int = 20
    amp: bool = False  # autocast (bf16 where supported, else fp16 with a gradient scaler)
    skip_nonfinite: bool = False  # skip batches with a non-finite loss instead of stopping

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
            (self.checkpoint_every >= 0, "checkpoint_every", "must be >= 0"),
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
