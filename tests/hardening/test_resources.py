"""Resource bounds: `tag` and `classify` stream, so their peak memory does not grow
with the input; `tag --max-length` bounds what one over-long sentence can cost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnn_cli.data.conll import Sentence
from rnn_cli.data.schemes import validate
from rnn_cli.predict.tagger import load_tagger, predict
from tests.conftest import ROOT
from tests.hardening.conftest import one_error_line

# The issue asks for flat memory on a 1 GB input. A tiny test model tags well under
# 1 MB of text per CPU second, so by default the large input is only 4 MB (16 times the
# small one), which keeps this test near half a minute on 2 busy cores; set
# RNN_CLI_RSS_TEST_MB=300 (or more) for a full-size check.
BIG_MB = float(os.environ.get("RNN_CLI_RSS_TEST_MB", "4"))
SMALL_MB = 0.25
SLACK_MB = 40  # allocator noise; a leak of the input would be many times this

TAG_BLOCK = ("John Smith paid 20 dollars for the old house in Paris .\n"
             "Mary sat on 3 chairs and said nothing at all today .\n") * 500
CLS_BLOCK = ("reviews\tthe food was great and the staff were kind to us\n"
             "email\tthanks for the reply , see you on Monday at the office\n") * 500


def _generate(path: Path, block: str, megabytes: float) -> Path:
    data = block.encode()
    with open(path, "wb") as fh:
        for _ in range(max(1, int(megabytes * 1024 * 1024 / len(data)))):
            fh.write(data)
    return path


def _peak_rss_mb(*args: str) -> float:
    """Run `rnn-cli ARGS > /dev/null` and return the process's peak resident memory (MB)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("RNN_CLI_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-m", "rnn_cli", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.returncode == 0, stderr
    return usage.ru_maxrss / 1024  # Linux: kilobytes


@pytest.mark.slow
@pytest.mark.parametrize("command", ["tag", "classify"])
def test_peak_memory_does_not_grow_with_the_input(models, tmp_path, command):
    block = TAG_BLOCK if command == "tag" else CLS_BLOCK
    small = _generate(tmp_path / "small.txt", block, SMALL_MB)
    big = _generate(tmp_path / "big.txt", block, BIG_MB)
    model = models["tagger" if command == "tag" else "classifier"]
    extra = ["--input-format", "text"] if command == "tag" else []
    small_peak = _peak_rss_mb(command, str(model), str(small), *extra, "--device", "cpu")
    big_peak = _peak_rss_mb(command, str(model), str(big), *extra, "--device", "cpu")
    assert big_peak < small_peak + SLACK_MB, (small_peak, big_peak, BIG_MB)


# --- --max-length ----------------------------------------------------------------------

def _sentence(tokens: list[str], line: int = 1) -> Sentence:
    return Sentence(tokens, None, [[t] for t in tokens], line)


def test_long_sentence_is_tagged_in_pieces_and_joined(models, one_thread):
    tagger = load_tagger(str(models["tagger"]), torch.device("cpu"))
    words = ("John Smith paid 20 dollars . Mary sat on 3 chairs".split() * 30)[:250]
    short = _sentence(["Mary", "sat"], 5)
    split: list[tuple[int, int]] = []
    preds = list(predict(tagger, [_sentence(words), short], 8, torch.device("cpu"), probs=True, nbest=3,
                         max_length=100, on_split=lambda s, k: split.append((len(s), k))))
    assert split == [(250, 3)]
    long_pred, short_pred = preds
    assert long_pred.sentence.tokens == words and short_pred.sentence is short
    # Each piece is tagged as if it were a sentence of its own; the joined tags are valid.
    pieces = [list(predict(tagger, [_sentence(words[a:a + 100])], 8, torch.device("cpu")))[0].tags
              for a in range(0, 250, 100)]
    assert long_pred.tags == [t for p in pieces for t in p]
    validate(long_pred.tags, tagger.scheme)
    assert len(long_pred.probs) == 250 and len(long_pred.nbest) == 1 and long_pred.nbest[0][0] == long_pred.tags
    assert 0.0 < long_pred.nbest[0][1] <= 1.0
    assert len(short_pred.nbest) >= 1  # a short sentence keeps its k-best list
    whole = list(predict(tagger, [_sentence(words)], 8, torch.device("cpu"), max_length=0))[0]
    assert len(whole.tags) == 250  # no limit: tagged as one sentence


def test_ten_thousand_token_sentence_with_a_note(invoke, models, tmp_path):
    f = tmp_path / "long.txt"
    f.write_text(" ".join(["John", "Smith", "paid", "20", "dollars", "."] * 1667)[:-2] + "\nMary sat .\n")
    res = invoke("tag", models["tagger"], f, "--input-format", "text", "--format", "inline", "--device", "cpu")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 2 and len(lines[0].split()) == 10001 and lines[1].startswith("Mary/")
    assert res.stderr.strip() == (f"rnn-cli: warning: {f}:1: a sentence of 10001 tokens, tagged in 11 pieces of "
                                  "at most 1000 (--max-length)")
    f.write_text(" ".join(["Mary"] * 1001) + "\n")  # over the default limit: no note with 0 (no limit)
    res = invoke("tag", models["tagger"], f, "--input-format", "text", "--max-length", "0", "--device", "cpu")
    assert res.exit_code == 0 and res.stderr == ""


def test_many_split_sentences_give_a_few_notes_and_a_count(invoke, models, tmp_path):
    f = tmp_path / "long.txt"
    f.write_text("John Smith paid 20 dollars .\n" * 6)
    res = invoke("tag", models["tagger"], f, "--input-format", "text", "--max-length", "4", "--device", "cpu")
    assert res.exit_code == 0
    notes = res.stderr.strip().splitlines()
    assert len(notes) == 4 and notes[0].endswith("a sentence of 6 tokens, tagged in 2 pieces of at most 4 "
                                                 "(--max-length)")
    assert notes[-1] == f"rnn-cli: warning: {f}: 6 sentences longer than 4 tokens were tagged in pieces (--max-length)"


def test_max_length_must_not_be_negative(invoke, models, tmp_path):
    res = invoke("tag", models["tagger"], "--max-length", "-1", stdin="a b\n")
    assert res.exit_code == 2 and "--max-length" in one_error_line(res)


def test_classify_notes_texts_cut_at_the_model_max_length(invoke, models, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("the food " * 100 + "\nshort text\n")  # 200 tokens; the test model keeps 50
    res = invoke("classify", models["classifier"], f, "--device", "cpu")
    assert res.exit_code == 0 and len(res.stdout.splitlines()) == 2
    assert res.stderr.strip() == (f"rnn-cli: warning: {f}: 1 text(s) longer than the model's max length "
                                  "(50 tokens) were cut to it")
