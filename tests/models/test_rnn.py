"""Model-zoo tests: gradients against finite differences, initialisation, and a
contract every cell honours (build, forward, finite loss, backward, save/load)."""

import io
import math

import pytest
import torch

from rnn_cli.models import CELLS, MODELS
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
            loss, _ = model.loss(x, y)
        return loss

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


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_contract_forward_loss_backward_save_load(cell):
    torch.manual_seed(1)
    config_cls, model_cls = MODELS["lm"]
    model = model_cls(config_cls(vocab_size=13, cell=cell, embedding_size=6, hidden_size=6, layers=2))
    x, y = torch.randint(0, 13, (5, 3)), torch.randint(0, 13, (5, 3))
    loss, hidden = model.loss(x, y)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    buf = io.BytesIO()
    torch.save({"config": model.config.__dict__, "state": model.state_dict()}, buf)
    buf.seek(0)
    saved = torch.load(buf, weights_only=True)
    clone = model_cls(config_cls(**saved["config"]))
    clone.load_state_dict(saved["state"])
    model.eval(), clone.eval()
    assert torch.equal(model(x)[0], clone(x)[0])


def test_config_validation():
    with pytest.raises(ValueError, match="invalid cell"):
        EncoderConfig(cell="transformer")
    with pytest.raises(ValueError, match="dropout"):
        EncoderConfig(dropout=1.5)
