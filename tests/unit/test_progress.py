"""Honest progress: each task reports its own metrics in its own unit, perplexity
only for language models (a CRF tagger's "ppl" of a summed sentence loss meant nothing)."""

from __future__ import annotations

import pytest

from rnn_cli.cli._progress import _format_record
from rnn_cli.training.events import Evaluated, Step
from rnn_cli.training.lm import train_lm
from rnn_cli.training.tagger import train_tagger
from tests.unit.test_epoch_loop import CFG as TAGGER_CFG
from tests.unit.test_training import TINY


def first(events, kind):
    return next(e for e in events if isinstance(e, kind))


def test_tagger_steps_report_sentences_and_no_perplexity(samples, tmp_path):
    events = list(train_tagger(TAGGER_CFG.__class__(**{**TAGGER_CFG.__dict__, "epochs": 1}),
                               str(samples / "names.train.conll"), str(samples / "names.dev.conll"), tmp_path / "t.pt"))
    step, record = first(events, Step), first(events, Evaluated).record
    assert step.unit == "sent" and step.ppl is None and step.rate > 0
    assert "train_ppl" not in record and "sentences_per_s" in record and "dev_f1" in record
    line = _format_record(record)
    assert "sent/s" in line and "ppl" not in line and "dev f1" in line


def test_lm_steps_report_tokens_and_perplexity(tiny_corpus, tmp_path):
    cfg = TINY.__class__(**{**TINY.__dict__, "epochs": 1})
    events = list(train_lm(cfg, str(tiny_corpus["train"]), tmp_path / "lm.pt", dev=str(tiny_corpus["valid"])))
    step, record = first(events, Step), first(events, Evaluated).record
    assert step.unit == "tok" and step.ppl == pytest.approx(2.718281828 ** step.loss, rel=1e-6)
    assert {"train_ppl", "dev_ppl", "dev_bpc", "tokens_per_s"} <= set(record)
    line = _format_record(record)
    assert "dev ppl" in line and "tok/s" in line


def test_classifier_record_line_shows_items_per_second():
    record = {"epoch": 2, "lr": 0.001, "train_loss": 0.5, "dev_accuracy": 0.875, "dev_macro_f1": 0.8,
              "items_per_s": 512.0, "epoch_seconds": 3.0}
    line = _format_record(record)
    assert "dev accuracy 87.50" in line and "512 items/s" in line and "ppl" not in line
