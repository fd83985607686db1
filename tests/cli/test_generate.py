"""`generate` as a shell user sees it (issue 12): --echo, no blank first line, conflicting
decoding options refused or warned about in one line, --temperature 0 as greedy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnn_cli.cli.app import app
from tests.conftest import run_cli
from tests.inprocess import Result, error_line, ok

# A play whose speaker lines always end where the name ends: a model trained on it ends
# the prompt "ROMEO:" with a line end, the case that made the output start blank.
PLAY = "ROMEO:\nGood morrow, sweet.\nJULIET:\nGood night, love.\n" * 30
TRAIN = ["--layers", "1", "--bptt", "10", "--batch-size", "4", "--optimizer", "adam", "--epochs", "6",
         "--dropout", "0", "--device", "cpu", "-q"]


@pytest.fixture(scope="module")
def play_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("play")
    (d / "play.txt").write_text(PLAY)
    ok("train-lm", d / "play.txt", "--level", "char", "--hidden-size", "32", "--embedding-size", "16",
       "--lr", "0.02", *TRAIN, "-o", d / "char.pt")
    ok("train-lm", d / "play.txt", "--hidden-size", "16", "--embedding-size", "16", "--lr", "0.05", *TRAIN,
       "-o", d / "word.pt")
    return {"char": d / "char.pt", "word": d / "word.pt"}


def run(model: Path, *args: str, stdin: str | None = None) -> Result:
    """`rnn-cli generate MODEL ARGS` in process, with `stdin` as a pipe's content."""
    res = CliRunner().invoke(app, ["generate", str(model), "--device", "cpu", *args], input=stdin)
    exc = None if isinstance(res.exception, SystemExit) else res.exception
    return Result(res.exit_code, res.stdout, res.stderr, exc)


def generate(model: Path, *args: str, stdin: str | None = None) -> str:
    """The stdout of a run that must succeed quietly."""
    res = run(model, *args, stdin=stdin)
    assert res.exit_code == 0 and res.exception is None, (res.exception, res.stderr)
    assert res.stderr == "", res.stderr
    return res.stdout


def exact_text(model: Path, prompt: str, *args: str) -> str:
    """The continuation as generated (jsonl's "text": prompt + text is the whole text)."""
    (row,) = [json.loads(line) for line in generate(model, "--prompt", prompt, "--format", "jsonl", *args)
              .splitlines()]
    assert row["prompt"] == prompt
    return row["text"]


@pytest.mark.parametrize("level", ["char", "word"])
def test_no_blank_first_line_after_a_prompt_line_the_model_ends(play_models, level):
    model = play_models[level]
    text = exact_text(model, "ROMEO:", "--greedy", "-n", "8")
    assert text.startswith("\n")  # the model ends the prompt's line at once
    plain = generate(model, "--prompt", "ROMEO:", "--greedy", "-n", "8")
    assert not plain.startswith("\n")
    assert plain == text[1:] + ("" if text.endswith("\n") else "\n")
    # From stdin, as `echo ROMEO: | rnn-cli generate`: the same prompt, the same output.
    assert generate(model, "--greedy", "-n", "8", stdin="ROMEO:\n") == plain


@pytest.mark.parametrize("level", ["char", "word"])
@pytest.mark.parametrize("prompt", ["ROMEO:", "Good", "JULIET:\n", "Good night, love.\nROMEO:"])
def test_echo_writes_the_prompt_then_the_continuation(play_models, level, prompt):
    model = play_models[level]
    text = exact_text(model, prompt, "--greedy", "-n", "12")
    echoed = generate(model, "--prompt", prompt, "--greedy", "-n", "12", "--echo")
    assert echoed.startswith(prompt)
    assert echoed == prompt + text + ("" if text.endswith("\n") else "\n")


def test_echo_from_stdin_and_with_several_samples(play_models):
    out = generate(play_models["char"], "--echo", "-n", "20", "--num-samples", "2", "--seed", "3", stdin="JULIET:\n")
    samples = out.split("\n\n")  # separated by a blank line
    assert len(samples) == 2 and all(s.startswith("JULIET:") for s in samples), out


def test_word_continuation_stands_alone_without_echo(play_models):
    """Without --echo the words start at the first one, not with the space that joins them to the prompt."""
    text = exact_text(play_models["word"], "Good", "--greedy", "-n", "3")
    assert text.startswith(" ")
    plain = generate(play_models["word"], "--prompt", "Good", "--greedy", "-n", "3")
    assert plain == text.lstrip(" ") + ("" if text.endswith("\n") else "\n")


def test_temperature_zero_is_greedy(play_models):
    for level in ("char", "word"):
        args = ["--prompt", "Good", "-n", "30"]
        assert generate(play_models[level], *args, "--temperature", "0") == generate(play_models[level], *args,
                                                                                      "--greedy")


CONFLICTS = [
    # (options, exit status, text of the one stderr line)
    (["--beam", "3", "--num-samples", "2"], 2, "--num-samples 2 with --beam 3: that decoding is deterministic"),
    (["--greedy", "--num-samples", "2"], 2, "--num-samples 2 with --greedy"),
    (["--temperature", "0", "--num-samples", "3"], 2, "--num-samples 3 with --temperature 0"),
    (["--top-k", "1", "--num-samples", "2"], 2, "--num-samples 2 with --top-k 1"),
    (["--greedy", "--beam", "2"], 2, "--greedy and --beam 2 are two decoders"),
    (["--temperature", "-0.5"], 2, "--temperature must be >= 0 (0: greedy), got -0.5"),
    (["--greedy", "--top-k", "3"], 0, "warning: --top-k has no effect with --greedy"),
    (["--greedy", "--temperature", "0.7", "--top-p", "0.9"], 0,
     "warning: --temperature and --top-p have no effect with --greedy"),
    (["--beam", "3", "--temperature", "0.5", "--top-k", "4", "--seed", "9"], 0,
     "warning: --temperature, --top-k and --seed have no effect with --beam 3"),
    (["--temperature", "0", "--top-k", "5"], 0, "warning: --top-k has no effect with --temperature 0"),
    (["--echo", "--format", "jsonl"], 0, "warning: --echo has no effect with --format jsonl"),
]


@pytest.mark.parametrize("args, status, message", CONFLICTS, ids=[" ".join(c[0]) for c in CONFLICTS])
def test_conflicting_options_are_an_error_or_a_warning(play_models, args, status, message):
    res = run(play_models["char"], "--prompt", "Good", "-n", "5", *args)
    assert res.exit_code == status, res.stderr
    if status:
        assert message in error_line(res) and res.stdout == ""
        return
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"rnn-cli: {message}"), res.stderr
    assert res.stdout.strip()


def test_agreeing_options_are_quiet(play_models):
    for args in (["--greedy", "--temperature", "0"], ["--beam", "1"], ["--top-k", "3", "--temperature", "0.8",
                                                                        "--seed", "5", "--num-samples", "2"]):
        generate(play_models["char"], "--prompt", "Good", "-n", "5", *args)  # asserts an empty stderr


def test_echo_through_a_pipe(play_models):
    """`echo ROMEO: | rnn-cli generate M --echo | head -1` shows the prompt line; without
    --echo the first line holds text."""
    res = run_cli("generate", str(play_models["char"]), "--echo", "--greedy", "-n", "30", "--device", "cpu",
                  stdin="ROMEO:\n")
    assert res.returncode == 0 and res.stderr == b"", res.stderr.decode()
    prompt_line, first = res.stdout.decode().splitlines()[:2]
    assert prompt_line == "ROMEO:" and first.startswith("Good")
    res = run_cli("generate", str(play_models["char"]), "--greedy", "-n", "30", "--device", "cpu", stdin="ROMEO:\n")
    assert res.stdout.decode().splitlines()[0] == first
