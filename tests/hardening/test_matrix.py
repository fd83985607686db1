"""Every subcommand x every bad input file: exit status 2, one line on stderr that
names the file (and the line where there is one), no traceback. Runs in process.

Inputs that are fine but unusual (a UTF-8 BOM and CRLF line ends, another encoding
with --encoding) must give exit status 0 and the same result as the plain file."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.hardening.conftest import CLS_GOOD, CLS_LINES, TAG_GOOD, TEXT_GOOD, one_error_line

TRAIN = ["--epochs", "1", "--embedding-size", "4", "--hidden-size", "4", "--device", "cpu", "-q"]

# command -> (kind of input, argv builder taking (models, bad file, a good file of that kind, tmp dir)).
Argv = Callable[[dict, Path, Path, Path], list]
COMMANDS: dict[str, tuple[str, Argv]] = {
    "train-lm": ("text", lambda m, f, g, d: ["train-lm", f, *TRAIN, "--batch-size", "2", "--bptt", "4",
                                              "-o", d / "out.pt"]),
    "train-tagger": ("conll", lambda m, f, g, d: ["train-tagger", f, "--dev", g, *TRAIN, "-o", d / "out.pt"]),
    "train-tagger-dev": ("conll", lambda m, f, g, d: ["train-tagger", g, "--dev", f, *TRAIN, "-o", d / "out.pt"]),
    "train-classifier": ("cls", lambda m, f, g, d: ["train-classifier", f, "--dev", g, *TRAIN, "-o", d / "out.pt"]),
    "tag": ("conll", lambda m, f, g, d: ["tag", m["tagger"], f, "--device", "cpu"]),
    "tag-text": ("text", lambda m, f, g, d: ["tag", m["tagger"], f, "--input-format", "text", "--device", "cpu"]),
    "classify": ("cls", lambda m, f, g, d: ["classify", m["classifier"], f, "--device", "cpu"]),
    "evaluate-lm": ("text", lambda m, f, g, d: ["evaluate", m["lm"], f, "--device", "cpu"]),
    "evaluate-tagger": ("conll", lambda m, f, g, d: ["evaluate", m["tagger"], f, "--device", "cpu"]),
    "evaluate-classifier": ("cls", lambda m, f, g, d: ["evaluate", m["classifier"], f, "--device", "cpu"]),
    "evaluate-gold": ("conll", lambda m, f, g, d: ["evaluate", "--gold", f, "--pred", g]),
    "evaluate-pred": ("conll", lambda m, f, g, d: ["evaluate", "--gold", g, "--pred", f]),
    "convert": ("conll", lambda m, f, g, d: ["convert", f, "--to", "bioes"]),
    "convert-out": ("conll", lambda m, f, g, d: ["convert", f, "--to", "bioes", "-o", d / "converted.conll"]),
}
GOOD = {"text": TEXT_GOOD, "conll": TAG_GOOD, "cls": CLS_GOOD}
NOT_APPLICABLE: dict[tuple[str, str], str] = {}


def _second_line(kind: str, bad: bytes) -> bytes:
    """A valid first line of `kind`, then `bad` on line 2."""
    first = GOOD[kind].splitlines()[0].encode()
    return first + b"\n" + bad + b"\n"


# case -> (builder of the file's bytes from the kind, expected line number or None, text in the message)
CASES: dict[str, tuple[Callable[[str], bytes], int | None, str]] = {
    "empty": (lambda k: b"", None, "file is empty"),
    "blank-lines-only": (lambda k: b"\n\n  \n", None, "file is empty"),
    "non-utf8": (lambda k: _second_line(k, {"cls": b"email\tcaf\xe9 time", "conll": b"caf\xe9 X O"}
                                        .get(k, b"caf\xe9 time")), 2, "--encoding"),
    "nul-byte": (lambda k: _second_line(k, {"cls": b"email\tab\x00c", "conll": b"ab\x00c X O"}
                                        .get(k, b"ab\x00c")), 2, "NUL byte"),
    "utf-16": (lambda k: GOOD[k].encode("utf-16"), 1, "UTF-16/32 text"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _run_case(invoke, models, tmp_path, command, data: bytes | None = None, path: Path | None = None):
    kind, argv = COMMANDS[command]
    good = _write(tmp_path / f"good.{kind}", GOOD[kind].encode())
    target = path if path is not None else _write(tmp_path / f"in.{kind}", data or b"")
    return invoke(*argv(models, target, good, tmp_path)), target


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", CASES)
def test_bad_file_content(invoke, models, tmp_path, command, case):
    if (command, case) in NOT_APPLICABLE:
        pytest.skip(NOT_APPLICABLE[command, case])
    build, line, text = CASES[case]
    res, target = _run_case(invoke, models, tmp_path, command, build(COMMANDS[command][0]))
    assert res.exit_code == 2, (res.stdout, res.stderr)
    message = one_error_line(res)
    where = f"{target}:{line}:" if line is not None else f"{target}:"
    assert where in message and text in message, message
    assert not (tmp_path / "out.pt").exists() and not (tmp_path / "converted.conll").exists()


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", ["missing", "directory", "unreadable"])
def test_bad_path(invoke, models, tmp_path, command, case):
    if case == "missing":
        target, text = tmp_path / "nope.txt", "no such file"
    elif case == "directory":
        target, text = tmp_path / "adir", "is a directory"
        target.mkdir()
    else:
        if os.geteuid() == 0:
            pytest.skip("root reads any file; see test_unreadable_file_simulated")
        target, text = _write(tmp_path / "secret.txt", GOOD[COMMANDS[command][0]].encode()), "permission denied"
        target.chmod(0)
    res, _ = _run_case(invoke, models, tmp_path, command, path=target)
    assert res.exit_code == 2, (res.stdout, res.stderr)
    message = one_error_line(res)
    assert f"{target}: {text}" in message, message


def test_unreadable_file_simulated(invoke, models, tmp_path, monkeypatch):
    """The permission path as a non-root user meets it (root can read a mode-000 file)."""
    import builtins

    from rnn_cli.data import text

    secret = _write(tmp_path / "secret.txt", b"a b\n")
    real_open = builtins.open

    def guarded(file, *args, **kwargs):
        if str(file) == str(secret):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(text, "open", guarded, raising=False)
    res = invoke("tag", models["tagger"], secret, "--input-format", "text", "--device", "cpu")
    assert res.exit_code == 2 and f"{secret}: permission denied" in one_error_line(res)


@pytest.mark.parametrize("command", [c for c in COMMANDS if not c.startswith("train")])
def test_bom_and_crlf_are_read_silently_and_alike(invoke, models, tmp_path, command):
    kind, _ = COMMANDS[command]
    plain, _ = _run_case(invoke, models, tmp_path, command, GOOD[kind].encode())
    assert plain.exit_code == 0, plain.stderr
    if command == "convert-out":
        plain_out = (tmp_path / "converted.conll").read_text()
    odd = b"\xef\xbb\xbf" + GOOD[kind].replace("\n", "\r\n").encode()
    res, _ = _run_case(invoke, models, tmp_path, command, odd)
    assert res.exit_code == 0, res.stderr
    assert res.stderr == "" and res.stdout == plain.stdout
    if command == "convert-out":
        assert (tmp_path / "converted.conll").read_text() == plain_out


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith("train")])
def test_training_reads_bom_and_crlf(invoke, models, tmp_path, command):
    """A BOM and CRLF line ends train exactly the model that the plain file trains: the same
    vocabularies, options, weights and scores (same seed, CPU)."""
    import torch

    from rnn_cli import checkpoint

    kind, _ = COMMANDS[command]
    payloads = []
    for name, data in (("plain", GOOD[kind].encode()),
                       ("bom-crlf", b"\xef\xbb\xbf" + GOOD[kind].replace("\n", "\r\n").encode())):
        d = tmp_path / name
        d.mkdir()
        res, _ = _run_case(invoke, models, d, command, data)
        assert res.exit_code == 0, res.stderr
        payloads.append(checkpoint.load(d / "out.pt"))
    plain, odd = payloads
    assert odd["vocab"] == plain["vocab"]
    assert odd["config"] == plain["config"] and odd["train_config"] == plain["train_config"]
    assert odd["state_dict"].keys() == plain["state_dict"].keys()
    assert all(torch.equal(odd["state_dict"][k], plain["state_dict"][k]) for k in plain["state_dict"])
    timing = ("tokens_per_s", "sentences_per_s", "items_per_s", "epoch_seconds")
    assert {k: v for k, v in odd["metrics"].items() if k not in timing} == \
        {k: v for k, v in plain["metrics"].items() if k not in timing}


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in ("evaluate-pred",)])
def test_encoding_option_reads_latin1(invoke, models, tmp_path, command):
    """The byte that stops UTF-8 (line 2) is read with --encoding latin-1 on every command."""
    kind, argv = COMMANDS[command]
    data = CASES["non-utf8"][0](kind) + ({"text": b"the mat\n", "conll": b"sat X O\n", "cls": b"reviews\tok\n"}[kind])
    res, _ = _run_case(invoke, models, tmp_path, command, data)
    assert res.exit_code == 2 and "--encoding" in one_error_line(res)
    good = _write(tmp_path / f"good.{kind}", GOOD[kind].encode())
    res = invoke(*argv(models, tmp_path / f"in.{kind}", good, tmp_path), "--encoding", "latin-1")
    assert "--encoding" not in res.stderr and "decode" not in res.stderr, res.stderr
    if command == "evaluate-gold":
        # Read fine, then compared: the latin-1 gold file (1 sentence) is shorter than the
        # prediction file (2 sentences), which the content check reports.
        assert res.exit_code == 2, res.stderr
        assert "has more sentences than" in one_error_line(res)
    else:
        assert res.exit_code == 0, res.stderr
    if command == "convert":
        assert "caf\u00e9 X O" in res.stdout, res.stdout  # decoded as latin-1, written as UTF-8, spaces kept
    if command == "convert-out":
        assert "caf\u00e9 X O" in (tmp_path / "converted.conll").read_text(encoding="utf-8")


def test_unknown_or_unsupported_encoding_is_an_option_error(invoke, models, tmp_path):
    f = _write(tmp_path / "in.txt", TEXT_GOOD.encode())
    for name, text in (("klingon", "unknown encoding 'klingon'"), ("utf-16", "utf-16 is not supported")):
        res = invoke("tag", models["tagger"], f, "--input-format", "text", "--encoding", name)
        assert res.exit_code == 2 and f"--encoding: {text}" in one_error_line(res)


# --- content errors that apply to some commands only ---------------------------------

# A two-line file is plausible text too: `tag` is told that it is CoNLL.
FORCE_CONLL = {"tag": ["--input-format", "conll"]}
CONTENT: list[tuple[str, str, bytes, list[str], int, str]] = [
    # (command, case, file bytes, extra args, line, text in the message)
    *[(c, "too-few-columns", b"John X B-NAME\nSmith X\n", FORCE_CONLL.get(c, []), 2, "columns")
      for c in ("train-tagger", "tag", "evaluate-tagger", "evaluate-gold", "evaluate-pred", "convert")],
    *[(c, "too-many-columns", b"John X B-NAME\nSmith X I-NAME extra\n", FORCE_CONLL.get(c, []), 2, "columns")
      for c in ("train-tagger", "tag", "evaluate-tagger", "evaluate-gold", "evaluate-pred", "convert")],
    ("tag", "conllu-columns", b"1\tThe\tthe\tDET\t_\t_\t_\t_\t_\t_\n2\tcat\tcat\n", [], 2, "10 tab-separated"),
    ("train-tagger", "tag-not-in-scheme", b"John X B-NAME\nSmith X I-NUM\n", ["--scheme", "bio"], 2,
     "cannot follow"),
    ("evaluate-tagger", "tag-not-in-scheme", b"John X B-NAME\nSmith X I-NUM\n", [], 2, "cannot follow"),
    ("evaluate-gold", "tag-not-in-scheme", b"John X B-NAME\nSmith X I-NUM\n", ["--scheme", "bio"], 2,
     "cannot follow"),
    ("convert", "tag-not-in-scheme", b"John X B-NAME\nSmith X I-NUM\n", ["--from", "bio"], 2, "cannot follow"),
    ("train-tagger", "not-a-tag", b"John X B-NAME\nSmith X B-\n", ["--scheme", "bio"], 2, "not valid"),
    ("train-classifier", "no-label", b"reviews\tgood\njust a text\n", [], 2, "no label"),
    ("evaluate-classifier", "no-label", b"reviews\tgood\njust a text\n", [], 2, "no label"),
    ("train-classifier", "empty-fasttext-label", b"__label__a good\n__label__ text\n", [], 2, "empty label"),
    ("train-classifier", "bad-json", b'{"text": "a", "label": "x"}\n{"text": "b", \n', [], 2, "invalid JSON"),
    ("classify", "json-nested-too-deeply", b'{"text": "a"}\n{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", [],
     2, "invalid JSON: nested too deeply"),
    ("evaluate-classifier", "json-huge-integer", b'{"text": "a", "label": "reviews"}\n{"text": "b", "label": '
     + b"1" * 5000 + b"}\n", [], 2, "invalid JSON: Exceeds the limit"),
]


@pytest.mark.parametrize("command, case, data, extra, line, text", CONTENT,
                         ids=[f"{c[0]}-{c[1]}" for c in CONTENT])
def test_bad_content(invoke, models, tmp_path, command, case, data, extra, line, text):
    kind, argv = COMMANDS[command]
    good = _write(tmp_path / f"good.{kind}", GOOD[kind].encode())
    target = _write(tmp_path / f"in.{kind}", data)
    res = invoke(*argv(models, target, good, tmp_path), *extra)
    assert res.exit_code == 2, (res.stdout, res.stderr)
    message = one_error_line(res)
    assert f"{target}:{line}:" in message and text in message, message


def test_evaluate_pred_with_fewer_sentences(invoke, tmp_path):
    gold = _write(tmp_path / "gold.conll", TAG_GOOD.encode())
    pred = _write(tmp_path / "pred.conll", TAG_GOOD.split("\n\n")[0].encode() + b"\n")
    res = invoke("evaluate", "--gold", gold, "--pred", pred)
    assert res.exit_code == 2 and f"{gold}:5: has more sentences than {pred}" in one_error_line(res)


def test_evaluate_tagger_scores_an_unknown_gold_type_as_missed(invoke, models, tmp_path):
    # An entity type the model was not trained on is scored (always missed), with a note
    # naming it and its first line; a file with no type the model knows is refused.
    gold = _write(tmp_path / "gold.conll", b"John X B-NAME\n\nParis X B-LOC\nLyon X B-LOC\n")
    res = invoke("evaluate", models["tagger"], gold, "--device", "cpu", "--json")
    assert res.exit_code == 0, res.stderr
    assert (f"{gold}: 1 of 2 sentences with a gold entity type the model was not trained on ('LOC', first at "
            "line 3): its entities are scored as missed") in res.stderr
    scores = json.loads(res.stdout)
    # Scored, not dropped: three gold entities, the two LOC ones missed whatever the model does with John.
    assert scores["micro"]["support"] == 3 and scores["micro"]["recall"] <= 1 / 3
    assert scores["conlleval"]["types"]["LOC"]["gold"] == 2 and scores["conlleval"]["types"]["LOC"]["correct"] == 0
    only = _write(tmp_path / "only.conll", b"Paris X B-LOC\n")
    res = invoke("evaluate", models["tagger"], only, "--device", "cpu")
    assert res.exit_code == 2
    assert f"{only}:1: none of the gold entity types occurs in the model's training data" in one_error_line(res)


def test_evaluate_classifier_scores_an_unknown_gold_label_as_wrong(invoke, models, tmp_path):
    # A label the classifier was not trained on (a rare class missing from the training
    # split) is scored, always wrong, with a note; a file with no known label is refused.
    gold = _write(tmp_path / "gold.tsv", (CLS_GOOD + "sports\tthe match was great\n").encode())
    res = invoke("evaluate", models["classifier"], gold, "--device", "cpu", "--json")
    assert res.exit_code == 0, res.stderr
    assert (f"{gold}: 1 of 3 items with a gold label the model was not trained on ('sports', first at line 3): "
            "scored as wrong") in res.stderr
    scores = json.loads(res.stdout)
    assert scores["items"] == 3 and scores["accuracy"] <= 2 / 3 and scores["labels"]["sports"]["recall"] == 0
    only = _write(tmp_path / "only.tsv", b"sports\tthe match was great\nnews\tthe vote\n")
    res = invoke("evaluate", models["classifier"], only, "--device", "cpu")
    assert res.exit_code == 2
    assert f"{only}:1: none of the gold labels occurs in the training data (the first: 'sports')" in one_error_line(res)
    # The same as a training run's dev file: trained, scored, noted.
    train = _write(tmp_path / "train.tsv", ("\n".join(CLS_LINES) + "\n").encode())
    res = invoke("train-classifier", train, "--dev", gold, "--epochs", "1", "--device", "cpu", "--embedding-size",
                 "4", "--hidden-size", "4", "-o", tmp_path / "m.pt")
    assert res.exit_code == 0 and "1 of 3 items with a gold label the model was not trained on" in res.stderr
    assert json.loads(res.stdout)["dev_accuracy"] <= 2 / 3


def test_unknown_tags_note(models, tmp_path, one_thread):
    import torch

    from rnn_cli.data.conll import read_conll
    from rnn_cli.errors import DataFormatError
    from rnn_cli.predict.tagger import load_tagger, unknown_tags_note

    tagger = load_tagger(str(models["tagger"]), torch.device("cpu"))
    known = tagger.vocabs.tags.itos
    gold = _write(tmp_path / "gold.conll", b"John X B-NAME\nSmith X I-NAME\n\nParis X B-LOC\n\nin X O\n")
    sentences = list(read_conll(str(gold)))
    assert unknown_tags_note(known, False, sentences[:1], str(gold)) is None
    assert "1 of 3 sentences" in unknown_tags_note(known, False, sentences, str(gold))
    with pytest.raises(DataFormatError, match=f"{gold}:4: none of the gold entity types"):
        unknown_tags_note(known, False, sentences[1:], str(gold))
    # Plain tag sets: tags, not types.
    assert "('VB', first at line 2)" in unknown_tags_note(["NN", "DT"], True, list(read_conll(
        str(_write(tmp_path / "pos.conll", b"the X DT\ngo X VB\n")))), "pos.conll")


# --- stdin, --debug, 10 MB lines -------------------------------------------------------

@pytest.mark.parametrize("data, text", [(b"KING \xff\n", "<stdin>:1:"), (b"a\nb\x00\n", "<stdin>:2: NUL byte")])
def test_generate_prompt_from_stdin(invoke, models, data, text):
    res = invoke("generate", models["lm"], "-n", "3", "--device", "cpu", stdin=data)
    assert res.exit_code == 2 and text in one_error_line(res)
    ok = invoke("generate", models["lm"], "-n", "3", "--device", "cpu", stdin=b"\xef\xbb\xbfthe cat\r\n")
    assert ok.exit_code == 0 and ok.stderr == ""
    latin1 = invoke("generate", models["lm"], "-n", "3", "--device", "cpu", "--encoding", "latin-1",
                    stdin=b"the caf\xe9\n")
    assert latin1.exit_code == 0 and "caf\xe9" in latin1.stderr  # read, and named as an unknown word


def test_unreadable_bytes_are_not_blamed_on_the_layout(invoke, models, tmp_path):
    """UTF-16 text read as UTF-8: its lines look like anything; the error is the bytes',
    not followed by how the layout was guessed ('if it is CoNLL columns, ...')."""
    src = _write(tmp_path / "u16.txt", "John Smith paid .\nThe cat sat .\n".encode("utf-16"))
    for argv in (("tag", models["tagger"], src), ("evaluate", models["tagger"], src)):
        line = one_error_line(invoke(*argv))
        assert "u16.txt:1: NUL byte" in line and "CoNLL" not in line, line


def test_debug_shows_the_traceback(invoke, models, tmp_path):
    bad = _write(tmp_path / "bad.txt", b"ok\n\xff\n")
    res = invoke("--debug", "tag", models["tagger"], bad, "--input-format", "text")
    assert res.exit_code == 2
    assert "Traceback" in res.stderr and res.stderr.strip().splitlines()[-1].startswith("rnn-cli: error: ")


TEN_MB = 10 * 1024 * 1024


def _long_line(kind: str) -> bytes:
    """One line of about 10 MB: 1000-character words (the char encoder cuts words at 30),
    so that the line is big but its 10,486 tokens are quick to tag."""
    words = b" ".join([b"w" * 999] * (TEN_MB // 1000))
    return {"cls": b"reviews\t" + words, "conll": words + b" O", "text": words}[kind] + b"\n"


LONG_LINE_COMMANDS = ["train-lm", "train-tagger", "train-classifier", "tag", "tag-text", "classify", "evaluate-lm",
                      "evaluate-tagger", "evaluate-classifier", "evaluate-gold", "convert"]


@pytest.mark.parametrize("command", LONG_LINE_COMMANDS)
def test_a_10_mb_line_is_handled(invoke, models, tmp_path, command):
    """Handled means: tagged, cut or refused with one line; never a crash or a hang."""
    kind, argv = COMMANDS[command]
    target = _write(tmp_path / f"in.{kind}", _long_line(kind))
    good = _write(tmp_path / f"good.{kind}", GOOD[kind].encode())
    fast = ["--batch-size", "256", "--bptt", "64"] if command == "train-lm" else []
    res = invoke(*argv(models, target, good, tmp_path), *fast)
    assert res.exception is None and "Traceback" not in res.stderr
    if res.exit_code == 2:  # e.g. the long line's label or tags do not match the other file's
        assert str(tmp_path) in one_error_line(res)
    else:
        assert res.exit_code == 0, res.stderr
    if command == "tag-text":
        assert len(res.stdout.splitlines()) == TEN_MB // 1000 + 1  # every token tagged, then the blank line
        assert "a sentence of 10485 tokens, tagged in 11 pieces of at most 1000 (--max-length)" in res.stderr
    if command == "classify":
        assert "cut to it" in res.stderr


def test_help_of_every_command_imports_no_torch():
    """`--help` stays instant: no command imports torch before it runs."""
    import subprocess
    import sys

    code = ("import sys\nfrom rnn_cli.cli.app import app, main\n"
            "for name in [c.name for c in app.registered_commands]:\n"
            "    try:\n        main([name, '--help'])\n    except SystemExit as e:\n        assert e.code == 0\n"
            "print(len(app.registered_commands), 'torch' in sys.modules)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-1] == "11 False"  # the 7 task commands, convert, info, export, recipes


def test_evaluate_without_any_entity_is_quiet_and_valid_json(invoke, models, tmp_path):
    import json
    import warnings

    gold = _write(tmp_path / "gold.conll", b"John X O\nSmith X O\n")
    for args in (["--gold", gold, "--pred", gold, "--scheme", "bio"], [models["tagger"], gold, "--device", "cpu"]):
        with warnings.catch_warnings(record=True) as caught:  # a warning would reach stderr outside pytest
            warnings.simplefilter("always")
            res = invoke("evaluate", *args, "--json")
        assert res.exit_code == 0 and res.stderr == "" and not caught, [str(w.message) for w in caught]
        result = json.loads(res.stdout, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
        assert result["accuracy"] == 1.0 and result["macro"]["f1"] == 0.0


BAD_OPTIONS = [
    # (command line with {tagger}, {classifier}, {lm}, {conll}, {tsv} filled in, text in the message)
    ("tag {tagger} {conll} --input-format xml", "--input-format: unknown format 'xml'"),
    ("tag {tagger} {conll} --max-length -1", "--max-length must be >= 0"),
    ("tag {tagger} {conll} --word-column 7", "too few for column 7"),
    ("convert {conll} --to bio --tag-column 0", "--tag-column 0 is the word column"),
    ("train-tagger {conll} --dev {conll} --tag-column 0 -o {out}", "the word and tag columns are the same (0)"),
    ("evaluate --gold - --pred -", "--gold and --pred cannot both be stdin"),
    ("classify {classifier} {tsv} --input-format xml", "--input-format: unknown format 'xml'"),
    ("generate {lm} -n -5", "max-tokens"),
    ("generate {lm} --temperature nan", "--temperature and --top-p must be finite"),
    ("generate {lm} --temperature inf", "--temperature and --top-p must be finite"),
    ("evaluate {lm} {tsv} --bptt 0", "--bptt must be >= 1"),
]


@pytest.mark.parametrize("line, text", BAD_OPTIONS, ids=[f"{b[0].split()[0]}-{i}" for i, b in enumerate(BAD_OPTIONS)])
def test_bad_options(invoke, models, tmp_path, line, text):
    files = {"conll": _write(tmp_path / "in.conll", TAG_GOOD.encode()), "out": tmp_path / "out.pt",
             "tsv": _write(tmp_path / "in.tsv", CLS_GOOD.encode()),
             **{k: models[k] for k in ("tagger", "classifier", "lm")}}
    res = invoke(*line.format(**files).split(), stdin=TAG_GOOD)
    assert res.exit_code == 2, (res.stdout, res.stderr)
    assert text in one_error_line(res)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_embeddings_header_announcing_a_terabyte(invoke, tmp_path, gz):
    """A word2vec binary header `999999999 300` must not make rnn-cli allocate 1 TiB."""
    import gzip

    data = b"999999999 300\nthe \x00\xff\x01\x02" + b"\x00" * 100
    vectors = _write(tmp_path / ("v.bin.gz" if gz else "v.bin"), gzip.compress(data) if gz else data)
    conll = _write(tmp_path / "in.conll", TAG_GOOD.encode())
    res = invoke("train-tagger", conll, "--dev", conll, "--embeddings", vectors, *TRAIN, "-o", tmp_path / "m.pt")
    assert res.exit_code == 2, res.stderr
    assert f"{vectors}:1: the header announces" in one_error_line(res)
