"""The batches the models consume, one dataclass per task. `data/` builds them, the
models read them (`loss(batch)`, `predict(batch)`), the trainers and predictors move
them with `.to(device)`. Plain tensors only: no vocabulary, no file, no model here.

A target that is missing (a prediction batch) is None; a model's `loss` refuses it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch

# An RNN state: h (layers * directions, B, H), or (h, c) for an LSTM.
Hidden = Union[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]


def _hidden_to(hidden: Hidden | None, device: torch.device | str) -> Hidden | None:
    if hidden is None:
        return None
    if isinstance(hidden, tuple):
        return tuple(h.to(device) for h in hidden)  # type: ignore[return-value]
    return hidden.to(device)


@dataclass
class LMBatch:
    """One truncated-BPTT window of B streams (see `data/batching.py`)."""

    x: torch.Tensor  # (T, B) long input ids
    y: torch.Tensor | None = None  # (T, B) long next-token targets, IGNORE_INDEX (-100) where none
    hidden: Hidden | None = None  # the state the window starts from (None: zeros)

    def to(self, device: torch.device | str) -> LMBatch:
        y = self.y.to(device) if self.y is not None else None
        return LMBatch(self.x.to(device), y, _hidden_to(self.hidden, device))


@dataclass
class TagBatch:
    """Padded sentences: rows are left-aligned, `mask` has at least one True per row."""

    words: torch.Tensor  # (B, L) long, 0 = padding
    chars: torch.Tensor  # (B, L, C) long, 0 = padding
    mask: torch.Tensor  # (B, L) bool, True at real tokens
    tags: torch.Tensor | None  # (B, L) long, any filler at padding; None when not all sentences have tags
    lengths: torch.Tensor  # (B,) long, on the CPU
    indices: list[int]  # each row's position in the sequence (or window) it was built from

    def to(self, device: torch.device | str) -> TagBatch:
        """The tensors on `device`, except `lengths`, which stays on the CPU as
        `pack_padded_sequence` wants it."""
        tags = self.tags.to(device) if self.tags is not None else None
        return TagBatch(self.words.to(device), self.chars.to(device), self.mask.to(device), tags, self.lengths,
                        self.indices)


@dataclass
class ClassBatch:
    """Padded texts, each at least one token long."""

    words: torch.Tensor  # (B, L) long, 0 = padding
    lengths: torch.Tensor  # (B,) long, on the CPU
    labels: torch.Tensor | None  # (B,) long, or (B, C) float 0/1 when multi-label
    indices: list[int]  # each row's position in the list (or window) it was built from
    # Training only: (C,) per-class loss weights (single-label) or positive weights
    # (multi-label), e.g. inverse frequencies; None weighs every class alike.
    weights: torch.Tensor | None = None

    @property
    def mask(self) -> torch.Tensor:
        """(B, L) bool, True at real tokens, on the device of `words`."""
        return torch.arange(self.words.size(1), device=self.words.device) < self.lengths.to(self.words.device)[:, None]

    def to(self, device: torch.device | str) -> ClassBatch:
        """The tensors on `device`, except `lengths` (kept on the CPU)."""
        labels = self.labels.to(device) if self.labels is not None else None
        weights = self.weights.to(device) if self.weights is not None else None
        return ClassBatch(self.words.to(device), self.lengths, labels, self.indices, weights)
