"""Content detection of tagging input (CoNLL columns, CoNLL-U, one sentence a line),
for files and stdin alike: the decision, its ambiguity, and stdin given back whole."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rnn_cli.data.sentences import detect_input_format, judge_lines
from rnn_cli.errors import ConfigError
from tests.conftest import ROOT, SAMPLES

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"

CONLL = "EU NNP I-NP I-ORG\nrejects VBZ I-VP O\nGerman JJ I-NP I-MISC\n\n" \
        "Peter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\n"
CONLLU_ROW = "1\tFrom\tfrom\tADP\tIN\t_\t3\tcase\t3:case\t_"
TEXT = "John Smith paid 20 dollars .\nThe cat sat .\nIt was raining again when we left the house .\n"


@pytest.mark.parametrize("text, fmt, ambiguous", [
    (CONLL, "conll", False),
    (CONLL.replace(" ", "\t"), "conll", False),
    ("-DOCSTART- -X- O O\n\n" + CONLL, "conll", False),
    ("# newdoc id = x\n# text = From\n" + CONLLU_ROW + "\n", "conllu", False),
    (TEXT, "text", False),
    ("The cat sat .\nA dog .\n", "text", False),  # as CoNLL, malformed on its second line
    ("John Smith paid .\n", "text", True),  # one line: a 4-column CoNLL token too
    ("hello\nworld\nagain\n", "text", True),  # one token a line, no sentence breaks
    ("hello\nworld\n\nagain\nand\n", "conll", True),  # one token a line, blank lines between
    ("a b\nc d\n", "text", True),  # as CoNLL, one sentence of 2 columns
    ("John Smith paid .\n" * 200, "text", False),  # `yes | rnn-cli tag`: as CoNLL, an endless sentence
    ("a b\nc d\n\ne f\n", "conll", True),  # too few pairs to be sure
    (CONLL * 8 + "one bad line\n" + CONLL, "conll", True),  # CoNLL with a malformed line, read as CoNLL
    ("", "text", False),
    # One CoNLL sentence (no blank line yet), its last column tags of some tag set:
    ("Rockwell NNP B-NP\nInternational NNP I-NP\nCorp. NNP I-NP\n's POS B-NP\n", "conll", False),
    ("I PRP\nam VBP\nhere RB\n", "conll", False),  # POS tags only
    ("@paul O\nmet O\nLisa B-person\n", "conll", False),
    ("Rockwell NNP B-NP\nInternational NNP I-NP\n" * 60, "conll", False),  # beyond the look-ahead
    # ... but not lines that merely have as many words:
    ("New York\nLos Angeles\nSan Francisco\n", "text", True),
    ("NEW YORK\nLOS ANGELES\nSAN FRANCISCO\n", "text", True),  # capitals, but the words too
    ("I saw .\nHe ran .\nWe ate .\n", "text", True),
    ("Confidence NN B-NP\nin IN B-PP\n", "conll", True),  # two lines: CoNLL, in doubt
])
def test_judge_lines(text, fmt, ambiguous):
    d = judge_lines(text.splitlines())
    assert (d.format, d.ambiguous) == (fmt, ambiguous), d
    if ambiguous:
        other = d.alternative
        assert other != fmt and f"use --input-format {other}" in d.note("f.txt") and d.note("f.txt").startswith("f.txt")


@pytest.mark.parametrize("text, ambiguous", [
    ("John Smith paid .\n", False),  # no line ends in a tag: text without doubt
    ("John Smith paid 20 dollars\n", False),
    ("Smith NNP B-PER\n", True),  # as CoNLL: a token, its POS and its tag
    ("Smith\tB-ORG\n", True),  # the model does not know ORG, but tabs separate columns
    ("John Smith paid .\n\nThe cat sat on a mat\n", False),  # no two lines in a row
    ("John Smith paid .\n\nPeter B-PER\n", True),
    ("John Smith paid .\nJohn Smith paid .\n", False),  # lines of 4 tokens, no blank line
    ("He said O\n", True),
    ("Smith NNP B-ORG\n", True),  # a tag of another tag set (the model's has no ORG)
])
def test_a_taggers_tag_set_settles_what_few_lines_leave_open(text, ambiguous):
    tags = {"O", "B-PER", "I-PER", "E-PER", "S-PER", "."}.__contains__  # a model's tags, "." as PTB's
    d = judge_lines(text.splitlines(), is_tag=tags)
    assert (d.format, d.ambiguous) == ("text", ambiguous), d
    assert judge_lines(text.splitlines()).ambiguous  # without a tag set: in doubt


def test_tagged_files_are_never_text():
    assert judge_lines(TEXT.splitlines(), tagged=True).format == "conll"
    assert judge_lines([CONLLU_ROW], tagged=True).format == "conllu"


def test_forced_and_unknown_formats(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text(TEXT)
    assert detect_input_format(str(p), "conll").format == "conll"
    assert not detect_input_format(str(p), "conll").ambiguous
    with pytest.raises(ConfigError, match="--input-format"):
        detect_input_format(str(p), "csv")


# Detect on stdin, then read all of stdin back through the readers' own path: nothing lost.
PEEK_THEN_READ = """
import hashlib, sys
from rnn_cli.data.sentences import detect_input_format
from rnn_cli.data.text import iter_raw_lines
d = detect_input_format("-", encoding=sys.argv[1])
data = b"".join((text + end).encode(sys.argv[1]) for _, text, end in iter_raw_lines("-", sys.argv[1]))
print(d.format, int(d.ambiguous), hashlib.md5(data).hexdigest())
"""


def _on_stdin(data: bytes, encoding: str = "utf-8") -> tuple[str, bool, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", PEEK_THEN_READ, encoding], input=data, capture_output=True,
                         env=env, timeout=120)
    assert res.returncode == 0, res.stderr.decode()
    fmt, ambiguous, digest = res.stdout.decode().split()
    return fmt, ambiguous == "1", digest


@pytest.mark.parametrize("data, fmt", [
    ((SAMPLES / "names.dev.conll").read_bytes(), "conll"),
    ((SAMPLES / "ewt.dev.conllu").read_bytes(), "conllu"),
    ((SAMPLES / "shakespeare.valid.txt").read_bytes(), "text"),
    (CONLL.replace("\n", "\r\n").encode() * 20000, "conll"),  # far beyond the look-ahead, CRLF
    (b"\xef\xbb\xbf" + TEXT.encode() + b"no final newline", "text"),
])
def test_stdin_is_detected_and_given_back_whole(data, fmt):
    got, ambiguous, digest = _on_stdin(data)
    assert (got, ambiguous) == (fmt, False)
    assert digest == hashlib.md5(data).hexdigest()


def _shared_files() -> list[tuple[str, str, str]]:
    """(path relative to shared/data, expected format, encoding) of every tagging or plain-text file there."""
    groups = {"conll": ["conll2000/*.gz", "conll2003/eng.*"], "conllu": ["ud_en_ewt/*.conllu*"],
              "text": ["ptb/*.txt.gz", "tinyshakespeare/input.txt", "mr/rt-polarity.*", "sick/*/[ab].toks",
                       "sick/*/[ab].txt", "sst/stsa.*", "trec/TREC.*", "sst_trees/*", "babi/en/qa*.txt"]}
    latin = ("mr/", "trec/")
    return [(str(p.relative_to(SHARED)), fmt, "cp1252" if str(p.relative_to(SHARED)).startswith(latin) else "utf-8")
            for fmt, patterns in groups.items() for pattern in patterns for p in sorted(SHARED.glob(pattern))]


@contextmanager
def _stdin_pipe(monkeypatch: pytest.MonkeyPatch, data: bytes) -> Iterator[None]:
    """`data` on a real pipe as sys.stdin (fed by a thread), as a shell pipeline gives it."""
    r, w = os.pipe()

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError), os.fdopen(w, "wb") as fh:
            fh.write(data)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(r, "r")))
    monkeypatch.setattr(sys, "stdin", stdin)
    try:
        yield
    finally:
        stdin.close()
        thread.join(timeout=10)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is absent")
def test_detection_is_right_on_every_shared_data_file(monkeypatch):
    """Every CoNLL, CoNLL-U and plain-text file of shared/data, as a file and on stdin
    (a pipe): the right format, chosen without doubt."""
    files = _shared_files()
    assert len(files) >= 60 and {fmt for _, fmt, _ in files} == {"conll", "conllu", "text"}
    wrong = []
    for name, fmt, encoding in files:
        path = SHARED / name
        d = detect_input_format(str(path), encoding=encoding)
        raw = path.read_bytes()
        data = gzip.decompress(raw) if name.endswith(".gz") else raw
        with _stdin_pipe(monkeypatch, data[: 1 << 20]):
            s = detect_input_format("-", encoding=encoding)
        if (d.format, d.ambiguous) != (fmt, False) or (s.format, s.ambiguous) != (fmt, False):
            wrong.append(f"{name}: file {d}, stdin {s}, expected {fmt}")
    assert not wrong, "\n".join(wrong)
