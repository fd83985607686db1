"""`evaluate LM FILE --per-line`: one score line per input line, each line scored on its
own, checked against the model's log-softmax computed here, KenLM's definitions, the
whole-file scorer, and as a stream through a pipe."""

from __future__ import annotations

import json
import math
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT
from tests.inprocess import error_line, invoke, ok

ENV = {**{k: v for k, v in os.environ.items() if k != "RNN_CLI_DEBUG"}, "PYTHONPATH": str(ROOT)}
OOV_LINE = {"word": "zzqx qqzx", "char": "\u00a7\u00a7\u00b6"}  # no such words / characters in Shakespeare


def lines_for(tiny_corpus: dict[str, Path], level: str) -> list[str]:
    """Lines of different lengths (so that batches are length-sorted), a blank one and one of OOVs only."""
    text = tiny_corpus["valid"].read_text().splitlines()[:11]
    return [*text[:5], "", OOV_LINE[level], *text[5:]]


def direct_scores(model_path: Path, level: str, line: str) -> dict[str, float]:
    """The line's log-probability computed here from the model's logits, one line, one pass."""
    from rnn_cli.predict.lm import load_lm

    lm = load_lm(str(model_path), torch.device("cpu"))
    start, end = ("<eos>", "<eos>") if level == "word" else ("\n", "\n")
    tokens = (line.split() if level == "word" else list(line)) + [end]
    ids = [lm.vocab.stoi[start]] + [lm.vocab.stoi.get(t, lm.vocab.stoi["<unk>"]) for t in tokens]
    with torch.no_grad():
        logits, _ = lm.model.eval()(torch.tensor(ids[:-1]).view(-1, 1))  # (T, 1, V)
    logp = logits[:, 0].double().log_softmax(-1)
    per_token = [float(logp[i, t]) for i, t in enumerate(ids[1:])]
    oov = [lp for tok, lp in zip(tokens, per_token) if tok not in lm.vocab.stoi]
    return {"logprob": sum(per_token), "tokens": len(tokens), "oov": len(oov), "oov_logprob": sum(oov)}


@pytest.mark.parametrize("level", ["word", "char"])
def test_scores_equal_the_models_log_softmax(level, word_model, char_model, tiny_corpus, tmp_path):
    model = word_model if level == "word" else char_model
    lines = lines_for(tiny_corpus, level)
    (tmp_path / "in.txt").write_text("".join(line + "\n" for line in lines))
    res = ok("evaluate", model, tmp_path / "in.txt", "--per-line", "--format", "json", "--batch-size", "3",
             "--device", "cpu")
    rows = [json.loads(r) for r in res.stdout.splitlines()]
    assert [r["line"] for r in rows] == list(range(1, len(lines) + 1))  # one per input line, in order
    for line, row in zip(lines, rows):
        want = direct_scores(model, level, line)
        assert row["tokens"] == want["tokens"] and row["oov"] == want["oov"], line
        assert row["logprob"] == pytest.approx(want["logprob"], abs=1e-4)
        # KenLM's definitions: log10, perplexity with the end of line counted, and without the OOVs.
        assert row["log10prob"] == pytest.approx(want["logprob"] / math.log(10))
        assert row["ppl"] == pytest.approx(10 ** (-row["log10prob"] / row["tokens"]))
        kept = row["tokens"] - row["oov"]
        assert row["ppl_no_oov"] == pytest.approx(math.exp(-(want["logprob"] - want["oov_logprob"]) / kept),
                                                  rel=1e-4)
    blank, only_oov = rows[5], rows[6]
    assert blank["tokens"] == 1 and blank["oov"] == 0  # just the end of line
    assert only_oov["oov"] == only_oov["tokens"] - 1 >= 2
    assert only_oov["ppl_no_oov"] == pytest.approx(math.exp(-(only_oov["logprob"] - direct_scores(
        model, level, OOV_LINE[level])["oov_logprob"])))  # the end of line alone


def test_a_one_line_file_scores_as_the_whole_file_scorer_does(char_model, tmp_path):
    """Per line, each line starts from the same context as a file's first line."""
    (tmp_path / "one.txt").write_text("Thou art a villain.\n")
    whole = json.loads(ok("evaluate", char_model, tmp_path / "one.txt", "--json", "--batch-size", "1",
                          "--device", "cpu").stdout)  # one stream: every token with the whole line before it
    (row,) = [json.loads(r) for r in ok("evaluate", char_model, tmp_path / "one.txt", "--per-line", "--json",
                                         "--device", "cpu").stdout.splitlines()]
    assert row["tokens"] == whole["tokens"] == 20
    assert -row["logprob"] / row["tokens"] == pytest.approx(whole["loss"], rel=1e-5)


def test_tsv_has_a_header_and_the_same_numbers(word_model, tiny_corpus, tmp_path):
    lines = lines_for(tiny_corpus, "word")
    (tmp_path / "in.txt").write_text("".join(line + "\n" for line in lines))
    rows = [json.loads(r) for r in ok("evaluate", word_model, tmp_path / "in.txt", "--per-line", "--json",
                                       "--device", "cpu").stdout.splitlines()]
    tsv = ok("evaluate", word_model, tmp_path / "in.txt", "--per-line", "--device", "cpu").stdout.splitlines()
    assert tsv[0].split("\t") == ["line", "logprob", "log10prob", "tokens", "oov", "ppl", "ppl_no_oov"]
    assert len(tsv) == len(lines) + 1
    for text, row in zip(tsv[1:], rows):
        cells = text.split("\t")
        assert [int(cells[0]), int(cells[3]), int(cells[4])] == [row["line"], row["tokens"], row["oov"]]
        assert float(cells[1]) == pytest.approx(row["logprob"], abs=1e-4)
        assert float(cells[5]) == pytest.approx(row["ppl"], abs=0.01)


def test_batches_do_not_change_the_scores(char_model, tiny_corpus, tmp_path):
    (tmp_path / "in.txt").write_text(tiny_corpus["valid"].read_text())
    one, many = ([json.loads(r) for r in ok("evaluate", char_model, tmp_path / "in.txt", "--per-line", "--json",
                                            "--batch-size", b, "--device", "cpu").stdout.splitlines()]
                 for b in ("1", "16"))
    assert len(one) == len(tiny_corpus["valid"].read_text().splitlines())
    assert [r["tokens"] for r in one] == [r["tokens"] for r in many]
    assert [r["logprob"] for r in one] == pytest.approx([r["logprob"] for r in many], abs=1e-4)


def test_empty_input_and_wrong_uses(word_model, tmp_path):
    (tmp_path / "empty.txt").write_text("")
    res = invoke("evaluate", word_model, tmp_path / "empty.txt", "--per-line", "--device", "cpu")
    assert res.exit_code == 2 and "empty.txt: file is empty" in error_line(res)
    (tmp_path / "tags.conll").write_text("John B-NAME\nsat O\n\nMary B-NAME\n")
    tagger = tmp_path / "tagger.pt"
    ok("train-tagger", tmp_path / "tags.conll", "--dev", tmp_path / "tags.conll", "--embedding-size", "4",
       "--hidden-size", "4", "--char-encoder", "none", "--epochs", "1", "--device", "cpu", "-q", "-o", tagger)
    res = invoke("evaluate", tagger, tmp_path / "tags.conll", "--per-line")
    assert res.exit_code == 2 and "--per-line needs a language model" in error_line(res)
    for args in (["--gold", tmp_path / "tags.conll", "--pred", tmp_path / "tags.conll"], ["--conlleval", "-"]):
        res = invoke("evaluate", *args, "--per-line")
        assert res.exit_code == 2 and "--per-line scores a language model's FILE" in error_line(res)


class _LineReader:
    """Lines from a pipe with a deadline each. It reads the file descriptor itself: a
    buffered `readline` may take two lines from the pipe at once, and `select` on the
    descriptor then waits for a line that is already in the buffer."""

    def __init__(self, stream) -> None:
        self.fd, self.pending = stream.fileno(), b""

    def line(self, timeout: float) -> bytes:
        while b"\n" not in self.pending:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            assert ready, f"no output within {timeout} s"
            chunk = os.read(self.fd, 65536)
            assert chunk, "output ended"
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        return line + b"\n"


def test_stdin_streams_a_line_out_per_line_in(word_model):
    """Each line's score comes out while stdin is still open (a pipe fed now and then)."""
    proc = subprocess.Popen([sys.executable, "-m", "rnn_cli", "evaluate", str(word_model), "-", "--per-line",
                             "--device", "cpu"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT, env=ENV)
    reader = _LineReader(proc.stdout)
    try:
        out = []
        for line in (b"First Citizen:\n", b"\n", b"zzqx qqzx\n"):
            proc.stdin.write(line)
            proc.stdin.flush()
            if not out:
                assert reader.line(60).startswith(b"line\t")
            out.append(reader.line(60).decode().split("\t"))
        proc.stdin.close()
        assert reader.pending == b"" and proc.stdout.read() == b"" and proc.wait(60) == 0
        assert proc.stderr.read() == b""
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [(int(c[0]), int(c[3])) for c in out] == [(1, 3), (2, 1), (3, 3)]
    assert int(out[2][4]) == 2  # both words out of the vocabulary


def test_a_long_stdin_into_head_stops_quietly(word_model, tiny_corpus):
    text = tiny_corpus["valid"].read_text() * 20
    cmd = f"{sys.executable} -m rnn_cli evaluate {word_model} - --per-line --json --device cpu | head -n 3"
    res = subprocess.run(["bash", "-c", cmd], input=text.encode(), capture_output=True, cwd=ROOT, env=ENV,
                         timeout=120)
    assert res.returncode == 0 and res.stderr == b"", res.stderr.decode()
    assert [json.loads(r)["line"] for r in res.stdout.decode().splitlines()] == [1, 2, 3]


def test_bptt_with_per_line_is_warned_about(word_model, tiny_corpus):
    args = ("evaluate", word_model, tiny_corpus["valid"], "--per-line", "--device", "cpu")
    quiet, warned = ok(*args), ok(*args, "--bptt", "5")
    assert quiet.stderr == "" and warned.stdout == quiet.stdout
    assert warned.stderr.strip() == "rnn-cli: warning: --bptt has no effect with --per-line: each line is scored " \
                                    "whole, from a fresh state"
