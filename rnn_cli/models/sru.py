"""The Simple Recurrent Unit (Lei et al. 2018, "Simple Recurrent Units for Highly
Parallelizable Recurrence"): a layer whose matrix products do not depend on the
previous step, so they run for all time steps at once, leaving an element-wise
recurrence (`sru_kernel.py`):

    [ux_t, uf_t, ur_t (, xh_t)] = W x_t                          (one product for all t)
    f_t = sigmoid(uf_t + v_f * c_{t-1} + b_f)     r_t = sigmoid(ur_t + v_r * c_{t-1} + b_r)
    c_t = f_t * c_{t-1} + (1 - f_t) * ux_t
    h_t = r_t * tanh(c_t) + (1 - r_t) * xh_t                     (highway)

xh_t is x_t itself when the input and hidden sizes are equal, else a fourth projection
of x_t. `vector_recurrence=False` drops the terms v * c_{t-1} (the first version of
the SRU, whose gates depend on the input only).

`SRU` takes the constructor arguments and the call of torch's `nn.LSTM`/`nn.GRU`
(time-major input or a `PackedSequence`, an optional initial state) and returns
`(output, c)` with `c` (layers * directions, B, H) the last cell states, like a GRU's
h: it slots into `RNNEncoder` as the cell `sru`. `forward_padded` takes a padded batch
and its lengths as they are (the SRU needs no packing: `RNNEncoder.forward_padded`). A
bidirectional layer reads each row backwards within its length, so padding never
reaches a real position."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnn_cli.models import kernels, sru_kernel
from rnn_cli.models.dropout import Dropout
from rnn_cli.models.reverse import reverse_index
from rnn_cli.models.sru_kernel import recurrence


class SRULayer(nn.Module):
    """One SRU layer, one or both directions: (T, B, I), mask (T, B) bool, lengths (B,),
    c0 (D, B, H) -> (T, B, D * H), c (D, B, H)."""

    def __init__(self, input_size: int, hidden_size: int, bidirectional: bool = False,
                 vector_recurrence: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.directions = 2 if bidirectional else 1
        self.projections = 3 if input_size == hidden_size else 4  # ux, uf, ur (, xh)
        self.weight = nn.Parameter(torch.empty(self.directions * self.projections * hidden_size, input_size))
        self.bias = nn.Parameter(torch.empty(self.directions, 2, hidden_size))  # b_f, b_r
        v = torch.empty(self.directions, 2, hidden_size)  # v_f, v_r
        if vector_recurrence:
            self.v = nn.Parameter(v)
        else:
            self.register_buffer("v", v)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """W ~ U(-sqrt(3/I), sqrt(3/I)), variance 1/I as Lei et al. initialise it, so the
        projections keep the input's scale; biases 0; v ~ U(-0.5, 0.5) when learned (a
        choice of ours: small, either sign)."""
        bound = (3.0 / self.input_size) ** 0.5
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.zeros_(self.bias)
        with torch.no_grad():
            if isinstance(self.v, nn.Parameter):
                self.v.uniform_(-0.5, 0.5)
            else:
                self.v.zero_()

    def forward(self, x: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor | None,
                c0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        steps, batch, size = x.shape
        d, k, hidden = self.directions, self.projections, self.hidden_size
        flip = None
        if d == 2:  # the backward direction reads each row reversed within its length
            flip = _flat_reverse_index(lengths, steps, batch, x.device)
            xs = torch.stack([x, x.reshape(steps * batch, size).index_select(0, flip).view(steps, batch, size)])
        else:
            xs = x.unsqueeze(0)  # (D, T, B, I)
        weight = self.weight.view(d, k * hidden, size)
        u = torch.bmm(xs.reshape(d, steps * batch, size), weight.transpose(1, 2)).view(d, steps, batch, k, hidden)
        h, c = recurrence(u, xs if k == 3 else None, self.v, self.bias, c0, mask)  # (D, T, B, H), (D, B, H)
        if d == 1:
            return h[0], c
        back = h[1].reshape(steps * batch, hidden).index_select(0, flip).view(steps, batch, hidden)
        return torch.cat([h[0], back], dim=2), c


def _flat_reverse_index(lengths: torch.Tensor | None, steps: int, batch: int, device: torch.device) -> torch.Tensor:
    """Positions in a (T * B) flattening of each row's reversal within its length (the
    whole of T without lengths); its own inverse."""
    if lengths is None:
        lengths = torch.full((batch,), steps, dtype=torch.long, device=device)
    index = reverse_index(lengths.to(device), steps)  # (T, B)
    return (index * batch + torch.arange(batch, device=device)).reshape(-1)


class SRU(nn.Module):
    """A stack of SRU layers with `nn.GRU`'s interface (see the module docstring);
    dropout between layers only."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
                 bidirectional: bool = False, vector_recurrence: bool = True) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional = bidirectional
        directions = 2 if bidirectional else 1
        self.layers = nn.ModuleList(
            SRULayer(input_size if i == 0 else hidden_size * directions, hidden_size, bidirectional, vector_recurrence)
            for i in range(num_layers))
        self.dropout = Dropout(dropout)

    def reset_parameters(self) -> None:
        for layer in self.layers:
            layer.reset_parameters()  # type: ignore[operator]

    def forward(self, x: torch.Tensor | PackedSequence,
                hidden: torch.Tensor | None = None) -> tuple[torch.Tensor | PackedSequence, torch.Tensor]:
        if isinstance(x, PackedSequence):
            padded, lengths = pad_packed_sequence(x)  # (T, B, I), lengths in the original order
            out, state = self.forward_padded(padded, lengths, hidden)
            return pack_padded_sequence(out, lengths.cpu(), enforce_sorted=False), state
        return self.forward_padded(x, None, hidden)

    def forward_padded(self, padded: torch.Tensor, lengths: torch.Tensor | None,
                       hidden: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`forward` on a padded batch (T, B, I) with each row's length (None: all T),
        without the round trip through a `PackedSequence`: (T, B, D * H), zeros at
        padding, and the last states."""
        steps, batch = padded.size(0), padded.size(1)
        if lengths is None:
            mask = torch.ones(steps, batch, dtype=torch.bool, device=padded.device)
        else:
            lengths = lengths.to(padded.device)
            mask = torch.arange(steps, device=padded.device).unsqueeze(1) < lengths.unsqueeze(0)
        directions = 2 if self.bidirectional else 1
        if hidden is None:
            hidden = padded.new_zeros(self.num_layers * directions, batch, self.hidden_size)
        out, states = padded, []
        for i, layer in enumerate(self.layers):
            if i > 0:
                out = self.dropout(out)
            out, c = layer(out, mask, lengths, hidden[i * directions : (i + 1) * directions])
            states.append(c)
        return out, torch.cat(states, 0)


class PlainSRU(SRU):
    """The SRU without the vector recurrence (v_f = v_r = 0): its gates depend on the input only."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
                 bidirectional: bool = False) -> None:
        super().__init__(input_size, hidden_size, num_layers, dropout, bidirectional, vector_recurrence=False)


kernels.LOOPS.append(kernels.Loop(sru_kernel.NAME, "the SRU", lambda module: isinstance(module, SRULayer),
                                  sru_kernel.compiled))
