"""Shared fixtures: sample data paths, a tiny trained model, and CLI runners."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_data"

# One intra-op thread in this process and in every subprocess a test starts (they copy
# os.environ): on a 2-core machine beside another job, a fixture's training took 120 s
# with torch's default threads and 11 s pinned.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"


def pytest_sessionstart(session):
    # The compiled loops are built before any test, as `make install` builds them: a test
    # never waits for a build or sees its note, whatever state the machine's cache is in.
    from rnn_cli.models.kernels import build_all

    for message in build_all():
        print(f"rnn-cli: {message}", file=sys.stderr)


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)
    yield


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


def run_cli(*args: str, stdin: str | bytes | None = None, cwd: Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m rnn_cli ARGS` as a real subprocess, as a shell user would."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    env.pop("RNN_CLI_DEBUG", None)
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run(
        [sys.executable, "-m", "rnn_cli", *args],
        input=data, stdin=None if data is not None else subprocess.DEVNULL,
        capture_output=True, cwd=cwd or ROOT, env=env, timeout=timeout,
    )


@pytest.fixture(scope="session")
def cli():
    return run_cli


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small character-level corpus cut from the Shakespeare sample."""
    d = tmp_path_factory.mktemp("corpus")
    text = (SAMPLES / "shakespeare.train.txt").read_text()
    a = text.index("\n", 40_000) + 1
    b = text.index("\n", a + 6_000) + 1
    (d / "train.txt").write_text(text[:a])
    (d / "valid.txt").write_text(text[a:b])
    return {"train": d / "train.txt", "valid": d / "valid.txt", "dir": d}


@pytest.fixture(scope="session")
def char_model(tiny_corpus: dict[str, Path]) -> Path:
    """A small character LM trained once per session through the CLI."""
    out = tiny_corpus["dir"] / "char.pt"
    res = run_cli("train-lm", str(tiny_corpus["train"]), "--dev", str(tiny_corpus["valid"]), "--level", "char",
                  "--layers", "1", "--hidden-size", "48", "--embedding-size", "16", "--bptt", "30",
                  "--batch-size", "16", "--optimizer", "adam", "--lr", "0.01", "--clip", "5", "--epochs", "2",
                  "--dropout", "0", "--device", "cpu", "-o", str(out))
    assert res.returncode == 0, res.stderr.decode()
    return out


@pytest.fixture(scope="session")
def word_model(tiny_corpus: dict[str, Path]) -> Path:
    out = tiny_corpus["dir"] / "word.pt"
    res = run_cli("train-lm", str(tiny_corpus["train"]), "--dev", str(tiny_corpus["valid"]),
                  "--layers", "1", "--hidden-size", "32", "--embedding-size", "32", "--bptt", "10",
                  "--batch-size", "8", "--optimizer", "adam", "--lr", "0.01", "--epochs", "1",
                  "--max-vocab", "500", "--device", "cpu", "-o", str(out))
    assert res.returncode == 0, res.stderr.decode()
    return out
