"""Character-level word encoders: char ids (N, C) of N words -> features (N, D).

Id 0 is padding. A real word has at least one real character, left-aligned; a fully
padded row (a padding word) gives zeros. Padding characters never change a word's
features: a word encodes the same alone and inside a wider, more padded batch.

Every encoder exposes `output_size` (D); `CHAR_ENCODERS` maps the names the CLI and
configs use to factories with one signature, `build_char_encoder` looks them up."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from rnn_cli.models.dropout import Dropout


class CharCNN(nn.Module):
    """Char embeddings -> dropout -> a width-`kernel` convolution -> max-pooling over the
    real characters of each word (Ma & Hovy 2016: 30-d embeddings, 30 filters, width 3)."""

    def __init__(self, vocab_size: int, embedding_size: int = 30, filters: int = 30, kernel: int = 3,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=0)
        self.dropout = Dropout(dropout)
        self.conv = nn.Conv1d(embedding_size, filters, kernel, padding=kernel // 2)
        self.output_size = filters

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        mask = chars != 0  # (N, C)
        # Zero the padding explicitly (not only through padding_idx), so that the window at
        # the last real char sees exactly what the convolution's own zero padding gives.
        x = self.dropout(self.embedding(chars)) * mask.unsqueeze(2)  # (N, C, E)
        h = self.conv(x.transpose(1, 2))[..., : chars.size(1)]  # (N, F, C); an even kernel gives C + 1
        h = h.masked_fill(~mask.unsqueeze(1), float("-inf")).amax(dim=2)  # (N, F)
        # Padding words pool over nothing (-inf): give them zeros, with no gradient.
        return torch.where(mask.any(1, keepdim=True), h, torch.zeros_like(h))


class CharLSTM(nn.Module):
    """A BiLSTM over each word's characters (packed, so padding is never read); the final
    forward and backward states are concatenated (Lample et al. 2016: 25 units each way)."""

    def __init__(self, vocab_size: int, embedding_size: int = 30, hidden: int = 25, dropout: float = 0.0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=0)
        self.dropout = Dropout(dropout)
        self.lstm = nn.LSTM(embedding_size, hidden, batch_first=True, bidirectional=True)
        self.output_size = 2 * hidden

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        lengths = (chars != 0).sum(1)  # (N,)
        x = self.dropout(self.embedding(chars))  # (N, C, E)
        # Packing needs lengths >= 1: padding words read one pad char and are zeroed below.
        packed = pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)  # (2, N, H): forward state after the last char, backward after the first
        out = torch.cat([h[0], h[1]], dim=1)  # (N, 2H)
        return torch.where((lengths > 0).unsqueeze(1), out, torch.zeros_like(out))


class NoChars(nn.Module):
    """No character features: (N, C) -> (N, 0)."""

    output_size = 0

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        return chars.new_zeros(chars.size(0), 0, dtype=torch.get_default_dtype())


# name -> factory(vocab_size, embedding_size, filters, kernel, dropout); `filters` is the
# CNN's filter count or the LSTM's units per direction. Help texts list the keys.
CHAR_ENCODERS: dict[str, Callable[[int, int, int, int, float], nn.Module]] = {
    "cnn": lambda vocab, emb, filters, kernel, dropout: CharCNN(vocab, emb, filters, kernel, dropout),
    "lstm": lambda vocab, emb, filters, kernel, dropout: CharLSTM(vocab, emb, filters, dropout),
    "none": lambda vocab, emb, filters, kernel, dropout: NoChars(),
}


def build_char_encoder(name: str, vocab_size: int, embedding_size: int = 30, filters: int = 30, kernel: int = 3,
                       dropout: float = 0.0) -> nn.Module:
    """The encoder registered as `name`; its `output_size` attribute gives D."""
    if name not in CHAR_ENCODERS:
        raise ValueError(f"invalid char encoder: {name!r} (choose from {', '.join(CHAR_ENCODERS)})")
    return CHAR_ENCODERS[name](vocab_size, embedding_size, filters, kernel, dropout)
