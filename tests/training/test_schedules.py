"""Learning-rate schedules, read epoch by epoch from OUT.metrics.jsonl (the lr each
epoch ran at) and from the optimiser in OUT.state.pt, and across `--resume`: the
lrs of a run stopped after k epochs and resumed to n equal those of an uninterrupted
n-epoch run. The expected lrs are computed here from the options (and, for the
plateau schedule, from the validation losses the run logged).

Options used: train-lm --dev --level --layers --hidden-size --embedding-size --bptt
--batch-size --dropout --clip --optimizer --lr --schedule --lr-decay --decay-start
--min-lr --patience --epochs --resume --device -q -o; train-tagger / train-classifier
--dev --embedding-size --hidden-size --char-filters --char-embedding-size --optimizer
--lr --schedule --decay-rate --lr-decay --patience --epochs --resume --device -q -o."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.inprocess import metrics, ok, optimizer_lr, state, write_lm_pair


@pytest.fixture(scope="module")
def lm_data(tmp_path_factory) -> dict[str, Path]:
    return write_lm_pair(tmp_path_factory.mktemp("schedules-lm"))


def lm_args(data: dict[str, Path], out: Path) -> list:
    return ["train-lm", data["train"], "--dev", data["valid"], "--level", "char", "--layers", "1",
            "--hidden-size", "64", "--embedding-size", "16", "--bptt", "20", "--batch-size", "4", "--dropout", "0",
            "--clip", "5", "--device", "cpu", "-q", "-o", out]


def lrs(out: Path) -> list[float]:
    return [r["lr"] for r in metrics(out)]


# --- train-lm --schedule plateau (the default) ------------------------------------------

PLATEAU_LR, PLATEAU_DECAY, PLATEAU_MIN_LR, PLATEAU_EPOCHS = 0.05, 0.5, 0.01, 10
PLATEAU = ["--optimizer", "adam", "--lr", "0.05", "--schedule", "plateau", "--lr-decay", "0.5", "--min-lr", "0.01",
           "--patience", "0"]


def plateau_lrs(valid_losses: list[float], lr: float, decay: float, min_lr: float) -> list[float]:
    """The lr of each epoch: multiplied by `decay` after every epoch whose validation loss
    is not below the best so far, never below `min_lr`."""
    out, best = [], math.inf
    for loss in valid_losses:
        out.append(lr)
        if loss < best:
            best = loss
        else:
            lr = max(lr * decay, min_lr)
    return out


def test_plateau_decays_after_each_epoch_without_improvement_down_to_min_lr(lm_data, tmp_path):
    out = tmp_path / "full.pt"
    ok(*lm_args(lm_data, out), *PLATEAU, "--epochs", PLATEAU_EPOCHS)
    records = metrics(out)
    assert [r["epoch"] for r in records] == list(range(1, PLATEAU_EPOCHS + 1))
    valid = [r["dev_loss"] for r in records]
    expected = plateau_lrs(valid, PLATEAU_LR, PLATEAU_DECAY, PLATEAU_MIN_LR)
    assert lrs(out) == pytest.approx(expected, rel=1e-12)
    # The run exercises what it claims: several epochs without improvement, and a decay
    # that min_lr cut short (0.0125 * 0.5 = 0.00625 -> 0.01).
    worse = [e for e in range(1, len(valid)) if valid[e] >= min(valid[:e])]
    assert len(worse) >= 3, valid
    assert expected[-1] == PLATEAU_MIN_LR and all(
        not math.isclose(PLATEAU_LR * PLATEAU_DECAY ** k, PLATEAU_MIN_LR) for k in range(20))
    # The optimiser ran the last epoch at the lr logged for it.
    assert optimizer_lr(out) == pytest.approx(records[-1]["lr"], rel=1e-12)

    # Stopped right after the first epoch without improvement (whose decay applies to the
    # next epoch) and resumed: the same lrs and the same validation losses.
    k = worse[0] + 1
    part = tmp_path / "part.pt"
    ok(*lm_args(lm_data, part), *PLATEAU, "--epochs", k)
    assert lrs(part) == lrs(out)[:k]
    assert optimizer_lr(part) == pytest.approx(records[k - 1]["lr"], rel=1e-12)
    ok(*lm_args(lm_data, part), *PLATEAU, "--epochs", PLATEAU_EPOCHS, "--resume")
    assert lrs(part) == lrs(out)
    assert [r["dev_loss"] for r in metrics(part)] == valid
    assert optimizer_lr(part) == optimizer_lr(out)


# --- train-lm --schedule step ---------------------------------------------------------

STEP_LR, STEP_DECAY, STEP_START, STEP_EPOCHS = 0.05, 0.6, 2, 6
STEP = ["--optimizer", "adam", "--lr", "0.05", "--schedule", "step", "--lr-decay", "0.6", "--decay-start", "2",
        "--patience", "0"]


def step_lrs(lr: float, decay: float, start: int, epochs: int, min_lr: float = 0.0) -> list[float]:
    """Epoch e (1-based) runs at lr * decay^(e - start) once e > start, never below min_lr."""
    return [max(lr * decay ** max(0, e - start), min_lr) for e in range(1, epochs + 1)]


def test_step_schedule_decays_every_epoch_after_decay_start_and_resumes(lm_data, tmp_path):
    out = tmp_path / "full.pt"
    ok(*lm_args(lm_data, out), *STEP, "--epochs", STEP_EPOCHS)
    expected = step_lrs(STEP_LR, STEP_DECAY, STEP_START, STEP_EPOCHS)
    assert lrs(out) == pytest.approx(expected, rel=1e-12)
    assert optimizer_lr(out) == pytest.approx(expected[-1], rel=1e-12)
    # The decay does not depend on validation: an epoch that improved is decayed alike.
    valid = [r["dev_loss"] for r in metrics(out)]
    assert any(valid[e] < min(valid[:e]) for e in range(1, STEP_EPOCHS - 1)), valid

    part = tmp_path / "part.pt"
    ok(*lm_args(lm_data, part), *STEP, "--epochs", 3)
    assert lrs(part) == pytest.approx(expected[:3], rel=1e-12)
    assert optimizer_lr(part) == pytest.approx(expected[2], rel=1e-12)
    ok(*lm_args(lm_data, part), *STEP, "--epochs", STEP_EPOCHS, "--resume")
    assert lrs(part) == lrs(out)
    assert optimizer_lr(part) == optimizer_lr(out)


def test_step_schedule_never_goes_below_min_lr(lm_data, tmp_path):
    out = tmp_path / "m.pt"
    ok(*lm_args(lm_data, out), "--hidden-size", "16", "--optimizer", "sgd", "--lr", "1", "--schedule", "step",
       "--lr-decay", "0.5", "--decay-start", "1", "--min-lr", "0.3", "--patience", "0", "--epochs", "4")
    assert lrs(out) == pytest.approx(step_lrs(1.0, 0.5, 1, 4, min_lr=0.3), rel=1e-12)  # 1, 0.5, 0.3, 0.3


# --- train-tagger / train-classifier: SGD with lr / (1 + decay_rate * epoch) ---------------


@pytest.fixture(scope="module")
def small_sets(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Tiny training and dev files for each sentence-level trainer."""
    d = tmp_path_factory.mktemp("schedules-sent")
    sents = (SAMPLES / "names.train.conll").read_text().strip().split("\n\n")
    (d / "train.conll").write_text("\n\n".join(sents[:60]) + "\n")
    (d / "dev.conll").write_text("\n\n".join(sents[60:90]) + "\n")
    lines = (SAMPLES / "ewt.genre.train.tsv").read_text().splitlines()
    (d / "train.tsv").write_text("\n".join(lines[:150]) + "\n")
    (d / "dev.tsv").write_text("\n".join(lines[150:200]) + "\n")
    return {"train-tagger": (d / "train.conll", d / "dev.conll"),
            "train-classifier": (d / "train.tsv", d / "dev.tsv")}


SMALL = {"train-tagger": ["--embedding-size", "16", "--hidden-size", "16", "--char-filters", "8",
                          "--char-embedding-size", "8"],
         "train-classifier": ["--embedding-size", "16", "--hidden-size", "16"]}
SGD_LR, SGD_DECAY, SGD_EPOCHS = 0.05, 0.5, 3
SGD = ["--optimizer", "sgd", "--lr", "0.05", "--schedule", "inverse-time", "--decay-rate", "0.5", "--patience", "0"]


def sent_args(command: str, sets: dict, out: Path) -> list:
    train, dev = sets[command]
    return [command, train, "--dev", dev, *SMALL[command], "--device", "cpu", "-q", "-o", out]


@pytest.mark.parametrize("command", ["train-tagger", "train-classifier"])
def test_sgd_inverse_time_decay_epoch_by_epoch_and_across_resume(small_sets, tmp_path, command):
    expected = [SGD_LR / (1 + SGD_DECAY * epoch) for epoch in range(SGD_EPOCHS)]  # 0.05, 0.0333, 0.025
    out = tmp_path / "full.pt"
    ok(*sent_args(command, small_sets, out), *SGD, "--epochs", SGD_EPOCHS)
    assert lrs(out) == pytest.approx(expected, rel=1e-12)
    assert optimizer_lr(out) == pytest.approx(expected[-1], rel=1e-12)

    # One epoch at a time, resumed: the optimiser's lr in the state after each epoch, and
    # the whole sequence equal to the uninterrupted run's.
    part = tmp_path / "part.pt"
    ok(*sent_args(command, small_sets, part), *SGD, "--epochs", 1)
    assert optimizer_lr(part) == pytest.approx(expected[0], rel=1e-12)
    for epochs in range(2, SGD_EPOCHS + 1):
        ok(*sent_args(command, small_sets, part), *SGD, "--epochs", epochs, "--resume")
        assert state(part)["progress"]["epoch"] == epochs
        assert optimizer_lr(part) == pytest.approx(expected[epochs - 1], rel=1e-12)
    assert lrs(part) == lrs(out)


def test_the_classifiers_constant_schedule_keeps_a_fixed_lr_whatever_the_decay_options_say(small_sets, tmp_path):
    out = tmp_path / "m.pt"
    ok(*sent_args("train-classifier", small_sets, out), "--optimizer", "adam", "--lr", "0.002", "--decay-rate", "0.5",
       "--lr-decay", "0.5", "--patience", "0", "--epochs", "3")
    assert lrs(out) == [0.002, 0.002, 0.002]
    assert optimizer_lr(out) == 0.002
