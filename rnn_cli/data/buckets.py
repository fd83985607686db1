"""Length bucketing shared by the sentence-level batchers (tagging, classification)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

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
    """Windows of at most `size` items with their batches of positions, sorted by
    `length` so that a batch holds items of similar length.

    A window takes what the input has ready: a background thread reads `items` into a
    bounded queue, and a window is the first waiting item plus every other one already
    queued (up to `size`). A file or a fast pipe gives full windows; a slow producer
    (someone typing, a process writing a line now and then) gets each item back as
    soon as it has been processed, not after `size` more have arrived. Errors raised
    while reading come out here, in order, after the items before them."""
    if batch_size < 1 or size < 1:
        raise ValueError(f"invalid batch_size {batch_size} or window {size} (must be at least 1)")
    for window in _ready_windows(items, size):
        order = sorted(range(len(window)), key=lambda i: length(window[i]))
        yield window, [order[k : k + batch_size] for k in range(0, len(order), batch_size)]


_END = object()


def _ready_windows(items: Iterable[T], size: int) -> Iterator[list[T]]:
    box: queue.Queue[Any] = queue.Queue(maxsize=2 * size)
    stop = threading.Event()

    def read() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        box.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            box.put(_Failure(exc))

    thread = threading.Thread(target=read, name="rnn-cli-reader", daemon=True)
    thread.start()
    try:
        done = False
        while not done:
            window: list[T] = []
            item = box.get()
            while True:
                if item is _END:
                    done = True
                    break
                if isinstance(item, _Failure):
                    if window:
                        yield window
                    raise item.exc
                window.append(item)
                if len(window) >= size:
                    break
                try:
                    item = box.get_nowait()
                except queue.Empty:
                    break
            if window:
                yield window
    finally:
        stop.set()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
