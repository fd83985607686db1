"""The portable networks (models/portable.py) compute what the zoo's models compute,
for every cell, char encoder, pooling and depth, as Python modules and once scripted,
and a row's scores do not depend on the other rows of its batch."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnn_cli.batches import ClassBatch, TagBatch
from rnn_cli.models.classifier import ClassifierConfig, build_classifier
from rnn_cli.models.lm import RNNLM, LMConfig
from rnn_cli.models.portable import portable
from rnn_cli.models.reverse import reverse_index
from rnn_cli.models.tagger import Tagger, TaggerConfig

LENGTHS = torch.tensor([7, 2, 5, 1])


def padded_inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(7)[None] < LENGTHS[:, None]
    words = torch.randint(2, 40, (4, 7), generator=g) * mask
    chars = torch.randint(1, 20, (4, 7, 6), generator=g) * mask[..., None]
    chars[:, :, 4:] = 0  # words of up to 4 characters
    chars[0, 0, 1:] = 0  # and one of a single character
    return words, chars, mask


def test_reverse_index_reverses_each_row_within_its_length_and_is_its_own_inverse():
    index = reverse_index(LENGTHS, 7)
    assert index[:, 1].tolist() == [1, 0, 2, 3, 4, 5, 6]
    assert index[:, 2].tolist() == [4, 3, 2, 1, 0, 5, 6]
    assert torch.equal(index.gather(0, index), torch.arange(7)[:, None].expand(7, 4))


@pytest.mark.parametrize("chars,cell,layers", [("cnn", "lstm", 1), ("lstm", "gru", 2), ("none", "rnn-tanh", 2),
                                               ("cnn", "rnn-relu", 1), ("cnn", "sru", 2), ("none", "sru-plain", 1)])
def test_tagger_emissions(chars, cell, layers):
    torch.manual_seed(1)
    model = Tagger(TaggerConfig(40, 20, 5, word_embedding_size=8, char_encoder=chars, char_embedding_size=4,
                                char_filters=3, cell=cell, layers=layers, hidden_size=6)).eval()
    words, char_ids, mask = padded_inputs()
    with torch.no_grad():
        want = model.emissions(TagBatch(words, char_ids, mask, None, LENGTHS, list(range(4))))
        net = portable(model)
        got = net(words, char_ids, LENGTHS)
        scripted = torch.jit.script(net)(words, char_ids, LENGTHS)
        alone = net(words[1:2, :2], char_ids[1:2, :2], LENGTHS[1:2])  # row 1 without the others' padding
    assert torch.allclose(got[mask], want[mask], atol=1e-6)
    assert torch.equal(scripted, got)
    assert torch.allclose(alone[0], got[1, :2], atol=1e-6)


@pytest.mark.parametrize("pooling,bidirectional,members,cell", [
    *itertools.product(["last", "mean", "max", "attention"], [True, False], [1, 2], ["lstm"]),
    ("last", True, 1, "sru"), ("max", False, 1, "sru"), ("mean", True, 2, "sru-plain")])
def test_classifier_probabilities(pooling, bidirectional, members, cell):
    torch.manual_seed(2)
    model = build_classifier(ClassifierConfig(40, 3, embedding_size=8, hidden_size=6, layers=2, cell=cell,
                                              bidirectional=bidirectional, pooling=pooling, members=members)).eval()
    words, _, _ = padded_inputs(3)
    with torch.no_grad():
        want, _ = model.predict(ClassBatch(words, LENGTHS, None, list(range(4))))
        out = torch.jit.script(portable(model))(words, LENGTHS)
    got = out.softmax(1) if members == 1 else out  # one model gives logits, an ensemble its mean probabilities
    assert torch.allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("cell,tie", [("lstm", True), ("gru", False), ("rnn-tanh", False), ("sru", False)])
def test_language_model_logits_and_state(cell, tie):
    torch.manual_seed(3)
    model = RNNLM(LMConfig(30, cell=cell, embedding_size=8, hidden_size=8 if tie else 6, layers=2,
                           tie_weights=tie)).eval()
    ids = torch.randint(0, 30, (5, 3))
    h0 = torch.randn(2, 3, model.config.hidden_size)
    c0 = torch.randn(2, 3, model.config.hidden_size)
    hidden = (h0, c0) if cell == "lstm" else h0
    with torch.no_grad():
        want, state = model(ids, hidden)
        logits, h, c = torch.jit.script(portable(model))(ids, h0, c0)
    assert torch.allclose(logits, want, atol=1e-6)
    if cell == "lstm":
        assert torch.allclose(h, state[0], atol=1e-6) and torch.allclose(c, state[1], atol=1e-6)
    else:
        assert torch.allclose(h, state, atol=1e-6) and torch.equal(c, c0)
