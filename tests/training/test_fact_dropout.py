"""`--fact-dropout`: facts that support no answer are left out of a story batch in
training, the supporting ones kept and renumbered, so the gates' targets still point
at the facts they named."""

from __future__ import annotations

import json

import pytest
import torch

from rnn_cli.data.babi import encode_stories
from rnn_cli.training.structure import fact_dropout
from tests.conftest import SAMPLES
from tests.inprocess import error_line, invoke, ok

# Two stories: facts are word-id lists whose first id names the fact (10 + row * 10 + f).
STORIES = [[[10, 1], [11, 2], [12, 3], [13], [14, 4]], [[20, 5, 6], [21], [22, 7]]]
SUPPORTS = [[3, 1], [0]]


def _batch(supports=SUPPORTS):
    return encode_stories(STORIES, [[8, 9], [9]], [0, 1], supports, [0, 1])


def _names(batch, row):
    """The first word id of each real fact of `row`, in batch order."""
    return [int(batch.facts[row, f, 0]) for f in range(int(batch.num_facts[row]))]


def test_every_fact_that_supports_nothing_can_go_and_the_supports_follow_their_facts():
    batch = _batch()
    dropped = fact_dropout(batch, 1.0)
    assert _names(dropped, 0) == [11, 13] and _names(dropped, 1) == [20]
    assert dropped.num_facts.tolist() == [2, 1] and dropped.facts.shape[1] == 2
    # Row 0's supports were facts 3 then 1: now 1 then 0, still in the order of the passes.
    assert dropped.supports[0].tolist() == [1, 0] and dropped.supports[1].tolist() == [0, -1]
    for row in range(2):  # each kept fact keeps its words and length; padding stays zero
        for f in range(int(dropped.num_facts[row])):
            old = _names(batch, row).index(int(dropped.facts[row, f, 0]))
            assert torch.equal(dropped.facts[row, f], batch.facts[row, old, : dropped.facts.shape[2]])
            assert dropped.fact_lengths[row, f] == batch.fact_lengths[row, old]
    assert int(dropped.facts[1, 1:].abs().sum()) == 0 and int(dropped.fact_lengths[1, 1]) == 0
    assert torch.equal(dropped.question, batch.question) and torch.equal(dropped.labels, batch.labels)
    # The gates' targets index the facts that were named: the fact id under each support.
    assert [int(dropped.facts[0, s, 0]) for s in dropped.supports[0].tolist()] == [13, 11]


def test_no_dropout_keeps_the_batch_and_a_row_without_supports_keeps_a_fact():
    batch = _batch()
    same = fact_dropout(batch, 0.0)
    assert torch.equal(same.facts, batch.facts) and torch.equal(same.supports, batch.supports)
    bare = fact_dropout(_batch([[], []]), 1.0)
    assert bare.num_facts.tolist() == [1, 1]  # the last fact of each story
    assert _names(bare, 0) == [14] and _names(bare, 1) == [22]


def test_a_support_past_the_story_stays_out_of_reach():
    batch = _batch()
    batch.supports[1, 0] = 7  # e.g. cut off by --max-facts: the loss ignores it
    dropped = fact_dropout(batch, 1.0)
    assert int(dropped.supports[1, 0]) >= int(dropped.num_facts[1])


def test_each_other_fact_goes_with_probability_p():
    torch.manual_seed(0)
    kept = 0
    for _ in range(400):
        dropped = fact_dropout(_batch(), 0.3)
        names = _names(dropped, 0)
        assert 13 in names and 11 in names and names == sorted(names)  # supports kept, story order kept
        kept += len(names) - 2
    assert kept / (400 * 3) == pytest.approx(0.7, abs=0.04)


def test_a_strongly_supervised_dmn_learns_with_fact_dropout(tmp_path):
    out = tmp_path / "qa1.pt"
    train, test = SAMPLES / "babi.qa1.train.txt", SAMPLES / "babi.qa1.test.txt"
    common = ["--encoder", "dmn", "--device", "cpu", "--seed", "3", "-q", "--embedding-size", "40",
              "--hidden-size", "40", "--lr", "0.005"]
    ok("train-classifier", train, "--dev", test, "-o", out, "--supervise-facts", "--fact-dropout", "0.5",
       "--epochs", "6", *common)
    assert json.loads(ok("evaluate", out, test, "--json").stdout)["accuracy"] > 0.6  # six places: chance 1/6
    # It is applied: the same seed without it trains on other stories (another first-epoch loss).
    plain = tmp_path / "plain.pt"
    ok("train-classifier", train, "--dev", test, "-o", plain, "--supervise-facts", "--epochs", "6", *common)
    losses = [json.loads(p.with_suffix(".metrics.jsonl").read_text().splitlines()[0])["train_loss"]
              for p in (out, plain)]
    assert losses[0] != pytest.approx(losses[1], rel=1e-3)
    assert "add --supervise-facts" in error_line(invoke("train-classifier", train, "--dev", test, "-o", out,
                                                       "--fact-dropout", "0.5", *common))
    assert "--fact-dropout" in error_line(invoke("train-classifier", train, "--dev", test, "-o", out,
                                                "--supervise-facts", "--fact-dropout", "1", *common))
