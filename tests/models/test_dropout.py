"""The zoo's dropout (`models/dropout.py`): nn.Dropout's distribution with a cheaper
mask. An element is kept with probability 1 - p and scaled by 1 / (1 - p), so the
expectation is the input's; the gradient flows through the kept elements only; eval
mode and p = 0 are the identity; a bf16 input stays bf16."""

from __future__ import annotations

import pytest
import torch

from rnn_cli.models.dropout import Dropout, dropout, mask_like


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_kept_fraction_and_scale(p):
    torch.manual_seed(0)
    x = torch.ones(200_000)
    y = dropout(x, p)
    kept = y != 0
    assert abs(kept.float().mean().item() - (1 - p)) < 0.005  # ~7 standard deviations
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / (1 - p)))
    assert abs(y.mean().item() - 1.0) < 0.02  # unbiased


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
    assert mask_like(x, (1, 64), 0.5).shape == (1, 64)
    assert not torch.equal(dropout(x, 0.5), dropout(x, 0.5))
