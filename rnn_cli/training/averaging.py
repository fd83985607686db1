"""NT-ASGD, non-monotonically triggered averaged SGD (Merity et al. 2018): plain SGD
until the dev metric stops improving, then SGD that also keeps the running average of
the weights (Polyak & Juditsky 1992), which is what is evaluated, saved and tested.

The trigger is AWD-LSTM's: at an evaluation, averaging starts (from the next step) if
there are more than `nonmono` earlier evaluations and this one is worse than the best
of them all but the last `nonmono`; a short dip does not trigger it, a trend does.

    step:      1 ... s | s+1   s+2   ...   s+n
    weights:   SGD ... | w1    w2    ...   wn      averaged: (w1 + ... + wn) / n
                       ^ the evaluation after step s triggered

The engine updates the average after every optimizer step and keeps it in the training
state (so that `--resume` continues exactly); the loop swaps it into the model around
evaluation and saving (`Averager.swapped`)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn


def should_trigger(earlier: Sequence[float], score: float, nonmono: int, minimize: bool) -> bool:
    """Whether an evaluation scoring `score`, after the evaluations `earlier` (oldest
    first), starts the averaging. Non-finite scores never trigger it nor count as best."""
    if len(earlier) <= nonmono or not math.isfinite(score):
        return False
    pool = [s for s in earlier[:-nonmono] if math.isfinite(s)]
    if not pool:
        return False
    return score > min(pool) if minimize else score < max(pool)


class Averager:
    """The running mean of `params` over the optimizer steps since `begin`."""

    def __init__(self, params: list[nn.Parameter]) -> None:
        self.params = params
        self.start: int | None = None  # the first averaged global step (1-based); None: not triggered
        self.count = 0  # steps averaged so far
        self.averages: list[torch.Tensor] = []  # one per parameter, once count > 0

    @property
    def active(self) -> bool:
        return self.start is not None

    def begin(self, step: int) -> None:
        """Average the weights of global step `step` and every later one."""
        self.start = step

    @torch.no_grad()
    def update(self) -> None:
        """Fold in the weights after an optimizer step (nothing before `begin`)."""
        if self.start is None:
            return
        self.count += 1
        weights = [p.detach() for p in self.params]
        if self.count == 1:
            self.averages = [w.clone() for w in weights]
        else:  # mean_n = mean_{n-1} + (w_n - mean_{n-1}) / n
            torch._foreach_lerp_(self.averages, weights, 1.0 / self.count)

    @contextlib.contextmanager
    def swapped(self) -> Iterator[None]:
        """The averaged weights in the model inside the block (nothing to swap before the
        first averaged step), the trained ones back, bit for bit, after it."""
        if not self.count:
            yield
            return
        with torch.no_grad():
            trained = [p.detach().clone() for p in self.params]
            torch._foreach_copy_(self.params, self.averages)
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_(self.params, trained)

    def state(self) -> dict[str, Any]:
        return {"start": self.start, "count": self.count, "averages": [a.cpu() for a in self.averages]}

    def restore(self, state: dict[str, Any]) -> None:
        self.start, self.count = state["start"], int(state["count"])
        averages = state["averages"]  # empty until the first averaged step
        if not averages and self.count:
            raise ValueError(f"the training state averaged {self.count} step(s) but holds no averages")
        self.averages = [a.to(p.device) for a, p in zip(averages, self.params, strict=True)] if averages else []
