"""A dev set held out of the training data, for a trainer run without `--dev`: one item
(sentence, text, tree, pair, or a bAbI story with its questions) in `EVERY`, drawn at
random with a fixed seed, so the split is the same on every run, every `--seed` and
every resume; random rather than every 10th in file order, which a file sorted by
label, topic or in a repeating pattern would turn into a dev set of one kind. An item
with a label (entity type, tag) that no other training item has stays in training."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TypeVar

from rnn_cli.data.classification import LabelledSet
from rnn_cli.errors import ConfigError

EVERY = 10
SEED = 1234
T = TypeVar("T")


def held_out(count: int, every: int = EVERY) -> list[bool]:
    """Which of `count` items go to dev: count // every of them, at random (fixed seed)."""
    chosen = set(random.Random(SEED).sample(range(count), count // every))
    return [k in chosen for k in range(count)]


def split_holdout(items: Sequence[T], name: str, what: str, every: int = EVERY,
                  keep: Callable[[T], bool] = lambda item: False,
                  out: Sequence[bool] | None = None) -> tuple[list[T], list[T]]:
    """(training items, dev items) of `items`, one in `every` to dev (`held_out`, or the
    draw `out` already made) but those `keep` says must stay in training (a label that no
    other training item has: a model cannot learn it). Too few items for a dev set of at
    least one: ConfigError naming `name` (the training file) and `what` (e.g. "sentences")."""
    if len(items) < every:
        raise ConfigError(f"{name}: {len(items)} {what} are too few to hold out one in {every} as dev: give --dev")
    train, dev = [], []
    for item, to_dev in zip(items, out if out is not None else held_out(len(items), every)):
        (dev if to_dev and not keep(item) else train).append(item)
    if not dev:
        raise ConfigError(f"{name}: no {what} could be held out as dev (each has a label of its own): give --dev")
    return train, dev


def split_keeping_labels(items: Sequence[T], labels_of: Callable[[T], Iterable[str]], name: str, what: str,
                         every: int = EVERY) -> tuple[list[T], list[T]]:
    """`split_holdout`, where an item with a label (of `labels_of`) that no item left in
    training has stays in training: a model cannot learn what it never saw."""
    out = held_out(len(items), every)
    seen = Counter(label for item, o in zip(items, out) if not o for label in labels_of(item))
    return split_holdout(items, name, what, every, keep=lambda item: any(seen[label] == 0 for label in labels_of(item)),
                         out=out)


def split_labelled(data: LabelledSet, name: str, what: str, every: int = EVERY,
                   labels_matter: bool = True) -> tuple[LabelledSet, LabelledSet]:
    """`split_holdout` of a labelled set's items; with `labels_matter` (not for scores),
    an item whose label no other training item has stays in training. bAbI questions go
    by story (`stories`): a dev question's story is never trained on through another
    question."""
    groups = stories(data)
    if len(groups) < len(data.examples):
        what = "stories"
    train, dev = split_keeping_labels(
        groups, lambda group: (label for k in group for label in data.labels[k]) if labels_matter else (),
        name, what, every)

    def part(parts: list[list[int]], truncated: int) -> LabelledSet:
        keys = [k for group in parts for k in group]
        pairs = [data.pair_tokens[k] for k in keys] if data.pair_tokens is not None else None
        return replace(data, examples=[data.examples[k] for k in keys], tokens=[data.tokens[k] for k in keys],
                       labels=[data.labels[k] for k in keys], pair_tokens=pairs, truncated=truncated)

    return part(train, data.truncated), part(dev, 0)  # the file's count of cut items stays with training


def stories(data: LabelledSet) -> list[list[int]]:
    """The items' indices in groups that go to dev together: the questions of one bAbI
    story (each question's story goes on from the one before it, in the same file), and
    every other item alone."""
    groups: list[list[int]] = []
    previous = None
    for k, e in enumerate(data.examples):
        story = e.story
        same = (story is not None and previous is not None and previous.story is not None
                and e.source == previous.source and story[: len(previous.story)] == previous.story)
        if same:
            groups[-1].append(k)
        else:
            groups.append([k])
        previous = e
    return groups
