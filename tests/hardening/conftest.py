"""Hardening fixtures: three tiny models (one per task) trained once per session in
process, and an in-process runner that captures exit status, stdout and stderr."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnn_cli.cli.app import app
from tests.inprocess import Result, error_line

# Tiny synthetic data: the models only have to exist and know these words and labels.
LM_TEXT = "the cat sat on the mat .\na dog ran to the cat .\n" * 20
TAG_SENTENCES = [
    [("John", "PROPN", "B-NAME"), ("Smith", "PROPN", "I-NAME"), ("paid", "VERB", "O"), ("20", "NUM", "B-NUM"),
     ("dollars", "NOUN", "O"), (".", "PUNCT", "O")],
    [("Mary", "PROPN", "B-NAME"), ("sat", "VERB", "O"), ("on", "ADP", "O"), ("3", "NUM", "B-NUM"),
     ("chairs", "NOUN", "O")],
] * 10
CLS_LINES = ["reviews\tthe food was great", "email\tthanks for the reply , see you", "reviews\tbad service",
             "email\tplease send the file"] * 10

TAG_GOOD = "John PROPN B-NAME\nSmith PROPN I-NAME\npaid VERB O\n\nMary PROPN B-NAME\nsat VERB O\n"
CLS_GOOD = "reviews\tthe food was great\nemail\tsee you on Monday\n"
TEXT_GOOD = "the cat sat on the mat .\na dog ran .\n"


@pytest.fixture
def invoke(monkeypatch, one_thread):
    """Run `rnn-cli ARGS` in process (much faster than a subprocess)."""
    monkeypatch.setenv("RNN_CLI_DEBUG", "0")  # restored after the test, even if --debug set it
    runner = CliRunner()

    def run(*args: str, stdin: bytes | str | None = None) -> Result:
        res = runner.invoke(app, [str(a) for a in args], input=stdin)
        exc = res.exception if res.exception is not None and not isinstance(res.exception, SystemExit) else None
        return Result(res.exit_code, res.stdout, res.stderr, exc)

    return run


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread; on a busy 2-core machine, several threads
    make each tiny matrix product wait for the others (tens of times slower)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


one_error_line = error_line  # the one `rnn-cli: error: ...` line of a failed command (tests/inprocess.py)


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    """{"lm", "tagger", "classifier"}: tiny models of each task (a few seconds in all)."""
    d = tmp_path_factory.mktemp("hardening-models")
    (d / "lm.txt").write_text(LM_TEXT)
    (d / "tag.conll").write_text("\n".join("".join(f"{w} {p} {t}\n" for w, p, t in s) for s in TAG_SENTENCES))
    (d / "cls.tsv").write_text("\n".join(CLS_LINES) + "\n")
    common = ["--epochs", "1", "--device", "cpu", "-q"]
    runs = {
        "lm": ["train-lm", d / "lm.txt", "--layers", "1", "--hidden-size", "8", "--embedding-size", "8",
               "--batch-size", "2", "--bptt", "5"],
        "tagger": ["train-tagger", d / "tag.conll", "--dev", d / "tag.conll", "--embedding-size", "8",
                   "--hidden-size", "8", "--char-filters", "4", "--char-embedding-size", "4"],
        "classifier": ["train-classifier", d / "cls.tsv", "--dev", d / "cls.tsv", "--embedding-size", "8",
                       "--hidden-size", "8", "--max-length", "50"],
    }
    import torch

    old = os.environ.get("RNN_CLI_DEBUG")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {}
    for task, args in runs.items():
        out[task] = d / f"{task}.pt"
        res = CliRunner().invoke(app, [str(a) for a in args] + common + ["-o", str(out[task])])
        assert res.exit_code == 0, res.stderr
    torch.set_num_threads(threads)
    assert os.environ.get("RNN_CLI_DEBUG") == old
    return out
