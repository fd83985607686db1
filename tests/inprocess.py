"""Run `rnn-cli ARGS` in this process (typer's CliRunner): the exit status, stdout and
stderr a shell user sees, without a subprocess's start-up (about 2 s each for torch's
import), and with the library reachable by monkeypatching. Shared by the tests of the
trainers' options (schedules, early stopping, embeddings, config files, precision)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    def summary(self) -> dict[str, Any]:
        """The JSON object a training command prints on stdout."""
        assert self.exit_code == 0, self.stderr
        return json.loads(self.stdout)


def invoke(*args: Any) -> Result:
    from typer.testing import CliRunner

    from rnn_cli.cli.app import app

    old = os.environ.pop("RNN_CLI_DEBUG", None)
    try:
        res = CliRunner().invoke(app, [str(a) for a in args])
    finally:
        if old is not None:
            os.environ["RNN_CLI_DEBUG"] = old
    exc = res.exception if res.exception is not None and not isinstance(res.exception, SystemExit) else None
    return Result(res.exit_code, res.stdout, res.stderr, exc)


def ok(*args: Any) -> Result:
    """`invoke`, asserting exit status 0."""
    res = invoke(*args)
    assert res.exit_code == 0 and res.exception is None, (res.exception, res.stderr[-3000:])
    return res


def error_line(res: Result) -> str:
    """The one `rnn-cli: error: ...` line of a failed command (no traceback)."""
    assert res.exception is None, repr(res.exception)
    assert "Traceback" not in res.stderr, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("rnn-cli: error: "), lines[0]
    return lines[0]


def metrics(out: Path) -> list[dict[str, Any]]:
    """The records of OUT.metrics.jsonl, one per epoch."""
    return [json.loads(line) for line in out.with_suffix(".metrics.jsonl").read_text().splitlines()]


def state(out: Path) -> dict[str, Any]:
    """The training state OUT.state.pt, loaded as rnn-cli loads it."""
    from rnn_cli import checkpoint

    return checkpoint.load(out.with_suffix(".state.pt"), kind="train-state")


def optimizer_lr(out: Path) -> float:
    """The learning rate of the optimiser in OUT.state.pt (the same in all its parameter groups)."""
    found = {group["lr"] for group in state(out)["optimizer_state"]["param_groups"]}
    assert len(found) == 1, found
    return found.pop()


def write_lm_pair(d: Path, size: int = 1200) -> dict[str, Path]:
    """{"train", "valid"}: about `size` characters of the Shakespeare sample (cut at a
    line end) and the next `size`. A 64-unit character LSTM overfits the training part
    within a few epochs, so that its validation loss stops improving."""
    from tests.conftest import SAMPLES

    text = (SAMPLES / "shakespeare.train.txt").read_text()
    a = text.index("\n", size) + 1
    b = text.index("\n", a + size) + 1
    (d / "train.txt").write_text(text[:a])
    (d / "valid.txt").write_text(text[a:b])
    return {"train": d / "train.txt", "valid": d / "valid.txt"}
