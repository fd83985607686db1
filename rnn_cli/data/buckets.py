"""Length bucketing shared by the sentence-level batchers (tagging, classification)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

import torch

T = TypeVar("T")


def length_buckets(lengths: Sequence[int], batch_size: int, generator: torch.Generator | None,
                   shuffle: bool = True, chunk: int = 50) -> list[list[int]]:
    """Every index once, in batches of similar length: the indices are shuffled, cut
    into chunks of `chunk * batch_size`, sorted by length inside each chunk and cut into
    batches, and the batches are shuffled. The order depends only on `generator`.
    `shuffle=False` (no generator needed) keeps the input order of the chunks and
    batches, still length-sorted inside a chunk."""
    if batch_size < 1 or chunk < 1:
        raise ValueError(f"invalid batch_size {batch_size} or chunk {chunk} (must be at least 1)")
    if shuffle and generator is None:
        raise ValueError("shuffled batches need a generator")
    n = len(lengths)
    order = torch.randperm(n, generator=generator).tolist() if shuffle else list(range(n))
    batches: list[list[int]] = []
    for start in range(0, n, chunk * batch_size):
        part = sorted(order[start : start + chunk * batch_size], key=lambda i: lengths[i])
        batches.extend(part[k : k + batch_size] for k in range(0, len(part), batch_size))
    ranks = torch.randperm(len(batches), generator=generator).tolist() if shuffle else range(len(batches))
    return [batches[k] for k in ranks]


def sorted_windows(items: Iterable[T], size: int, batch_size: int,
                   length: Callable[[T], int]) -> Iterator[tuple[list[T], list[list[int]]]]:
    """Read `size` items at a time, lazily, and yield each window with its batches of
    positions, sorted by `length` so that a batch holds items of similar length."""
    if batch_size < 1 or size < 1:
        raise ValueError(f"invalid batch_size {batch_size} or window {size} (must be at least 1)")
    it = iter(items)
    while True:
        window = list(itertools.islice(it, size))
        if not window:
            return
        order = sorted(range(len(window)), key=lambda i: length(window[i]))
        yield window, [order[k : k + batch_size] for k in range(0, len(order), batch_size)]
