"""Pooling an encoder's states (B, L, D) into one vector per item (B, D), blind to
padding: every mode reads the real positions only (`mask` (B, L) bool, left-aligned,
at least one True per row) and returns `(pooled, weights)`, the weights (B, L) being
the attention distribution for `classify --explain` (None for the other modes).

`POOLINGS` maps a name to its class, built once as `Pooling(size, config)` with `size`
the encoder's output size D and `config` the classifier's config."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class LastPooling(nn.Module):
    """The final state of each direction: forward at the last real token, backward
    (bidirectional encoders, second half of D) at the first; concatenated."""

    def __init__(self, size: int, config: Any) -> None:
        super().__init__()
        self.half = size // 2 if config.bidirectional else size

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, None]:
        last = (mask.sum(1) - 1).view(-1, 1, 1).expand(-1, 1, states.size(2))  # (B, 1, D)
        final = states.gather(1, last).squeeze(1)  # (B, D): every position's state at the last token
        return torch.cat([final[:, : self.half], states[:, 0, self.half :]], dim=1), None


class MeanPooling(nn.Module):
    def __init__(self, size: int, config: Any) -> None:
        super().__init__()

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, None]:
        m = mask.unsqueeze(2).to(states.dtype)  # (B, L, 1)
        return (states * m).sum(1) / m.sum(1), None


class MaxPooling(nn.Module):
    def __init__(self, size: int, config: Any) -> None:
        super().__init__()

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, None]:
        return states.masked_fill(~mask.unsqueeze(2), float("-inf")).amax(1), None


class AttentionPooling(nn.Module):
    """Additive attention (Bahdanau et al. 2015; Yang et al. 2016):
    a_t = softmax_t(v . tanh(W h_t + b)) over the real positions; returns sum_t a_t h_t."""

    def __init__(self, size: int, config: Any) -> None:
        super().__init__()
        self.attention = nn.Linear(size, config.attention_size)  # W, b
        self.context = nn.Linear(config.attention_size, 1, bias=False)  # v

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.context(torch.tanh(self.attention(states))).squeeze(2)  # (B, L)
        weights = scores.masked_fill(~mask, float("-inf")).softmax(1)  # 0 at padding
        return torch.bmm(weights.unsqueeze(1), states).squeeze(1), weights  # (B, D), (B, L)


POOLINGS: dict[str, type[nn.Module]] = {
    "last": LastPooling,
    "mean": MeanPooling,
    "max": MaxPooling,
    "attention": AttentionPooling,
}
