"""The pieces between the tree readers and the models: layout detection of trees and
CoNLL-U, the SST-2 mapping, phrase items, batches of trees and pairs with their
targets, the tree and pair models' protocol (save -> load -> same predictions, a tree
alone or in a batch, a pair either way round), and the regression metrics against a
direct computation."""

from __future__ import annotations

import math
import random

import pytest
import torch

from rnn_cli import checkpoint
from rnn_cli.data.classification import Example, LabelledSet
from rnn_cli.data.cls_batching import build_class_vocabs
from rnn_cli.data.cls_detect import judge_class_lines
from rnn_cli.data.item_batching import BatchSpec, Side, encode_items
from rnn_cli.data.tree_items import check_items, phrase_items
from rnn_cli.data.trees import parse_ptb, tree_from_heads
from rnn_cli.errors import DataFormatError
from rnn_cli.metrics import regression_scores
from rnn_cli.models import ClassifierConfig
from rnn_cli.models.classifiers import build as build_classifier

TREES = ["(3 (2 It) (4 (2 is) (4 (3 good) (2 fun))))", "(1 (2 not) (3 good))", "(2 (2 a) (2 film))"]


def test_trees_and_conllu_are_detected_and_brackets_in_text_are_not():
    assert judge_class_lines(TREES, True).format == "ptb-trees"
    assert judge_class_lines(["(S", "  (NP (DT the) (NN dog))", "  (VP (VBD ran)))"], True).format == "ptb-trees"
    conllu = ["# label = x", "1\tDogs\t_\tNOUN\t_\t_\t2\tnsubj\t_\t_", "2\trun\t_\tVERB\t_\t_\t0\troot\t_\t_"]
    assert judge_class_lines(conllu, True).format == "conllu"
    assert judge_class_lines(["(see above) a note", "(and this) too"], False).format == "text"
    assert judge_class_lines(["pos (a) b", "neg (c) d"], True).format != "ptb-trees"
    notes = ["(see above) a note", "(and this) too", "(as said) before"]
    assert judge_class_lines(notes, False).format == "text"


def test_a_malformed_tree_among_trees_is_still_read_as_trees():
    """One line with a bracket too many (or two trees on a line) keeps the input trees,
    so that the reader names that line; a tree model takes even one such line as a tree."""
    for bad in ("(3 (2 a) (3 good)))", "(3 (2 a) (3 good)) (2 b)"):
        assert judge_class_lines(TREES + [bad] + TREES, True).format == "ptb-trees"
        assert judge_class_lines([bad], False).format == "text"  # alone, it may be text in brackets
        assert judge_class_lines([bad], False, trained="ptb-trees").format == "ptb-trees"
    assert judge_class_lines(TREES + ["(3 (2 a) (3 good)"], True).format == "ptb-trees"  # unclosed: may go on


def _examples() -> list[Example]:
    trees = [parse_ptb(s, "x", i + 1) for i, s in enumerate(TREES)]
    return [Example(" ".join(t.words), [t.labels[-1]], i + 1, tree=t)  # type: ignore[list-item]
            for i, t in enumerate(trees)]


def test_binary_maps_sst_labels_and_drops_neutral_roots():
    kept = check_items("x", _examples(), {"binary": True})
    assert [e.labels for e in kept] == [["1"], ["0"]]  # the neutral third tree is gone
    assert [x for x in kept[0].tree.labels if x is not None] == ["1"] * 4  # 3 and 4 -> 1, 2 -> none
    with pytest.raises(DataFormatError, match="x:1: label '7'"):
        check_items("x", [Example("a", ["7"], 1)], {"binary": True})


def test_phrase_items_are_every_labelled_node():
    ex = _examples()
    data = LabelledSet("x", ex, [e.tree.words for e in ex], [e.labels for e in ex], 0)  # type: ignore[union-attr]
    items = phrase_items(data, lowercase=True)
    assert len(items.examples) == sum(len(e.tree.labels) for e in ex)  # type: ignore[union-attr]
    assert items.tokens[6] == ["it", "is", "good", "fun"] and items.labels[6] == ["3"]  # the first root, last
    assert (items.tokens[0], items.labels[0]) == (["it"], ["2"])


def test_tree_batches_label_every_node_or_only_the_root():
    ex = _examples()
    vocabs = build_class_vocabs([e.tree.words for e in ex], [["0", "1", "2", "3", "4"]])  # type: ignore[union-attr]
    items = [(Side(e.tree.words, e.tree), None) for e in ex]  # type: ignore[union-attr]
    labels = [e.labels for e in ex]
    every = encode_items(items, vocabs, [0, 1, 2], BatchSpec(trees=True, arity=2), labels)
    roots = encode_items(items, vocabs, [0, 1, 2], BatchSpec(trees=True, arity=2, phrases=False), labels)
    assert int((every.labels >= 0).sum()) == sum(len(e.tree.labels) for e in ex)  # type: ignore[union-attr]
    assert int((roots.labels >= 0).sum()) == 3
    assert roots.labels[roots.roots].tolist() == [vocabs.labels.index(e.labels[0]) for e in ex]  # type: ignore[index]
    pair = encode_items([(Side(["a", "b"]), Side(["b"]))], vocabs, [0], BatchSpec(pair=True, regression=True),
                        [["3.25"]])
    assert pair.labels.dtype == torch.float32 and pair.labels.tolist() == [3.25]
    assert pair.first.words.shape == (1, 2) and pair.second.words.shape == (1, 1)


def _tree_batch(spec: BatchSpec, trees: list, vocab_size: int = 12):
    g = random.Random(0)
    items = [(Side([f"w{g.randrange(vocab_size)}" for _ in t.words], t), None) for t in trees]
    vocabs = build_class_vocabs([s.tokens for s, _ in items], [["0", "1", "2", "3", "4"]])
    return items, vocabs


@pytest.mark.parametrize("cell", ["binary", "child-sum"])
def test_tree_classifier_predicts_alike_alone_in_a_batch_and_after_a_round_trip(tmp_path, cell):
    trees = [parse_ptb(s, "x", 1) for s in TREES]
    spec = BatchSpec(trees=True, arity=2 if cell == "binary" else None)
    items, vocabs = _tree_batch(spec, trees)
    config = ClassifierConfig(vocab_size=len(vocabs.words), num_labels=5, embedding_size=6, hidden_size=5,
                              encoder="tree-lstm", tree_cell=cell, dropout=0.3)
    torch.manual_seed(0)
    model = build_classifier(config).eval()
    batch = encode_items(items, vocabs, [0, 1, 2], spec)
    probs, _ = model.predict(batch)
    for i in range(3):
        alone, _ = model.predict(encode_items([items[i]], vocabs, [0], spec))
        assert torch.allclose(alone[0], probs[i], atol=1e-6)
    path = tmp_path / "m.pt"
    checkpoint.save(path, checkpoint.make_payload("classifier", config.__dict__, {}, vocabs.to_dict(),
                                                  model.state_dict(), {}))
    again, _ = checkpoint.build_model(checkpoint.load(path), str(path))
    assert torch.equal(again.eval().predict(batch)[0], probs)
    # The loss counts labelled nodes only (here the roots: the mean cross-entropy of
    # the roots), and reaches every parameter.
    labelled = encode_items(items, vocabs, [0, 1, 2], BatchSpec(trees=True, arity=spec.arity, phrases=False),
                            [["3"], ["1"], ["2"]])
    loss = model.loss(labelled).value
    roots = labelled.labels[labelled.roots]
    assert torch.allclose(loss, torch.nn.functional.cross_entropy(model(labelled)[labelled.roots], roots))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("encoder", ["rnn", "tree-lstm"])
def test_a_pair_model_scores_either_way_round_and_learns_nothing_from_order(encoder):
    words = "the cat sat on a mat".split()
    heads = [[2, 3, 0, 3, 6, 4], [2, 0]]
    a = Side(words, tree_from_heads(words, heads[0], "x", 1) if encoder == "tree-lstm" else None)
    b = Side(words[:2], tree_from_heads(words[:2], heads[1], "x", 2) if encoder == "tree-lstm" else None)
    vocabs = build_class_vocabs([words], [["1", "2", "3", "4", "5"]])
    spec = BatchSpec(trees=encoder == "tree-lstm", pair=True, regression=True)
    config = ClassifierConfig(vocab_size=len(vocabs.words), num_labels=5, embedding_size=6, hidden_size=5,
                              encoder=encoder, tree_cell="child-sum", pair=True, regression=True)
    torch.manual_seed(0)
    model = build_classifier(config).eval()
    ab, _ = model.predict(encode_items([(a, b)], vocabs, [0], spec))
    ba, _ = model.predict(encode_items([(b, a)], vocabs, [0], spec))
    assert torch.allclose(ab, ba, atol=1e-6)  # product and |difference| are symmetric
    model.train()
    loss = model.loss(encode_items([(a, b), (b, a)], vocabs, [0, 1], spec, [["4.5"], ["1"]])).value
    assert torch.isfinite(loss) and loss > 0


def test_regression_scores_against_a_direct_computation():
    gold = [1.0, 2.0, 2.0, 3.5, 5.0, 4.0]
    pred = [1.2, 1.9, 2.5, 3.0, 4.0, 4.0]
    n = len(gold)
    mg, mp = sum(gold) / n, sum(pred) / n
    r = sum((g - mg) * (p - mp) for g, p in zip(gold, pred)) / math.sqrt(
        sum((g - mg) ** 2 for g in gold) * sum((p - mp) ** 2 for p in pred))
    # Ranks by hand, ties averaged: gold 1, 2.5, 2.5, 4, 6, 5; pred 1, 2, 3, 4, 5.5, 5.5.
    rg, rp = [1, 2.5, 2.5, 4, 6, 5], [1, 2, 3, 4, 5.5, 5.5]
    m = (n + 1) / 2
    rho = sum((x - m) * (y - m) for x, y in zip(rg, rp)) / math.sqrt(
        sum((x - m) ** 2 for x in rg) * sum((y - m) ** 2 for y in rp))
    scores = regression_scores(gold, pred)
    assert scores["pearson"] == pytest.approx(r) and scores["spearman"] == pytest.approx(rho)
    assert scores["mse"] == pytest.approx(sum((g - p) ** 2 for g, p in zip(gold, pred)) / n)
    assert regression_scores([1.0, 2.0], [3.0, 3.0])["pearson"] == 0.0  # a constant prediction
