"""Early stopping: `--patience N` ends a run N epochs after its best dev score (before
`--epochs`), says so in the summary, the metrics log and on stderr, and `--out` holds
the best epoch's model, not the last one's: `rnn-cli evaluate OUT DEV` reproduces the
best epoch's dev score, and the weights are those of a run stopped at that epoch.

Each run is built so that its dev score gets worse: a classifier whose dev labels are
the training labels swapped, and a character LM that overfits 1,200 characters.

Options used: train-classifier --dev --embedding-size --hidden-size --dropout --lr
--patience --epochs --device -o; train-lm --valid --level --layers --hidden-size
--embedding-size --bptt --batch-size --dropout --clip --optimizer --lr --lr-decay
--patience --epochs --device -q -o; evaluate --json --device."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from rnn_cli import checkpoint
from rnn_cli.training.events import Info
from rnn_cli.training.loop import Task, run_epochs, state_path
from rnn_cli.training.options import TrainOptions
from tests.conftest import SAMPLES
from tests.inprocess import metrics, ok, state, write_lm_pair

PATIENCE, MAX_EPOCHS = 2, 12


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = checkpoint.load(a)["state_dict"], checkpoint.load(b)["state_dict"]
    assert wa.keys() == wb.keys()
    return all(torch.equal(wa[k], wb[k]) for k in wa)


def check_stopped_at_the_best(out: Path, summary: dict, stderr: str, key: str, higher_is_better: bool) -> int:
    """The run stopped PATIENCE epochs after its best epoch, before MAX_EPOCHS, and
    reports it; returns the best epoch (1-based)."""
    records = metrics(out)
    scores = [r[key] for r in records]
    n = len(records)
    assert summary["epochs"] == n < MAX_EPOCHS, summary
    assert [r["epoch"] for r in records] == list(range(1, n + 1))
    best = (scores.index(max(scores)) if higher_is_better else scores.index(min(scores))) + 1
    assert best == n - PATIENCE, scores  # no better epoch in the last PATIENCE ones
    assert summary["epoch"] == best and summary[key] == scores[best - 1]
    assert scores[-1] != scores[best - 1], scores  # the data make the last epoch worse, as meant
    assert f"no improvement for {PATIENCE} epoch(s)" in stderr
    assert state(out)["progress"]["stopped_early"] is True
    assert checkpoint.load(out)["metrics"]["epoch"] == best
    return best


@pytest.fixture(scope="module")
def contradicting(tmp_path_factory) -> dict[str, Path]:
    """Two genres of the sample; dev is the training items with the labels swapped, so
    the better the model fits its training data, the lower its dev accuracy."""
    d = tmp_path_factory.mktemp("early-stop-cls")
    rows = [line.split("\t", 1) for line in (SAMPLES / "ewt.genre.train.tsv").read_text().splitlines()]
    two = [(g, t) for g, t in rows if g in ("email", "reviews")][:160]
    swap = {"email": "reviews", "reviews": "email"}
    (d / "train.tsv").write_text("".join(f"{g}\t{t}\n" for g, t in two))
    (d / "dev.tsv").write_text("".join(f"{swap[g]}\t{t}\n" for g, t in two))
    return {"train": d / "train.tsv", "dev": d / "dev.tsv"}


def cls_args(data: dict[str, Path], out: Path) -> list:
    return ["train-classifier", data["train"], "--dev", data["dev"], "--embedding-size", "16", "--hidden-size", "16",
            "--dropout", "0", "--lr", "0.003", "--patience", str(PATIENCE), "--device", "cpu", "-o", out]


def test_classifier_stops_early_and_keeps_the_best_dev_epoch(contradicting, tmp_path):
    out = tmp_path / "m.pt"
    res = ok(*cls_args(contradicting, out), "--epochs", MAX_EPOCHS)
    best = check_stopped_at_the_best(out, res.summary(), res.stderr, "dev_accuracy", higher_is_better=True)
    records = metrics(out)
    scored = json.loads(ok("evaluate", out, contradicting["dev"], "--json", "--device", "cpu").stdout)
    assert scored["accuracy"] == pytest.approx(records[best - 1]["dev_accuracy"], abs=1e-9)
    assert scored["accuracy"] != pytest.approx(records[-1]["dev_accuracy"], abs=1e-9)
    # OUT holds exactly the weights of a run that stopped at the best epoch.
    at_best = tmp_path / "at_best.pt"
    ok(*cls_args(contradicting, at_best), "--epochs", best, "-q")
    assert same_weights(out, at_best)
    assert not all(torch.equal(v, state(out)["model_state"][k]) for k, v in checkpoint.load(out)["state_dict"].items())


LM = ["--level", "char", "--layers", "1", "--hidden-size", "64", "--embedding-size", "16", "--bptt", "20",
      "--batch-size", "4", "--dropout", "0", "--clip", "5", "--optimizer", "adam", "--lr", "0.05", "--lr-decay", "0.5",
      "--patience", str(PATIENCE), "--device", "cpu"]


def test_lm_stops_early_and_keeps_the_best_validation_epoch(tmp_path):
    data = write_lm_pair(tmp_path)
    out = tmp_path / "m.pt"
    res = ok("train-lm", data["train"], "--dev", data["valid"], *LM, "--epochs", MAX_EPOCHS, "-o", out)
    best = check_stopped_at_the_best(out, res.summary(), res.stderr, "dev_loss", higher_is_better=False)
    records = metrics(out)
    scored = json.loads(ok("evaluate", out, data["valid"], "--json", "--device", "cpu").stdout)
    assert scored["loss"] == pytest.approx(records[best - 1]["dev_loss"], rel=1e-6)
    assert scored["loss"] != pytest.approx(records[-1]["dev_loss"], rel=1e-6)
    at_best = tmp_path / "at_best.pt"
    ok("train-lm", data["train"], "--dev", data["valid"], *LM, "--epochs", best, "-q", "-o", at_best)
    assert same_weights(out, at_best)


class Scripted:
    """A task whose training loss and dev score per epoch are scripted: its loss is the
    epoch's value (plus 0 x the weights, so that there is something to step)."""

    def __init__(self, train: list[float], dev: list[float]) -> None:
        self.model = torch.nn.Linear(1, 1)
        self.train, self.dev, self.epoch = train, dev, 0

    def loss(self, idx: list[int]) -> tuple[torch.Tensor, int]:
        return self.model.weight.sum() * 0 + self.train[self.epoch], len(idx)

    def evaluate(self) -> dict[str, float]:
        self.epoch += 1
        return {"dev_f1": self.dev[self.epoch - 1]}

    def task(self) -> Task:
        return Task(task="tagger", model=self.model, model_config={}, train_config={}, vocab={},
                    order=lambda g: [[0, 1], [2, 3]], make_batch=lambda idx: (idx, 1.0), loss=self.loss,
                    evaluate=self.evaluate, metric="dev_f1")


def saved_epoch(path: Path) -> int:
    """The epoch of the model in a file that only the loop wrote (no tagger vocabulary)."""
    return torch.load(path, weights_only=True)["metrics"]["epoch"]


def scripted_run(tmp_path: Path, train: list[float], dev: list[float], **options: Any) -> list[dict]:
    opts = TrainOptions(**{"epochs": len(dev), "optimizer": "adam", "lr": 0.01, "schedule": "plateau",
                           "lr_decay": 0.5, "patience": 2, "seed": 1, "log_every": 10, **options})
    list(run_epochs(Scripted(train, dev).task(), opts, tmp_path / "m.pt"))
    return metrics(tmp_path / "m.pt")


def test_a_dev_score_stuck_at_its_first_value_is_no_reason_to_stop_while_training_loss_falls(tmp_path):
    # A small NER corpus: dev F1 stays 0 (everything tagged O) for four epochs while the
    # training loss falls, then the model starts finding entities.
    records = scripted_run(tmp_path, [9, 8, 7, 6, 5, 4], [0.0, 0.0, 0.0, 0.0, 0.3, 0.5])
    assert [r["epoch"] for r in records] == [1, 2, 3, 4, 5, 6]  # not stopped after epoch 3
    assert {r["lr"] for r in records} == {0.01}  # and the lr never halved
    assert saved_epoch(tmp_path / "m.pt") == 6


def test_a_tie_with_a_training_loss_that_does_not_fall_counts_as_no_progress(tmp_path):
    records = scripted_run(tmp_path, [9, 8, 8, 8.5, 7, 6], [0.5, 0.5, 0.5, 0.5, 0.6, 0.7])
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]  # epochs 3 and 4 tie without progress: stopped
    assert [r["lr"] for r in records] == [0.01, 0.01, 0.01, 0.005]
    assert saved_epoch(tmp_path / "m.pt") == 2  # the tie with the lower loss


@pytest.mark.parametrize("lr_patience, lrs", [
    (1, [0.01, 0.01, 0.005, 0.0025, 0.00125, 0.000625, 0.000625]),  # halved after every epoch without progress
    (2, [0.01, 0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025]),  # after the 2nd and 4th in a row, then counted anew
])
def test_the_plateau_schedule_waits_lr_patience_epochs_before_it_decays(tmp_path, lr_patience, lrs):
    train, dev = [9, 9, 9, 9, 9, 9, 9], [0.5, 0.4, 0.3, 0.2, 0.1, 0.6, 0.5]
    records = scripted_run(tmp_path, train, dev, patience=0, lr_patience=lr_patience)
    assert [r["lr"] for r in records] == lrs


def test_a_resumed_run_whose_best_model_file_went_away_says_the_file_holds_the_last_weights(tmp_path):
    out = tmp_path / "m.pt"
    opts = TrainOptions(epochs=3, optimizer="adam", lr=0.01, patience=0, seed=1, log_every=10)
    list(run_epochs(Scripted([3, 2, 1], [0.5, 0.4, 0.3]).task(), opts, out))
    assert saved_epoch(out) == 1
    out.unlink()
    state = torch.load(state_path(out), weights_only=True)
    events = list(run_epochs(Scripted([3, 2, 1], [0.5, 0.4, 0.3]).task(), opts, out, state=state))
    assert f"{out} is missing: it holds the last weights (epoch 3), not the best epoch's (1)" in \
        [e.message for e in events if isinstance(e, Info)]
    assert saved_epoch(out) == 3  # the metrics stored with the weights are the weights' own
