"""The dev set a trainer holds out of its training data when it has no --dev."""

from collections import Counter
from dataclasses import replace

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


def test_babi_questions_go_to_dev_with_their_whole_story():
    # 30 stories of 2-4 questions each; each question's story is the story's statements so far.
    examples, k = [], 0
    for s in range(30):
        facts = []
        for q in range(2 + s % 3):
            facts = facts + [f"s{s} fact {q}a", f"s{s} fact {q}b"]
            k += 1
            examples.append(Example(f"where {q} ?", [f"room{k % 4}"], k, story=list(facts), supports=[0]))
    data = LabelledSet("qa.txt", examples, [e.text.split() for e in examples], [e.labels for e in examples], 0)
    train, dev = split_labelled(data, "qa.txt", "questions")
    story = {e.line: e.story[0].split()[0] for e in examples}  # question line -> its story's name
    assert {story[e.line] for e in dev.examples}.isdisjoint({story[e.line] for e in train.examples})
    assert len({story[e.line] for e in dev.examples}) == 3  # one story in 10
    assert sorted(e.line for e in train.examples + dev.examples) == list(range(1, k + 1))
    with pytest.raises(ConfigError, match="9 stories are too few"):
        split_labelled(replace(data, examples=examples[:27], tokens=data.tokens[:27], labels=data.labels[:27]),
                       "qa.txt", "questions")  # stories of 2, 3, 4, 2, ... questions: 27 questions, 9 stories
