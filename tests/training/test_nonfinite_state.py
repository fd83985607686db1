"""Exit status 3 keeps the last good state: a run that meets a NaN loss after it has
written checkpoints (`--checkpoint-every 1`) stops with status 3 and one line naming
the step and the state file, and leaves OUT.state.pt exactly as it was written after
the step before (the same bytes; the step count before the NaN; the weights the model
had before the bad step, all finite) and OUT (the best model so far) untouched.
Resumed from it without the fault, the run ends with the weights of a run that never
met it.

The NaN is injected in process: the model's `loss` is wrapped so that its N-th call in
training returns NaN (a real divergence would not say at which step it comes).

Options used: train-lm --level --layers --hidden-size --embedding-size --bptt
--batch-size --dropout --optimizer --lr --valid; train-tagger --dev --embedding-size
--hidden-size --char-filters --char-embedding-size --batch-size --optimizer --lr
--dropout; train-classifier --dev --embedding-size --hidden-size --batch-size --lr
--dropout; all: --checkpoint-every --epochs --resume --device -q -o."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from rnn_cli import checkpoint
from rnn_cli.models.classifier import Classifier
from rnn_cli.models.lm import RNNLM
from rnn_cli.models.tagger import Tagger
from tests.conftest import SAMPLES
from tests.inprocess import error_line, invoke, ok, state, write_lm_pair

EPOCHS = 3
# trainer -> (model class, global step (1-based) whose loss becomes NaN: in epoch 2,
# not its first step, so that a mid-epoch checkpoint precedes it).
CASES: dict[str, tuple[type, int]] = {
    "train-lm": (RNNLM, 20),  # 15 windows an epoch
    "train-tagger": (Tagger, 9),  # 6 batches an epoch
    "train-classifier": (Classifier, 8),  # 5 batches an epoch
}


def command(trainer: str, d: Path, out: Path) -> list[Any]:
    common = ["--checkpoint-every", "1", "--device", "cpu", "-q", "-o", out]
    if trainer == "train-lm":
        data = write_lm_pair(d)
        return ["train-lm", data["train"], "--dev", data["valid"], "--level", "char", "--layers", "1",
                "--hidden-size", "16", "--embedding-size", "8", "--bptt", "20", "--batch-size", "4", "--dropout",
                "0.2", "--optimizer", "adam", "--lr", "0.01", *common]
    if trainer == "train-tagger":
        sents = (SAMPLES / "names.train.conll").read_text().strip().split("\n\n")
        (d / "train.conll").write_text("\n\n".join(sents[:60]) + "\n")
        (d / "dev.conll").write_text("\n\n".join(sents[60:80]) + "\n")
        return ["train-tagger", d / "train.conll", "--dev", d / "dev.conll", "--embedding-size", "8",
                "--hidden-size", "8", "--char-filters", "4", "--char-embedding-size", "4", "--batch-size", "10",
                "--optimizer", "adam", "--lr", "0.01", "--dropout", "0.2", *common]
    lines = (SAMPLES / "ewt.genre.train.tsv").read_text().splitlines()
    (d / "train.tsv").write_text("\n".join(lines[:150]) + "\n")
    (d / "dev.tsv").write_text("\n".join(lines[150:200]) + "\n")
    return ["train-classifier", d / "train.tsv", "--dev", d / "dev.tsv", "--embedding-size", "8", "--hidden-size",
            "8", "--batch-size", "32", "--lr", "0.01", "--dropout", "0.2", *common]


def poison(monkeypatch: pytest.MonkeyPatch, cls: type, at: int, out: Path) -> dict[str, Any]:
    """Make `cls.loss` NaN at its `at`-th call in training mode. Returns what was on disk
    (the state and model files) and in the model (its weights) just before that step."""
    real = cls.loss
    seen: dict[str, Any] = {"calls": 0}
    spath = out.with_suffix(".state.pt")

    def loss(self, *args, **kwargs):
        result = real(self, *args, **kwargs)
        if not self.training:
            return result
        seen["calls"] += 1
        if seen["calls"] != at:
            return result
        seen["state_bytes"] = spath.read_bytes()
        seen["model_bytes"] = out.read_bytes()
        seen["weights"] = {k: v.detach().clone() for k, v in self.state_dict().items()}
        seen["parameters"] = [name for name, _ in self.named_parameters()]
        if isinstance(result, torch.Tensor):
            return result * math.nan
        if isinstance(result, tuple):  # the LM's (loss, hidden)
            return (result[0] * math.nan, *result[1:])
        return dataclasses.replace(result, value=result.value * math.nan)  # a loss record with its value

    monkeypatch.setattr(cls, "loss", loss)
    return seen


@pytest.mark.parametrize("trainer", list(CASES))
def test_nan_after_checkpoints_exits_3_and_keeps_the_last_good_state(trainer, tmp_path, monkeypatch):
    cls, bad_step = CASES[trainer]
    out = tmp_path / "m.pt"
    spath = out.with_suffix(".state.pt")
    args = command(trainer, tmp_path, out)
    seen = poison(monkeypatch, cls, bad_step, out)
    res = invoke(*args, "--epochs", EPOCHS)
    assert res.exit_code == 3, (res.exception, res.stderr)
    line = error_line(res)
    assert "non-finite loss" in line and f"at step {bad_step}:" in line, line
    assert f"{spath}, after step {bad_step - 1}" in line, line

    # The state file is the one written after the last good step, byte for byte; the
    # best model (written at the end of epoch 1) is untouched too.
    assert spath.read_bytes() == seen["state_bytes"]
    assert out.read_bytes() == seen["model_bytes"]
    kept = state(out)
    assert kept["progress"]["global_step"] == bad_step - 1 and kept["progress"]["epoch"] == 1
    assert kept["model_state"].keys() == seen["weights"].keys()
    assert all(torch.isfinite(kept["model_state"][name]).all() for name in seen["parameters"])
    assert all(torch.equal(value, seen["weights"][name]) for name, value in kept["model_state"].items())
    assert checkpoint.load(out)["metrics"]["epoch"] == 1

    # Resumed without the fault, the run finishes as one that never met it.
    monkeypatch.undo()
    ok(*args, "--epochs", EPOCHS, "--resume")
    clean = tmp_path / "clean.pt"
    ok(*args[:-1], clean, "--epochs", EPOCHS)
    resumed, uninterrupted = state(out)["model_state"], state(clean)["model_state"]
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in uninterrupted)
