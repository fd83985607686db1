"""Classifier training pieces: class weights, dev threshold tuning, truncation notes."""

import pytest
import torch

from rnn_cli.data.classification import Example, LabelledSet
from rnn_cli.data.cls_batching import build_class_vocabs
from rnn_cli.metrics import classification_scores
from rnn_cli.models.classifier import Classifier, ClassifierConfig
from rnn_cli.predict import classifier as predict_classifier
from rnn_cli.predict.classifier import THRESHOLDS, LoadedClassifier
from rnn_cli.training import classifier as training
from rnn_cli.training.classifier import TrainClassifierConfig, train_classifier
from rnn_cli.training.events import Info


def labelled(labels):
    tokens = [["w"]] * len(labels)
    return LabelledSet("x.tsv", [Example("w", ls, i + 1) for i, ls in enumerate(labels)], tokens, labels, 0)


def test_class_weights_are_inverse_frequencies():
    data = labelled([["a"], ["a"], ["a"], ["b"]])
    vocabs = build_class_vocabs(data.tokens, data.labels)
    assert training._class_weights(data, vocabs, False).tolist() == pytest.approx([4 / 6, 4 / 2])
    multi = labelled([["a", "b"], ["a"], ["a"], ["b"]])
    # pos_weight = negatives / positives: a 1/3, b 2/2.
    assert training._class_weights(multi, vocabs, True).tolist() == pytest.approx([1 / 3, 1.0])


def test_threshold_tuning_picks_the_best_grid_value(monkeypatch):
    g = torch.Generator().manual_seed(0)
    labels = [["a"], ["a", "b"], ["b", "c"], ["c"], ["a", "c"], ["b"]] * 5
    data = labelled(labels)
    vocabs = build_class_vocabs(data.tokens, data.labels)
    model = Classifier(ClassifierConfig(vocab_size=len(vocabs.words), num_labels=3, multi_label=True))
    probs = torch.rand(len(labels), 3, generator=g)
    monkeypatch.setattr(predict_classifier, "probabilities", lambda *a, **k: probs)
    loaded = LoadedClassifier(model, vocabs, {}, {})
    result = predict_classifier.score_classifier(loaded, data, 8, torch.device("cpu"), tune_threshold=True)
    gold = [set(ls) for ls in labels]

    def micro(t):
        chosen = model.decide(probs, t).tolist()
        pred = [{vocabs.labels.itos[c] for c, on in enumerate(row) if on} for row in chosen]
        return classification_scores(gold, pred, vocabs.labels.itos, True)["micro"]["f1"]

    best = max(micro(t) for t in THRESHOLDS)
    assert result["threshold"] in THRESHOLDS and float(model.threshold) == pytest.approx(result["threshold"])
    assert micro(result["threshold"]) == pytest.approx(best) == pytest.approx(result["micro"]["f1"])


def test_long_items_are_cut_with_a_note(samples, tmp_path):
    cfg = TrainClassifierConfig(epochs=1, max_length=5, hidden_size=8, embedding_size=8)
    events = list(train_classifier(cfg, str(samples / "ewt.genre.dev.tsv"), str(samples / "ewt.genre.dev.tsv"),
                                   tmp_path / "m.pt"))
    notes = [e.message for e in events if isinstance(e, Info) and "--max-length 5" in e.message]
    assert notes and "item(s) longer than" in notes[0]


def test_word_dropout_trains_the_unknown_word_vector(samples, tmp_path):
    """With min_freq 1 no training token is <unk>, so its vector keeps its random start
    (Adam leaves a parameter with zero gradients alone); with --word-dropout, tokens
    hidden behind <unk> train it, and the run stays reproducible."""
    from rnn_cli.checkpoint import load

    train = str(samples / "ewt.genre.dev.tsv")

    def unk_vector(epochs: int, p: float, name: str) -> torch.Tensor:
        cfg = TrainClassifierConfig(epochs=epochs, hidden_size=8, embedding_size=8, word_dropout=p, patience=0)
        list(train_classifier(cfg, train, train, tmp_path / name))
        words = load(tmp_path / name, task="classifier")["vocab"]["words"]
        return load(tmp_path / name, task="classifier")["state_dict"]["embedding.weight"][words.index("<unk>")]

    start = unk_vector(0, 0.0, "untrained.pt")
    assert torch.equal(unk_vector(1, 0.0, "plain.pt"), start)
    dropped = unk_vector(1, 0.3, "dropout.pt")
    assert not torch.allclose(dropped, start, atol=1e-4)
    assert torch.equal(unk_vector(1, 0.3, "again.pt"), dropped)


def test_word_dropout_must_be_a_probability():
    from rnn_cli.errors import ConfigError

    with pytest.raises(ConfigError, match="--word-dropout"):
        TrainClassifierConfig(word_dropout=1.0)


def test_ignored_options_are_those_the_chosen_model_does_not_read():
    from rnn_cli.training.structure import ignored_options

    cfg = TrainClassifierConfig
    assert ignored_options(cfg()) == []
    assert ignored_options(cfg(cell="gru", pooling="attention", attention_size=7)) == []  # a (Bi)RNN reads them
    assert ignored_options(cfg(attention_size=7)) == ["--attention-size"]  # only attention pooling has one
    assert ignored_options(cfg(passes=4, fact_encoder="gru")) == ["--fact-encoder", "--passes"]
    assert ignored_options(cfg(encoder="tree-lstm", cell="gru", layers=2, tree_cell="child-sum")) == [
        "--cell", "--layers"]
    assert ignored_options(cfg(encoder="dmn", bidirectional=False, pair_hidden_size=20)) == [
        "--unidirectional", "--pair-hidden-size"]
    assert ignored_options(cfg(pair=True, pair_hidden_size=20, pooling="mean")) == []
