"""A recurrent language model: embedding -> RNN encoder -> softmax over the vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rnn_cli.batches import LMBatch
from rnn_cli.models.base import Loss
from rnn_cli.models.regularisers import (
    LAYERED_OPS,
    activation_penalty,
    dropout_layer,
    embedding_dropout,
    layered_forward,
)
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
    dropout: float = 0.2  # on the RNN's output; also the default of the next two
    tie_weights: bool = False
    init_range: float | None = None  # None: 0.1 for embeddings, 1/sqrt(h) for the RNN
    softmax_precision: str = "fp32"  # "bf16": mixed-precision softmax layer in training
    # The AWD-LSTM regularisers (Merity et al. 2018; see `regularisers.py`), all off by default.
    locked_dropout: bool = False  # one dropout mask per sequence for input, between layers and output
    input_dropout: float | None = None  # on the embeddings (AWD's dropouti); None: `dropout`
    hidden_dropout: float | None = None  # between layers (AWD's dropouth); None: `dropout`
    embedding_dropout: float = 0.0  # whole words of the embedding matrix (AWD's dropoute)
    weight_drop: float = 0.0  # DropConnect on the hidden-to-hidden weights (AWD's wdrop)
    ar: float = 0.0  # activation regularisation (AWD's alpha)
    tar: float = 0.0  # temporal activation regularisation (AWD's beta)

    @property
    def input_rate(self) -> float:
        return self.dropout if self.input_dropout is None else self.input_dropout

    @property
    def hidden_rate(self) -> float:
        return self.dropout if self.hidden_dropout is None else self.hidden_dropout

    @property
    def layered(self) -> bool:
        """Whether training runs the RNN layer by layer (`layered_forward`): the fused
        layer can neither drop its recurrent weights nor lock a mask between layers."""
        locked_between = self.locked_dropout and self.layers > 1 and self.hidden_rate > 0.0
        return self.weight_drop > 0.0 or locked_between

    def __post_init__(self) -> None:
        if self.softmax_precision not in PRECISIONS:
            raise ValueError(f"invalid softmax_precision: {self.softmax_precision!r}")
        if self.vocab_size < 1:
            raise ValueError(f"invalid vocab_size: {self.vocab_size}")
        if self.embedding_size < 1:
            raise ValueError(f"invalid embedding_size: {self.embedding_size}")
        for name in ("dropout", "input_dropout", "hidden_dropout", "embedding_dropout", "weight_drop"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < 1.0:
                raise ValueError(f"invalid {name}: {value}")
        if self.ar < 0.0 or self.tar < 0.0:
            raise ValueError(f"invalid ar/tar: {self.ar}/{self.tar}")
        if self.layered and self.cell not in LAYERED_OPS:
            raise ValueError(f"weight_drop and locked dropout between layers need a {'/'.join(LAYERED_OPS)} cell, "
                             f"not {self.cell!r}")


class RNNLM(nn.Module):
    """`(T, B)` token ids -> `(T, B, V)` next-token logits, carrying the hidden state.

    Dropout is applied to the embeddings, between RNN layers and to the last
    layer's output; never to the recurrent connections (Zaremba et al. 2014), unless
    `weight_drop` drops the recurrent weights themselves (Merity et al. 2018). With
    `tie_weights` the softmax shares the embedding matrix (Press & Wolf 2017;
    Inan et al. 2017); if the hidden and embedding sizes differ, a linear
    projection maps the RNN output to the embedding size first.

    The regularisers hold no parameters: a model trained with them has the state-dict
    of one trained without, and evaluates the same way (the fused forward)."""

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size)
        self.input_dropout = dropout_layer(config.input_rate, config.locked_dropout)
        self.hidden_dropout = dropout_layer(config.hidden_rate, config.locked_dropout)  # the layered forward's
        self.dropout = dropout_layer(config.dropout, config.locked_dropout)  # on the output
        self.encoder = RNNEncoder(
            EncoderConfig(
                cell=config.cell,
                input_size=config.embedding_size,
                hidden_size=config.hidden_size,
                layers=config.layers,
                dropout=config.hidden_rate,
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

    def encode(self, x: torch.Tensor, hidden: Hidden | None = None) -> tuple[torch.Tensor, torch.Tensor, Hidden]:
        """`(T, B)` ids -> the last layer's outputs `(T, B, H)` before and after the output
        dropout, and the new state."""
        c = self.config
        emb = embedding_dropout(self.embedding, x, c.embedding_dropout, self.training)  # (T, B, E)
        emb = self.input_dropout(emb)
        if self.training and c.layered:
            rnn: nn.RNNBase = self.encoder.rnn  # type: ignore[assignment]
            out, hidden = layered_forward(rnn, c.cell, emb, hidden, c.weight_drop, self.hidden_dropout)
        else:
            out, hidden = self.encoder(emb, hidden)  # (T, B, H)
        return out, self.dropout(out), hidden

    def features(self, x: torch.Tensor, hidden: Hidden | None = None) -> tuple[torch.Tensor, Hidden]:
        """`(T, B)` ids -> `(T, B, D)` inputs of the softmax layer, and the new state."""
        _, dropped, hidden = self.encode(x, hidden)
        return self.projection(dropped), hidden

    def forward(self, x: torch.Tensor, hidden: Hidden | None = None) -> tuple[torch.Tensor, Hidden]:
        out, hidden = self.features(x, hidden)
        return self.decoder(out), hidden  # (T, B, V)

    def loss(self, batch: LMBatch) -> Loss:
        """Mean cross-entropy over the window's scored targets (`y` != IGNORE_INDEX),
        and the new state. The softmax layer and the loss are fused (see `softmax.py`).
        In training with `ar` or `tar`, their penalty comes beside the loss, not in it,
        so that the reported loss stays the cross-entropy."""
        if batch.y is None:
            raise ValueError("an LM batch without targets has no loss")
        # Counted before the forward pass, so that the host waits for this reduction
        # (and what is already queued), not for the window's forward.
        items = int((batch.y != IGNORE_INDEX).sum())
        undropped, dropped, hidden = self.encode(batch.x, batch.hidden)  # (T, B, H)
        out = self.projection(dropped)  # (T, B, D)
        flat = out.reshape(-1, out.size(-1))  # (T * B, D)
        # Mixed precision only while training; scoring is always fp32.
        dtype = PRECISIONS[self.config.softmax_precision] if self.training else None
        value = linear_cross_entropy(flat, self.decoder.weight, self.decoder.bias, batch.y.reshape(-1), "mean", dtype)
        penalty = None
        if self.training and (self.config.ar > 0.0 or self.config.tar > 0.0):
            penalty = activation_penalty(dropped, undropped, self.config.ar, self.config.tar)
        return Loss(value, items, hidden, penalty)

    def predict(self, batch: LMBatch) -> tuple[torch.Tensor, Hidden]:
        """Next-token logits (T, B, V) and the new state."""
        return self(batch.x, batch.hidden)
