"""Small C++ loops compiled with `torch.utils.cpp_extension` (g++ and ninja; once per
machine, cached in torch's extensions folder: by `make install`, else on first use),
for the recurrences that would otherwise cost a few PyTorch operations per time step:
the SRU's (`sru_kernel.py`), the CRF's (`crf_kernel.py`) and the DMN's attention GRU
(`dmn_kernel.py`). Where one cannot be built, its module's PyTorch loop runs
after a one-line warning. `prepare` builds the loops a model uses before its training
starts, so the first build (about 30 s) is announced and not counted in the first epoch."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class Loop:
    """A compiled loop: its extension `name`, what it serves (for messages), whether a
    model's training uses it, and the function that builds or loads it."""

    name: str
    what: str
    used_by: Callable[[nn.Module], bool]
    load: Callable[[], Any]


LOOPS: list[Loop] = []  # registered by the modules of the layers that call one (crf.py, sru.py, dmn.py)


def prepare(model: nn.Module, device: torch.device) -> Iterator[str]:
    """Build now the compiled loops that training `model` on `device` will call, yielding
    a note before each that is not built yet on this machine."""
    if device.type != "cpu":
        return
    for loop in LOOPS:
        if any(loop.used_by(module) for module in model.modules()):
            if not _built(loop.name):
                yield f"building {loop.what}'s compiled loop (once per machine, about 30 s)"
            loop.load()


def _built(name: str) -> bool:
    """Whether torch's extensions folder holds `name` already (True when it cannot tell,
    which only skips the note)."""
    try:
        from torch.utils.cpp_extension import _get_build_directory

        return os.path.exists(os.path.join(_get_build_directory(name, False), f"{name}.so"))
    except Exception:  # noqa: BLE001 - a private helper of torch's: without it, say nothing
        return True


@functools.cache
def build(name: str, source: str, switch: str, what: str, cflags: tuple[str, ...]) -> Any | None:
    """The extension `name` compiled from `source` (None where it cannot be built, or
    where the environment variable `switch` is `python`, which asks for the PyTorch loop).
    `what` names it in the warning."""
    if os.environ.get(switch) == "python":
        return None
    try:
        from torch.utils.cpp_extension import load_inline

        return load_inline(name, cpp_sources=source, extra_cflags=list(cflags), verbose=False)
    except Exception as exc:  # noqa: BLE001 - no compiler, no ninja, a failed build: fall back, say so
        msg = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        print(f"rnn-cli: warning: {what}'s compiled loop could not be built ({msg}); using the slower "
              "PyTorch loop", file=sys.stderr)
        return None


def working_dtype(t: torch.Tensor) -> torch.dtype:
    """The type a compiled loop computes in for inputs like `t`: float64 stays float64,
    every other type (float32, and bf16 / fp16 under autocast) runs in float32."""
    return torch.float64 if t.dtype == torch.float64 else torch.float32


def build_all() -> Iterator[str]:
    """Build every registered loop now (`make install` does, so that no training run
    waits for a build; importing `rnn_cli.models` registers them all), yielding what
    each is about to do."""
    for loop in LOOPS:
        yield f"{'loading' if _built(loop.name) else 'building'} {loop.what}'s compiled loop"
        loop.load()
