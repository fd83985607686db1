"""Events that training loops yield; the caller renders them or stays silent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Step:
    epoch: int  # 1-based
    step: int  # step within the epoch, 1-based
    steps: int  # steps in the epoch (an estimate with variable windows)
    loss: float  # mean training loss of the epoch so far
    lr: float
    rate: float  # items per second, in `unit`s (tokens, sentences, items)
    unit: str = "tok"
    ppl: float | None = None  # exp(loss), for a per-token cross-entropy (language models)


@dataclass
class Evaluated:
    record: dict[str, Any]  # one metrics-log line
    improved: bool


@dataclass
class Info:
    message: str


@dataclass
class Done:
    summary: dict[str, Any]
    interrupted: bool = False
