"""The recurrent encoders of the zoo: Elman (tanh, or relu with identity-initialised
recurrence), LSTM and GRU, built on torch's fused layers for speed, and the SRU
(`sru.py`: matrix products for all steps at once, a compiled element-wise recurrence)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnn_cli.batches import Hidden
from rnn_cli.models.sru import SRU, PlainSRU

# Registry of cell names -> (layer class, nonlinearity); every class takes torch's RNN
# arguments (input, hidden, num_layers, dropout, bidirectional). Help texts list the keys.
CELLS: dict[str, tuple[type[nn.Module], str | None]] = {
    "lstm": (nn.LSTM, None),
    "gru": (nn.GRU, None),
    "rnn-tanh": (nn.RNN, "tanh"),
    "rnn-relu": (nn.RNN, "relu"),
    "sru": (SRU, None),  # Lei et al. 2018, with the vector recurrence v * c_{t-1} in the gates
    "sru-plain": (PlainSRU, None),  # gates from the input only: every step's gates computed at once
}
SRU_CELLS = ("sru", "sru-plain")


@dataclass
class EncoderConfig:
    cell: str = "lstm"
    input_size: int = 200
    hidden_size: int = 200
    layers: int = 1
    dropout: float = 0.0  # between layers only, never along time
    bidirectional: bool = False
    init_range: float | None = None  # None: uniform(-1/sqrt(h), 1/sqrt(h))

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"invalid cell: {self.cell!r} (choose from {', '.join(CELLS)})")
        for name in ("input_size", "hidden_size", "layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"invalid {name}: {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"invalid dropout: {self.dropout}")


class RNNEncoder(nn.Module):
    """Time-major multi-layer RNN: `(T, B, input_size)` -> `(T, B, D * hidden_size)`.

    Dropout is applied by the fused layer to each layer's output except the last
    (Zaremba et al. 2014: non-recurrent connections only)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        layer_cls, nonlinearity = CELLS[config.cell]
        kwargs = {"nonlinearity": nonlinearity} if nonlinearity else {}
        self.rnn = layer_cls(
            config.input_size,
            config.hidden_size,
            num_layers=config.layers,
            dropout=config.dropout if config.layers > 1 else 0.0,
            bidirectional=config.bidirectional,
            **kwargs,
        )
        self.reset_parameters()

    @property
    def output_size(self) -> int:
        return self.config.hidden_size * (2 if self.config.bidirectional else 1)

    def reset_parameters(self) -> None:
        h = self.config.hidden_size
        if self.config.cell in SRU_CELLS and self.config.init_range is None:
            self.rnn.reset_parameters()  # type: ignore[operator]  # the SRU's own (Lei et al.)
            return
        r = self.config.init_range if self.config.init_range is not None else 1.0 / math.sqrt(h)
        for name, p in self.rnn.named_parameters():
            nn.init.uniform_(p, -r, r)
            if self.config.cell == "lstm" and name.startswith("bias_"):
                # Gates are (input, forget, cell, output); forget bias 1 in total
                # (Jozefowicz et al. 2015), split as 1 in bias_ih and 0 in bias_hh.
                with torch.no_grad():
                    p[h : 2 * h].fill_(1.0 if name.startswith("bias_ih") else 0.0)
            if self.config.cell == "rnn-relu":
                # IRNN (Le et al. 2015): identity recurrence and zero biases.
                with torch.no_grad():
                    if name.startswith("weight_hh"):
                        p.copy_(torch.eye(h))
                    elif name.startswith("bias_"):
                        p.zero_()

    def forward(self, x: torch.Tensor, hidden: Hidden | None = None) -> tuple[torch.Tensor, Hidden]:
        if self.config.cell == "lstm" and torch.is_autocast_enabled("cpu") and not _cpu_autocast_lstm_works():
            # Without AVX512, oneDNN has no bf16 LSTM and torch raises under CPU autocast:
            # run the recurrence in fp32 there (the other layers stay in bf16).
            with torch.autocast("cpu", enabled=False):
                return self.rnn(x.float(), hidden)
        return self.rnn(x, hidden)

    def forward_padded(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """A padded batch (T, B, I) and each row's length (B,) -> the outputs (T, B, D * H),
        zeros at padding; no direction ever reads padding. torch's cells run on the packed
        batch; the SRU reads the padded one as it is (packing would only copy it twice)."""
        if self.config.cell in SRU_CELLS:
            return self.rnn.forward_padded(x, lengths)[0]  # type: ignore[operator]
        out, _ = self(pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False))
        return pad_packed_sequence(out, total_length=x.size(0))[0]


@functools.cache
def _cpu_autocast_lstm_works() -> bool:
    """Whether torch's LSTM runs under CPU autocast (bf16) on this processor."""
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            nn.LSTM(2, 2)(torch.zeros(1, 1, 2))
    except RuntimeError:
        return False
    return True


def detach_hidden(hidden: Hidden | None) -> Hidden | None:
    """Cut the graph between BPTT windows, keeping the values."""
    if hidden is None:
        return None
    if isinstance(hidden, tuple):
        return tuple(h.detach() for h in hidden)  # type: ignore[return-value]
    return hidden.detach()


def select_hidden(hidden: Hidden, index: torch.Tensor) -> Hidden:
    """Reorder the batch dimension (dim 1) of a hidden state, e.g. for beam search."""
    if isinstance(hidden, tuple):
        return tuple(h.index_select(1, index) for h in hidden)  # type: ignore[return-value]
    return hidden.index_select(1, index)
