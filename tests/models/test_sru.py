"""The SRU: the compiled recurrence against finite differences and against the PyTorch
loop, a layer against the equations written out here, padding invariance in both
directions, and the cell in the zoo's encoder."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnn_cli.models import sru_kernel
from rnn_cli.models.rnn import EncoderConfig, RNNEncoder
from rnn_cli.models.sru import SRU, PlainSRU

LENGTHS = torch.tensor([7, 3, 5, 1])

pytestmark = pytest.mark.skipif(sru_kernel.compiled() is None, reason="the SRU's C++ loop could not be built here")


def inputs(directions: int, k: int, steps: int = 6, batch: int = 4, hidden: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)

    u, xh = r(directions, steps, batch, k, hidden), (r(directions, steps, batch, hidden) if k == 3 else None)
    v, b, c0 = r(directions, 2, hidden), r(directions, 2, hidden), r(directions, batch, hidden)
    mask = torch.arange(steps).unsqueeze(1) < torch.tensor([6, 2, 4, 1])[:batch].unsqueeze(0)
    return u, xh, v, b, c0, mask


@pytest.mark.parametrize("directions,k", [(1, 3), (2, 3), (2, 4)])
def test_compiled_gradients_match_finite_differences(directions, k):
    u, xh, v, b, c0, mask = inputs(directions, k)
    tensors = [t for t in (u, xh, v, b, c0) if t is not None]

    def run(*ts):
        it = iter(ts)
        a, x = next(it), (next(it) if xh is not None else None)
        return sru_kernel.recurrence(a, x, next(it), next(it), next(it), mask)

    assert torch.autograd.gradcheck(run, tensors)


@pytest.mark.parametrize("directions,k", [(1, 3), (2, 4)])
def test_compiled_loop_equals_the_pytorch_loop(directions, k):
    u, xh, v, b, c0, mask = inputs(directions, k, steps=9, hidden=5, seed=1)
    tensors = [t for t in (u, xh, v, b, c0) if t is not None]
    outs = []
    for fn in (sru_kernel.recurrence, sru_kernel.reference):
        h, c = fn(u, xh, v, b, c0, mask)
        w = torch.linspace(-1, 1, h.numel(), dtype=h.dtype).view_as(h)
        outs.append((h, c, torch.autograd.grad((h * w).sum() + c.sum(), tensors)))
    (h1, c1, g1), (h2, c2, g2) = outs
    assert torch.allclose(h1, h2, atol=1e-12) and torch.allclose(c1, c2, atol=1e-12)
    assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(g1, g2))
    assert torch.all(h1[:, 2:, 1] == 0)  # padding gives zeros


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_large_preactivations_saturate_instead_of_turning_into_nan(dtype):
    # The loop is built with -ffast-math, whose exp and tanh overflowed into NaN for
    # arguments past about 44 (a training run's weights grew that large after 45 epochs
    # of CoNLL-2003 and it stopped on a NaN loss); the PyTorch loop saturates.
    u, xh, v, b, c0, mask = inputs(2, 4, steps=7, hidden=8, seed=2)
    for scale in (50.0, 1e3, 1e5):
        big = (u.detach() * scale).to(dtype).requires_grad_(True)
        args = [t.detach().to(dtype) for t in (v, b, c0)]
        outs = []
        for fn in (sru_kernel.recurrence, sru_kernel.reference):
            h, c = fn(big, None, *args, mask)
            outs.append((h, c, torch.autograd.grad(h.sum() + c.sum(), big)[0]))
        (h1, c1, g1), (h2, c2, g2) = outs
        assert torch.isfinite(h1).all() and torch.isfinite(c1).all() and torch.isfinite(g1).all(), scale
        # The values are sums of terms of the input's size: compared at that scale.
        for ours, torchs in ((h1, h2), (c1, c2), (g1, g2)):
            assert torch.allclose(ours, torchs, rtol=1e-4, atol=1e-5 * scale), scale


def plain_sru(layer, x):
    """One direction of an SRU layer over a full sequence, straight from the equations."""
    hidden = layer.hidden_size
    w = layer.weight.view(layer.directions, layer.projections, hidden, -1)[0]  # (K, H, I)
    v, b = layer.v[0], layer.bias[0]
    c = torch.zeros(x.size(1), hidden, dtype=x.dtype)
    out = []
    for x_t in x:
        ux, uf, ur = (x_t @ w[i].t() for i in range(3))
        xh = x_t @ w[3].t() if layer.projections == 4 else x_t
        f = torch.sigmoid(uf + v[0] * c + b[0])
        r = torch.sigmoid(ur + v[1] * c + b[1])
        c = f * c + (1 - f) * ux
        out.append(r * torch.tanh(c) + (1 - r) * xh)
    return torch.stack(out), c


@pytest.mark.parametrize("size", [4, 3])  # highway from x itself, and from a projection of x
def test_a_layer_computes_the_equations(size):
    torch.manual_seed(2)
    sru = SRU(size, 4).double()
    with torch.no_grad():
        sru.layers[0].bias.uniform_(-1, 1)
    x = torch.randn(5, 3, size, dtype=torch.float64)
    out, c = sru(x)
    want, want_c = plain_sru(sru.layers[0], x)
    assert torch.allclose(out, want, atol=1e-12) and torch.allclose(c[0], want_c, atol=1e-12)


def test_plain_sru_has_no_vector_recurrence():
    plain = PlainSRU(4, 4)
    assert "layers.0.v" not in dict(plain.named_parameters()) and torch.all(plain.layers[0].v == 0)
    assert "layers.0.v" in dict(SRU(4, 4).named_parameters())


@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_never_changes_a_rows_outputs(bidirectional):
    torch.manual_seed(3)
    sru = SRU(5, 4, num_layers=2, bidirectional=bidirectional).eval()
    x = torch.randn(7, 4, 5)
    packed, c = sru(pack_padded_sequence(x, LENGTHS, enforce_sorted=False))
    out, _ = pad_packed_sequence(packed)
    for row, n in enumerate(LENGTHS.tolist()):
        alone, c_alone = sru(x[:n, row : row + 1])
        assert torch.allclose(out[:n, row], alone[:, 0], atol=1e-6)
        assert torch.allclose(c[:, row], c_alone[:, 0], atol=1e-6)
        assert torch.all(out[n:, row] == 0)


def test_the_encoder_takes_sru_cells_like_the_others():
    torch.manual_seed(4)
    for cell in ("sru", "sru-plain"):
        enc = RNNEncoder(EncoderConfig(cell=cell, input_size=6, hidden_size=5, layers=2, bidirectional=True))
        out, state = enc(torch.randn(4, 3, 6))
        assert out.shape == (4, 3, 10) and state.shape == (4, 3, 5)
        out.sum().backward()
        assert all(p.grad is not None for p in enc.parameters())
