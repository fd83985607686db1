"""The dev set a trainer holds out of its training data when it has no --dev."""

from collections import Counter

import pytest

from rnn_cli.data.classification import Example, LabelledSet
from rnn_cli.data.holdout import held_out, split_holdout, split_labelled
from rnn_cli.errors import ConfigError


def test_one_in_ten_the_same_every_time_and_not_every_tenth_in_file_order():
    out = held_out(1000)
    assert sum(out) == 100 and out == held_out(1000)
    # A file whose labels repeat with period 5 (or 10): every 10th row would be one label.
    labels = [k % 5 for k in range(1000)]
    assert len({labels[k] for k in range(1000) if out[k]}) == 5
    assert [k for k in range(1000) if out[k]] != list(range(9, 1000, 10))


def test_split_keeps_order_and_every_item_once():
    items = list(range(57))
    train, dev = split_holdout(items, "f.txt", "sentences")
    assert len(dev) == 5 and sorted(train + dev) == items
    assert train == sorted(train) and dev == sorted(dev)


def test_too_few_items_name_the_file_and_ask_for_dev():
    with pytest.raises(ConfigError, match=r"f\.conll: 9 sentences are too few .* give --dev"):
        split_holdout(list(range(9)), "f.conll", "sentences")


def _set(labels: list[str]) -> LabelledSet:
    examples = [Example(f"text {k}", [lab], k + 1) for k, lab in enumerate(labels)]
    return LabelledSet("f.tsv", examples, [e.text.split() for e in examples], [[lab] for lab in labels], 3,
                       pair_tokens=[["p", str(k)] for k in range(len(labels))])


def test_labelled_split_keeps_the_rows_aligned_and_a_lone_label_in_training():
    labels = ["a", "b"] * 50
    out = held_out(len(labels))
    lone = next(k for k in range(len(labels)) if out[k])
    labels[lone] = "only-once"
    train, dev = split_labelled(_set(labels), "f.tsv", "items")
    assert len(train.examples) + len(dev.examples) == 100 and len(dev.examples) == 9
    assert "only-once" in {lab for row in train.labels for lab in row}
    for part in (train, dev):
        for e, toks, row, pair in zip(part.examples, part.tokens, part.labels, part.pair_tokens):
            assert toks == e.text.split() and row == e.labels and pair == ["p", str(e.line - 1)]
    assert (train.truncated, dev.truncated) == (3, 0)
    # Scores (regression): no label is "unseen", the draw alone decides.
    _, scored = split_labelled(_set(labels), "f.tsv", "pairs", labels_matter=False)
    assert len(scored.examples) == 10
    assert Counter(lab for row in dev.labels for lab in row).keys() <= {"a", "b"}
