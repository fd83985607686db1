"""A sequence tagger: word embeddings + character features -> BiRNN -> tag emissions
-> a CRF or a per-token softmax (Lample et al. 2016; Ma & Hovy 2016).

    words (B, L) --embedding--> (B, L, E) --.
                                             cat -> dropout -> BiRNN (packed) -> dropout
    chars (B, L, C) --char encoder--> (B, L, D_c)                   -> linear -> emissions (B, L, T)

`mask` (B, L) bool is left-aligned with at least one True per row; emissions at padded
positions are meaningless and every head ignores them, so padding never changes a
sentence's emissions, loss or tags.

Both decoders share one interface (`DecoderHead`). The softmax head trains each token
independently; at prediction time it is read as a CRF whose transition scores are all
zero over log-softmax emissions, which keeps the tag scheme's constraints (the best
*allowed* sequence, as AllenNLP's constrained Viterbi does for softmax taggers) and gives
k-best lists and marginals over allowed sequences. With no constraints this is exactly
argmax decoding and softmax marginals."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnn_cli.batches import TagBatch
from rnn_cli.models.base import Loss
from rnn_cli.models.char import CHAR_ENCODERS, build_char_encoder
from rnn_cli.models.crf import CRF
from rnn_cli.models.dropout import Dropout
from rnn_cli.models.rnn import CELLS, EncoderConfig, RNNEncoder

IGNORE_INDEX = -100


@dataclass
class TaggerConfig:
    word_vocab_size: int  # ids: 0 = <pad>, 1 = <unk>
    char_vocab_size: int  # id 0 = <pad>
    num_tags: int
    word_embedding_size: int = 100
    char_encoder: str = "cnn"  # a CHAR_ENCODERS key
    char_embedding_size: int = 30
    char_filters: int = 30  # CNN filters, or LSTM units per direction
    char_kernel: int = 3
    cell: str = "lstm"  # a CELLS key
    layers: int = 1
    hidden_size: int = 200  # per direction
    dropout: float = 0.5
    decoder: str = "crf"  # a DECODERS key
    freeze_embeddings: bool = False
    # The tag scheme's transition constraints (None allows everything); both decoders
    # obey them when predicting, see the module docstring.
    allowed: list[list[bool]] | None = None  # allowed[i][j]: tag j may follow tag i
    allowed_start: list[bool] | None = None
    allowed_end: list[bool] | None = None

    def __post_init__(self) -> None:
        for name in ("word_vocab_size", "char_vocab_size", "num_tags", "word_embedding_size", "char_embedding_size",
                     "char_filters", "char_kernel", "layers", "hidden_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"invalid {name}: {value!r} (expected an integer >= 1)")
        for name, registry in (("char_encoder", CHAR_ENCODERS), ("cell", CELLS), ("decoder", DECODERS)):
            if getattr(self, name) not in registry:
                raise ValueError(f"invalid {name}: {getattr(self, name)!r} (choose from {', '.join(registry)})")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) \
                or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"invalid dropout: {self.dropout!r} (expected 0 <= dropout < 1)")
        if not isinstance(self.freeze_embeddings, bool):
            raise ValueError(f"invalid freeze_embeddings: {self.freeze_embeddings!r} (expected true or false)")
        t = self.num_tags
        if self.allowed is not None and (len(self.allowed) != t or any(len(row) != t for row in self.allowed)):
            raise ValueError(f"invalid allowed: expected a {t} x {t} matrix of booleans, got {self.allowed!r}")
        for name in ("allowed_start", "allowed_end"):
            value = getattr(self, name)
            if value is not None and (len(value) != t or not any(value)):
                raise ValueError(f"invalid {name}: expected {t} booleans, at least one true, got {value!r}")


def _bools(values: list | None) -> torch.Tensor | None:
    return None if values is None else torch.tensor(values, dtype=torch.bool)


class DecoderHead(nn.Module):
    """What the tagger needs from an output layer; emissions (B, L, T), mask (B, L) bool."""

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Summed over each sentence's tokens, averaged over sentences: a scalar."""
        raise NotImplementedError

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The best tags (B, L) long, 0 at padding."""
        raise NotImplementedError

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """p(y_t = j) (B, L, T); rows sum to 1 at real positions, 0 at padding."""
        raise NotImplementedError

    def nbest(self, emissions: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The k best sequences (B, k, L) long and their probabilities (B, k), best first."""
        raise NotImplementedError


def _nbest_probabilities(crf: CRF, emissions: torch.Tensor, mask: torch.Tensor,
                         k: int) -> tuple[torch.Tensor, torch.Tensor]:
    tags, scores = crf.nbest(emissions, mask, k)  # (B, k, L), (B, k)
    log_z = crf.log_partition(emissions, mask)  # (B,)
    # log Z = -inf only if a sentence has no allowed sequence; its scores are -inf too.
    log_z = torch.where(torch.isfinite(log_z), log_z, torch.zeros_like(log_z))
    # Clamped: float32 rounding of a long sentence's log Z can put the best path a hair above 1.
    return tags, (scores - log_z.unsqueeze(1)).exp().clamp(max=1.0)


class CRFHead(DecoderHead):
    """A linear-chain CRF over the emissions, with the scheme's constraints."""

    def __init__(self, num_tags: int, allowed: torch.Tensor | None = None, allowed_start: torch.Tensor | None = None,
                 allowed_end: torch.Tensor | None = None) -> None:
        super().__init__()
        self.crf = CRF(num_tags, allowed, allowed_start, allowed_end)

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.crf.nll(emissions, tags, mask, reduction="mean")  # sum of sentence NLLs / B

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.crf.decode(emissions, mask)[0]

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.crf.marginals(emissions, mask)

    def nbest(self, emissions: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        return _nbest_probabilities(self.crf, emissions, mask, k)


class SoftmaxHead(DecoderHead):
    """Per-token cross-entropy in training; predictions from a CRF with fixed zero scores
    over log-softmax emissions (see the module docstring). That CRF's score tensors are
    frozen zeros (requires_grad False), kept as parameters so the tested CRF runs as is."""

    def __init__(self, num_tags: int, allowed: torch.Tensor | None = None, allowed_start: torch.Tensor | None = None,
                 allowed_end: torch.Tensor | None = None) -> None:
        super().__init__()
        self.crf = CRF(num_tags, allowed, allowed_start, allowed_end)
        for p in self.crf.parameters():
            nn.init.zeros_(p)
            p.requires_grad_(False)

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        targets = tags.masked_fill(~mask, IGNORE_INDEX)  # padding may hold any filler
        # (B, T, L) against (B, L): summed over tokens, / B to match the CRF loss's scale.
        return F.cross_entropy(emissions.transpose(1, 2), targets, ignore_index=IGNORE_INDEX,
                               reduction="sum") / emissions.size(0)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.crf.decode(emissions.log_softmax(-1), mask)[0]

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.crf.marginals(emissions.log_softmax(-1), mask)

    def nbest(self, emissions: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        return _nbest_probabilities(self.crf, emissions.log_softmax(-1), mask, k)


# name -> head class, built as Head(num_tags, allowed, allowed_start, allowed_end).
DECODERS: dict[str, type[DecoderHead]] = {"crf": CRFHead, "softmax": SoftmaxHead}


@dataclass
class TagDecoding:
    best: torch.Tensor  # (B, L) long: the best allowed tags, 0 at padding
    marginals: torch.Tensor | None = None  # (B, L, T): p(y_t = j), rows sum to 1 at real positions, 0 at padding
    nbest: torch.Tensor | None = None  # (B, k, L) long: the k most probable allowed sequences, best first
    nbest_probs: torch.Tensor | None = None  # (B, k): their probabilities, 0 where fewer than k exist


class Tagger(nn.Module):
    """A `TagBatch` (words (B, L), chars (B, L, C), mask (B, L)) -> tag emissions
    `(B, L, T)`; `loss` and `predict` as every model (`models/base.py`), and `decode`
    for the marginals and k-best lists of `tag`.

    Dropout follows Ma & Hovy 2016: on the char embeddings, on the concatenated word
    representation and on the BiRNN output (and between RNN layers)."""

    def __init__(self, config: TaggerConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.word_vocab_size, config.word_embedding_size, padding_idx=0)
        # uniform(-sqrt(3/E), sqrt(3/E)), i.e. unit variance per vector (Ma & Hovy 2016).
        bound = (3.0 / config.word_embedding_size) ** 0.5
        nn.init.uniform_(self.embedding.weight, -bound, bound)
        with torch.no_grad():
            self.embedding.weight[0].zero_()
        self.embedding.weight.requires_grad_(not config.freeze_embeddings)
        self.chars = build_char_encoder(config.char_encoder, config.char_vocab_size, config.char_embedding_size,
                                        config.char_filters, config.char_kernel, config.dropout)
        self.dropout = Dropout(config.dropout)
        self.encoder = RNNEncoder(EncoderConfig(
            cell=config.cell, input_size=config.word_embedding_size + self.chars.output_size,
            hidden_size=config.hidden_size, layers=config.layers, dropout=config.dropout, bidirectional=True))
        self.projection = nn.Linear(self.encoder.output_size, config.num_tags)
        self.head = DECODERS[config.decoder](config.num_tags, _bools(config.allowed), _bools(config.allowed_start),
                                             _bools(config.allowed_end))

    def set_pretrained_embeddings(self, weights: torch.Tensor) -> None:
        """Copy `weights` (V, E) into the word embedding (row 0, padding, as given);
        `freeze_embeddings` then keeps them fixed."""
        expected = tuple(self.embedding.weight.shape)
        if not isinstance(weights, torch.Tensor) or tuple(weights.shape) != expected:
            got = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
            raise ValueError(f"pretrained embeddings have shape {got}, expected {expected}")
        with torch.no_grad():
            self.embedding.weight.copy_(weights)

    def emissions(self, batch: TagBatch) -> torch.Tensor:
        """Tag scores (B, L, T); meaningless at padding (every head ignores them)."""
        words, chars = batch.words, batch.chars
        b, n = words.shape
        char_feats = self.chars(chars.reshape(b * n, chars.size(2))).view(b, n, -1)  # (B, L, D_c)
        x = self.dropout(torch.cat([self.embedding(words), char_feats], dim=2))  # (B, L, E + D_c)
        out = self.encoder.forward_padded(x.transpose(0, 1), batch.lengths)  # (L, B, 2H), zeros at padding
        return self.projection(self.dropout(out.transpose(0, 1)))  # (B, L, T)

    def forward(self, batch: TagBatch) -> torch.Tensor:
        return self.emissions(batch)

    def loss(self, batch: TagBatch) -> Loss:
        """Mean over sentences of each sentence's summed token loss (CRF: its NLL)."""
        if batch.tags is None:
            raise ValueError("a tagging batch without tags has no loss")
        return Loss(self.head.loss(self.emissions(batch), batch.tags, batch.mask), batch.words.size(0))

    def decode(self, batch: TagBatch, marginals: bool = False, nbest: int = 0) -> TagDecoding:
        """The best allowed tags and, when asked, the marginals and the `nbest` most
        probable sequences, all from one computation of the emissions."""
        if isinstance(nbest, bool) or not isinstance(nbest, int) or nbest < 0:
            raise ValueError(f"invalid nbest: {nbest!r} (expected an integer >= 0)")
        emissions, mask = self.emissions(batch), batch.mask
        out = TagDecoding(self.head.decode(emissions, mask))
        if marginals:
            out.marginals = self.head.marginals(emissions, mask)
        if nbest > 0:
            out.nbest, out.nbest_probs = self.head.nbest(emissions, mask, nbest)
        return out

    def predict(self, batch: TagBatch) -> torch.Tensor:
        """The best allowed tags (B, L) long, 0 at padding."""
        return self.decode(batch).best
