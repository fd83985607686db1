"""Truncated-BPTT batching for language models.

The id sequence is turned into (input, target) pairs, cut into B contiguous
streams laid out side by side as the columns of an (N, B) matrix, and walked
through in windows of `bptt` rows::

    ids:      s a b c d e f g h i j k l        (s = start token)
    inputs:   s a b c d e f g h i j k          targets: a b c d e f g h i j k l
    B = 3 streams, N = 4 rows:

              col 0  col 1  col 2              targets
      row 0     s      d      g                  a  e  h
      row 1     a      e      h                  b  f  i
      row 2     b      f      i                  c  g  j
      row 3     c      g      j  <- window 2     d  h  k
              (k and l are dropped in training: M is trimmed to N * B)

Window 1 is rows 0-1, window 2 rows 2-3. A column's hidden state at the end of
one window is the state at the start of the next (detached from the graph), so
targets[t, b] == inputs[t + 1, b] holds across window boundaries too.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

IGNORE_INDEX = -100


def lay_out_streams(ids: torch.Tensor, n_streams: int, pad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Return `(inputs, targets)`, each `(N, B)`.

    Without `pad` the pairs are trimmed to a multiple of B (training). With `pad`
    every pair is kept and the last column is padded with IGNORE_INDEX targets
    (evaluation: each token is scored exactly once)."""
    if ids.dim() != 1:
        raise ValueError("ids must be one-dimensional")
    if n_streams < 1:
        raise ValueError(f"invalid number of streams: {n_streams}")
    x, y = ids[:-1], ids[1:]
    m = x.numel()
    if pad:
        n = max(1, math.ceil(m / n_streams))
        total = n * n_streams
        xp = torch.zeros(total, dtype=torch.long)
        yp = torch.full((total,), IGNORE_INDEX, dtype=torch.long)
        xp[:m], yp[:m] = x, y
        x, y = xp, yp
    else:
        n = m // n_streams
        if n == 0:
            raise ValueError(f"corpus of {m} tokens is too short for {n_streams} streams")
        x, y = x[: n * n_streams], y[: n * n_streams]
    # Column b holds pairs b*N .. (b+1)*N - 1; .t().contiguous() makes rows contiguous.
    return x.view(n_streams, n).t().contiguous(), y.view(n_streams, n).t().contiguous()


def window_lengths(
    n_rows: int,
    bptt: int,
    start: int = 0,
    variable: bool = False,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[int, int]]:
    """Yield `(row, length)` windows covering rows `start .. n_rows - 1`.

    With `variable`, lengths vary as in Merity et al. 2018 (AWD-LSTM): the base is
    `bptt` with probability 0.95 and `bptt / 2` otherwise, then drawn from
    N(base, 5) and kept to at least 5 (or `bptt` if that is smaller)."""
    if bptt < 1:
        raise ValueError(f"invalid bptt: {bptt}")
    row = start
    while row < n_rows:
        length = bptt
        if variable:
            u, z = torch.rand(2, generator=generator).tolist()
            base = bptt if u < 0.95 else bptt / 2
            # Box-Muller from two uniforms keeps one generator draw per window.
            w = torch.rand(1, generator=generator).item()
            normal = math.sqrt(-2.0 * math.log(max(z, 1e-12))) * math.cos(2 * math.pi * w)
            length = max(min(5, bptt), int(round(base + 5 * normal)))
        length = min(length, n_rows - row)
        yield row, length
        row += length
