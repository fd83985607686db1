"""The AWD-LSTM regularisers of a recurrent language model (Merity et al. 2018):
locked (variational) dropout, embedding dropout, and DropConnect on the recurrent
weights, run through the encoder's own fused layer's parameters.

Weight drop needs a fresh mask on `weight_hh_l{k}` for each forward, which the fused
`nn.LSTM` cannot take. Rather than a wrapper module that renames the weights (AWD's
`WeightDrop`, which also breaks `flatten_parameters`), training runs the fused module's
layers one at a time through torch's functional RNN ops with the dropped copy in place
of `weight_hh`; the parameters stay where they are, so a model trained this way is an
ordinary LM, and evaluation runs the plain fused forward:

    x -> [layer 0: w_ih, drop(w_hh), b_ih, b_hh] -> between -> [layer 1: ...] -> out
             h0[0], c0[0] -> h[0], c[0]                 h0[1], c0[1] -> h[1], c[1]
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn

from rnn_cli.batches import Hidden
from rnn_cli.models.dropout import Dropout, dropout, mask_like
from rnn_cli.models.rnn import _cpu_autocast_lstm_works

# The cells whose fused layer has a `weight_hh_l{k}` to drop and can run layer by layer.
LAYERED_OPS: dict[str, Callable[..., tuple[torch.Tensor, ...]]] = {
    "lstm": torch.lstm,
    "gru": torch.gru,
    "rnn-tanh": torch.rnn_tanh,
    "rnn-relu": torch.rnn_relu,
}


class LockedDropout(Dropout):
    """Variational dropout (Gal & Ghahramani 2016): `(T, B, D)` -> `(T, B, D)` with one
    mask per sequence (batch column), shared by all its time steps, so that a dropped
    unit stays dropped for the whole window instead of flickering from step to step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        mask = mask_like(x, [1, x.size(1), x.size(2)], self.p)  # (1, B, D)
        return x * mask


def dropout_layer(p: float, locked: bool) -> nn.Module:
    """Dropout with rate `p`: locked (one mask per sequence) or a fresh mask per element."""
    return LockedDropout(p) if locked else Dropout(p)


def embedding_dropout(embedding: nn.Embedding, x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """`embedding(x)` with whole words dropped (Gal & Ghahramani 2016; AWD's dropoute): each
    row of the vocabulary is zeroed with probability `p` (once per call, so a dropped word is
    zero at every position of the batch), the rest scaled by 1/(1-p). Only the looked-up
    rows are masked, which is the same as masking the matrix without copying it (V, E)."""
    emb = embedding(x)  # (T, B, E)
    if not training or p == 0.0:
        return emb
    w = embedding.weight
    keep = mask_like(w, [w.size(0)], p)  # (V,)
    return emb * keep[x].unsqueeze(-1)


def layered_forward(rnn: nn.RNNBase, cell: str, x: torch.Tensor, hidden: Hidden | None, weight_drop: float,
                    between: nn.Module) -> tuple[torch.Tensor, Hidden]:
    """The training forward of a one-direction fused `rnn` (`(T, B, I)` -> `(T, B, H)` and
    the new state `(L, B, H)`, as the fused module returns them), one layer at a time:
    DropConnect with rate `weight_drop` on each `weight_hh_l{k}` (Wan et al. 2013; a new
    mask per call) and `between` applied to the input of every layer but the first.
    With rate 0 and `between` the identity it computes what the fused module does."""
    op = LAYERED_OPS[cell]
    lstm = cell == "lstm"
    layers, size = rnn.num_layers, rnn.hidden_size
    if hidden is None:
        zeros = x.new_zeros(layers, x.size(1), size)
        hidden = (zeros, zeros) if lstm else zeros
    h0, c0 = hidden if isinstance(hidden, tuple) else (hidden, None)
    if lstm and torch.is_autocast_enabled("cpu") and not _cpu_autocast_lstm_works():
        # As `RNNEncoder.forward`: no bf16 LSTM in oneDNN without AVX512, so fp32 there.
        with torch.autocast("cpu", enabled=False):
            return layered_forward(rnn, cell, x.float(), hidden, weight_drop, between)
    hs, cs = [], []
    out = x
    with warnings.catch_warnings():
        # cuDNN compacts the weights of each call, the dropped copy being new each time.
        warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous chunk")
        for k in range(layers):
            if k > 0:
                out = between(out)
            w_hh = getattr(rnn, f"weight_hh_l{k}")
            if weight_drop > 0.0:
                w_hh = dropout(w_hh, weight_drop)
            params = [getattr(rnn, f"weight_ih_l{k}"), w_hh]
            if rnn.bias:
                params += [getattr(rnn, f"bias_ih_l{k}"), getattr(rnn, f"bias_hh_l{k}")]
            if lstm:
                assert c0 is not None
                out, h, c = op(out, (h0[k : k + 1], c0[k : k + 1]), params, rnn.bias, 1, 0.0, True, False, False)
                cs.append(c)
            else:
                out, h = op(out, h0[k : k + 1], params, rnn.bias, 1, 0.0, True, False, False)
            hs.append(h)
    state = torch.cat(hs, 0)  # (L, B, H)
    return out, ((state, torch.cat(cs, 0)) if lstm else state)


def activation_penalty(dropped: torch.Tensor, undropped: torch.Tensor, ar: float, tar: float) -> torch.Tensor:
    """AR and TAR (Merity et al. 2017) on the last layer's outputs `(T, B, H)`: `ar` times
    the mean square of the dropped outputs (keeps activations small) plus `tar` times the
    mean square of the step-to-step change of the undropped ones (keeps them smooth)."""
    dropped, undropped = dropped.float(), undropped.float()  # bf16 under autocast: sum in fp32
    penalty = dropped.new_zeros(())
    if ar > 0.0:
        penalty = penalty + ar * dropped.pow(2).mean()
    if tar > 0.0 and undropped.size(0) > 1:  # a one-step window has no change to penalise
        penalty = penalty + tar * (undropped[1:] - undropped[:-1]).pow(2).mean()
    return penalty
