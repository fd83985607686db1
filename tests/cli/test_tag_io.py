"""`tag` and `convert` keep their input: every byte but the tags they add or change
(separators, line ends, -DOCSTART- and blank lines, a missing final newline), from a
file and from stdin; CoNLL-U stays 10-column CoNLL-U; content detection on stdin."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from rnn_cli.cli.app import app
from rnn_cli.data.conll import CONLLU_COLUMNS
from tests.conftest import SAMPLES
from tests.inprocess import error_line, invoke, ok

SMALL = ["--epochs", "1", "--embedding-size", "16", "--hidden-size", "16", "--char-filters", "8", "--batch-size",
         "32", "--optimizer", "adam", "--lr", "0.01", "--device", "cpu"]


def _head(path, blocks: int) -> str:
    """The first `blocks` sentences of a sample file (blank-line separated)."""
    return "\n\n".join(path.read_text().split("\n\n")[:blocks]) + "\n"


NAMES = _head(SAMPLES / "names.dev.conll", 30)  # space-separated, BIO: "From ADP O"
EWT = _head(SAMPLES / "ewt.dev.conllu", 12)  # with comments, a multiword token and SpaceAfter=No
LAYOUTS = {
    "spaces": NAMES,
    "tabs": NAMES.replace(" ", "\t"),
    "crlf": NAMES.replace("\n", "\r\n"),
    "docstart, blank lines, no final newline": "-DOCSTART- -X- O\n\n" + NAMES.replace("\n\n", "\n\n\n", 3)
    + "\n-DOCSTART- -X- O",
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("tag_io")
    ok("train-tagger", SAMPLES / "names.train.conll", "--dev", SAMPLES / "names.dev.conll", *SMALL, "-o", d / "n.pt")
    ok("train-tagger", SAMPLES / "ewt.dev.conllu", "--dev", SAMPLES / "ewt.dev.conllu", "--decoder", "softmax",
       "--tag-field", "xpos", *SMALL, "-o", d / "pos.pt")
    return {"names": d / "n.pt", "pos": d / "pos.pt", "dir": d}


def run(*args, stdin: bytes | None = None):
    """In process, with `stdin` as the command's stdin."""
    res = CliRunner().invoke(app, [str(a) for a in args], input=stdin)
    assert res.exit_code == 0 and res.exception is None, (res.exception, res.stderr[-2000:])
    return res


def _drop_last_column(text: str) -> str:
    """Each line less its last column and the separator before it (blank lines as they are)."""
    return re.sub(r"[ \t]+[^ \t\r\n]+(?=\r?\n|$)", "", text, flags=re.MULTILINE)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_tag_adds_one_column_and_keeps_every_other_byte(models, tmp_path, name):
    text = LAYOUTS[name]
    src = tmp_path / "in.conll"
    src.write_bytes(text.encode())
    out = run("tag", models["names"], src, "--device", "cpu").stdout_bytes.decode()
    assert _drop_last_column(out) == text
    assert out.count("\n") == text.count("\n")
    sep = "\t" if name == "tabs" else " "
    for a, b in zip(text.splitlines(), out.splitlines()):
        if a.strip():  # the line, the input's own separator, a tag (O on -DOCSTART- lines)
            head, tag = b.rsplit(sep, 1)
            assert head == a and tag in ({"O"} if a.startswith("-DOCSTART-") else {"O", "B-NAME", "I-NAME",
                                                                                   "B-NUM", "I-NUM"})
        else:
            assert a == b
    # From stdin, the same bytes.
    assert run("tag", models["names"], "-", "--device", "cpu", stdin=text.encode()).stdout_bytes.decode() == out


def test_tag_on_a_real_pipe(cli, models, tmp_path):
    """`cat dev.conll | rnn-cli tag model -`: CoNLL on stdin is read as CoNLL (one tag per
    token line, not one sentence per line), CRLF and -DOCSTART- lines kept."""
    text = LAYOUTS["docstart, blank lines, no final newline"].replace("\n", "\r\n")
    res = cli("tag", str(models["names"]), "-", "--device", "cpu", stdin=text.encode())
    assert res.returncode == 0, res.stderr.decode()
    assert res.stderr == b""  # no doubt about the format, so no note
    out = res.stdout.decode()
    assert _drop_last_column(out) == text
    assert len(out.splitlines()) == len(text.splitlines())


def test_one_conll_sentence_of_other_tags_on_a_pipe_gets_a_column(cli, models):
    """`head -n 20 chunks.conll | rnn-cli tag NER_MODEL`: one sentence with no blank line
    yet, its last column chunk tags the model does not know, is CoNLL (it was tagged as
    20 sentences of text, 3 tokens each, without a word on stderr)."""
    text = "Rockwell NNP B-NP\nInternational NNP I-NP\nCorp. NNP I-NP\n's POS B-NP\nTulsa NNP I-NP\nunit NN I-NP\n"
    res = cli("tag", str(models["names"]), "--device", "cpu", stdin=text.encode())
    assert res.returncode == 0 and res.stderr == b"", res.stderr.decode()
    out = res.stdout.decode()
    assert _drop_last_column(out) == text and len(out.splitlines()) == 6


def test_tag_conllu_writes_the_tag_into_a_field(cli, models, tmp_path):
    src = tmp_path / "in.conllu"
    src.write_text(EWT)
    src_lines = EWT.splitlines()
    for field, index in (("", 4), ("upos", 3), ("misc", 9)):  # default: the POS model's training field (xpos)
        args = ["--write-field", field] if field else []
        out = run("tag", models["pos"], src, "--device", "cpu", *args).stdout_bytes.decode()
        lines = out.splitlines()
        assert len(lines) == len(src_lines) and out.endswith("\n")
        for a, b in zip(src_lines, lines):
            if not a or a.startswith("#") or not a.split("\t")[0].isdigit():
                assert a == b  # comments, blank lines, multiword and empty-node rows as they were
                continue
            fa, fb = a.split("\t"), b.split("\t")
            assert len(fb) == CONLLU_COLUMNS
            assert [x for i, x in enumerate(fa) if i != index] == [x for i, x in enumerate(fb) if i != index]
            if field == "misc":
                kept = [] if fa[9] == "_" else fa[9].split("|")
                assert fb[9].split("|")[: len(kept)] == kept and fb[9].split("|")[-1].startswith("Tag=")
    # On a real pipe: detected as CoNLL-U (its "# newdoc" lines are comments, not sentences).
    res = cli("tag", str(models["pos"]), "--device", "cpu", "--format", "jsonl", stdin=EWT.encode())
    assert res.returncode == 0, res.stderr.decode()
    assert len(res.stdout.splitlines()) == 12


def test_tag_text_and_ambiguous_input(models, tmp_path):
    src = tmp_path / "sentences.txt"
    src.write_bytes(b"John Smith paid 20 dollars .\r\nThe cat sat .\r\n")
    res = run("tag", models["names"], src, "--device", "cpu")
    assert res.stderr == ""  # lines of 6 and 4 tokens: text, without doubt
    rows = res.stdout_bytes.split(b"\r\n")  # token<TAB>tag lines, CRLF as the input's
    assert [r.split(b"\t")[0] for r in rows] == b"John Smith paid 20 dollars . ".split(b" ") + \
        b"The cat sat . ".split(b" ") + [b""]
    assert all(len(r.split(b"\t")) == 2 for r in rows if r) and b"\n" not in res.stdout_bytes.replace(b"\r\n", b"")
    one = run("tag", models["names"], "-", "--device", "cpu", stdin=b"Mary paid Smith .\n")
    assert len(one.stdout.strip().splitlines()) == 4  # one sentence of text ...
    assert one.stderr == ""  # ... without doubt: as CoNLL, its last column would be a tag
    token = run("tag", models["names"], "-", "--device", "cpu", stdin=b"Mary PROPN B-NAME\n")
    assert len(token.stdout.strip().splitlines()) == 3  # read as a sentence of text ...
    assert "--input-format conll" in token.stderr  # ... saying how to read it as CoNLL instead
    tabs = run("tag", models["names"], "-", "--device", "cpu", stdin=b"Mary\tpaid\n")
    assert "--input-format conll" in tabs.stderr  # tab-separated: columns, maybe
    forced = run("tag", models["names"], "-", "--input-format", "conll", "--device", "cpu",
                 stdin=b"Mary paid Smith .\n")
    assert forced.stdout.startswith("Mary paid Smith . ") and forced.stdout.count("\n") == 1 and not forced.stderr


def test_an_input_error_in_doubtful_input_says_how_the_input_was_read(models, tmp_path):
    conll = "EU NNP I-NP I-ORG\nrejects VBZ I-VP O\n\nPeter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\n\n"
    src = tmp_path / "in.conll"  # CoNLL with one malformed line: read as CoNLL, in doubt
    src.write_text(conll * 8 + "one bad line\n" + conll)
    line = error_line(invoke("tag", models["names"], src, "--device", "cpu"))
    assert f"{src}:50: found 4 columns" in line and line.endswith("if it is text, one sentence a line, use "
                                                                 "--input-format text")


def test_plain_text_where_tags_are_needed_is_called_text(models, tmp_path):
    src = tmp_path / "sentences.txt"
    src.write_text("John Smith paid 20 dollars .\nThe cat sat .\nIt rained .\n")
    for argv in (("evaluate", models["names"], src), ("train-tagger", src, "-o", tmp_path / "m.pt"),
                 ("evaluate", "--gold", src, "--pred", src)):
        res = invoke(*argv)
        assert res.exit_code == 2
        line = error_line(res)
        assert f"{src}:2: found 4 columns" in line and "the file looks like text, one sentence a line" in line
    broken = tmp_path / "broken.conll"  # CoNLL, one line short of a column: no word of text
    broken.write_text("John B-NAME\nSmith I-NAME\npaid\nit O\n")
    line = error_line(invoke("evaluate", models["names"], broken))
    assert f"{broken}:3:" in line and "looks like text" not in line


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_convert_keeps_every_byte_but_the_tags(tmp_path, name):
    text = LAYOUTS[name]
    src = tmp_path / "in.conll"
    src.write_bytes(text.encode())
    assert run("convert", src, "--to", "bio").stdout_bytes.decode() == text  # BIO to BIO: the file itself
    bioes = run("convert", src, "--to", "bioes").stdout_bytes.decode()
    assert _drop_last_column(bioes) == _drop_last_column(text) and bioes != text
    back = run("convert", "-", "--to", "bio", "--from", "bioes", stdin=bioes.encode()).stdout_bytes.decode()
    assert back == text
    out = tmp_path / "out.conll"
    run("convert", src, "--to", "bioes", "-o", out)
    assert out.read_bytes().decode() == bioes


def test_convert_on_a_real_pipe_and_refusals(cli, tmp_path):
    text = LAYOUTS["docstart, blank lines, no final newline"].replace("\n", "\r\n")
    res = cli("convert", "--to", "bio", stdin=text.encode())
    assert res.returncode == 0 and res.stdout.decode() == text, res.stderr.decode()
    res = cli("convert", "--to", "bio", stdin=EWT.encode())
    assert res.returncode == 2 and b"CoNLL-U" in res.stderr
