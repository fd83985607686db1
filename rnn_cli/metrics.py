"""Scores computed from model outputs."""

from __future__ import annotations

import math


def lm_scores(nll_sum: float, count: int) -> dict[str, float]:
    """Mean cross-entropy (nats per token), perplexity and bits per token."""
    if count <= 0:
        raise ValueError("no tokens were scored")
    loss = nll_sum / count
    return {
        "loss": loss,
        "ppl": math.exp(min(loss, 700.0)),
        "bpc": loss / math.log(2.0),
        "tokens": count,
    }
