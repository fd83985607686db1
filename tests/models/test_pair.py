"""The pair head and Tai et al.'s sparse score distribution: hand-computed targets, the
KL loss against the sum written out, and a head that learns a synthetic relatedness."""

from __future__ import annotations

import math

import pytest
import torch

from rnn_cli.models.pair import PairHead, expected_score, kl_loss, pair_features, sparse_target


def test_sparse_target_by_hand():
    target = sparse_target(torch.tensor([1.0, 1.3, 4.5, 5.0]), low=1, k=5)
    expected = torch.tensor([
        [1.0, 0.0, 0.0, 0.0, 0.0],
        [0.7, 0.3, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.5, 0.5],
        [0.0, 0.0, 0.0, 0.0, 1.0],
    ])
    torch.testing.assert_close(target, expected, rtol=0, atol=1e-6)


def test_sparse_target_rows_are_distributions_with_mean_the_score():
    torch.manual_seed(0)
    y = torch.cat([1 + 4 * torch.rand(200, dtype=torch.float64), torch.arange(1, 6, dtype=torch.float64)])
    target = sparse_target(y, low=1, k=5)
    assert target.dtype == torch.float64 and bool((target >= 0).all())
    torch.testing.assert_close(target.sum(1), torch.ones_like(y), rtol=0, atol=1e-12)
    torch.testing.assert_close(expected_score(target, low=1), y, rtol=0, atol=1e-12)
    assert bool(((target > 0).sum(1) <= 2).all())  # mass on floor(y) and floor(y) + 1 only


def test_other_ranges_and_integer_scores():
    torch.testing.assert_close(sparse_target(torch.tensor([0, 2]), low=0, k=3),
                               torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
    torch.testing.assert_close(sparse_target(torch.tensor([-1.25]), low=-2, k=4), torch.tensor([[0.25, 0.75, 0, 0]]))
    torch.testing.assert_close(sparse_target(torch.tensor([3.0]), low=3, k=1), torch.tensor([[1.0]]))


@pytest.mark.parametrize("score", [0.99, 5.01, -3.0, float("nan")])
def test_sparse_target_refuses_scores_out_of_range(score):
    with pytest.raises(ValueError, match="outside"):
        sparse_target(torch.tensor([2.0, score]), low=1, k=5)


def test_expected_score_is_r_transpose_p():
    probs = torch.tensor([[0.1, 0.2, 0.3, 0.4], [1.0, 0.0, 0.0, 0.0]])
    torch.testing.assert_close(expected_score(probs, low=2), torch.tensor([2 * 0.1 + 3 * 0.2 + 4 * 0.3 + 5 * 0.4, 2.0]))


def test_kl_loss_is_the_sum_of_p_log_p_over_q():
    torch.manual_seed(1)
    logits = torch.randn(6, 5, dtype=torch.float64)
    target = sparse_target(1 + 4 * torch.rand(6, dtype=torch.float64), low=1, k=5)
    q = torch.softmax(logits, -1)
    direct = sum(p * math.log(p / qq) for row_p, row_q in zip(target.tolist(), q.tolist())
                 for p, qq in zip(row_p, row_q) if p > 0) / 6
    assert abs(kl_loss(logits, target).item() - direct) < 1e-12
    assert kl_loss(torch.log(target.clamp_min(1e-300)), target).item() == pytest.approx(0.0, abs=1e-9)


def test_pair_features_and_head_shapes():
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    torch.testing.assert_close(pair_features(a, b), torch.cat([a * b, (a - b).abs()], -1))
    head = PairHead(3, 7, 5)
    assert head(a, b).shape == (4, 5)
    torch.testing.assert_close(head(a, b), head(b, a))  # the features do not see the order
    with pytest.raises(ValueError, match="num_outputs"):
        PairHead(3, 7, 0)


def test_head_learns_a_synthetic_relatedness():
    """Score 1 + 4 (1 + cos) / 2 of two unit vectors hr = a hl + sqrt(1 - a^2) noise."""
    torch.manual_seed(2)
    n, d = 512, 8

    def data(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hl = torch.nn.functional.normalize(torch.randn(n, d), dim=1)
        noise = torch.nn.functional.normalize(torch.randn(n, d), dim=1)
        a = 2 * torch.rand(n, 1) - 1
        hr = torch.nn.functional.normalize(a * hl + (1 - a * a).sqrt() * noise, dim=1)
        return hl, hr, (1 + 2 * (1 + (hl * hr).sum(1))).clamp(1, 5)

    hl, hr, y = data(n)
    target = sparse_target(y, low=1, k=5)
    head = PairHead(d, 32, 5)
    opt = torch.optim.Adam(head.parameters(), lr=0.01)
    losses = []
    for _ in range(300):
        loss = kl_loss(head(hl, hr), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]
    test_l, test_r, test_y = data(256)
    with torch.no_grad():
        pred = expected_score(torch.softmax(head(test_l, test_r), -1), low=1)
    assert torch.corrcoef(torch.stack([pred, test_y]))[0, 1] > 0.95
    assert (pred - test_y).abs().mean() < 0.3


@pytest.mark.parametrize("encoder", ["tree-lstm", "rnn"])
def test_pair_dropout_is_one_mask_for_both_sides(encoder):
    """In training, a pair of two equal texts reaches the head as two equal vectors
    (one dropout mask per pair, none inside the encoder), dropped all the same."""
    from rnn_cli.batches import ClassBatch, PairBatch
    from rnn_cli.data.tree_batching import encode_trees
    from rnn_cli.data.trees import tree_from_heads
    from rnn_cli.models.classifier import ClassifierConfig
    from rnn_cli.models.classifiers import build

    torch.manual_seed(0)
    config = ClassifierConfig(vocab_size=10, num_labels=5, embedding_size=6, hidden_size=8, encoder=encoder,
                              tree_cell="child-sum", pair=True, regression=True, dropout=0.5)
    model = build(config)
    words = [["a", "b", "c"], ["d", "e"]]
    if encoder == "tree-lstm":
        trees = [tree_from_heads(w, [0] + [1] * (len(w) - 1), "x", 1) for w in words]
        side = encode_trees([[3, 4, 5], [6, 7]], trees, None, [0, 1])
    else:
        side = ClassBatch(torch.tensor([[3, 4, 5], [6, 7, 0]]), torch.tensor([3, 2]), None, [0, 1])
    seen = []
    model.head.register_forward_hook(lambda module, args, out: seen.append(args))
    model.train()
    model(PairBatch(side, side, None, [0, 1]))
    model.eval()
    model(PairBatch(side, side, None, [0, 1]))
    (train_l, train_r), (eval_l, eval_r) = seen
    torch.testing.assert_close(train_l, train_r)
    assert (train_l == 0).any() and not torch.allclose(train_l, eval_l)  # dropped, not switched off
