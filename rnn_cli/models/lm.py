"""A recurrent language model: embedding -> RNN encoder -> softmax over the vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rnn_cli.batches import LMBatch
from rnn_cli.models.base import Loss
from rnn_cli.models.rnn import EncoderConfig, Hidden, RNNEncoder
from rnn_cli.models.softmax import linear_cross_entropy

IGNORE_INDEX = -100
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


@dataclass
class LMConfig:
    vocab_size: int
    cell: str = "lstm"
    embedding_size: int = 200
    hidden_size: int = 200
    layers: int = 2
    dropout: float = 0.2
    tie_weights: bool = False
    init_range: float | None = None  # None: 0.1 for embeddings, 1/sqrt(h) for the RNN
    softmax_precision: str = "fp32"  # "bf16": mixed-precision softmax layer in training

    def __post_init__(self) -> None:
        if self.softmax_precision not in PRECISIONS:
            raise ValueError(f"invalid softmax_precision: {self.softmax_precision!r}")
        if self.vocab_size < 1:
            raise ValueError(f"invalid vocab_size: {self.vocab_size}")
        if self.embedding_size < 1:
            raise ValueError(f"invalid embedding_size: {self.embedding_size}")


class RNNLM(nn.Module):
    """`(T, B)` token ids -> `(T, B, V)` next-token logits, carrying the hidden state.

    Dropout is applied to the embeddings, between RNN layers and to the last
    layer's output; never to the recurrent connections (Zaremba et al. 2014).
    With `tie_weights` the softmax shares the embedding matrix (Press & Wolf 2017;
    Inan et al. 2017); if the hidden and embedding sizes differ, a linear
    projection maps the RNN output to the embedding size first."""

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size)
        self.dropout = nn.Dropout(config.dropout)
        self.encoder = RNNEncoder(
            EncoderConfig(
                cell=config.cell,
                input_size=config.embedding_size,
                hidden_size=config.hidden_size,
                layers=config.layers,
                dropout=config.dropout,
                init_range=config.init_range,
            )
        )
        out_size = config.hidden_size
        if config.tie_weights and config.hidden_size != config.embedding_size:
            self.projection: nn.Module = nn.Linear(config.hidden_size, config.embedding_size, bias=False)
            out_size = config.embedding_size
        else:
            self.projection = nn.Identity()
        self.decoder = nn.Linear(out_size, config.vocab_size)
        r = config.init_range if config.init_range is not None else 0.1
        nn.init.uniform_(self.embedding.weight, -r, r)
        nn.init.uniform_(self.decoder.weight, -r, r)
        nn.init.zeros_(self.decoder.bias)
        if isinstance(self.projection, nn.Linear):
            nn.init.uniform_(self.projection.weight, -r, r)
        if config.tie_weights:
            self.decoder.weight = self.embedding.weight

    def features(self, x: torch.Tensor, hidden: Hidden | None = None) -> tuple[torch.Tensor, Hidden]:
        """`(T, B)` ids -> `(T, B, D)` inputs of the softmax layer, and the new state."""
        emb = self.dropout(self.embedding(x))  # (T, B, E)
        out, hidden = self.encoder(emb, hidden)  # (T, B, H)
        return self.projection(self.dropout(out)), hidden

    def forward(self, x: torch.Tensor, hidden: Hidden | None = None) -> tuple[torch.Tensor, Hidden]:
        out, hidden = self.features(x, hidden)
        return self.decoder(out), hidden  # (T, B, V)

    def loss(self, batch: LMBatch) -> Loss:
        """Mean cross-entropy over the window's scored targets (`y` != IGNORE_INDEX),
        and the new state. The softmax layer and the loss are fused (see `softmax.py`)."""
        if batch.y is None:
            raise ValueError("an LM batch without targets has no loss")
        # Counted before the forward pass, so that the host waits for this reduction
        # (and what is already queued), not for the window's forward.
        items = int((batch.y != IGNORE_INDEX).sum())
        out, hidden = self.features(batch.x, batch.hidden)  # (T, B, D)
        flat = out.reshape(-1, out.size(-1))  # (T * B, D)
        # Mixed precision only while training; scoring is always fp32.
        dtype = PRECISIONS[self.config.softmax_precision] if self.training else None
        value = linear_cross_entropy(flat, self.decoder.weight, self.decoder.bias, batch.y.reshape(-1), "mean", dtype)
        return Loss(value, items, hidden)

    def predict(self, batch: LMBatch) -> tuple[torch.Tensor, Hidden]:
        """Next-token logits (T, B, V) and the new state."""
        return self(batch.x, batch.hidden)
