"""The zoo's dropout (`models/dropout.py`): nn.Dropout's distribution with a cheaper
mask. An element is kept with probability 1 - q and scaled by 1 / (1 - q), q being p
rounded to a multiple of 1/65536, so the expectation is the input's; the gradient
flows through the kept elements only; eval mode and p = 0 are the identity; a bf16
input stays bf16."""

from __future__ import annotations

import pytest
import torch

from rnn_cli.models.dropout import Dropout, dropout, mask_like


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8, 0.99])
@pytest.mark.parametrize("n", [200_001, 200_000])  # a size that is not a multiple of 4 too
def test_kept_fraction_and_scale(p, n):
    torch.manual_seed(0)
    x = torch.ones(n)
    y = dropout(x, p)
    kept = y != 0
    sd = (p * (1 - p) / n) ** 0.5
    assert abs(kept.float().mean().item() - (1 - p)) < 6 * sd + 2**-17
    q = round(p * 65536) / 65536
    assert abs(q - p) <= 2**-17
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / (1 - q)), rtol=1e-6)
    assert abs(y.mean().item() - 1.0) < 6 * sd / (1 - p)  # unbiased


def test_masks_are_independent_of_their_neighbours():
    # Four elements share one 64-bit draw: each 16-bit lane must still be its own coin.
    torch.manual_seed(2)
    kept = (dropout(torch.ones(400_000), 0.5) != 0).view(-1, 4).float()
    assert torch.allclose(kept.mean(0), torch.full((4,), 0.5), atol=0.005)
    pairs = (kept[:, :3] * kept[:, 1:]).mean(0)  # P(both kept) = 0.25 when independent
    assert torch.allclose(pairs, torch.full((3,), 0.25), atol=0.005)


def test_gradient_is_the_mask_and_eval_is_the_identity():
    torch.manual_seed(1)
    layer = Dropout(0.3)
    x = torch.randn(50, 40, requires_grad=True)
    y = layer(x)
    (g,) = torch.autograd.grad(y.sum(), [x])
    assert torch.equal(g != 0, y != 0) and torch.allclose(g[g != 0], torch.full_like(g[g != 0], 1 / 0.7))
    assert torch.equal(layer.eval()(x), x) and dropout(x, 0.0) is x and dropout(x, 0.5, training=False) is x
    with pytest.raises(ValueError):
        Dropout(1.0)


def test_masks_keep_the_dtype_and_differ_between_calls():
    x = torch.ones(64, 64, dtype=torch.bfloat16)
    assert dropout(x, 0.5).dtype == torch.bfloat16
    assert mask_like(x, [1, 64], 0.5).shape == (1, 64)
    assert not torch.equal(dropout(x, 0.5), dropout(x, 0.5))
