"""The sentence-pair similarity head of Tai, Socher & Manning 2015 (Sec. 4.2) and its
sparse target distribution. Two sentence vectors hl, hr (B, D) are compared by

    h_x = hl * hr, h+ = |hl - hr|          (sign-free features: the head is symmetric)
    h_s = sigmoid(W [h_x; h+] + b)         p = softmax(W_p h_s + b_p)  over k scores

A real score y in [low, low + k - 1] (SICK: 1..5) becomes the distribution p over the
integers low..low+k-1 whose mean is y, mass only on floor(y) and floor(y) + 1:

    i = floor(y) - low:   p_i = floor(y) - y + 1,   p_{i+1} = y - floor(y)

The model is trained with KL(p || p_theta) and predicts the expectation r^T p_theta,
r = (low, ..., low + k - 1)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def pair_features(hl: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """[hl * hr; |hl - hr|]: (B, D) twice -> (B, 2D)."""
    return torch.cat([hl * hr, (hl - hr).abs()], -1)


class PairHead(nn.Module):
    """`forward(hl (B, D), hr (B, D)) -> logits (B, num_outputs)`: a sigmoid layer of
    `hidden_size` over `pair_features`, then a linear layer (Tai et al. 2015, eq. 15-17
    before the softmax)."""

    def __init__(self, input_size: int, hidden_size: int, num_outputs: int) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_outputs", num_outputs)):
            if value < 1:
                raise ValueError(f"invalid {name}: {value}")
        self.hidden = nn.Linear(2 * input_size, hidden_size)
        self.out = nn.Linear(hidden_size, num_outputs)

    def forward(self, hl: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return self.out(torch.sigmoid(self.hidden(pair_features(hl, hr))))  # (B, num_outputs)


def sparse_target(scores: torch.Tensor, low: int, k: int) -> torch.Tensor:
    """Tai et al.'s target distribution (module docstring): scores (B,) in [low, low + k - 1]
    -> (B, k), rows summing to 1 with mean `scores`; the top score puts 1 on the last class."""
    if k < 1:
        raise ValueError(f"invalid number of classes: {k}")
    scores = scores.to(torch.get_default_dtype()) if not scores.is_floating_point() else scores
    high = low + k - 1
    bad = (scores < low) | (scores > high) | scores.isnan()
    if bool(bad.any()):
        raise ValueError(f"score outside [{low}, {high}]: {scores[bad][0].item()}")
    floor = scores.floor().clamp(max=high - 1) if k > 1 else scores.floor()  # y = high: p_{k-2} = 0, p_{k-1} = 1
    i = (floor - low).long().unsqueeze(1)  # (B, 1)
    upper = (scores - floor).unsqueeze(1)  # (B, 1), the mass on floor + 1
    target = scores.new_zeros(scores.size(0), k)
    target.scatter_(1, i, 1.0 - upper)
    if k > 1:
        target.scatter_(1, i + 1, upper)  # i + 1 <= k - 1: the floor is clamped below the top score
    return target


def expected_score(probs: torch.Tensor, low: int) -> torch.Tensor:
    """r^T p with r = (low, ..., low + k - 1): probs (B, k) -> (B,)."""
    r = torch.arange(low, low + probs.size(-1), dtype=probs.dtype, device=probs.device)
    return probs @ r


def kl_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of KL(target || softmax(logits)), 0 log 0 taken as 0: (B, k) twice -> ()."""
    return F.kl_div(F.log_softmax(logits, -1), target, reduction="batchmean")
