"""Text classifier: word embeddings -> (Bi)RNN from the zoo -> pooling -> linear.

Pooling over the encoder's states, all of them blind to padding:
- last: the final state of each direction (forward at the last real token, backward at
  the first), concatenated;
- mean / max: over the real positions;
- attention: additive attention (Bahdanau et al. 2015; Yang et al. 2016),
  a_t = softmax_t(v . tanh(W h_t + b)) over the real positions, sum_t a_t h_t; the
  weights are returned for `classify --explain`.
Single-label models are trained with softmax cross-entropy, multi-label ones with a
sigmoid per label; the decision threshold of a multi-label model is a buffer, set
from dev by the trainer and saved with the weights.

`members > 1` builds a `ClassifierEnsemble` instead (see `build_classifier`): that
many classifiers of the same shape, each with its own initialisation and dropout
masks, trained side by side on the same batches; a prediction averages their
probabilities. On small data sets, where one model's accuracy moves by a point
from seed to seed, the average is steadier and usually better than its members."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnn_cli.models.rnn import CELLS, EncoderConfig, RNNEncoder

POOLINGS = ("last", "mean", "max", "attention")


@dataclass
class ClassifierConfig:
    vocab_size: int
    num_labels: int
    embedding_size: int = 100
    cell: str = "lstm"
    hidden_size: int = 150
    layers: int = 1
    bidirectional: bool = True
    pooling: str = "max"
    attention_size: int = 100
    dropout: float = 0.5
    multi_label: bool = False
    freeze_embeddings: bool = False
    members: int = 1  # > 1: an ensemble of this many classifiers, probabilities averaged

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


class Classifier(nn.Module):
    """`words (B, L)`, `lengths (B,)` -> label logits `(B, C)`."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=0)
        bound = (3.0 / config.embedding_size) ** 0.5
        nn.init.uniform_(self.embedding.weight, -bound, bound)
        with torch.no_grad():
            self.embedding.weight[0].zero_()
        self.embedding.weight.requires_grad_(not config.freeze_embeddings)
        self.dropout = nn.Dropout(config.dropout)
        self.encoder = RNNEncoder(EncoderConfig(
            cell=config.cell, input_size=config.embedding_size, hidden_size=config.hidden_size,
            layers=config.layers, dropout=config.dropout, bidirectional=config.bidirectional))
        size = self.encoder.output_size
        if config.pooling == "attention":
            self.attention = nn.Linear(size, config.attention_size)
            self.context = nn.Linear(config.attention_size, 1, bias=False)
        self.output = nn.Linear(size, config.num_labels)
        self.register_buffer("threshold", torch.tensor(0.5))

    def set_pretrained_embeddings(self, weights: torch.Tensor) -> None:
        expected = tuple(self.embedding.weight.shape)
        if tuple(weights.shape) != expected:
            raise ValueError(f"pretrained embeddings have shape {tuple(weights.shape)}, expected {expected}")
        with torch.no_grad():
            self.embedding.weight.copy_(weights)

    def encode(self, words: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The pooled representation (B, D) and the attention weights (B, L) (None
        unless attention pooling)."""
        b, n = words.shape
        lengths = lengths.cpu()
        x = self.dropout(self.embedding(words)).transpose(0, 1)  # (L, B, E)
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, hidden = self.encoder(packed)
        mask = (torch.arange(n, device=words.device) < lengths.to(words.device)[:, None])  # (B, L)
        pooling = self.config.pooling
        if pooling == "last":
            h = hidden[0] if isinstance(hidden, tuple) else hidden  # (layers * D, B, H)
            d = 2 if self.config.bidirectional else 1
            return torch.cat([h[-d + i] for i in range(d)], dim=1), None
        states, _ = pad_packed_sequence(out, total_length=n)  # (L, B, D), zeros at padding
        states = states.transpose(0, 1)  # (B, L, D)
        if pooling == "mean":
            return states.sum(1) / lengths.to(states.device, states.dtype)[:, None], None
        if pooling == "max":
            return states.masked_fill(~mask[:, :, None], float("-inf")).amax(1), None
        scores = self.context(torch.tanh(self.attention(states))).squeeze(2)  # (B, L)
        weights = scores.masked_fill(~mask, float("-inf")).softmax(1)
        return torch.bmm(weights.unsqueeze(1), states).squeeze(1), weights

    def forward(self, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        pooled, _ = self.encode(words, lengths)
        return self.output(self.dropout(pooled))

    def loss(self, words: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor,
             weights: torch.Tensor | None = None) -> torch.Tensor:
        """Mean cross-entropy (single-label; `weights` per class) or mean binary
        cross-entropy over items and labels (multi-label; `weights` = pos_weight)."""
        logits = self(words, lengths)
        if self.config.multi_label:
            return F.binary_cross_entropy_with_logits(logits, labels, pos_weight=weights)
        return F.cross_entropy(logits, labels, weight=weights)

    def probabilities(self, words: torch.Tensor,
                      lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Label probabilities (B, C) (softmax, or a sigmoid per label) and the
        attention weights (B, L) or None."""
        pooled, attention = self.encode(words, lengths)
        logits = self.output(self.dropout(pooled))
        probs = logits.sigmoid() if self.config.multi_label else logits.softmax(1)
        return probs, attention

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
    members' losses (each member learns as if alone), `probabilities` the mean of
    theirs (and of their attention weights)."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        one = replace(config, members=1)
        self.members = nn.ModuleList(Classifier(one) for _ in range(config.members))
        self.register_buffer("threshold", torch.tensor(0.5))

    def set_pretrained_embeddings(self, weights: torch.Tensor) -> None:
        for member in self.members:
            member.set_pretrained_embeddings(weights)  # type: ignore[operator]

    def forward(self, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Each member's logits, stacked: (M, B, C)."""
        return torch.stack([member(words, lengths) for member in self.members])

    def loss(self, words: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor,
             weights: torch.Tensor | None = None) -> torch.Tensor:
        return sum((member.loss(words, lengths, labels, weights) for member in self.members),  # type: ignore[misc]
                   torch.zeros((), device=words.device))

    def probabilities(self, words: torch.Tensor,
                      lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        outs = [member.probabilities(words, lengths) for member in self.members]
        probs = torch.stack([p for p, _ in outs]).mean(0)
        attention = torch.stack([a for _, a in outs]).mean(0) if outs[0][1] is not None else None  # type: ignore[misc]
        return probs, attention

    decide = Classifier.decide


def build_classifier(config: ClassifierConfig) -> Classifier | ClassifierEnsemble:
    """A single classifier, or an ensemble when `config.members > 1`."""
    return ClassifierEnsemble(config) if config.members > 1 else Classifier(config)
