"""Events that training loops yield; the caller renders them or stays silent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Step:
    epoch: int  # 1-based
    step: int  # step within the epoch, 1-based
    steps: int  # steps in the epoch (an estimate with variable windows)
    loss: float
    lr: float
    tokens_per_s: float  # items per second, in `unit`s
    extra: dict[str, float] = field(default_factory=dict)
    unit: str = "tok"


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
