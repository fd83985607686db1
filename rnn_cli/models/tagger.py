"""A sequence tagger: word embeddings + a character encoder -> BiRNN -> emissions
-> CRF or softmax (Ma & Hovy 2016; Lample et al. 2016)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnn_cli.models.char import CHAR_ENCODERS, build_char_encoder
from rnn_cli.models.crf import CRF
from rnn_cli.models.rnn import CELLS, EncoderConfig, RNNEncoder

DECODERS = ("crf", "softmax")


@dataclass
class TaggerConfig:
    word_vocab_size: int
    char_vocab_size: int
    num_tags: int
    word_embedding_size: int = 100
    char_encoder: str = "cnn"
    char_embedding_size: int = 30
    char_filters: int = 30  # CNN filters, or LSTM units per direction
    char_kernel: int = 3
    cell: str = "lstm"
    layers: int = 1
    hidden_size: int = 200  # per direction
    dropout: float = 0.5
    decoder: str = "crf"
    freeze_embeddings: bool = False
    # Transition constraints of the tag scheme (CRF decoding never breaks them).
    allowed: list[list[bool]] | None = None
    allowed_start: list[bool] | None = None
    allowed_end: list[bool] | None = None

    def __post_init__(self) -> None:
        for name in ("word_vocab_size", "char_vocab_size", "num_tags", "word_embedding_size", "hidden_size",
                     "layers", "char_kernel"):
            if getattr(self, name) < 1:
                raise ValueError(f"invalid {name}: {getattr(self, name)}")
        if self.char_encoder not in CHAR_ENCODERS:
            raise ValueError(f"invalid char_encoder: {self.char_encoder!r}")
        if self.cell not in CELLS:
            raise ValueError(f"invalid cell: {self.cell!r}")
        if self.decoder not in DECODERS:
            raise ValueError(f"invalid decoder: {self.decoder!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"invalid dropout: {self.dropout}")


def _bool_tensor(values: list | None) -> torch.Tensor | None:
    return torch.tensor(values, dtype=torch.bool) if values is not None else None


class CRFHead(nn.Module):
    def __init__(self, config: TaggerConfig) -> None:
        super().__init__()
        self.crf = CRF(config.num_tags, _bool_tensor(config.allowed), _bool_tensor(config.allowed_start),
                       _bool_tensor(config.allowed_end))

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.crf.nll(emissions, tags, mask, reduction="mean")  # mean over sentences

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.crf.decode(emissions, mask)[0]

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.crf.marginals(emissions, mask)

    def nbest(self, emissions: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        tags, scores = self.crf.nbest(emissions, mask, k)
        return tags, (scores - self.crf.log_partition(emissions, mask).unsqueeze(1)).exp()


class SoftmaxHead(nn.Module):
    """Independent per-token decisions (no transition model)."""

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # Summed over tokens, averaged over sentences, on the CRF loss's scale.
        return F.cross_entropy(emissions[mask], tags[mask], reduction="sum") / emissions.size(0)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return emissions.argmax(-1).masked_fill(~mask, 0)

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return emissions.softmax(-1) * mask.unsqueeze(-1)

    def nbest(self, emissions: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError("n-best lists need the CRF decoder (train with --decoder crf)")


class Tagger(nn.Module):
    """`words (B, L)`, `chars (B, L, C)`, `mask (B, L)` -> tag emissions `(B, L, T)`."""

    def __init__(self, config: TaggerConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.word_vocab_size, config.word_embedding_size, padding_idx=0)
        bound = (3.0 / config.word_embedding_size) ** 0.5
        nn.init.uniform_(self.embedding.weight, -bound, bound)
        with torch.no_grad():
            self.embedding.weight[0].zero_()
        self.embedding.weight.requires_grad_(not config.freeze_embeddings)
        self.chars = build_char_encoder(config.char_encoder, config.char_vocab_size, config.char_embedding_size,
                                        config.char_filters, config.char_kernel, config.dropout)
        self.dropout = nn.Dropout(config.dropout)
        self.encoder = RNNEncoder(EncoderConfig(
            cell=config.cell, input_size=config.word_embedding_size + self.chars.output_size,
            hidden_size=config.hidden_size, layers=config.layers, dropout=config.dropout, bidirectional=True))
        self.projection = nn.Linear(self.encoder.output_size, config.num_tags)
        self.head: CRFHead | SoftmaxHead = CRFHead(config) if config.decoder == "crf" else SoftmaxHead()

    def set_pretrained_embeddings(self, weights: torch.Tensor) -> None:
        if tuple(weights.shape) != tuple(self.embedding.weight.shape):
            raise ValueError(f"pretrained embeddings have shape {tuple(weights.shape)}, "
                             f"expected {tuple(self.embedding.weight.shape)}")
        with torch.no_grad():
            self.embedding.weight.copy_(weights)

    def emissions(self, words: torch.Tensor, chars: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n = words.shape
        char_feats = self.chars(chars.view(b * n, -1)).view(b, n, -1)  # (B, L, D_c)
        x = self.dropout(torch.cat([self.embedding(words), char_feats], dim=-1))  # (B, L, E + D_c)
        lengths = mask.sum(1).cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.encoder(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=n)  # (B, L, 2H)
        return self.projection(self.dropout(out))  # (B, L, T)

    def loss(self, words: torch.Tensor, chars: torch.Tensor, mask: torch.Tensor, tags: torch.Tensor) -> torch.Tensor:
        return self.head.loss(self.emissions(words, chars, mask), tags, mask)

    def predict(self, words: torch.Tensor, chars: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head.decode(self.emissions(words, chars, mask), mask)

    def marginals(self, words: torch.Tensor, chars: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.head.marginals(self.emissions(words, chars, mask), mask)

    def nbest(self, words: torch.Tensor, chars: torch.Tensor, mask: torch.Tensor,
              k: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head.nbest(self.emissions(words, chars, mask), mask, k)
