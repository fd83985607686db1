"""Seeding and device choice, in one place, passed explicitly to whoever needs them."""

from __future__ import annotations

import random
from typing import Any

import torch

from rnn_cli.errors import ConfigError


def seed_everything(seed: int) -> None:
    """Seed Python's and torch's generators so a CPU run repeats bit for bit."""
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy comes with gensim
        return
    np.random.seed(seed % 2**32)


def select_device(name: str) -> torch.device:
    """`auto` picks CUDA when present; `cuda` without a GPU is a usage error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise ConfigError(f"--device: unknown device '{name}' (use auto, cpu or cuda)")
    return torch.device(name)


def set_threads(threads: int) -> None:
    """`--threads`: CPU threads for torch's operators (0: torch's default, one per core).
    On a machine shared with other runs, 1 is usually fastest: more threads than free
    cores make OpenMP spin and wait."""
    if threads < 0:
        raise ConfigError(f"--threads must be >= 0 (0: torch's default), not {threads}")
    if threads:
        torch.set_num_threads(threads)


def rng_states() -> dict[str, Any]:
    """Every random generator a training run draws from, as plain data (tensors,
    ints, lists) that `torch.load(weights_only=True)` reads back."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": _plain(random.getstate())}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy comes with gensim
        return state
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state["numpy"] = {"kind": str(kind), "keys": torch.from_numpy(keys.astype("int64")), "pos": int(pos),
                      "has_gauss": int(has_gauss), "cached": float(cached)}
    return state


def set_rng_states(state: dict[str, Any]) -> None:
    """Restore what `rng_states` saved (the CUDA part only where CUDA is present)."""
    torch.set_rng_state(state["torch"])
    if state.get("python") is not None:
        random.setstate(_tuple(state["python"]))
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if state.get("numpy") is not None:
        import numpy as np

        n = state["numpy"]
        np.random.set_state((n["kind"], n["keys"].numpy().astype("uint32"), n["pos"], n["has_gauss"], n["cached"]))


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, tuple) else value


def _tuple(value: Any) -> Any:
    return tuple(_tuple(v) for v in value) if isinstance(value, list) else value
