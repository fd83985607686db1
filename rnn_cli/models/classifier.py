"""Text classifier: word embeddings -> (Bi)RNN from the zoo -> pooling -> linear.

Pooling over the encoder's states is a module chosen once from `POOLINGS` (last, mean,
max, attention; see `pooling.py`), all of them blind to padding; attention also gives
its weights, for `classify --explain`. Single-label models are trained with softmax
cross-entropy, multi-label ones with a sigmoid per label; the decision threshold of a
multi-label model is a buffer, set from dev by the trainer and saved with the weights.

`members > 1` builds a `ClassifierEnsemble` instead (see `build_classifier`): that
many classifiers of the same shape, each with its own initialisation and dropout
masks, trained side by side on the same batches; a prediction averages their
probabilities. On small data sets, where one model's accuracy moves by a point
from seed to seed, the average is steadier and usually better than its members."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F

from rnn_cli.batches import ClassBatch
from rnn_cli.models.base import Loss
from rnn_cli.models.dropout import Dropout
from rnn_cli.models.pair import kl_loss, sparse_target
from rnn_cli.models.pooling import POOLINGS
from rnn_cli.models.rnn import CELLS, EncoderConfig, RNNEncoder


@dataclass
class ClassifierConfig:
    vocab_size: int
    num_labels: int
    embedding_size: int = 100
    cell: str = "lstm"
    hidden_size: int = 150
    layers: int = 1
    bidirectional: bool = True
    pooling: str = "max"  # a POOLINGS key
    attention_size: int = 100
    dropout: float = 0.5
    multi_label: bool = False
    freeze_embeddings: bool = False
    members: int = 1  # > 1: an ensemble of this many classifiers, probabilities averaged
    encoder: str = "rnn"  # rnn, or tree-lstm (`tree_classifier.py`)
    tree_cell: str = "binary"  # tree-lstm: binary (N-ary, N = 2) or child-sum
    pair: bool = False  # items are pairs of texts (`pair_classifier.py`)
    pair_hidden_size: int = 50
    # Labels are the integer scores score_low .. score_low + num_labels - 1, and the
    # prediction is the expected score (Tai et al. 2015; `pair.py`).
    regression: bool = False
    score_low: int = 1
    # encoder dmn (`story_classifier.py`): a Dynamic Memory Network over each question's story.
    passes: int = 3
    fact_encoder: str = "pe-bigru"
    memory_update: str = "relu"
    supervise_facts: bool = False
    fact_weight: float = 1.0  # of the gates' loss, with supervise_facts

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"invalid cell: {self.cell!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"invalid pooling: {self.pooling!r} (choose from {', '.join(POOLINGS)})")
        if min(self.vocab_size, self.num_labels, self.embedding_size, self.hidden_size, self.layers,
               self.attention_size, self.members) < 1:
            raise ValueError("sizes must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"invalid dropout: {self.dropout}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"invalid encoder: {self.encoder!r} (choose from {', '.join(ENCODERS)})")
        if self.tree_cell not in TREE_CELLS:
            raise ValueError(f"invalid tree cell: {self.tree_cell!r} (choose from {', '.join(TREE_CELLS)})")
        if self.regression and self.multi_label:
            raise ValueError("a regression model is not multi-label")
        if self.encoder == "dmn" and (self.pair or self.regression or self.multi_label):
            raise ValueError("a DMN answers single-label questions")


ENCODERS = ("rnn", "tree-lstm", "dmn")
TREE_CELLS = ("binary", "child-sum")  # `tree_lstm.TREE_CELLS`


def unused_fields(config: dict) -> set[str]:
    """The fields of a stored `ClassifierConfig` that its kind of classifier does not
    read (a DMN has no pooling, a Tree-LSTM no cell): `info` leaves them out and
    train-classifier names those set on its command line."""
    encoder = config.get("encoder", "rnn")
    unused = set()
    if encoder != "rnn":
        unused |= {"cell", "layers", "bidirectional", "pooling", "attention_size"}
    elif config.get("pooling") != "attention":
        unused.add("attention_size")
    if encoder != "tree-lstm":
        unused.add("tree_cell")
    if encoder != "dmn":
        unused |= {"passes", "fact_encoder", "memory_update", "supervise_facts", "fact_weight"}
    if not config.get("pair"):
        unused.add("pair_hidden_size")
    if not config.get("regression"):
        unused.add("score_low")
    return unused


def output_loss(logits: torch.Tensor, labels: torch.Tensor, config: ClassifierConfig,
                weights: torch.Tensor | None = None) -> torch.Tensor:
    """The mean loss of label logits (B, C) against `labels`: cross-entropy for class
    ids (B,) (`weights` per class), binary cross-entropy for multi-label 0/1 rows
    (B, C) (`weights` as pos_weight), or for regression, scores (B,), the KL divergence
    to Tai et al.'s sparse distribution over the integer scores."""
    if config.regression:
        return kl_loss(logits, sparse_target(labels, config.score_low, config.num_labels))
    if config.multi_label:
        return F.binary_cross_entropy_with_logits(logits, labels, pos_weight=weights)
    return F.cross_entropy(logits, labels, weight=weights)


class Classifier(nn.Module):
    """A `ClassBatch` (words (B, L), lengths (B,)) -> label logits `(B, C)`; `loss` and
    `predict` as every model (`models/base.py`)."""

    def __init__(self, config: ClassifierConfig, head: bool = True) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=0)
        bound = (3.0 / config.embedding_size) ** 0.5
        nn.init.uniform_(self.embedding.weight, -bound, bound)
        with torch.no_grad():
            self.embedding.weight[0].zero_()
        self.embedding.weight.requires_grad_(not config.freeze_embeddings)
        self.dropout = Dropout(config.dropout)
        self.encoder = RNNEncoder(EncoderConfig(
            cell=config.cell, input_size=config.embedding_size, hidden_size=config.hidden_size,
            layers=config.layers, dropout=config.dropout, bidirectional=config.bidirectional))
        size = self.encoder.output_size
        self.pooling = POOLINGS[config.pooling](size, config)
        self.output_size = size
        if head:  # without: an encoder of texts for a pair model
            self.output = nn.Linear(size, config.num_labels)
            self.register_buffer("threshold", torch.tensor(0.5))

    def set_pretrained_embeddings(self, weights: torch.Tensor) -> None:
        expected = tuple(self.embedding.weight.shape)
        if tuple(weights.shape) != expected:
            raise ValueError(f"pretrained embeddings have shape {tuple(weights.shape)}, expected {expected}")
        with torch.no_grad():
            self.embedding.weight.copy_(weights)

    def encode(self, batch: ClassBatch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The pooled representation (B, D) and the attention weights (B, L) (None
        unless attention pooling)."""
        x = self.dropout(self.embedding(batch.words)).transpose(0, 1)  # (L, B, E)
        states = self.encoder.forward_padded(x, batch.lengths)  # (L, B, D), zeros at padding
        return self.pooling(states.transpose(0, 1), batch.mask)

    def forward(self, batch: ClassBatch) -> torch.Tensor:
        """Label logits (B, C)."""
        pooled, _ = self.encode(batch)
        return self.output(self.dropout(pooled))

    def loss(self, batch: ClassBatch) -> Loss:
        """The mean loss over items (see `output_loss`)."""
        if batch.labels is None:
            raise ValueError("a classification batch without labels has no loss")
        return Loss(output_loss(self(batch), batch.labels, self.config, batch.weights), batch.words.size(0))

    def predict(self, batch: ClassBatch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Label probabilities (B, C) (softmax, or a sigmoid per label) and the
        attention weights (B, L) or None."""
        pooled, attention = self.encode(batch)
        logits = self.output(self.dropout(pooled))  # (B, C)
        probs = logits.sigmoid() if self.config.multi_label else logits.softmax(1)
        return probs, attention

    def sentence_vectors(self, batch: ClassBatch) -> torch.Tensor:
        """One vector per text (B, D), for a pair model."""
        return self.encode(batch)[0]

    def decide(self, probs: torch.Tensor, threshold: float | None = None) -> torch.Tensor:
        """Chosen labels as a (B, C) bool matrix: the top label, or for a multi-label
        model every label at or above the threshold (the top one when none is)."""
        top = F.one_hot(probs.argmax(1), probs.size(1)).bool()
        if not self.config.multi_label:
            return top
        t = float(self.threshold) if threshold is None else threshold
        return (probs >= t) | top


class ClassifierEnsemble(nn.Module):
    """`config.members` classifiers with one interface: `loss` is the sum of the
    members' losses (each member learns as if alone), `predict` the mean of their
    probabilities (and of their attention weights, or a DMN's gates; a regression
    model's expected score is then the mean of the members'). `member` builds one of
    them from the config (`Classifier`, or a Tree-LSTM, pair or story classifier)."""

    def __init__(self, config: ClassifierConfig, member: Callable[[ClassifierConfig], nn.Module] = Classifier
                 ) -> None:
        super().__init__()
        self.config = config
        one = replace(config, members=1)
        self.members = nn.ModuleList(member(one) for _ in range(config.members))
        self.register_buffer("threshold", torch.tensor(0.5))

    def set_pretrained_embeddings(self, weights: torch.Tensor) -> None:
        for member in self.members:
            member.set_pretrained_embeddings(weights)  # type: ignore[operator]

    def forward(self, batch: ClassBatch) -> torch.Tensor:
        """Each member's logits, stacked: (M, B, C) (for (Bi)RNN members)."""
        return torch.stack([member(batch) for member in self.members])

    def loss(self, batch: ClassBatch) -> Loss:
        losses = [member.loss(batch) for member in self.members]  # type: ignore[operator]
        return Loss(torch.stack([out.value for out in losses]).sum(), losses[0].items)

    def predict(self, batch: ClassBatch) -> tuple[torch.Tensor, torch.Tensor | None]:
        outs = [member.predict(batch) for member in self.members]  # type: ignore[operator]
        probs = torch.stack([p for p, _ in outs]).mean(0)  # (B, C)
        # (B, L) attention over tokens, or a DMN's gates (B, passes, F)
        attention = torch.stack([a for _, a in outs]).mean(0) if outs[0][1] is not None else None
        return probs, attention

    def predict_nodes(self, batch: object) -> torch.Tensor:
        """Tree-LSTM members: the mean of their label probabilities at every node (N, C)."""
        return torch.stack([member.predict_nodes(batch) for member in self.members]).mean(0)  # type: ignore[operator]

    decide = Classifier.decide


def build_classifier(config: ClassifierConfig) -> Classifier | ClassifierEnsemble:
    """A single (Bi)RNN classifier of texts, or an ensemble when `config.members > 1`
    (`classifiers.build` builds the Tree-LSTM and pair models too)."""
    if config.pair or config.encoder != "rnn":
        raise ValueError("a Tree-LSTM or pair classifier: build it with models.classifiers.build")
    return ClassifierEnsemble(config) if config.members > 1 else Classifier(config)
