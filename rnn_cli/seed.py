"""Seeding and device choice, in one place, passed explicitly to whoever needs them."""

from __future__ import annotations

import random

import torch

from rnn_cli.errors import ConfigError


def seed_everything(seed: int) -> None:
    """Seed Python's and torch's generators so a CPU run repeats bit for bit."""
    random.seed(seed)
    torch.manual_seed(seed)


def select_device(name: str) -> torch.device:
    """`auto` picks CUDA when present; `cuda` without a GPU is a usage error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise ConfigError(f"--device: unknown device '{name}' (use auto, cpu or cuda)")
    return torch.device(name)
