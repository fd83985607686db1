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


@dataclass
class TreeBatch:
    """A mini-batch of trees flattened into one list of N nodes, numbered so that
    every child comes before its parent. `levels` groups the nodes by height (leaves
    first), so that a tree encoder computes all nodes of one height at once, over
    the whole batch, gathering their children's states by index:

        levels[k] = (nodes (M,), children (M, K))   node ids; `children` padded with N,
                                                    the id of an all-zero state row

    Child order is kept (left before right), which the binary N-ary Tree-LSTM needs;
    a constituency node with one child has the pad in its second column."""

    words: torch.Tensor  # (N,) long, the word id at each node; 0 (<pad>: a zero vector) where a node has no word
    levels: list[tuple[torch.Tensor, torch.Tensor]]  # bottom-up, see above
    roots: torch.Tensor  # (B,) long, the node id of each tree's root
    tree: torch.Tensor  # (N,) long, the tree (row, 0..B-1) each node belongs to
    labels: torch.Tensor | None  # (N,) long, each node's label id, -1 where it has none; None: no labels at all
    indices: list[int]  # each tree's position in the list (or window) it was built from

    @property
    def size(self) -> int:
        """B, the number of trees."""
        return int(self.roots.numel())

    def to(self, device: torch.device | str) -> TreeBatch:
        labels = self.labels.to(device) if self.labels is not None else None
        levels = [(n.to(device), c.to(device)) for n, c in self.levels]
        return TreeBatch(self.words.to(device), levels, self.roots.to(device), self.tree.to(device), labels,
                         self.indices)


@dataclass
class PairBatch:
    """Pairs of texts (or trees), the two sides batched alike and row-aligned."""

    first: ClassBatch | TreeBatch  # labels None
    second: ClassBatch | TreeBatch
    labels: torch.Tensor | None  # (B,) long class ids, or (B,) float scores for regression
    indices: list[int]

    @property
    def size(self) -> int:
        return len(self.indices)

    def to(self, device: torch.device | str) -> PairBatch:
        labels = self.labels.to(device) if self.labels is not None else None
        return PairBatch(self.first.to(device), self.second.to(device), labels, self.indices)


@dataclass
class StoryBatch:
    """Questions over stories (bAbI): each row a question with the facts (sentences)
    of its story so far, all padded; every row has at least one fact of one token."""

    facts: torch.Tensor  # (B, F, W) long word ids, 0 = padding (words past a fact's end, facts past a story's)
    fact_lengths: torch.Tensor  # (B, F) long, tokens per fact, 0 for a padding fact; on the CPU
    num_facts: torch.Tensor  # (B,) long, facts per story; on the CPU
    question: torch.Tensor  # (B, Q) long word ids, 0 = padding
    question_lengths: torch.Tensor  # (B,) long; on the CPU
    labels: torch.Tensor | None  # (B,) long answer ids; None for prediction
    supports: torch.Tensor | None  # (B, S) long indices of the supporting facts in order, -1 padding; None: unknown
    indices: list[int]  # each row's position in the list (or window) it was built from

    @property
    def size(self) -> int:
        return len(self.indices)

    @property
    def fact_mask(self) -> torch.Tensor:
        """(B, F) bool, True at real facts, on the device of `facts`."""
        f = self.facts.size(1)
        return torch.arange(f, device=self.facts.device) < self.num_facts.to(self.facts.device)[:, None]

    def to(self, device: torch.device | str) -> StoryBatch:
        """The tensors on `device`, except the lengths (kept on the CPU for packing)."""
        labels = self.labels.to(device) if self.labels is not None else None
        supports = self.supports.to(device) if self.supports is not None else None
        return StoryBatch(self.facts.to(device), self.fact_lengths, self.num_facts, self.question.to(device),
                          self.question_lengths, labels, supports, self.indices)
