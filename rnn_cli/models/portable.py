"""Portable copies of the zoo's networks, for export and int8: the same weights and the
same scores, written so that `torch.jit.script` and the ONNX exporter take them.

A trained model packs its padded batches (`pack_padded_sequence`) so that the backward
direction of a BiRNN never reads padding. Packed sequences have no ONNX form and tie
the graph to torch, so a portable network runs each direction of each layer as its own
one-layer torch RNN over a padded batch: the forward direction reads the real tokens
first (padding after them cannot change their states), and the backward direction
reads each row reversed within its length (`reverse_index`), then turns it back. The
states at real positions equal the packed ones (to float rounding); at padding they
are meaningless, and every consumer (the CRF, the masked poolings) ignores them.

An SRU's layers keep their weights and run the element-wise recurrence as a
TorchScript loop (`SRUStack`): the compiled loop of `sru_kernel.py` is an extension
that a deployed model cannot count on.

Inputs and outputs are plain tensors (see `PortableTagger.forward` and the others);
`portable(model)` builds the copy of a trained `Tagger`, `Classifier`,
`ClassifierEnsemble` or `RNNLM`. The copies share the trained modules' weights."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rnn_cli.models.char import CharCNN, CharLSTM, NoChars
from rnn_cli.models.classifier import Classifier, ClassifierEnsemble
from rnn_cli.models.lm import RNNLM
from rnn_cli.models.reverse import reverse_index, reverse_within
from rnn_cli.models.rnn import CELLS, SRU_CELLS, RNNEncoder
from rnn_cli.models.sru import SRU, SRULayer
from rnn_cli.models.sru_kernel import direction_loop
from rnn_cli.models.tagger import Tagger


def _one_layer(fused: nn.RNNBase, cell: str, layer: int, suffix: str) -> nn.RNNBase:
    """A one-layer, one-direction torch RNN holding layer `layer` (direction `suffix`:
    "" or "_reverse") of the fused multi-layer RNN `fused` of cell type `cell`."""
    layer_cls, nonlinearity = CELLS[cell]
    kwargs = {"nonlinearity": nonlinearity} if nonlinearity else {}
    inputs = fused.input_size if layer == 0 else fused.hidden_size * (2 if fused.bidirectional else 1)
    one = layer_cls(inputs, fused.hidden_size, num_layers=1, **kwargs)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(one, f"{name}_l0").copy_(getattr(fused, f"{name}_l{layer}{suffix}"))
    return one.eval()


class _LSTMLayer(nn.Module):
    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                                   torch.Tensor]:
        out, (h1, c1) = self.rnn(x, (h, c))
        return out, h1, c1


class _GRULayer(nn.Module):
    """GRU and Elman layers (a state without a cell; `c` passes through)."""

    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                                   torch.Tensor]:
        out, h1 = self.rnn(x, h)
        return out, h1, c


def _layer(fused: nn.RNNBase, cell: str, layer: int, suffix: str) -> nn.Module:
    one = _one_layer(fused, cell, layer, suffix)
    return _LSTMLayer(one) if cell == "lstm" else _GRULayer(one)


class _BiLayer(nn.Module):
    """Both directions of one layer over a padded, time-major batch, from zero states."""

    def __init__(self, fused: nn.RNNBase, cell: str, layer: int) -> None:
        super().__init__()
        self.forward_rnn = _layer(fused, cell, layer, "")
        self.backward_rnn = _layer(fused, cell, layer, "_reverse")
        self.hidden_size = fused.hidden_size

    def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        zeros = x.new_zeros((1, x.size(1), self.hidden_size))
        ahead, _, _ = self.forward_rnn(x, zeros, zeros)
        back, _, _ = self.backward_rnn(reverse_within(x, index), zeros, zeros)
        return torch.cat([ahead, reverse_within(back, index)], dim=2)


class BiStack(nn.Module):
    """A bidirectional fused RNN (`RNNEncoder.rnn`, a char LSTM): (T, B, I) and lengths
    (B,) -> (T, B, 2H)."""

    def __init__(self, fused: nn.RNNBase, cell: str) -> None:
        super().__init__()
        if not fused.bidirectional:
            raise ValueError("BiStack copies a bidirectional RNN")
        self.layers = nn.ModuleList(_BiLayer(fused, cell, i) for i in range(fused.num_layers))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        index = reverse_index(lengths, x.size(0))
        for layer in self.layers:
            x = layer(x, index)
        return x


class UniStack(nn.Module):
    """A one-direction `RNNEncoder` with its state: (T, B, I), h0 and c0 (layers, B, H;
    c0 unused but for LSTMs) -> (T, B, H), h, c."""

    def __init__(self, encoder: RNNEncoder) -> None:
        super().__init__()
        if encoder.config.bidirectional:
            raise ValueError("UniStack copies a one-direction encoder")
        self.layers = nn.ModuleList(_layer(encoder.rnn, encoder.config.cell, i, "")
                                    for i in range(encoder.config.layers))

    def forward(self, x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                                    torch.Tensor]:
        hs, cs = [], []
        for i, layer in enumerate(self.layers):
            x, h, c = layer(x, h0[i : i + 1], c0[i : i + 1])
            hs.append(h)
            cs.append(c)
        return x, torch.cat(hs, 0), torch.cat(cs, 0)


class _SRULayer(nn.Module):
    """One layer of an `SRU`: (T, B, I), the reversal index, mask (T, B), c0 (D, B, H)
    -> (T, B, D * H), c (D, B, H). The same weights; the loop in TorchScript."""

    def __init__(self, layer: SRULayer) -> None:
        super().__init__()
        self.weight, self.bias = layer.weight, layer.bias
        self.register_buffer("v", layer.v.detach().clone())
        self.directions, self.projections, self.hidden_size = layer.directions, layer.projections, layer.hidden_size

    def forward(self, x: torch.Tensor, index: torch.Tensor, mask: torch.Tensor,
                c0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        steps, batch, size = x.size(0), x.size(1), x.size(2)
        weight = self.weight.view(self.directions, self.projections * self.hidden_size, size)
        outs, states = [], []
        for d in range(self.directions):
            xd = x if d == 0 else reverse_within(x, index)
            u = (xd.reshape(steps * batch, size) @ weight[d].t()).view(steps, batch, self.projections,
                                                                       self.hidden_size)
            xh = u[:, :, 3] if self.projections == 4 else xd
            h, c = direction_loop(u, xh, self.v[d], self.bias[d], c0[d], mask)
            outs.append(h if d == 0 else reverse_within(h, index))
            states.append(c)
        return torch.cat(outs, 2), torch.stack(states)


class SRUStack(nn.Module):
    """An `SRU` (`RNNEncoder.rnn` of an SRU cell) with both stack interfaces:
    `forward(x, lengths)` as `BiStack` (zero states; a one-direction SRU too) and
    `run(x, h0)` for a language model's state, h0 being the SRU's c (layers, B, H)."""

    def __init__(self, sru: SRU) -> None:
        super().__init__()
        self.layers = nn.ModuleList(_SRULayer(layer) for layer in sru.layers)  # type: ignore[arg-type]
        self.directions, self.hidden_size = 2 if sru.bidirectional else 1, sru.hidden_size

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = torch.arange(x.size(0), device=x.device).unsqueeze(1) < lengths.unsqueeze(0)
        zeros = x.new_zeros((len(self.layers) * self.directions, x.size(1), self.hidden_size))
        out, _ = self.run(x, reverse_index(lengths, x.size(0)), mask, zeros)
        return out

    def run(self, x: torch.Tensor, index: torch.Tensor, mask: torch.Tensor,
            c0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        states = []
        for i, layer in enumerate(self.layers):
            x, c = layer(x, index, mask, c0[i * self.directions : (i + 1) * self.directions])
            states.append(c)
        return x, torch.cat(states, 0)


class SRUUniStack(nn.Module):
    """`UniStack`'s interface for a one-direction SRU: (T, B, I), h0 (the SRU's c), c0
    (unused, passed through) -> (T, B, H), h, c."""

    def __init__(self, sru: SRU) -> None:
        super().__init__()
        self.stack = SRUStack(sru)

    def forward(self, x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                                    torch.Tensor]:
        steps, batch = x.size(0), x.size(1)
        mask = torch.ones(steps, batch, dtype=torch.bool, device=x.device)
        index = torch.arange(steps, device=x.device).unsqueeze(1).expand(steps, batch)
        out, h = self.stack.run(x, index, mask, h0)
        return out, h, c0


def _bi_stack(encoder: RNNEncoder) -> nn.Module:
    """The portable bidirectional (or, for an SRU, any) stack of a trained encoder."""
    if encoder.config.cell in SRU_CELLS:
        return SRUStack(encoder.rnn)  # type: ignore[arg-type]
    return BiStack(encoder.rnn, encoder.config.cell)


def _uni_stack(encoder: RNNEncoder) -> nn.Module:
    if encoder.config.cell in SRU_CELLS:
        return SRUUniStack(encoder.rnn)  # type: ignore[arg-type]
    return UniStack(encoder)


class _FromZero(nn.Module):
    """A `UniStack` from zero states, with BiStack's interface: (T, B, I), lengths -> (T, B, H)."""

    def __init__(self, encoder: RNNEncoder) -> None:
        super().__init__()
        self.stack = _uni_stack(encoder)
        self.layers, self.hidden_size = encoder.config.layers, encoder.config.hidden_size

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        zeros = x.new_zeros((self.layers, x.size(1), self.hidden_size))
        states, _, _ = self.stack(x, zeros, zeros)
        return states


class _PortableCharLSTM(nn.Module):
    """`CharLSTM`: the forward state after each word's last character and the backward
    state after its first, zeros for padding words."""

    def __init__(self, chars: CharLSTM) -> None:
        super().__init__()
        self.embedding = chars.embedding
        self.stack = BiStack(chars.lstm, "lstm")
        self.hidden_size = chars.lstm.hidden_size

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        lengths = (chars != 0).sum(1)  # (N,)
        states = self.stack(self.embedding(chars).transpose(0, 1), lengths.clamp(min=1))  # (C, N, 2H)
        last = (lengths.clamp(min=1) - 1).view(1, -1, 1).expand(1, -1, self.hidden_size)
        ahead = states[:, :, : self.hidden_size].gather(0, last).squeeze(0)  # (N, H)
        back = states[0, :, self.hidden_size :]  # (N, H)
        out = torch.cat([ahead, back], dim=1)
        return torch.where((lengths > 0).unsqueeze(1), out, torch.zeros_like(out))


def _portable_chars(chars: nn.Module) -> nn.Module | None:
    """The char encoder as the portable network runs it (the CNN as it is: it scripts
    and exports; the LSTM through `BiStack`; none: None)."""
    if isinstance(chars, CharCNN):
        return chars
    if isinstance(chars, CharLSTM):
        return _PortableCharLSTM(chars)
    if isinstance(chars, NoChars):
        return None
    raise TypeError(f"no portable form of {type(chars).__name__}")


class PortableTagger(nn.Module):
    """words (B, L) long, chars (B, L, C) long (0: padding), lengths (B,) long ->
    emissions (B, L, T), meaningless at padding. The CRF's scores are not in the
    network: its decoding rules and transition scores travel beside it."""

    def __init__(self, tagger: Tagger) -> None:
        super().__init__()
        self.embedding = tagger.embedding
        chars = _portable_chars(tagger.chars)
        self.with_chars = chars is not None
        self.chars = chars if chars is not None else nn.Identity()
        self.rnn = _bi_stack(tagger.encoder)
        self.projection = tagger.projection

    def forward(self, words: torch.Tensor, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.embedding(words)  # (B, L, E)
        if self.with_chars:
            b, n = words.size(0), words.size(1)
            feats = self.chars(chars.reshape(b * n, chars.size(2))).view(b, n, -1)
            x = torch.cat([x, feats], dim=2)
        states = self.rnn(x.transpose(0, 1), lengths)  # (L, B, 2H)
        return self.projection(states.transpose(0, 1))


class PortableClassifier(nn.Module):
    """words (B, L) long (0: padding), lengths (B,) long -> label logits (B, C)."""

    def __init__(self, classifier: Classifier) -> None:
        super().__init__()
        self.embedding = classifier.embedding
        encoder = classifier.encoder
        self.rnn = _bi_stack(encoder) if encoder.config.bidirectional else _FromZero(encoder)
        self.pooling = classifier.pooling
        self.output = classifier.output

    def forward(self, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        states = self.rnn(self.embedding(words).transpose(0, 1), lengths)  # (L, B, D)
        mask = torch.arange(words.size(1), device=words.device).unsqueeze(0) < lengths.unsqueeze(1)
        pooled, _ = self.pooling(states.transpose(0, 1), mask)
        return self.output(pooled)


class PortableEnsemble(nn.Module):
    """An ensemble's mean label probabilities (B, C) (softmax, or a sigmoid per label)."""

    def __init__(self, ensemble: ClassifierEnsemble) -> None:
        super().__init__()
        self.members = nn.ModuleList(PortableClassifier(m) for m in ensemble.members)  # type: ignore[arg-type]
        self.multi_label = ensemble.config.multi_label

    def forward(self, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        probs = []
        for member in self.members:
            logits = member(words, lengths)
            probs.append(logits.sigmoid() if self.multi_label else logits.softmax(1))
        return torch.stack(probs).mean(0)


class PortableLM(nn.Module):
    """ids (T, B) long, h0 and c0 (layers, B, H) -> next-token logits (T, B, V), h, c
    (c is c0 unchanged for GRU and Elman models)."""

    def __init__(self, lm: RNNLM) -> None:
        super().__init__()
        self.embedding, self.rnn = lm.embedding, _uni_stack(lm.encoder)
        self.projection, self.decoder = lm.projection, lm.decoder

    def forward(self, ids: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                                     torch.Tensor]:
        out, h, c = self.rnn(self.embedding(ids), h0, c0)
        return self.decoder(self.projection(out)), h, c


def portable(model: Any) -> nn.Module:
    """The portable copy of a trained model, in eval mode (an SRU's recurrence as a
    TorchScript loop)."""
    if isinstance(model, Tagger):
        return PortableTagger(model).eval()
    if isinstance(model, ClassifierEnsemble):
        return PortableEnsemble(model).eval()
    if isinstance(model, Classifier):
        return PortableClassifier(model).eval()
    if isinstance(model, RNNLM):
        return PortableLM(model).eval()
    raise TypeError(f"no portable form of {type(model).__name__}")
