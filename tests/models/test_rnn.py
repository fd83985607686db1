"""The recurrent encoders and the language model beyond the shared contract
(`test_contract.py`): gradients against finite differences, initialisation, dropout,
weight tying, and the LM's loss and state carried across windows."""

import math

import pytest
import torch

from rnn_cli.batches import LMBatch
from rnn_cli.models import CELLS
from rnn_cli.models.lm import RNNLM, LMConfig
from rnn_cli.models.rnn import EncoderConfig, RNNEncoder


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_encoder_gradients_match_finite_differences(cell):
    torch.manual_seed(0)
    enc = RNNEncoder(EncoderConfig(cell=cell, input_size=3, hidden_size=4, layers=2, bidirectional=True)).double()
    x = torch.randn(5, 2, 3, dtype=torch.double, requires_grad=True)
    params = list(enc.parameters())

    def f(x, *ps):
        with torch.nn.utils.stateless._reparametrize_module(enc, dict(zip([n for n, _ in enc.named_parameters()], ps))):
            out, _ = enc(x)
        return out

    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("tie", [False, True])
def test_lm_loss_gradients_match_finite_differences(cell, tie):
    torch.manual_seed(0)
    model = RNNLM(LMConfig(vocab_size=7, cell=cell, embedding_size=4, hidden_size=5, layers=2, dropout=0.0,
                           tie_weights=tie)).double()
    x = torch.randint(0, 7, (4, 3))
    y = torch.randint(0, 7, (4, 3))
    y[0, 0] = -100  # ignored target
    names = [n for n, _ in model.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in model.parameters()]

    def f(*ps):
        with torch.nn.utils.stateless._reparametrize_module(model, dict(zip(names, ps)), tie_weights=True):
            return model.loss(LMBatch(x, y)).value

    assert torch.autograd.gradcheck(f, tuple(params), eps=1e-6, atol=1e-5)


def test_lstm_forget_bias_is_one_and_weights_in_range():
    enc = RNNEncoder(EncoderConfig(cell="lstm", input_size=6, hidden_size=16, layers=2))
    h = 16
    for name, p in enc.rnn.named_parameters():
        if name.startswith("bias_ih"):
            assert torch.all(p[h : 2 * h] == 1.0)
        elif name.startswith("bias_hh"):
            assert torch.all(p[h : 2 * h] == 0.0)
        if name.startswith("weight"):
            assert p.abs().max() <= 1 / math.sqrt(h)


def test_irnn_recurrence_is_identity():
    enc = RNNEncoder(EncoderConfig(cell="rnn-relu", input_size=3, hidden_size=5, layers=2))
    for name, p in enc.rnn.named_parameters():
        if name.startswith("weight_hh"):
            assert torch.equal(p, torch.eye(5))
        if name.startswith("bias"):
            assert torch.all(p == 0)


def test_dropout_is_not_applied_along_time_or_in_eval():
    torch.manual_seed(0)
    model = RNNLM(LMConfig(vocab_size=11, hidden_size=8, embedding_size=8, layers=2, dropout=0.5))
    model.eval()
    x = torch.randint(0, 11, (6, 2))
    a, _ = model(x)
    b, _ = model(x)
    assert torch.equal(a, b)
    # Only the fused layer's inter-layer dropout is used: no recurrent dropout exists.
    assert model.encoder.rnn.dropout == 0.5 and model.encoder.rnn.num_layers == 2


def test_tied_weights_share_storage_with_projection_when_sizes_differ():
    model = RNNLM(LMConfig(vocab_size=9, embedding_size=4, hidden_size=6, tie_weights=True))
    assert model.decoder.weight is model.embedding.weight
    logits, _ = model(torch.randint(0, 9, (3, 2)))
    assert logits.shape == (3, 2, 9)


def test_lm_loss_is_the_mean_over_scored_tokens_and_carries_the_state():
    torch.manual_seed(0)
    model = RNNLM(LMConfig(vocab_size=9, embedding_size=4, hidden_size=5, layers=2, dropout=0.0)).eval()
    x, y = torch.randint(0, 9, (6, 3)), torch.randint(0, 9, (6, 3))
    y[4:, 2] = -100  # the padded evaluation layout: the last stream ends early
    with torch.no_grad():
        out = model.loss(LMBatch(x, y))
        logits, hidden = model.predict(LMBatch(x))
        expected = torch.nn.functional.cross_entropy(logits.reshape(-1, 9), y.reshape(-1), ignore_index=-100)
        assert out.items == 16 and torch.allclose(out.value, expected, atol=1e-6)
        assert all(torch.equal(a, b) for a, b in zip(out.state, hidden))
        # Two windows, the state carried, are one window.
        first = model.loss(LMBatch(x[:2], y[:2]))
        second = model.loss(LMBatch(x[2:], y[2:], first.state))
    total = first.value * first.items + second.value * second.items
    assert first.items + second.items == 16 and torch.allclose(total / 16, out.value, atol=1e-6)


def test_config_validation():
    with pytest.raises(ValueError, match="invalid cell"):
        EncoderConfig(cell="transformer")
    with pytest.raises(ValueError, match="dropout"):
        EncoderConfig(dropout=1.5)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_forward_padded_equals_the_packed_run_and_keeps_padding_zero(cell):
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(0)
    enc = RNNEncoder(EncoderConfig(cell=cell, input_size=5, hidden_size=4, layers=2, bidirectional=True)).double()
    lengths = torch.tensor([3, 7, 1, 7, 4])
    x = torch.randn(7, 5, 5, dtype=torch.double)
    x[torch.arange(7)[:, None] >= lengths] = float("nan")  # padding is never read
    clean = x.nan_to_num(0.0).requires_grad_()
    got = enc.forward_padded(clean, lengths)
    out, _ = enc(pack_padded_sequence(clean, lengths, enforce_sorted=False))
    want = pad_packed_sequence(out, total_length=7)[0]
    torch.testing.assert_close(got, want)
    assert torch.all(got[torch.arange(7)[:, None] >= lengths] == 0)
    assert not torch.isnan(enc.forward_padded(x, lengths)[torch.arange(7)[:, None] < lengths]).any()
    (g1,) = torch.autograd.grad(got.sum(), [clean])
    (g2,) = torch.autograd.grad(want.sum(), [clean])
    torch.testing.assert_close(g1, g2)
