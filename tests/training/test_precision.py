"""`train-lm --precision bf16` and `--amp` change the computation: with the same seed and
options they give other training losses and other weights than fp32 (which repeats
itself exactly, so the difference is theirs), while still learning about as well
(README: "same perplexity"); the saved weights stay fp32. `--amp` is checked with the
default LSTM and with a GRU (whose run does not depend on oneDNN's bf16 LSTM).

Options used: train-lm --valid --level --layers --hidden-size --embedding-size --bptt
--batch-size --dropout --optimizer --lr --epochs --precision --amp --cell --device -q -o."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from rnn_cli import checkpoint
from tests.inprocess import metrics, ok, write_lm_pair

# name -> options; the LSTM is train-lm's default cell.
VARIANTS = {"fp32": [], "fp32-again": [], "bf16": ["--precision", "bf16"], "amp": ["--amp"],
            "gru-fp32": ["--cell", "gru"], "gru-amp": ["--cell", "gru", "--amp"]}


@pytest.fixture(scope="module")
def train(tmp_path_factory):
    """train(name) -> the model file of that variant, trained once (on first use)."""
    d = tmp_path_factory.mktemp("precision")
    data = write_lm_pair(d)
    done: dict[str, Path] = {}

    def run(name: str) -> Path:
        if name not in done:
            ok("train-lm", data["train"], "--dev", data["valid"], "--level", "char", "--layers", "1",
               "--hidden-size", "32", "--embedding-size", "16", "--bptt", "20", "--batch-size", "4", "--dropout", "0",
               "--optimizer", "adam", "--lr", "0.01", "--epochs", "2", *VARIANTS[name], "--device", "cpu", "-q",
               "-o", d / f"{name}.pt")
            done[name] = d / f"{name}.pt"
        return done[name]

    return run


def weights(path: Path) -> dict[str, torch.Tensor]:
    return checkpoint.load(path)["state_dict"]


def test_fp32_repeats_exactly(train):
    losses = [[(r["train_loss"], r["dev_loss"]) for r in metrics(train(name))] for name in ("fp32", "fp32-again")]
    assert losses[0] == losses[1]
    a, b = weights(train("fp32")), weights(train("fp32-again"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def check_differs_but_learns(reference: Path, low: Path, option: str, value: object) -> None:
    ref, got = metrics(reference), metrics(low)
    # Another computation: other losses from the first epoch on, other weights.
    assert got[0]["train_loss"] != ref[0]["train_loss"]
    a, b = weights(reference), weights(low)
    assert a.keys() == b.keys() and not all(torch.equal(a[k], b[k]) for k in a)
    # Still learning, about as well as fp32: losses fall, far below a uniform guess.
    payload = checkpoint.load(low)
    assert got[1]["train_loss"] < got[0]["train_loss"] and got[1]["dev_loss"] < got[0]["dev_loss"]
    assert got[1]["dev_loss"] < math.log(len(payload["vocab"]["tokens"])) - 0.5
    assert got[1]["dev_loss"] == pytest.approx(ref[1]["dev_loss"], rel=0.02)
    assert payload["train_config"][option] == value
    assert {v.dtype for v in payload["state_dict"].values()} == {torch.float32}


def test_precision_bf16_trains_differently_but_as_well(train):
    check_differs_but_learns(train("fp32"), train("bf16"), "precision", "bf16")


def test_amp_trains_differently_but_as_well_gru(train):
    check_differs_but_learns(train("gru-fp32"), train("gru-amp"), "amp", True)


def test_amp_trains_differently_but_as_well_lstm(train):
    check_differs_but_learns(train("fp32"), train("amp"), "amp", True)
