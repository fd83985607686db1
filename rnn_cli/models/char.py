"""Character-level word encoders: (N, C) char ids of N words -> (N, D) features.

Id 0 is padding; fully padded rows (padding words) give zeros."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence


class CharCNN(nn.Module):
    """Char embeddings, a width-`kernel` convolution and max-pooling over the real
    characters of each word (Ma & Hovy 2016: 30-d embeddings, 30 filters, width 3)."""

    def __init__(self, vocab_size: int, embedding_size: int = 30, filters: int = 30, kernel: int = 3,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.conv = nn.Conv1d(embedding_size, filters, kernel, padding=kernel // 2)
        self.output_size = filters

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        mask = chars != 0  # (N, C)
        x = self.dropout(self.embedding(chars)).transpose(1, 2)  # (N, E, C)
        h = self.conv(x)[..., : chars.size(1)]  # (N, F, C)
        h = h.masked_fill(~mask.unsqueeze(1), float("-inf")).amax(dim=2)  # (N, F)
        return torch.where(mask.any(1, keepdim=True), h, torch.zeros_like(h))


class CharLSTM(nn.Module):
    """A BiLSTM over the characters; the final forward and backward states are
    concatenated (Lample et al. 2016)."""

    def __init__(self, vocab_size: int, embedding_size: int = 30, hidden: int = 25, dropout: float = 0.0) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(embedding_size, hidden, batch_first=True, bidirectional=True)
        self.output_size = 2 * hidden

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        lengths = (chars != 0).sum(1)  # (N,)
        out = chars.new_zeros(chars.size(0), self.output_size, dtype=torch.float)
        real = lengths > 0
        if not bool(real.any()):
            return out
        x = self.dropout(self.embedding(chars[real]))  # (N', C, E)
        packed = pack_padded_sequence(x, lengths[real].cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)  # h: (2, N', H)
        out = out.to(h.dtype)
        out[real] = torch.cat([h[0], h[1]], dim=1)
        return out


class NoChars(nn.Module):
    output_size = 0

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        return chars.new_zeros(chars.size(0), 0, dtype=torch.float)


def build_char_encoder(name: str, vocab_size: int, embedding_size: int, filters: int, kernel: int,
                       dropout: float) -> nn.Module:
    if name == "cnn":
        return CharCNN(vocab_size, embedding_size, filters, kernel, dropout)
    if name == "lstm":
        return CharLSTM(vocab_size, embedding_size, filters, dropout)
    if name == "none":
        return NoChars()
    raise ValueError(f"invalid char encoder: {name!r} (choose from {', '.join(CHAR_ENCODERS)})")


CHAR_ENCODERS = ("cnn", "lstm", "none")
