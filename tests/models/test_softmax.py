import pytest
import torch
import torch.nn.functional as F

from rnn_cli.models.softmax import linear_cross_entropy


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("bias", [True, False])
def test_matches_unfused_cross_entropy(reduction, bias):
    torch.manual_seed(0)
    h = torch.randn(30, 8, dtype=torch.double, requires_grad=True)
    w = torch.randn(50, 8, dtype=torch.double, requires_grad=True)
    b = torch.randn(50, dtype=torch.double, requires_grad=True) if bias else None
    t = torch.randint(0, 50, (30,))
    t[::7] = -100
    ref = F.cross_entropy(F.linear(h, w, b), t, ignore_index=-100, reduction=reduction)
    got = linear_cross_entropy(h, w, b, t, reduction)
    inputs = [h, w] + ([b] if bias else [])
    g_ref = torch.autograd.grad(ref, inputs)
    g_got = torch.autograd.grad(got, inputs)
    assert torch.allclose(ref, got)
    for a, c in zip(g_ref, g_got):
        assert torch.allclose(a, c)


def test_gradcheck_double():
    torch.manual_seed(0)
    h = torch.randn(6, 3, dtype=torch.double, requires_grad=True)
    w = torch.randn(5, 3, dtype=torch.double, requires_grad=True)
    b = torch.randn(5, dtype=torch.double, requires_grad=True)
    t = torch.tensor([0, 4, -100, 2, 2, 1])
    assert torch.autograd.gradcheck(lambda h, w, b: linear_cross_entropy(h, w, b, t), (h, w, b))


def test_bf16_mixed_precision_is_close_to_fp32():
    torch.manual_seed(0)
    h = torch.randn(64, 32, requires_grad=True)
    w = (torch.randn(200, 32) * 0.1).requires_grad_()
    b = torch.zeros(200, requires_grad=True)
    t = torch.randint(0, 200, (64,))
    full = linear_cross_entropy(h, w, b, t)
    half = linear_cross_entropy(h, w, b, t, compute_dtype=torch.bfloat16)
    assert abs(full.item() - half.item()) < 0.02
    gw_full, = torch.autograd.grad(full, [w])
    gw_half, = torch.autograd.grad(half, [w])
    assert gw_half.dtype == torch.float32
    assert torch.nn.functional.cosine_similarity(gw_full.flatten(), gw_half.flatten(), dim=0) > 0.99


def test_all_targets_ignored_gives_zero_not_nan():
    h = torch.randn(3, 4, requires_grad=True)
    w = torch.randn(5, 4, requires_grad=True)
    loss = linear_cross_entropy(h, w, None, torch.full((3,), -100))
    loss.backward()
    assert loss.item() == 0.0 and torch.all(h.grad == 0)
