import math

import pytest

from rnn_cli.metrics import lm_scores, tagging_scores


def test_lm_scores_by_hand():
    s = lm_scores(nll_sum=10 * math.log(4), count=10)
    assert s["ppl"] == pytest.approx(4.0) and s["bpc"] == pytest.approx(2.0) and s["tokens"] == 10


def test_entity_scores_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "B-LOC"]]
    r = tagging_scores(gold, pred, "bio")
    # 3 gold entities, 3 predicted, 2 right: P = R = F1 = 2/3.
    assert r["micro"]["precision"] == pytest.approx(2 / 3)
    assert r["micro"]["recall"] == pytest.approx(2 / 3)
    assert r["types"]["PER"]["f1"] == 1.0 and r["types"]["LOC"]["f1"] == 0.0
    assert r["macro"]["f1"] == pytest.approx((1 + 1 + 0) / 3)
    assert r["accuracy"] == pytest.approx(4 / 6)


def test_iob1_is_read_in_its_own_scheme_and_partial_spans_do_not_count():
    gold = [["I-PER", "I-PER", "B-PER", "O"]]  # IOB1: two adjacent PER entities
    assert tagging_scores(gold, [["I-PER", "I-PER", "B-PER", "O"]], "iob1")["f1"] == 1.0
    r = tagging_scores(gold, [["I-PER", "I-PER", "I-PER", "O"]], "iob1")  # merged into one
    assert r["micro"]["precision"] == 0.0 and r["micro"]["recall"] == 0.0


def test_plain_tag_sets_get_accuracy_only():
    r = tagging_scores([["NN", "VB"]], [["NN", "NN"]], "plain")
    assert r["accuracy"] == 0.5 and "micro" not in r
