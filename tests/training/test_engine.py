"""The shared training step: non-finite losses stop (naming the step, keeping the
last good checkpoint) or are skipped; --amp trains; GPU-trained files load on CPU."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from torch import nn

from rnn_cli import checkpoint
from rnn_cli.errors import RnnCliError
from rnn_cli.training.engine import NonFiniteLossError
from rnn_cli.training.events import Done, Evaluated, Info, Step
from rnn_cli.training.loop import Task, run_epochs, state_path
from rnn_cli.training.options import TrainOptions

X = torch.linspace(-1, 1, 40).view(20, 2)
Y = X.sum(1) * 3 + 1
POISON = 7  # the loss of any batch holding item 7 is NaN


def toy_spec(model: nn.Linear) -> Task:
    def loss(idx: list[int]) -> tuple[torch.Tensor, int]:
        value = ((model(X[idx]).squeeze(1) - Y[idx]) ** 2).mean()
        return (value * float("nan") if POISON in idx else value), len(idx)

    def evaluate() -> dict[str, float]:
        with torch.no_grad():
            return {"dev_score": -float(((model(X).squeeze(1) - Y) ** 2).mean())}

    return Task(task="tagger", model=model, model_config={}, train_config={}, vocab={},
                order=lambda g: [p.tolist() for p in torch.randperm(20, generator=g).split(4)],
                make_batch=lambda idx: (idx, 1.0), loss=loss, evaluate=evaluate, metric="dev_score")


def options(**kw) -> TrainOptions:
    base = dict(epochs=2, optimizer="sgd", lr=0.05, momentum=0.0, weight_decay=0.0, clip=0.0,
                patience=0, seed=3, log_every=1, checkpoint_every=1)
    return TrainOptions(**{**base, **kw})


def poisoned_step(epoch: int = 0) -> int:
    """The global step (1-based) of the first batch holding POISON in `epoch`."""
    g = torch.Generator().manual_seed(3)
    for _ in range(epoch):
        torch.randperm(20, generator=g)
    order = [p.tolist() for p in torch.randperm(20, generator=g).split(4)]
    return 5 * epoch + next(i for i, b in enumerate(order) if POISON in b) + 1


def test_nonfinite_loss_stops_naming_the_step_and_keeps_the_last_good_state(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    step = poisoned_step()
    with pytest.raises(NonFiniteLossError) as info:
        list(run_epochs(toy_spec(model), options(), tmp_path / "m.pt"))
    assert f"at step {step}:" in str(info.value) and "--skip-nonfinite" in str(info.value)
    assert isinstance(info.value, RnnCliError) and info.value.exit_code == 3
    if step > 1:
        state = checkpoint.load(state_path(tmp_path / "m.pt"), task="tagger", kind="train-state")
        assert state["progress"]["global_step"] == step - 1
        assert all(torch.isfinite(v).all() for v in state["model_state"].values())
        assert str(state_path(tmp_path / "m.pt")) in str(info.value)
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the bad step changed nothing


def test_skip_nonfinite_skips_and_counts_the_bad_batches(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    spec = toy_spec(model)
    before = spec.evaluate()["dev_score"]
    events = list(run_epochs(spec, options(skip_nonfinite=True), tmp_path / "m.pt"))
    skipped = [e.message for e in events if isinstance(e, Info) and "skipped" in e.message]
    assert skipped[0].startswith(f"step {poisoned_step()}:") and len(skipped) == 2  # one per epoch
    records = [e.record for e in events if isinstance(e, Evaluated)]
    assert [r["skipped_batches"] for r in records] == [1, 2]
    assert all(torch.isfinite(torch.tensor(r["train_loss"])) for r in records)
    assert isinstance(events[-1], Done) and not events[-1].interrupted
    assert records[-1]["dev_score"] > before  # the other batches were learnt from


def test_amp_on_cpu_trains_an_lm_in_bf16_and_saves_fp32(tiny_corpus, tmp_path):
    from rnn_cli.training.lm import TrainLMConfig, train_lm

    cfg = TrainLMConfig(level="char", layers=1, hidden_size=32, embedding_size=16, bptt=20, batch_size=8, epochs=1,
                        optimizer="adam", lr=0.01, amp=True, log_every=10)
    amp = [e.loss for e in train_lm(cfg, str(tiny_corpus["valid"]), tmp_path / "m.pt") if isinstance(e, Step)]
    fp32 = [e.loss for e in train_lm(replace(cfg, amp=False), str(tiny_corpus["valid"]), tmp_path / "f.pt")
            if isinstance(e, Step)]
    assert amp[-1] < amp[0] - 0.15
    assert amp[-1] == pytest.approx(fp32[-1], abs=0.05)  # bf16 rounding, not a different model
    payload = checkpoint.load(tmp_path / "m.pt", task="lm")
    assert payload["train_config"]["amp"] is True
    assert {v.dtype for v in payload["state_dict"].values()} == {torch.float32}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_trained_model_with_amp_loads_and_scores_on_cpu(tiny_corpus, tmp_path):
    from rnn_cli.training.lm import TrainLMConfig, train_lm

    cfg = TrainLMConfig(level="char", layers=1, hidden_size=32, embedding_size=16, bptt=20, batch_size=8, epochs=1,
                        optimizer="adam", lr=0.01, amp=True, checkpoint_every=5)
    list(train_lm(cfg, str(tiny_corpus["valid"]), tmp_path / "m.pt", device=torch.device("cuda")))
    payload = checkpoint.load(tmp_path / "m.pt", task="lm")
    assert all(v.device.type == "cpu" for v in payload["state_dict"].values())
    model, _ = checkpoint.build_model(payload)
    x = torch.zeros(5, 1, dtype=torch.long)
    assert torch.isfinite(model(x)[0]).all()
    list(train_lm(cfg, str(tiny_corpus["valid"]), tmp_path / "m.pt", device=torch.device("cpu"), resume=True))


def test_cli_reports_a_nonfinite_loss_with_status_3_and_one_line(cli, tmp_path, samples):
    text = (samples / "shakespeare.valid.txt").read_text()[:800]
    (tmp_path / "t.txt").write_text(text)
    # Weights of 1e38 overflow the first step's sums: inf - inf = NaN.
    args = ["train-lm", str(tmp_path / "t.txt"), "--level", "char", "--layers", "1", "--hidden-size", "8",
            "--embedding-size", "8", "--batch-size", "4", "--bptt", "10", "--init-range", "1e38", "--epochs", "1",
            "--device", "cpu", "-o", str(tmp_path / "m.pt")]
    res = cli(*args)
    assert res.returncode == 3, res.stderr.decode()
    lines = [line for line in res.stderr.decode().splitlines() if line.startswith("rnn-cli: error:")]
    assert len(lines) == 1 and "non-finite loss" in lines[0] and "at step 1:" in lines[0]
    assert b"Traceback" not in res.stderr and not (tmp_path / "m.pt").exists()
    skipped = cli(*args, "--skip-nonfinite", "-q")
    assert skipped.returncode == 0, skipped.stderr.decode()
    record = json.loads((tmp_path / "m.metrics.jsonl").read_text().splitlines()[0])
    assert record["skipped_batches"] == record["step"] > 0
