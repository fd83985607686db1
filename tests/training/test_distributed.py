"""Data-parallel training under torchrun (gloo, CPU): two processes with half the
batch each take the same steps as one process with the whole batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ddp_worker import step_losses

from rnn_cli import checkpoint
from rnn_cli.training.distributed import Dist

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("ddp_worker.py")


def torchrun(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           *args], capture_output=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL, cwd=ROOT)


@pytest.fixture(scope="module")
def ddp_data(tmp_path_factory: pytest.TempPathFactory, samples: Path) -> Path:
    d = tmp_path_factory.mktemp("ddp")
    text = (samples / "shakespeare.train.txt").read_text()
    (d / "train.txt").write_text(text[:4000])
    (d / "valid.txt").write_text(text[4000:4600])
    sentences = (samples / "names.train.conll").read_text().split("\n\n")
    # 97 sentences: with a global batch of 16 the last batch has 1 sentence, so rank 1
    # gets none of it (it runs a weight-0 stand-in, see Dist.shard).
    (d / "train.conll").write_text("\n\n".join(sentences[:97]) + "\n\n")
    (d / "dev.conll").write_text("\n\n".join(sentences[100:120]) + "\n\n")
    return d


@pytest.mark.parametrize("n, world", [(16, 2), (3, 2), (1, 2), (7, 3), (5, 4), (2, 4)])
def test_weighted_shard_means_average_to_the_global_batch_mean(n, world):
    """What DDP's gradient averaging sees: the mean over ranks of each rank's weighted
    mean loss is the mean over the whole batch, and every item is trained once."""
    values = torch.rand(50, generator=torch.Generator().manual_seed(n * world), dtype=torch.float64)
    batch = list(range(20, 20 + n))
    shares = [Dist(rank, world).shard(batch) for rank in range(world)]
    average = sum(w * values[part].mean() for part, w in shares) / world
    assert float(average) == pytest.approx(float(values[batch].mean()), rel=1e-12)
    assert sorted(i for part, w in shares if w > 0 for i in part) == batch


@pytest.mark.parametrize("task, batch", [("lm", 4), ("tagger", 8)])
def test_two_processes_match_one_process_with_twice_the_batch(task, batch, ddp_data, tmp_path):
    res = torchrun(str(WORKER), task, str(ddp_data), str(tmp_path / "ddp.pt"), str(batch))
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    ddp = json.loads((tmp_path / "ddp.losses.json").read_text())
    assert ddp["world"] == 2
    one = step_losses(task, ddp_data, tmp_path / "one.pt", 2 * batch, Dist())
    assert len(one) == len(ddp["losses"]) > 5
    assert ddp["losses"] == pytest.approx(one, rel=1e-5)
    a = checkpoint.load(tmp_path / "one.pt")["state_dict"]
    b = checkpoint.load(tmp_path / "ddp.pt")["state_dict"]
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("task, batch, stop_after", [("lm", 4, 37), ("tagger", 8, 10)])
def test_two_process_run_stopped_mid_epoch_resumes_exactly(task, batch, stop_after, ddp_data, tmp_path):
    """Two epochs, stopped in the second (after a dev evaluation on rank 0), dropout
    on: each rank's generators and (LM) carried hidden state must come back."""
    full, cut = tmp_path / "full.pt", tmp_path / "cut.pt"

    def launch(out: Path, *extra: str) -> None:
        res = torchrun(str(WORKER), task, str(ddp_data), str(out), str(batch), "0.3", extra[0], "2", *extra[1:])
        assert res.returncode == 0, res.stderr.decode()[-3000:]

    launch(full, "0")
    launch(cut, str(stop_after))
    state = torch.load(cut.with_suffix(".state.pt"), weights_only=True)
    assert state["progress"]["epoch"] == 1 and state["progress"]["global_step"] == stop_after  # mid-epoch 2
    assert len(state["rng"]) == 2
    launch(cut, "0", "resume")
    state = torch.load(cut.with_suffix(".state.pt"), weights_only=True)
    a = torch.load(full.with_suffix(".state.pt"), weights_only=True)["model_state"]
    b = state["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]


def test_train_classifier_under_torchrun_writes_once_from_rank_0(samples, tmp_path):
    lines = (samples / "ewt.genre.train.tsv").read_text().splitlines()
    (tmp_path / "train.tsv").write_text("\n".join(lines[:200]) + "\n")
    (tmp_path / "dev.tsv").write_text("\n".join(lines[200:260]) + "\n")
    out = tmp_path / "m.pt"
    res = torchrun("-m", "rnn_cli", "train-classifier", str(tmp_path / "train.tsv"), "--dev",
                   str(tmp_path / "dev.tsv"), "-o", str(out), "--epochs", "2", "--batch-size", "8",
                   "--hidden-size", "8", "--embedding-size", "8", "--device", "cpu", "--checkpoint-every", "5")
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    summary = [json.loads(line) for line in res.stdout.decode().splitlines() if line.startswith("{")]
    assert len(summary) == 1 and summary[0]["epochs"] == 2  # one JSON summary: rank 0's
    stderr = res.stderr.decode()
    assert stderr.count("200 items") == 1, stderr  # the data note, from rank 0 only
    assert len((tmp_path / "m.metrics.jsonl").read_text().splitlines()) == 2
    state = torch.load(tmp_path / "m.state.pt", weights_only=True)
    assert len(state["rng"]) == 2  # every rank's generators, for an exact resume
    checkpoint.build_model(checkpoint.load(out, task="classifier"))


def test_ctrl_c_under_torchrun_stops_all_ranks_at_one_step_saves_and_resumes(samples, tmp_path):
    """Ctrl-C reaches torchrun and both workers (one process group), and torchrun
    forwards it again: the ranks agree on the step, save once, and do not abort."""
    import signal
    import time

    lines = (samples / "ewt.genre.train.tsv").read_text().splitlines()
    (tmp_path / "train.tsv").write_text("\n".join(lines[:400]) + "\n")
    (tmp_path / "dev.tsv").write_text("\n".join(lines[400:460]) + "\n")
    out = tmp_path / "m.pt"
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "rnn_cli",
            "train-classifier", str(tmp_path / "train.tsv"), "--dev", str(tmp_path / "dev.tsv"), "-o", str(out),
            "--epochs", "2", "--batch-size", "4", "--hidden-size", "8", "--embedding-size", "8",
            "--checkpoint-every", "5", "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    seen, deadline = None, time.time() + 240
    while seen is None and proc.poll() is None and time.time() < deadline:
        try:
            progress = torch.load(out.with_suffix(".state.pt"), weights_only=True)["progress"]
            seen = progress if progress["epoch"] == 0 and progress["batches_done"] > 0 else None
        except (OSError, RuntimeError, EOFError):
            pass
        time.sleep(0.05)
    assert seen is not None, proc.communicate()[1].decode()[-3000:]
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    stdout, stderr = proc.communicate(timeout=120)
    message = stderr.decode()
    assert message.count("run the same command again with --resume") == 1, message[-3000:]
    assert [json.loads(line) for line in stdout.decode().splitlines()] == [{"interrupted": True,
                                                                           "state": str(out.with_suffix(".state.pt"))}]
    state = torch.load(out.with_suffix(".state.pt"), weights_only=True)
    assert state["progress"]["global_step"] > seen["global_step"] and len(state["rng"]) == 2
    res = torchrun(*args[6:], "--resume")
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    assert json.loads(res.stdout.decode().splitlines()[-1])["epochs"] == 2
