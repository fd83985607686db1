"""The AWD-LSTM regularisers of the language model (`models/regularisers.py`): locked
dropout shares its mask over time, embedding dropout drops whole words, weight drop
resamples a DropConnect mask on `weight_hh` per call and otherwise computes what the
fused layer computes (outputs, states and gradients), AR/TAR are the formulas, trained
on but not reported; the defaults change nothing, and the SRU refuses what it lacks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from rnn_cli.batches import LMBatch
from rnn_cli.errors import ConfigError
from rnn_cli.models.dropout import dropout
from rnn_cli.models.lm import RNNLM, LMConfig
from rnn_cli.models.regularisers import LAYERED_OPS, LockedDropout, embedding_dropout, layered_forward
from rnn_cli.training.configs import WEIGHT_HH_CELLS, TrainLMConfig
from rnn_cli.training.distributed import Dist
from rnn_cli.training.engine import Engine
from rnn_cli.training.lm import model_config
from rnn_cli.training.options import TrainOptions
from tests.inprocess import error_line, invoke


def lm(cell: str = "lstm", layers: int = 2, **kw) -> RNNLM:
    torch.manual_seed(0)
    base = dict(vocab_size=13, cell=cell, embedding_size=6, hidden_size=5, layers=layers, dropout=0.0)
    return RNNLM(LMConfig(**{**base, **kw}))


def test_locked_dropout_shares_its_mask_over_time_and_scales_the_rest():
    torch.manual_seed(0)
    drop = LockedDropout(0.4).train()
    x = torch.rand(9, 16, 32) + 0.5  # no zeros of its own
    y = drop(x)
    zero = y == 0  # (T, B, D)
    assert torch.equal(zero, zero[:1].expand_as(zero))  # all steps dropped, or none
    assert 0 < zero.float().mean() < 1
    assert not all(torch.equal(zero[0, 0], zero[0, b]) for b in range(1, 16))  # a mask per batch column
    torch.testing.assert_close(y[~zero], x[~zero] / 0.6, rtol=2e-5, atol=0)  # p rounded to 1/65536
    assert torch.equal(drop.eval()(x), x)


def test_embedding_dropout_drops_whole_words_everywhere_in_the_batch():
    torch.manual_seed(0)
    emb = nn.Embedding(20, 8)
    nn.init.uniform_(emb.weight, 0.5, 1.0)
    x = torch.randint(0, 20, (12, 6))
    out = embedding_dropout(emb, x, 0.3, training=True)  # (T, B, E)
    dropped = (out == 0).all(-1)  # (T, B): the whole vector is zero
    words = x[dropped].unique()
    assert len(words) > 0 and len(words) < len(x.unique())
    for w in x.unique():  # a word is dropped at every position it occurs in, or at none
        at = x == w
        assert dropped[at].all() or not dropped[at].any()
    torch.testing.assert_close(out[~dropped], emb(x)[~dropped] / 0.7)
    assert torch.equal(embedding_dropout(emb, x, 0.3, training=False), emb(x))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-tanh"])
def test_layered_forward_without_dropout_is_the_fused_forward(cell):
    model = lm(cell, layers=3)
    rnn = model.encoder.rnn
    x = torch.randn(7, 4, 6)
    h = torch.randn(3, 4, 5)
    hidden = (h, torch.randn(3, 4, 5)) if cell == "lstm" else h
    fused_out, fused_state = rnn(x, hidden)
    out, state = layered_forward(rnn, cell, x, hidden, 0.0, nn.Identity())
    torch.testing.assert_close(out, fused_out, atol=1e-6, rtol=0)
    for a, b in zip(*(s if isinstance(s, tuple) else (s,) for s in (state, fused_state))):
        assert a.shape == (3, 4, 5)
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)

    def grads(result):
        o, s = result
        s = s if isinstance(s, tuple) else (s,)
        objective = o.pow(2).sum() + sum(t.sin().sum() for t in s)
        return torch.autograd.grad(objective, list(rnn.parameters()))

    for a, b in zip(grads(layered_forward(rnn, cell, x, hidden, 0.0, nn.Identity())), grads(rnn(x, hidden))):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_weight_drop_is_dropconnect_on_weight_hh_resampled_per_call():
    model = lm("lstm", layers=1, weight_drop=0.5)
    rnn = model.encoder.rnn
    x = torch.randn(6, 3, 6)
    torch.manual_seed(1)
    out, _ = layered_forward(rnn, "lstm", x, None, 0.5, nn.Identity())
    # The oracle: the fused module with weight_hh replaced by its dropped copy, the same draw.
    torch.manual_seed(1)
    dropped = dropout(rnn.weight_hh_l0, 0.5)
    expected, _ = torch.func.functional_call(rnn, {"weight_hh_l0": dropped}, (x,))
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    again, _ = layered_forward(rnn, "lstm", x, None, 0.5, nn.Identity())
    assert not torch.allclose(out, again)  # a new mask per call
    # The gradient reaches the raw parameter (through the mask).
    (grad,) = torch.autograd.grad(again.sum(), [rnn.weight_hh_l0])
    assert grad.abs().sum() > 0 and (grad == 0).any()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-tanh"])
def test_weight_dropped_lm_differs_per_training_call_and_evaluates_as_the_fused_lm(cell):
    model = lm(cell, weight_drop=0.5, locked_dropout=True, dropout=0.3, embedding_dropout=0.1)
    x = torch.randint(0, 13, (8, 4))
    model.train()
    a, _ = model(x)
    b, _ = model(x)
    assert not torch.allclose(a, b)
    model.eval()
    plain = lm(cell)  # the same weights (same seed), no regulariser
    plain.load_state_dict(model.state_dict())
    assert model.state_dict().keys() == plain.state_dict().keys()
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], plain.eval()(x)[0], atol=0, rtol=0)


def test_locked_dropout_between_layers_runs_the_layered_forward():
    model = lm("gru", locked_dropout=True, hidden_dropout=0.5, embedding_size=5)
    assert model.config.layered and model.config.hidden_rate == 0.5
    seen = []
    model.hidden_dropout.register_forward_hook(lambda m, args, out: seen.append((args[0], out)))
    model.train()(torch.randint(0, 13, (7, 3)))
    ((inp, out),) = seen  # once: between the two layers
    zero = (out == 0) & (inp != 0)
    assert torch.equal(zero, zero[:1].expand_as(zero)) and zero.any()


def test_ar_tar_penalty_is_the_formula_beside_the_reported_loss():
    model = lm("lstm", layers=1, dropout=0.4, ar=2.0, tar=1.0).train()
    x, y = torch.randint(0, 13, (6, 3)), torch.randint(0, 13, (6, 3))
    torch.manual_seed(5)
    out = model.loss(LMBatch(x, y))
    # By hand, with the same dropout draws: input dropout, the encoder, output dropout.
    torch.manual_seed(5)
    h, _ = model.encoder(dropout(model.embedding(x), 0.4))  # (T, B, H)
    dropped = dropout(h, 0.4)
    expected = 2.0 * dropped.pow(2).mean() + 1.0 * (h[1:] - h[:-1]).pow(2).mean()
    torch.testing.assert_close(out.penalty, expected)
    ce = F.cross_entropy(model.decoder(dropped).reshape(-1, 13), y.reshape(-1))
    torch.testing.assert_close(out.value, ce)  # the reported loss leaves the penalty out
    assert model.eval().loss(LMBatch(x, y)).penalty is None
    assert lm("lstm", layers=1).train().loss(LMBatch(x, y)).penalty is None  # ar = tar = 0
    one = model.train().loss(LMBatch(x[:1], y[:1]))
    assert math.isfinite(float(one.penalty.detach()))  # a one-step window: no TAR, no NaN


def test_the_engine_trains_on_the_penalty_and_reports_the_loss():
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    x = torch.randn(8, 3)
    start = [p.detach().clone() for p in model.parameters()]

    def loss(_: object) -> tuple[torch.Tensor, int, torch.Tensor]:
        out = model(x)
        return out.pow(2).mean(), 8, 0.5 * out.abs().mean()

    opts = TrainOptions(optimizer="sgd", lr=0.1, clip=0.0)
    engine = Engine(model, loss, opts, torch.device("cpu"), Dist())
    with torch.no_grad():
        value = float(model(x).pow(2).mean())
    result = engine.step(None, 1)
    assert result.loss_sum == pytest.approx(value * 8, rel=1e-6) and result.items == 8
    ref = nn.Linear(3, 1)
    with torch.no_grad():
        for p, s in zip(ref.parameters(), start):
            p.copy_(s)
    out = ref(x)
    grads = torch.autograd.grad(out.pow(2).mean() + 0.5 * out.abs().mean(), list(ref.parameters()))
    for p, s, g in zip(model.parameters(), start, grads):
        torch.testing.assert_close(p.detach(), s - 0.1 * g)


def test_default_options_train_the_lm_as_before():
    cfg = model_config(TrainLMConfig(hidden_size=5, embedding_size=6), 13)
    assert not cfg.locked_dropout and not cfg.layered and (cfg.weight_drop, cfg.ar, cfg.tar) == (0.0, 0.0, 0.0)
    assert (cfg.input_rate, cfg.hidden_rate, cfg.embedding_dropout) == (0.2, 0.2, 0.0)
    torch.manual_seed(0)
    model = RNNLM(cfg).train()
    assert list(model.state_dict()) == [
        "embedding.weight", "encoder.rnn.weight_ih_l0", "encoder.rnn.weight_hh_l0", "encoder.rnn.bias_ih_l0",
        "encoder.rnn.bias_hh_l0", "encoder.rnn.weight_ih_l1", "encoder.rnn.weight_hh_l1",
        "encoder.rnn.bias_ih_l1", "encoder.rnn.bias_hh_l1", "decoder.weight", "decoder.bias"]
    assert model.encoder.rnn.dropout == 0.2
    x, y = torch.randint(0, 13, (6, 3)), torch.randint(0, 13, (6, 3))
    torch.manual_seed(3)
    out = model.loss(LMBatch(x, y))
    # The LM as it was: dropout on the embeddings, the fused encoder (its own dropout
    # between layers), dropout on the output; the same draws in the same order.
    torch.manual_seed(3)
    h, _ = model.encoder(dropout(model.embedding(x), 0.2))
    expected = F.cross_entropy(model.decoder(dropout(h, 0.2)).reshape(-1, 13), y.reshape(-1))
    torch.testing.assert_close(out.value, expected, rtol=1e-6, atol=1e-6)  # the fused softmax: to rounding
    assert out.penalty is None


def test_the_sru_refuses_weight_drop_and_locked_dropout_between_layers():
    assert WEIGHT_HH_CELLS == tuple(LAYERED_OPS)
    for cell in ("sru", "sru-plain"):
        with pytest.raises(ConfigError, match="--weight-drop needs .*lstm, gru, rnn-tanh, rnn-relu"):
            TrainLMConfig(cell=cell, weight_drop=0.3)
        with pytest.raises(ConfigError, match="--locked-dropout"):
            TrainLMConfig(cell=cell, locked_dropout=True, layers=2)
        with pytest.raises(ValueError, match="weight_drop"):
            LMConfig(vocab_size=5, cell=cell, weight_drop=0.3)
        TrainLMConfig(cell=cell, locked_dropout=True, layers=1)  # no layer boundary: fine
        TrainLMConfig(cell=cell, locked_dropout=True, layers=2, hidden_dropout=0.0)
    res = invoke("train-lm", "no-such-file.txt", "-o", "m.pt", "--cell", "sru", "--weight-drop", "0.3")
    assert res.exit_code == 2
    assert "--weight-drop needs a cell with hidden-to-hidden weights" in error_line(res)
