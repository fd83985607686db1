"""Batches of classification items of every kind: token sequences (`ClassBatch`),
trees (`TreeBatch`) and pairs of either (`PairBatch`), with class ids, 0/1 rows
(multi-label) or real scores (regression) as targets. `BatchSpec` says which, from
the model's config; the trainer and the predictor build their batches through
`encode_items` and `item_batches` alike."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from rnn_cli.batches import ClassBatch, PairBatch, StoryBatch, TreeBatch
from rnn_cli.data.babi import encode_stories, tokenize_babi
from rnn_cli.data.buckets import sorted_windows
from rnn_cli.data.classification import Example, LabelledSet
from rnn_cli.data.cls_batching import WINDOW_BATCHES, ClassVocabs, encode_batch, encode_labels
from rnn_cli.data.text import display_name
from rnn_cli.data.tree_batching import encode_trees, max_children
from rnn_cli.data.tree_items import TREE_SOURCES
from rnn_cli.data.trees import Tree
from rnn_cli.errors import DataFormatError

T = TypeVar("T")


@dataclass(frozen=True)
class Side:
    """One text of an item: its tokens and, for a tree encoder, its tree (whose
    words the tokens are); for a question over a story (a DMN), the story's facts'
    tokens and the indices of the supporting facts."""

    tokens: list[str]
    tree: Tree | None = None
    story: list[list[str]] | None = None
    supports: list[int] | None = None


Item = tuple[Side, "Side | None"]  # the text, and a pair's second text
AnyBatch = ClassBatch | TreeBatch | PairBatch | StoryBatch


@dataclass(frozen=True)
class BatchSpec:
    trees: bool = False  # a tree encoder
    pair: bool = False
    regression: bool = False
    multi_label: bool = False
    arity: int | None = None  # the binary Tree-LSTM takes at most 2 children a node
    phrases: bool = True  # tree training: every labelled node is a target, not only the root
    stories: bool = False  # questions over stories (a DMN)
    max_facts: int = 0  # stories: keep the last N facts (0: all)

    @classmethod
    def of(cls, model_config: Any, phrases: bool = True, max_facts: int = 0) -> BatchSpec:
        """The spec of a model (its `ClassifierConfig`)."""
        c = model_config
        trees = c.encoder == "tree-lstm"
        return cls(trees, c.pair, c.regression, c.multi_label, 2 if trees and c.tree_cell == "binary" else None,
                   phrases, c.encoder == "dmn", max_facts)


def _targets(labels: Sequence[Sequence[str]], vocabs: ClassVocabs, spec: BatchSpec) -> torch.Tensor:
    if spec.regression:
        return torch.tensor([float(row[0]) for row in labels])
    return encode_labels(labels, vocabs, spec.multi_label)


def _node_labels(tree: Tree, label_ids: Mapping[str, int], phrases: bool) -> list[int]:
    """Each node's label id, -1 where it has none (or is not the root, unless
    `phrases`), or a label the model does not know (a phrase label of dev data)."""
    root = tree.root
    return [label_ids.get(x, -1) if x is not None and (phrases or n == root) else -1
            for n, x in enumerate(tree.labels)]


def _encode_side(sides: Sequence[Side], vocabs: ClassVocabs, indices: Sequence[int], spec: BatchSpec,
                 labels: Sequence[Sequence[str]] | None) -> ClassBatch | TreeBatch:
    """One side's batch; `labels` (trees only) puts node labels on the trees."""
    if not spec.trees:
        return encode_batch([s.tokens for s in sides], vocabs, indices)
    trees = [s.tree for s in sides]
    assert all(t is not None for t in trees), "a tree encoder needs every item's tree"
    word_ids = [vocabs.words.encode(s.tokens) for s in sides]
    node_labels = None
    if labels is not None:
        ids = {x: i for i, x in enumerate(vocabs.labels.itos)}
        node_labels = [_node_labels(t, ids, spec.phrases) for t in trees]  # type: ignore[arg-type]
    return encode_trees(word_ids, trees, node_labels, indices, spec.arity)  # type: ignore[arg-type]


def encode_items(items: Sequence[Item], vocabs: ClassVocabs, indices: Sequence[int], spec: BatchSpec,
                 labels: Sequence[Sequence[str]] | None = None) -> AnyBatch:
    """The batch of `items` (with `labels`, one list per item, as targets)."""
    if spec.stories:
        firsts = [a for a, _ in items]
        return encode_stories([[vocabs.words.encode(f) for f in a.story or []] for a in firsts],
                              [vocabs.words.encode(a.tokens) for a in firsts],
                              encode_labels(labels, vocabs).tolist() if labels is not None else None,
                              [a.supports or [] for a in firsts], indices, spec.max_facts)
    if spec.pair:
        first = _encode_side([a for a, _ in items], vocabs, indices, spec, None)
        second = _encode_side([b for _, b in items], vocabs, indices, spec, None)  # type: ignore[misc]
        target = _targets(labels, vocabs, spec) if labels is not None else None
        return PairBatch(first, second, target, list(indices))
    if spec.trees:
        return _encode_side([a for a, _ in items], vocabs, indices, spec, labels)
    batch = encode_batch([a.tokens for a, _ in items], vocabs, indices)
    if labels is not None:
        batch.labels = _targets(labels, vocabs, spec)
    return batch


def example_item(e: Example, tokens: list[str], pair_tokens: list[str] | None, spec: BatchSpec,
                 source: str) -> Item:
    """One example as a model of `spec` reads it, given the tokens of its text(s); an
    example that lacks what the model needs (a second text, a story, a tree, or a
    tree narrow enough for a binary Tree-LSTM) is reported with `source` and its line."""
    if spec.pair and (e.text_pair is None or pair_tokens is None):
        raise DataFormatError(source, e.line, "no second text: a pair model reads TSV with --pair-column, or JSONL "
                              "with \"text_pair\"")
    if spec.stories:
        if e.story is None:
            raise DataFormatError(source, e.line, "no story: a DMN answers questions over bAbI stories "
                                  "(--input-format babi)")
        return Side(tokens, None, [tokenize_babi(f) for f in e.story], e.supports), None
    trees = (e.tree, e.tree_pair) if spec.trees else (None, None)
    for tree in trees[: 2 if spec.pair else 1] if spec.trees else ():
        if tree is None:
            raise DataFormatError(source, e.line, f"no tree: a Tree-LSTM reads {TREE_SOURCES}")
        if spec.arity is not None and max_children(tree) > spec.arity:
            raise DataFormatError(source, e.line, f"a node with {max_children(tree)} children: a binary Tree-LSTM "
                                  "reads binarised trees")
    return Side(tokens, trees[0]), (Side(pair_tokens, trees[1]) if spec.pair else None)  # type: ignore[arg-type]


def labelled_items(data: LabelledSet, spec: BatchSpec) -> list[Item]:
    """The items of a read file as `encode_items` takes them (see `example_item`)."""
    pairs = data.pair_tokens if spec.pair else None
    name = display_name(data.path)
    return [example_item(e, toks, pairs[i] if pairs is not None else None, spec, e.source or name)
            for i, (e, toks) in enumerate(zip(data.examples, data.tokens))]


def item_size(item: Item) -> int:
    first, second = item
    story = sum(map(len, first.story)) if first.story is not None else 0
    return len(first.tokens) + story + (len(second.tokens) if second is not None else 0)


def item_batches(items: Iterable[tuple[T, Item]], vocabs: ClassVocabs, batch_size: int,
                 spec: BatchSpec) -> Iterator[tuple[list[tuple[T, Item]], list[AnyBatch]]]:
    """Windows of `(anything, item)` pairs, each with its size-sorted batches (prediction)."""
    for window, batches in sorted_windows(items, WINDOW_BATCHES * batch_size, batch_size,
                                          lambda x: item_size(x[1])):
        yield window, [encode_items([window[i][1] for i in b], vocabs, b, spec) for b in batches]
