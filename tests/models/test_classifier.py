"""The classifier model beyond the shared contract (`test_contract.py`): what each
pooling mode computes, attention is a distribution over real tokens, the loss gradient
is right, decisions follow the single-/multi-label rules, and an ensemble averages."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from rnn_cli.batches import ClassBatch
from rnn_cli.metrics import classification_scores
from rnn_cli.models.classifier import Classifier, ClassifierConfig
from rnn_cli.models.pooling import POOLINGS


def make(pooling, cell="lstm", bidirectional=True, multi_label=False, dtype=torch.float32):
    torch.manual_seed(0)
    cfg = ClassifierConfig(vocab_size=30, num_labels=4, embedding_size=8, cell=cell, hidden_size=6, layers=2,
                           bidirectional=bidirectional, pooling=pooling, attention_size=5, dropout=0.3,
                           multi_label=multi_label)
    return Classifier(cfg).to(dtype).eval()


def batch(lengths, seed=0, labels=None, weights=None):
    g = torch.Generator().manual_seed(seed)
    words = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    for i, n in enumerate(lengths):
        words[i, :n] = torch.randint(2, 30, (n,), generator=g)
    return ClassBatch(words, torch.tensor(lengths), labels, list(range(len(lengths))), weights)


def test_pooling_is_a_module_chosen_when_the_model_is_built():
    for name, cls in POOLINGS.items():
        model = make(name)
        assert type(model.pooling) is cls
        assert any(True for _ in model.pooling.parameters()) == (name == "attention")


@pytest.mark.parametrize("cell, bidirectional", [("lstm", True), ("gru", False)])
def test_last_pooling_is_each_directions_final_state(cell, bidirectional):
    model = make("last", cell, bidirectional)
    b = batch([5, 2, 7, 1])
    with torch.no_grad():
        pooled, _ = model.encode(b)
        x = model.embedding(b.words).transpose(0, 1)  # (L, B, E)
        _, hidden = model.encoder(pack_padded_sequence(x, b.lengths, enforce_sorted=False))
    h = hidden[0] if isinstance(hidden, tuple) else hidden  # (layers * D, B, H), top layer last
    d = 2 if bidirectional else 1
    torch.testing.assert_close(pooled, torch.cat([h[-d + i] for i in range(d)], dim=1))


def test_attention_is_a_distribution_over_real_tokens():
    model = make("attention")
    b = batch([5, 2, 7])
    probs, weights = model.predict(b)
    assert weights.shape == (3, 7)
    torch.testing.assert_close(weights.sum(1), torch.ones(3))
    assert weights[~b.mask].eq(0).all() and weights[b.mask].gt(0).all()
    torch.testing.assert_close(probs.sum(1), torch.ones(3))
    assert make("max").predict(b)[1] is None


class _Loss(torch.nn.Module):
    """`model.loss` as a forward, so that `functional_call` can swap in parameters."""

    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, batch):
        return self.m.loss(batch).value


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("multi_label", [False, True])
def test_loss_gradient_matches_finite_differences(pooling, multi_label):
    model = make(pooling, multi_label=multi_label, dtype=torch.float64)
    model.dropout.p = 0.0
    labels = (torch.tensor([[1.0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=torch.float64) if multi_label
              else torch.tensor([0, 3, 1]))
    b = batch([4, 2, 3], labels=labels, weights=torch.tensor([1.0, 2.0, 0.5, 1.5], dtype=torch.float64))
    wrapper = _Loss(model)
    names = ["m.output.weight", "m.embedding.weight"]
    names += ["m.pooling.attention.weight"] if pooling == "attention" else []
    start = [dict(wrapper.named_parameters())[n].detach().clone().requires_grad_(True) for n in names]

    def loss(*values):
        return torch.func.functional_call(wrapper, dict(zip(names, values)), (b,))

    assert torch.autograd.gradcheck(loss, tuple(start), eps=1e-6, atol=1e-5, fast_mode=True)


def test_decisions_single_and_multi_label():
    probs = torch.tensor([[0.1, 0.6, 0.2, 0.7], [0.3, 0.2, 0.1, 0.1]])
    single = make("max").decide(torch.tensor([[0.1, 0.5, 0.4, 0.0]]))
    assert single.tolist() == [[False, True, False, False]]
    multi = make("max", multi_label=True)
    assert multi.decide(probs, 0.5).tolist() == [[False, True, False, True], [True, False, False, False]]
    multi.threshold.fill_(0.65)
    assert multi.decide(probs).tolist() == [[False, False, False, True], [True, False, False, False]]
    reloaded = make("max", multi_label=True)
    reloaded.load_state_dict(multi.state_dict())  # the threshold is saved with the weights
    assert float(reloaded.threshold) == pytest.approx(0.65)


def test_scores_by_their_definitions():
    gold = [{"a"}, {"a", "b"}, {"b"}, {"c"}]
    pred = [{"a"}, {"a"}, {"b", "c"}, {"c"}]
    s = classification_scores(gold, pred, ["a", "b", "c"], multi_label=True)
    # a: tp 2; b: tp 1, fn 1; c: tp 1, fp 1 -> micro P 4/5, R 4/5.
    assert s["micro"]["precision"] == pytest.approx(0.8) and s["micro"]["recall"] == pytest.approx(0.8)
    assert s["labels"]["b"]["recall"] == pytest.approx(0.5) and s["labels"]["c"]["precision"] == pytest.approx(0.5)
    assert s["accuracy"] == pytest.approx(0.5)  # subset accuracy: items 0 and 3
    one = classification_scores([{"a"}, {"b"}, {"b"}], [{"a"}, {"a"}, {"b"}], ["a", "b"])
    assert one["accuracy"] == pytest.approx(2 / 3)
    assert one["confusion"]["matrix"] == [[1, 0], [1, 1]]
    assert one["macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / 2)


@pytest.mark.parametrize("pooling, multi_label", [("attention", False), ("max", True)])
def test_ensemble_averages_its_members(pooling, multi_label):
    """An ensemble's probabilities (and attention) are the mean of its members', its
    loss the sum of theirs; the members start apart."""
    from rnn_cli.models.classifier import ClassifierEnsemble, build_classifier

    torch.manual_seed(0)
    cfg = ClassifierConfig(vocab_size=30, num_labels=4, embedding_size=8, hidden_size=6, pooling=pooling,
                           attention_size=5, dropout=0.3, multi_label=multi_label, members=3)
    model = build_classifier(cfg).eval()
    assert isinstance(model, ClassifierEnsemble) and len(model.members) == 3
    first, second = (m.embedding.weight for m in model.members[:2])
    assert not torch.allclose(first, second)
    labels = torch.tensor([[1.0, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0]]) if multi_label \
        else torch.tensor([0, 1, 2, 3])
    b = batch([5, 2, 7, 1], labels=labels)
    probs, attention = model.predict(b)
    outs = [m.predict(b) for m in model.members]
    torch.testing.assert_close(probs, sum(p for p, _ in outs) / 3)
    if pooling == "attention":
        torch.testing.assert_close(attention, sum(a for _, a in outs) / 3)
        torch.testing.assert_close(attention.sum(1), torch.ones(4))
    else:
        assert attention is None
        assert model.decide(probs).shape == (4, 4)
    loss = model.loss(b)
    torch.testing.assert_close(loss.value, sum(m.loss(b).value for m in model.members))
    assert loss.items == 4
    assert isinstance(build_classifier(ClassifierConfig(vocab_size=30, num_labels=4)), Classifier)
