"""What every command shares in a shell: --quiet and --debug before or after the
command's name, stderr lines never wrapped in a pipe, help that shows choices and no
`<bool>` after flags, shell completion, and `info` naming the tag or label set."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLES

COMMANDS = ["train-lm", "generate", "train-tagger", "tag", "train-classifier", "classify", "evaluate", "convert",
            "info", "export"]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("RNN_CLI_DEBUG", "RNN_CLI_QUIET", "COLUMNS")}
    return subprocess.run([sys.executable, "-m", "rnn_cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**base, "PYTHONPATH": str(ROOT), **(env or {})}, stdin=subprocess.DEVNULL, timeout=300)


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_before_or_after_the_command_shows_the_traceback(where, tmp_path):
    missing = str(tmp_path / "missing.pt")
    args = ["--debug", "info", missing] if where == "before" else ["info", missing, "--debug"]
    res = run(*args)
    assert res.returncode == 2 and "Traceback" in res.stderr and "no such model file" in res.stderr
    plain = run("info", missing)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_before_or_after_the_command_silences_notes_not_results(where, tmp_path):
    train = tmp_path / "t.txt"
    train.write_text((SAMPLES / "shakespeare.train.txt").read_text()[:3000])
    common = ["train-lm", str(train), "--level", "char", "--layers", "1", "--hidden-size", "8", "--embedding-size",
              "4", "--epochs", "1", "--batch-size", "4", "-o", str(tmp_path / "m.pt")]
    loud = run(*common)
    assert loud.returncode == 0 and "tokens, vocabulary" in loud.stderr
    res = run("-q", *common) if where == "before" else run(*common, "--quiet")
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert json.loads(res.stdout)["epochs"] == 1


def test_an_error_about_a_long_path_stays_one_line_in_a_pipe(tmp_path):
    long = tmp_path / ("d" * 120) / ("m" * 120 + ".pt")
    res = run("info", str(long))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and str(long) in res.stderr


@pytest.mark.parametrize("name", COMMANDS)
def test_help_shows_no_bool_or_str_placeholder(name):
    """Flags show no `<bool>`; files, texts, encodings and choices show what they take
    (FILE, TEXT, ENCODING, conll|jsonl|inline), never a bare `<str>`."""
    res = run(name, "--help", env={"COLUMNS": "200"})
    assert res.returncode == 0 and "<bool>" not in res.stdout and "<str>" not in res.stdout, res.stdout


def test_choice_options_of_the_applying_commands_show_their_choices():
    shown = {name: run(name, "--help", env={"COLUMNS": "250"}).stdout for name in ("tag", "classify", "evaluate")}
    for name, choices in (("tag", "auto|conll|conllu|text"), ("tag", "conll|jsonl|inline"),
                          ("tag", "upos|xpos|misc"), ("tag", "iob1|bio|bioes"), ("tag", "none|int8"),
                          ("classify", "auto|text|tsv|fasttext|jsonl|label-text"), ("classify", "tsv|jsonl"),
                          ("evaluate", "auto|iob1|bio|bioes|plain"), ("evaluate", "text|json|conlleval")):
        assert choices in shown[name], (name, choices)


def test_choice_options_show_their_choices_in_help():
    out = run("train-lm", "--help", env={"COLUMNS": "250"}).stdout
    for choices in ("lstm|gru|rnn-tanh|rnn-relu", "sgd|adam", "constant|inverse-time|step|plateau", "word|char"):
        assert choices in out, choices


def test_completion_offers_commands_and_choices():
    env = {"_RNN_CLI_COMPLETE": "complete_bash", "COMP_WORDS": "rnn-cli train-lm --cell ", "COMP_CWORD": "3"}
    res = run(env=env)
    assert res.stdout.split() == ["lstm", "gru", "rnn-tanh", "rnn-relu", "sru", "sru-plain"]
    env.update(COMP_WORDS="rnn-cli train-", COMP_CWORD="1")
    assert run(env=env).stdout.split() == ["train-lm", "train-tagger", "train-classifier"]


def test_info_lists_the_tag_set_and_with_verbose_the_transitions(tmp_path):
    out = tmp_path / "t.pt"
    from tests.inprocess import ok

    ok("train-tagger", SAMPLES / "names.train.conll", "--dev", SAMPLES / "names.dev.conll", "--epochs", "1",
       "--hidden-size", "8", "--embedding-size", "8", "--char-filters", "4", "-q", "-o", out)
    info = json.loads(ok("info", out, "--json").stdout)
    tags = info["tags"]
    assert "O" in tags and any(t.startswith("B-") for t in tags) and "transitions" not in info
    text = ok("info", out).stdout
    assert "tags: " + " ".join(tags) in text and "transitions" not in text
    verbose = json.loads(ok("info", out, "--json", "--verbose").stdout)
    rows = verbose["transitions"]
    assert len(rows) == len(tags) and all(len(r) == len(tags) for r in rows)
    o, i_tag = tags.index("O"), next(i for i, t in enumerate(tags) if t.startswith("I-"))
    assert rows[o][i_tag] is None  # O -> I-X is forbidden in BIOES: -inf, null in JSON
    assert "transitions (row: from" in ok("info", out, "--verbose").stdout
