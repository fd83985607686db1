"""The classifier trainer's decisions about the shape of its items: trees, pairs and
scores. `resolve_structure` checks the options against each other and the training
data and settles `tree_cell` "auto"; `label_rows` gives the labels the vocabulary is
built from (every node's, for a Tree-LSTM trained on phrases; the integer scores, in
order, for regression); `word_dropout` hides tokens of any kind of batch, and
`fact_dropout` leaves facts that are not supporting ones out of a batch of stories."""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from rnn_cli.batches import PairBatch, StoryBatch
from rnn_cli.data.classification import LabelledSet
from rnn_cli.data.item_batching import AnyBatch
from rnn_cli.data.text import display_name
from rnn_cli.data.tree_batching import max_children
from rnn_cli.errors import ConfigError, DataFormatError
from rnn_cli.models.classifier import unused_fields
from rnn_cli.training.configs import TrainClassifierConfig


def check_reading(cfg: TrainClassifierConfig) -> None:
    """The options that tell how to read the data, checked before it is read."""
    if cfg.pair_column is not None and not cfg.pair:
        raise ConfigError("--pair-column names the second text of a pair: add --pair")


def resolve_structure(cfg: TrainClassifierConfig, train: LabelledSet) -> TrainClassifierConfig:
    """`cfg` checked for consistency, with `tree_cell` decided on the training trees."""
    if cfg.regression and cfg.multi_label == "yes":
        raise ConfigError("--regression predicts one score an item: not with --multi-label yes")
    if cfg.regression and cfg.class_weights != "none":
        raise ConfigError("--class-weights weighs classes: not with --regression")
    if cfg.regression and not cfg.pair and cfg.encoder == "tree-lstm":
        raise ConfigError("--regression with --encoder tree-lstm scores sentence pairs: add --pair")
    if cfg.encoder == "dmn" and (cfg.pair or cfg.regression or cfg.multi_label == "yes"):
        raise ConfigError("--encoder dmn answers one question at a time: not with --pair, --regression or "
                          "--multi-label yes")
    if cfg.supervise_facts and cfg.encoder != "dmn":
        raise ConfigError("--supervise-facts trains a DMN's attention: add --encoder dmn")
    if cfg.fact_weight != 1.0 and not cfg.supervise_facts:
        raise ConfigError("--fact-weight weighs the gates' loss of --supervise-facts: add --supervise-facts (and "
                          "--encoder dmn)")
    if cfg.fact_dropout > 0 and not cfg.supervise_facts:
        raise ConfigError("--fact-dropout keeps a story's supporting facts, which only --supervise-facts may read: "
                          "add --supervise-facts (and --encoder dmn)")
    if cfg.encoder != "tree-lstm":
        return cfg
    if cfg.multi_label == "yes":
        raise ConfigError("--encoder tree-lstm is single-label: not with --multi-label yes")
    widest, where = 0, None
    for e in train.examples:
        for tree in (e.tree, e.tree_pair):
            if tree is not None and max_children(tree) > widest:
                widest, where = max_children(tree), tree.line
    if cfg.tree_cell == "binary" and widest > 2:
        raise DataFormatError(display_name(train.path), where, f"a node with {widest} children: --tree-cell binary "
                              "reads binarised trees (use child-sum)")
    if cfg.tree_cell == "auto":
        cfg = replace(cfg, tree_cell="binary" if widest <= 2 else "child-sum")
    return cfg


def ignored_options(cfg: TrainClassifierConfig) -> list[str]:
    """The model options set away from their defaults that the chosen kind of classifier
    does not read (`--pooling attention` with `--encoder dmn`), as their flags."""
    defaults = TrainClassifierConfig()
    unused = unused_fields({"encoder": cfg.encoder, "pooling": cfg.pooling, "pair": cfg.pair,
                            "regression": cfg.regression})
    flags = []
    for name in sorted(unused):
        if hasattr(defaults, name) and getattr(cfg, name) != getattr(defaults, name):
            flag = "unidirectional" if name == "bidirectional" and not cfg.bidirectional else name
            flags.append(f"--{flag.replace('_', '-')}")
    return flags


def score_range(train: LabelledSet) -> list[str]:
    """Regression: the integer scores from the lowest training score (rounded down)
    to the highest (rounded up), at least two."""
    values = [float(row[0]) for row in train.labels]
    low, high = math.floor(min(values)), math.ceil(max(values))
    return [str(k) for k in range(low, max(high, low + 1) + 1)]


def label_rows(train: LabelledSet, cfg: TrainClassifierConfig) -> list[list[str]]:
    """The label lists the vocabulary is built from."""
    if cfg.regression:
        return [score_range(train)]
    rows = list(train.labels)
    if cfg.encoder == "tree-lstm" and cfg.phrases:
        rows += [[x for x in e.tree.labels if x is not None] for e in train.examples if e.tree is not None]
    return rows


def drop_words(words: torch.Tensor, p: float, unk: int) -> torch.Tensor:
    # Each real token (index > unk: not <pad>, not already <unk>) is hidden behind
    # <unk> with probability p, so the model cannot lean on a few words and the
    # <unk> vector is learned.
    return words.masked_fill((words > unk) & (torch.rand(words.shape, device=words.device) < p), unk)


def word_dropout(batch: AnyBatch, p: float, unk: int) -> AnyBatch:
    if isinstance(batch, PairBatch):
        return replace(batch, first=word_dropout(batch.first, p, unk), second=word_dropout(batch.second, p, unk))
    if isinstance(batch, StoryBatch):
        return replace(batch, facts=drop_words(batch.facts, p, unk), question=drop_words(batch.question, p, unk))
    return replace(batch, words=drop_words(batch.words, p, unk))


def fact_dropout(batch: StoryBatch, p: float) -> StoryBatch:
    """`batch` with each real fact that is not one of its row's supporting facts left
    out with probability p, the rest moved up in story order and the supports
    renumbered (a row keeps at least one fact). A regulariser for strongly supervised
    DMNs: on bAbI's 1k stories a DMN learns the training stories by heart (task 3: the
    three gates find their supporting facts for 98% of the training questions and 64%
    of the test ones); leaving facts that answer nothing out varies the stories without
    changing the answers."""
    if batch.supports is None:
        return batch
    b, f, w = batch.facts.shape
    num = batch.num_facts
    keep = (torch.arange(f) < num[:, None]) & (torch.rand(b, f) >= p)  # (B, F) on the CPU
    supports = batch.supports.cpu()
    known = (supports >= 0) & (supports < num[:, None])
    rows = torch.arange(b)[:, None].expand_as(supports)
    keep[rows[known], supports[known]] = True
    empty = keep.sum(1) == 0
    keep[empty, (num[empty] - 1).clamp(min=0)] = True
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)  # kept facts first, in story order
    kept = keep.sum(1)
    order = order[:, : int(kept.max())]
    inside = torch.arange(order.size(1)) < kept[:, None]  # (B, F')
    device = batch.facts.device
    facts = batch.facts.gather(1, order.to(device)[..., None].expand(-1, -1, w)) * inside.to(device)[..., None]
    position = keep.long().cumsum(1) - 1  # each kept fact's new index
    outside = torch.where(supports < 0, supports, torch.full_like(supports, f))  # padding, or past the story
    renumbered = torch.where(known, position.gather(1, supports.clamp(min=0, max=f - 1)), outside)
    return replace(batch, facts=facts, fact_lengths=batch.fact_lengths.gather(1, order) * inside, num_facts=kept,
                   supports=renumbered.to(batch.supports.device))
