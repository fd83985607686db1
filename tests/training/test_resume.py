"""Exact resume of real training processes: killed with SIGKILL (no chance to save)
or stopped with SIGTERM mid-epoch, then resumed, each command ends with exactly the
weights of an uninterrupted run (CPU, fixed seed, dropout on)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rnn_cli", *args, "--device", "cpu", "--seed", "11"]


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, env=env(), timeout=300, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    return res


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def read_state(path: Path) -> dict | None:
    try:
        return torch.load(path, weights_only=True)
    except (OSError, RuntimeError, EOFError):
        return None


def interrupt_mid_epoch(cmd: list[str], out: Path, sig: int, epoch: int) -> tuple[subprocess.Popen, dict]:
    """Start `cmd`; once its state file shows a checkpoint in the middle of epoch
    `epoch + 1` (0-based `epoch` finished epochs), send `sig`. Returns the process
    and the state seen just before."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    spath, deadline = out.with_suffix(".state.pt"), time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        state = read_state(spath) if spath.exists() else None
        if state is not None and state["progress"]["epoch"] == epoch and mid_epoch(state["progress"]):
            proc.send_signal(sig)
            return proc, state
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"no mid-epoch checkpoint seen: {proc.communicate()[1].decode()[-2000:]}")


def mid_epoch(progress: dict) -> bool:
    return progress.get("batches_done", progress.get("row", 0)) > 0


def same_weights(a: Path, b: Path) -> None:
    wa = torch.load(a.with_suffix(".state.pt"), weights_only=True)["model_state"]
    wb = torch.load(b.with_suffix(".state.pt"), weights_only=True)["model_state"]
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa), [k for k in wa if not torch.equal(wa[k], wb[k])]


def lm_cmd(corpus: dict[str, Path], out: Path) -> list[str]:
    return command("train-lm", str(corpus["train"]), "--dev", str(corpus["valid"]), "--level", "char",
                   "--layers", "1", "--hidden-size", "32", "--embedding-size", "16", "--bptt", "20",
                   "--batch-size", "16", "--optimizer", "adam", "--lr", "0.01", "--dropout", "0.3",
                   "--variable-bptt", "--epochs", "2", "--checkpoint-every", "7", "-q", "-o", str(out))


def tagger_cmd(samples: Path, out: Path, cell: str = "lstm") -> list[str]:
    return command("train-tagger", str(samples / "names.train.conll"), "--dev", str(samples / "names.dev.conll"),
                   "--hidden-size", "16", "--embedding-size", "16", "--char-filters", "8", "--batch-size", "10",
                   "--optimizer", "adam", "--lr", "0.01", "--dropout", "0.3", "--epochs", "2", "--cell", cell,
                   "--layers", "2" if cell == "sru" else "1", "--checkpoint-every", "3", "-q", "-o", str(out))


@pytest.mark.slow
def test_lm_killed_mid_epoch_resumes_to_the_uninterrupted_weights(tiny_corpus, tmp_path):
    full, cut = tmp_path / "full.pt", tmp_path / "cut.pt"
    run(lm_cmd(tiny_corpus, full))
    proc, seen = interrupt_mid_epoch(lm_cmd(tiny_corpus, cut), cut, signal.SIGKILL, epoch=1)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    res = run(lm_cmd(tiny_corpus, cut) + ["--resume"])
    assert json.loads(res.stdout)["epochs"] == 2
    same_weights(full, cut)


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["lstm", "sru"])
def test_tagger_killed_mid_epoch_resumes_to_the_uninterrupted_weights(cell, samples, tmp_path):
    full, cut = tmp_path / "full.pt", tmp_path / "cut.pt"
    run(tagger_cmd(samples, full, cell))
    proc, seen = interrupt_mid_epoch(tagger_cmd(samples, cut, cell), cut, signal.SIGKILL, epoch=1)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    run(tagger_cmd(samples, cut, cell) + ["--resume"])
    same_weights(full, cut)
    history = [json.loads(line) for line in cut.with_suffix(".metrics.jsonl").read_text().splitlines()]
    reference = [json.loads(line) for line in full.with_suffix(".metrics.jsonl").read_text().splitlines()]
    assert [r["train_loss"] for r in history] == pytest.approx([r["train_loss"] for r in reference], rel=1e-9)


def test_sigterm_saves_says_how_to_resume_exits_130_and_resumes_exactly(samples, tmp_path):
    lines = (samples / "ewt.genre.train.tsv").read_text().splitlines()
    (tmp_path / "train.tsv").write_text("\n".join(lines[:400]) + "\n")
    (tmp_path / "dev.tsv").write_text("\n".join(lines[400:460]) + "\n")

    def cmd(out: Path) -> list[str]:
        return command("train-classifier", str(tmp_path / "train.tsv"), "--dev", str(tmp_path / "dev.tsv"),
                       "--hidden-size", "8", "--embedding-size", "8", "--batch-size", "4", "--epochs", "2",
                       "--dropout", "0.3", "--checkpoint-every", "5", "-o", str(out))

    full, cut = tmp_path / "full.pt", tmp_path / "cut.pt"
    run(cmd(full))
    proc, seen = interrupt_mid_epoch(cmd(cut), cut, signal.SIGTERM, epoch=0)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr.decode()
    message = stderr.decode()
    assert "SIGTERM" in message and "--resume" in message and "Traceback" not in message
    assert json.loads(stdout)["interrupted"] is True
    state = read_state(cut.with_suffix(".state.pt"))
    assert state is not None and state["progress"]["global_step"] > seen["progress"]["global_step"]
    run(cmd(cut) + ["--resume"])
    same_weights(full, cut)
