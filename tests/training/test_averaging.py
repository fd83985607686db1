"""NT-ASGD (`training/averaging.py`): the trigger follows AWD-LSTM's rule; once
triggered, the average is the arithmetic mean of the iterates since the trigger, and it
is what dev sees and what the best model file holds, while training goes on from the
trained weights; `--resume` continues bit for bit. And the whole AWD-LSTM recipe trains
through the command line into a model that `generate` and `evaluate` take.

Options used: train-lm --valid --level --layers --hidden-size --embedding-size --bptt
--batch-size --dropout --locked-dropout --weight-drop --embedding-dropout --ar --tar
--optimizer --lr --nonmono --epochs --seed --device -q -o; evaluate; generate
--max-tokens --seed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from rnn_cli import checkpoint
from rnn_cli.training.averaging import Averager, should_trigger
from rnn_cli.training.configs import TrainLMConfig
from rnn_cli.training.events import Evaluated, Info
from rnn_cli.training.lm import train_lm
from rnn_cli.training.loop import Task, run_epochs, state_path
from rnn_cli.training.options import TrainOptions
from tests.conftest import run_cli
from tests.inprocess import write_lm_pair

X = torch.linspace(-1, 1, 40).view(20, 2)
Y = X.sum(1) * 3 + 1


@pytest.mark.parametrize(("earlier", "score", "nonmono", "minimize", "fires"), [
    ([], 9.0, 1, True, False),
    ([3.0], 9.0, 1, True, False),  # not more than nonmono earlier evaluations
    ([3.0, 2.0], 2.5, 1, True, False),  # worse than the last (2.0) only: not a trend
    ([3.0, 2.0], 3.5, 1, True, True),  # worse than 3.0, the best but for the last one
    ([3.0, 2.0], 3.0, 1, True, False),  # equal is not worse
    ([3.0, 2.0, 1.0], 2.5, 2, True, False),  # only 3.0 counts: the last two are left out
    ([3.0, 2.0, 1.0], 3.1, 2, True, True),
    ([3.0, 2.0, 2.5, 2.6], 2.4, 2, True, True),  # best of [3.0, 2.0] is 2.0
    ([0.5, 0.7, 0.6], 0.4, 1, False, True),  # a metric to maximise: below the best (0.7)
    ([0.5, 0.7, 0.6], 0.7, 1, False, False),
    ([float("nan"), 2.0, 1.0], 2.5, 1, True, True),  # a NaN evaluation is never the best
    ([3.0, 2.0], float("nan"), 1, True, False),
])
def test_the_trigger_is_awd_lstms_rule(earlier, score, nonmono, minimize, fires):
    assert should_trigger(earlier, score, nonmono, minimize) is fires


def test_the_averager_keeps_the_mean_and_swaps_it_in_and_out():
    w = nn.Parameter(torch.zeros(3))
    avg = Averager([w])
    avg.update()  # not triggered: nothing
    assert avg.count == 0
    with avg.swapped():
        assert torch.equal(w, torch.zeros(3))
    avg.begin(1)
    seen = []
    for k in range(1, 6):
        with torch.no_grad():
            w.copy_(torch.tensor([k, k * k, -k], dtype=torch.float32) / 7)
        seen.append(w.detach().clone())
        avg.update()
    mean = torch.stack(seen).mean(0)
    torch.testing.assert_close(avg.averages[0], mean, atol=1e-7, rtol=0)
    with avg.swapped():
        torch.testing.assert_close(w.detach(), mean, atol=1e-7, rtol=0)
    assert torch.equal(w.detach(), seen[-1])  # the trained weights back, bit for bit


# 20 items, batches of 4: 5 steps an epoch. With nonmono 2 the fifth evaluation (2.4,
# worse than 2.0, the best of the first three) triggers: averaging from step 26.
SCORES = [3.0, 2.0, 2.5, 2.6, 2.4, 1.0, 1.5]
TRIGGER_STEP = 26


class Toy:
    """A linear regression as a training task whose dev scores are `scores`, in turn; it
    records the weights each training step starts from and each evaluation sees."""

    def __init__(self, scores: list[float], seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.model = nn.Linear(2, 1)
        self.scores: Iterator[float] = iter(scores)
        self.starts: list[torch.Tensor] = []  # the flat weights at the start of each step
        self.evaluated: list[torch.Tensor] = []

    def flat(self) -> torch.Tensor:
        return torch.cat([p.detach().flatten() for p in self.model.parameters()]).clone()

    def loss(self, idx: list[int]) -> tuple[torch.Tensor, int]:
        self.starts.append(self.flat())
        return ((self.model(X[idx]).squeeze(1) - Y[idx]) ** 2).mean(), len(idx)

    def evaluate(self) -> dict[str, float]:
        self.evaluated.append(self.flat())
        return {"dev_loss": next(self.scores)}

    def task(self) -> Task:
        return Task(task="tagger", model=self.model, model_config={}, train_config={}, vocab={},
                    order=lambda g: [p.tolist() for p in torch.randperm(20, generator=g).split(4)],
                    make_batch=lambda idx: (idx, 1.0), loss=self.loss, evaluate=self.evaluate, metric="dev_loss",
                    minimize=True)


def options(**kw) -> TrainOptions:
    base = dict(epochs=6, optimizer="nt-asgd", lr=0.05, momentum=0.9, clip=0.0, patience=0, seed=3, log_every=5,
                checkpoint_every=4, nonmono=2, schedule="constant")
    return TrainOptions(**{**base, **kw})


def flat_state(weights: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([weights["weight"].flatten(), weights["bias"].flatten()])


def test_averaging_starts_by_the_rule_and_dev_and_the_best_model_see_the_mean(tmp_path):
    toy, out = Toy(SCORES), tmp_path / "m.pt"
    events = list(run_epochs(toy.task(), options(), out))
    notes = [e.message for e in events if isinstance(e, Info) and e.message.startswith("NT-ASGD")]
    assert notes == [f"NT-ASGD: averaging from step {TRIGGER_STEP} (dev_loss 2.4000 did not improve on 2.0000, "
                     "the best before the last 2 evaluation(s))"]
    # The note comes right after the fifth evaluation.
    kinds = [(type(e).__name__, getattr(e, "record", {}).get("epoch")) for e in events
             if isinstance(e, Evaluated) or (isinstance(e, Info) and e.message.startswith("NT-ASGD"))]
    assert kinds.index(("Info", None)) == kinds.index(("Evaluated", 5)) + 1

    state = checkpoint.load(state_path(out), task="tagger", kind="train-state")
    last = flat_state(state["model_state"])  # the trained weights after the last step (30)
    iterates = toy.starts[TRIGGER_STEP:] + [last]  # after steps 26 ... 30
    assert len(iterates) == 5 and len(toy.starts) == 30
    mean = torch.stack(iterates).mean(0)
    averaging = state["averaging"]
    assert (averaging["start"], averaging["count"]) == (TRIGGER_STEP, 5)
    torch.testing.assert_close(torch.cat([a.flatten() for a in averaging["averages"]]), mean, atol=1e-6, rtol=0)
    # Before the trigger dev saw the trained weights; after it, the mean (then swapped back).
    for k in range(5):
        assert torch.equal(toy.evaluated[k], toy.starts[5 * (k + 1)])
    torch.testing.assert_close(toy.evaluated[5], mean, atol=1e-6, rtol=0)
    assert not torch.allclose(mean, last) and torch.equal(toy.flat(), last)
    # Epoch 6 improved (1.0): the model file holds the averaged weights.
    saved = torch.load(out, weights_only=True)
    assert saved["metrics"]["epoch"] == 6
    torch.testing.assert_close(flat_state(saved["state_dict"]), mean, atol=1e-6, rtol=0)


def test_sgd_without_momentum_until_and_after_the_trigger(tmp_path):
    toy = Toy(SCORES)
    list(run_epochs(toy.task(), options(epochs=1), tmp_path / "m.pt"))
    state = checkpoint.load(state_path(tmp_path / "m.pt"), task="tagger", kind="train-state")
    assert state["optimizer_state"]["param_groups"][0]["momentum"] == 0.0  # --momentum 0.9 is not nt-asgd's
    assert state["averaging"] == {"start": None, "count": 0, "averages": []}


def stopped_run(tmp_path: Path, step: int) -> tuple[Path, Path, dict]:
    """An uninterrupted run of 7 epochs, and the same run stopped after `step` steps:
    the two model paths and the stopped run's training state."""
    full, cut = tmp_path / "full.pt", tmp_path / "cut.pt"
    list(run_epochs(Toy(SCORES).task(), options(epochs=7), full))
    steps = {"n": 0}

    def stop() -> bool:
        steps["n"] += 1
        return steps["n"] == step
    assert list(run_epochs(Toy(SCORES).task(), options(epochs=7), cut, should_stop=stop))[-1].interrupted
    return full, cut, checkpoint.load(state_path(cut), task="tagger", kind="train-state")


def resumed_like_uninterrupted(full: Path, cut: Path) -> dict:
    """Both runs' final training states hold the same weights; the state of `full`."""
    a = checkpoint.load(state_path(full), task="tagger", kind="train-state")
    b = checkpoint.load(state_path(cut), task="tagger", kind="train-state")
    assert all(torch.equal(a["model_state"][k], b["model_state"][k]) for k in a["model_state"])
    assert a["averaging"]["start"] == b["averaging"]["start"] == TRIGGER_STEP
    assert a["averaging"]["count"] == b["averaging"]["count"]
    assert all(torch.equal(x, y) for x, y in zip(a["averaging"]["averages"], b["averaging"]["averages"], strict=True))
    return a


def test_toy_run_stopped_after_the_trigger_resumes_bit_for_bit(tmp_path):
    full, cut, state = stopped_run(tmp_path, 28)  # mid epoch 6, with the average of steps 26-28
    assert state["averaging"]["count"] == 3
    resumed = Toy(SCORES[5:], seed=99)  # other initial weights: the state must overwrite them
    list(run_epochs(resumed.task(), options(epochs=7), cut, state=state))
    assert resumed_like_uninterrupted(full, cut)["averaging"]["count"] == 10  # steps 26-35
    ma, mb = (torch.load(out, weights_only=True)["state_dict"] for out in (full, cut))
    assert all(torch.equal(ma[k], mb[k]) for k in ma)


def test_toy_run_stopped_before_the_trigger_resumes_bit_for_bit(tmp_path):
    # The state holds no averages yet: resuming it failed (zip of [] with the parameters).
    full, cut, state = stopped_run(tmp_path, 12)  # mid epoch 3, long before the trigger (step 26)
    assert state["averaging"] == {"start": None, "count": 0, "averages": []}
    list(run_epochs(Toy(SCORES[2:], seed=99).task(), options(epochs=7), cut, state=state))
    resumed_like_uninterrupted(full, cut)


LM_EPOCHS = 5


def lm_config(**kw) -> TrainLMConfig:
    """A small character LSTM with every AWD-LSTM regulariser; at this lr its dev loss
    turns up after epoch 4, which triggers the averaging (from step 61 of 75)."""
    base = dict(level="char", layers=2, hidden_size=32, embedding_size=16, bptt=20, batch_size=4, dropout=0.2,
                locked_dropout=True, weight_drop=0.3, embedding_dropout=0.1, ar=2.0, tar=1.0, optimizer="nt-asgd",
                lr=20.0, nonmono=1, schedule="constant", epochs=LM_EPOCHS, checkpoint_every=5, seed=5)
    return TrainLMConfig(**{**base, **kw})


def test_awd_lm_stopped_mid_epoch_while_averaging_resumes_bit_for_bit(tmp_path):
    data = write_lm_pair(tmp_path)
    full, cut = tmp_path / "full.pt", tmp_path / "cut.pt"

    def train(out: Path, **kw) -> list:
        return list(train_lm(lm_config(), str(data["train"]), out, dev=str(data["valid"]), **kw))

    events = train(full)
    notes = [e.message for e in events if isinstance(e, Info) and e.message.startswith("NT-ASGD")]
    assert len(notes) == 1 and notes[0].startswith("NT-ASGD: averaging from step 61 "), notes
    steps = {"n": 0}

    def stop() -> bool:
        steps["n"] += 1
        return steps["n"] == 68
    assert train(cut, should_stop=stop)[-1].interrupted
    state = checkpoint.load(state_path(cut), task="lm", kind="train-state")
    assert state["averaging"]["count"] == 8 and state["progress"]["batches_done"] == 8
    train(cut, resume=True)
    a = checkpoint.load(state_path(full), task="lm", kind="train-state")
    b = checkpoint.load(state_path(cut), task="lm", kind="train-state")
    assert a["model_state"].keys() == b["model_state"].keys()
    assert all(torch.equal(a["model_state"][k], b["model_state"][k]) for k in a["model_state"])
    assert all(torch.equal(x, y) for x, y in zip(a["averaging"]["averages"], b["averaging"]["averages"]))
    ma, mb = checkpoint.load(full), checkpoint.load(cut)
    assert all(torch.equal(ma["state_dict"][k], mb["state_dict"][k]) for k in ma["state_dict"])
    assert ma["metrics"]["dev_loss"] == mb["metrics"]["dev_loss"]
    # The last epoch improved: the best model is the average (in `named_parameters` order).
    assert ma["metrics"]["epoch"] == LM_EPOCHS
    names = [name for name, _ in checkpoint.build_model(ma)[0].named_parameters()]
    for name, avg in zip(names, a["averaging"]["averages"], strict=True):
        assert torch.equal(ma["state_dict"][name], avg), name
    assert not torch.equal(ma["state_dict"][names[0]], a["model_state"][names[0]])


def test_the_awd_lstm_recipe_trains_through_the_command_line(samples, tmp_path):
    out = tmp_path / "awd.pt"
    text = (samples / "shakespeare.train.txt").read_text()
    (tmp_path / "train.txt").write_text(text[: text.index("\n", 20_000) + 1])
    res = run_cli("train-lm", str(tmp_path / "train.txt"), "--valid", str(samples / "shakespeare.valid.txt"),
                  "--level", "char", "--layers", "2", "--hidden-size", "32", "--embedding-size", "16", "--bptt", "25",
                  "--batch-size", "16", "--dropout", "0.2", "--locked-dropout", "--weight-drop", "0.3",
                  "--embedding-dropout", "0.1", "--ar", "2", "--tar", "1", "--optimizer", "nt-asgd", "--lr", "5",
                  "--nonmono", "1", "--epochs", "3", "--seed", "1", "--device", "cpu", "-q", "-o", str(out))
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    records = [json.loads(line) for line in out.with_suffix(".metrics.jsonl").read_text().splitlines()]
    losses = [r["train_loss"] for r in records]
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    payload = checkpoint.load(out, task="lm")
    assert payload["config"]["weight_drop"] == 0.3 and payload["config"]["locked_dropout"] is True
    assert "encoder.rnn.weight_hh_l1" in payload["state_dict"]  # the plain fused layer's names
    ev = run_cli("evaluate", str(out), str(samples / "shakespeare.valid.txt"))
    assert ev.returncode == 0, ev.stderr.decode()[-3000:]
    gen = run_cli("generate", str(out), "--max-tokens", "20", "--seed", "1")
    assert gen.returncode == 0 and gen.stdout.strip(), gen.stderr.decode()[-3000:]
