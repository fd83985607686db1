"""Small C++ loops compiled on first use with `torch.utils.cpp_extension` (g++ and
ninja; cached per machine in torch's extensions folder), for the recurrences that would
otherwise cost a few PyTorch operations per time step: the SRU's (`sru_kernel.py`) and
the CRF's (`crf_kernel.py`). Where one cannot be built, its module's PyTorch loop runs
after a one-line warning."""

from __future__ import annotations

import functools
import os
import sys
from typing import Any


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
