"""`--ensemble N` for Tree-LSTM and sentence-pair classifiers: members that start
apart, root and node probabilities the mean of the members', a regression model's
score the mean of their scores, the loss the sum of theirs."""

from __future__ import annotations

import torch

from rnn_cli.batches import PairBatch
from rnn_cli.data.tree_batching import encode_trees
from rnn_cli.data.trees import parse_ptb, tree_from_heads
from rnn_cli.models.classifier import ClassifierConfig, ClassifierEnsemble
from rnn_cli.models.classifiers import build
from rnn_cli.models.pair import expected_score
from rnn_cli.models.pair_classifier import PairClassifier
from rnn_cli.models.tree_classifier import TreeClassifier

TREES = ["(3 (2 it) (4 (2 works) (3 well)))", "(1 (2 it) (0 fails))", "(2 fine)"]


def ptb_batch() -> object:
    trees = [parse_ptb(text, "x", i + 1) for i, text in enumerate(TREES)]
    words = [[ord(w[0]) % 9 + 1 for w in t.words] for t in trees]
    labels = [[int(x) for x in t.labels] for t in trees]
    return encode_trees(words, trees, labels, list(range(len(trees))), arity=2)


def test_an_ensemble_of_tree_lstms_averages_roots_and_nodes() -> None:
    torch.manual_seed(3)
    config = ClassifierConfig(vocab_size=10, num_labels=5, embedding_size=6, hidden_size=5, encoder="tree-lstm",
                              dropout=0.0, members=3)
    model = build(config).eval()
    assert isinstance(model, ClassifierEnsemble) and all(isinstance(m, TreeClassifier) for m in model.members)
    first, second = (m.embedding.weight for m in model.members[:2])
    assert not torch.allclose(first, second)
    batch = ptb_batch()
    with torch.no_grad():
        probs, attention = model.predict(batch)
        nodes = model.predict_nodes(batch)
        loss = model.loss(batch)
        outs = [m.predict(batch)[0] for m in model.members]
        member_nodes = [m.predict_nodes(batch) for m in model.members]
        losses = [m.loss(batch).value for m in model.members]
    assert attention is None and probs.shape == (3, 5) and nodes.shape == (batch.words.numel(), 5)
    torch.testing.assert_close(probs, sum(outs) / 3)
    torch.testing.assert_close(nodes, sum(member_nodes) / 3)
    torch.testing.assert_close(nodes[batch.roots], probs)
    assert not torch.allclose(outs[0], outs[1])  # the members disagree: the mean is not any one of them
    torch.testing.assert_close(loss.value, sum(losses))
    assert loss.items == 3


def test_an_ensemble_of_pair_regressors_predicts_the_mean_score() -> None:
    torch.manual_seed(4)
    config = ClassifierConfig(vocab_size=10, num_labels=5, embedding_size=6, hidden_size=5, encoder="tree-lstm",
                              tree_cell="child-sum", pair=True, regression=True, pair_hidden_size=4, dropout=0.0,
                              members=2)
    model = build(config).eval()
    assert isinstance(model, ClassifierEnsemble) and all(isinstance(m, PairClassifier) for m in model.members)
    left = [tree_from_heads(["a", "b", "c"], [2, 0, 2], "x", 1), tree_from_heads(["d"], [0], "x", 2)]
    right = [tree_from_heads(["c", "a"], [0, 1], "x", 1), tree_from_heads(["b", "d"], [2, 0], "x", 2)]

    def side(trees: list) -> object:
        return encode_trees([[ord(w[0]) % 9 + 1 for w in t.words] for t in trees], trees, None, [0, 1])

    batch = PairBatch(side(left), side(right), torch.tensor([4.3, 1.0]), [0, 1])
    with torch.no_grad():
        probs, _ = model.predict(batch)
        members = [m.predict(batch)[0] for m in model.members]
        loss = model.loss(batch).value
        losses = [m.loss(batch).value for m in model.members]
    score = expected_score(probs, config.score_low)
    scores = [expected_score(p, config.score_low) for p in members]
    torch.testing.assert_close(score, (scores[0] + scores[1]) / 2)
    assert not torch.allclose(scores[0], scores[1])
    torch.testing.assert_close(loss, losses[0] + losses[1])
