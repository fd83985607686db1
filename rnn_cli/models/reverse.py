"""Reading padded, time-major batches backwards: each row reversed within its length,
its padding left in place, so that a backward RNN never reads padding before a real
token (the SRU's backward direction, the portable networks' BiRNNs)."""

from __future__ import annotations

import torch


def reverse_index(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(T, B) long: for each row, its real positions in reverse order, then its padding
    in place. Gathering with it twice gives the input back."""
    t = torch.arange(steps, device=lengths.device).unsqueeze(1)  # (T, 1)
    n = lengths.to(t.dtype).unsqueeze(0)  # (1, B)
    return torch.where(t < n, n - 1 - t, t)


def reverse_within(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows of `x` (T, B, ...) reversed within their lengths (`index` from `reverse_index`)."""
    shape = index.shape + (1,) * (x.dim() - 2)
    return x.gather(0, index.view(shape).expand_as(x))
