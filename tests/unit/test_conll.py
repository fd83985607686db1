import gzip
import io
import re
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnn_cli.data.conll import (
    Sentence,
    check_tags,
    read_conll,
    read_conllu,
    read_tokenized,
    write_conll,
)
from rnn_cli.data.rewrite import append_fields, merge_misc, replace_field, set_conllu_fields, word_texts, write_kept
from rnn_cli.data.sentences import detect_input_format
from rnn_cli.errors import DataFormatError

CONLL2003 = """\
-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER


-DOCSTART- -X- O O

BRUSSELS NNP I-NP I-LOC
1996-08-22 CD I-NP O
"""

CONLLU = """\
# sent_id = 1
# text = I can't go.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tcan't\t_\t_\t_\t_\t_\t_\t_\t_
2\tca\tcan\tAUX\tMD\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_
4.1\tgo\tgo\tVERB\tVB\t_\t_\t_\t0:root\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\tYes\tyes\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def write(tmp_path: Path, text: str, name: str = "data.txt") -> str:
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8"))
    return str(p)


def test_conll_sentences_tokens_tags_rows_and_lines(tmp_path):
    sents = list(read_conll(write(tmp_path, CONLL2003)))
    assert [s.tokens for s in sents] == [["EU", "rejects", "German"], ["Peter", "Blackburn"],
                                         ["BRUSSELS", "1996-08-22"]]
    assert [s.tags for s in sents] == [["I-ORG", "O", "I-MISC"], ["I-PER", "I-PER"], ["I-LOC", "O"]]
    assert sents[0].rows[2] == ["German", "JJ", "I-NP", "I-MISC"]
    assert [s.first_line for s in sents] == [3, 7, 13]
    assert sents[1].line_of(1) == 8
    chunks = list(read_conll(write(tmp_path, CONLL2003), tag_column=2))
    assert chunks[0].tags == ["I-NP", "I-VP", "I-NP"]
    untagged = list(read_conll(write(tmp_path, CONLL2003), tag_column=None))
    assert untagged[0].tags is None and untagged[0].tokens == sents[0].tokens


def test_tabs_spaces_crlf_and_no_final_newline_read_alike(tmp_path):
    expected = list(read_conll(write(tmp_path, CONLL2003)))
    variants = [
        CONLL2003.replace(" ", "\t"),
        CONLL2003.replace(" ", " \t  ").replace("\n", "  \n"),
        CONLL2003.replace("\n", "\r\n"),
        CONLL2003.rstrip("\n"),
        CONLL2003 + "\n \n\t\n",
    ]
    for text in variants:
        assert list(read_conll(write(tmp_path, text))) == expected, repr(text)
    shifted = list(read_conll(write(tmp_path, "\n \n\n" + CONLL2003)))
    assert [s.rows for s in shifted] == [s.rows for s in expected]
    assert [s.first_line for s in shifted] == [6, 10, 16]


def test_docstart_without_blank_line_ends_the_sentence(tmp_path):
    text = "a X O\nb X O\n-DOCSTART- -X- O O\nc X B-A\n"
    assert [s.tokens for s in read_conll(write(tmp_path, text))] == [["a", "b"], ["c"]]


def test_wrong_column_count_names_the_line(tmp_path):
    text = "a X O\n\nb X O\nc O\nd X O\n"
    with pytest.raises(DataFormatError) as exc:
        list(read_conll(write(tmp_path, text)))
    assert exc.value.line == 4 and "found 2 columns" in exc.value.message
    assert f"{tmp_path / 'data.txt'}:4:" in str(exc.value)
    with pytest.raises(DataFormatError) as exc:  # more columns than the sentence's first line
        list(read_conll(write(tmp_path, "a X O\nb X O O\n")))
    assert exc.value.line == 2 and "found 4 columns" in exc.value.message


def test_too_few_columns_for_the_requested_ones(tmp_path):
    path = write(tmp_path, "a X O\n\nb\n")
    with pytest.raises(DataFormatError) as exc:  # one column: the tag column would be the word column
        list(read_conll(path))
    assert exc.value.line == 3
    with pytest.raises(DataFormatError) as exc:
        list(read_conll(path, tag_column=5))
    assert exc.value.line == 1
    with pytest.raises(DataFormatError) as exc:
        list(read_conll(path, word_column=-4, tag_column=None))
    assert exc.value.line == 1
    assert [s.tokens for s in read_conll(path, tag_column=None)] == [["a"], ["b"]]
    with pytest.raises(ValueError, match="same"):
        read_conll(path, word_column=1, tag_column=1)  # checked before reading


def test_readers_stream(tmp_path):
    # The first sentence comes out before the bad line further down is read.
    sents = read_conll(write(tmp_path, "a X O\n\nb X O\nbad\n"))
    assert next(sents).tokens == ["a"]
    with pytest.raises(DataFormatError):
        next(sents)
    sents = read_conllu(write(tmp_path, CONLLU + "\n1 x x X X _ 0 root _ _\n"))
    assert len(next(sents)) == 5
    assert next(sents).tokens == ["Yes"]
    with pytest.raises(DataFormatError):
        next(sents)


def test_gzip_and_stdin(tmp_path, monkeypatch):
    gz = tmp_path / "d.conll.gz"
    gz.write_bytes(gzip.compress(CONLL2003.encode()))
    expected = list(read_conll(write(tmp_path, CONLL2003)))
    assert list(read_conll(str(gz))) == expected
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(CONLL2003.encode())))
    assert list(read_conll("-")) == expected
    gz = tmp_path / "d.conllu.gz"
    gz.write_bytes(gzip.compress(CONLLU.encode()))
    assert list(read_conllu(str(gz))) == list(read_conllu(write(tmp_path, CONLLU)))


def test_conllu_comments_ranges_and_empty_nodes(tmp_path):
    first, second = read_conllu(write(tmp_path, CONLLU))
    assert first.tokens == ["I", "ca", "n't", "go", "."]
    assert first.tags == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert first.comments == ["# sent_id = 1", "# text = I can't go."]
    assert [(i, row[0]) for i, row in first.other_rows] == [(1, "2-3"), (4, "4.1")]
    assert first.first_line == 3
    assert [first.line_of(i) for i in range(5)] == [3, 5, 6, 7, 9]
    assert second.first_line == 12 and second.comments == ["# sent_id = 2"]
    xpos = next(read_conllu(write(tmp_path, CONLLU), tag_field="xpos"))
    assert xpos.tags == ["PRP", "MD", "RB", "VB", "."]
    assert next(read_conllu(write(tmp_path, CONLLU), tag_field=None)).tags is None
    with pytest.raises(ValueError, match="tag field"):
        read_conllu("x", tag_field="deprel")


ROW = "1\ta\ta\tX\tX\t_\t0\troot\t_\t_\n"


@pytest.mark.parametrize("text, line, message", [
    (ROW + "2\tb\tb\tX\tX\t_\t1\tdep\t_\n", 2, "expected 10 tab-separated columns, found 9"),
    (ROW + ROW.replace("\t", " ").replace("1", "2", 1), 2, "separated by spaces"),
    ("# c\n" + ROW.replace("1", "x", 1), 2, "invalid ID 'x'"),
    (ROW + ROW, 2, "blank line missing between sentences"),
    (ROW + ROW.replace("1", "3", 1), 2, "expected word ID 2, found 3"),
    (ROW + "# late comment\n", 2, "comment line inside a sentence"),
    ("\n" + ROW.replace("\ta\t", "\t\t", 1), 2, "empty FORM"),
    ("# c\n1-2\tab\t_\t_\t_\t_\t_\t_\t_\t_\n\n" + ROW, 2, "no words"),
])
def test_conllu_errors_name_the_line(tmp_path, text, line, message):
    with pytest.raises(DataFormatError) as exc:
        list(read_conllu(write(tmp_path, text)))
    assert exc.value.line == line and message in exc.value.message


def test_tokenized(tmp_path):
    sents = list(read_tokenized(write(tmp_path, "The cat  sat .\n\n \t\nIt\tran\r\n")))
    assert [s.tokens for s in sents] == [["The", "cat", "sat", "."], ["It", "ran"]]
    assert [s.first_line for s in sents] == [1, 4]
    assert sents[1].rows == [["It"], ["ran"]] and sents[1].tags is None


def test_non_ascii_whitespace_stays_inside_tokens(tmp_path):
    # cp1252's ellipsis read as latin-1 is U+0085, which str.split() would split on.
    p = tmp_path / "l1.txt"
    p.write_bytes(b"a\x85b X O\nc\xa0d X O\n")
    assert next(read_conll(str(p), encoding="latin-1")).tokens == ["a\x85b", "c\xa0d"]


def test_check_tags_reports_the_line(tmp_path):
    first = next(read_conllu(write(tmp_path, CONLLU)))
    first.tags = ["O", "O", "O", "I-X", "O"]
    with pytest.raises(DataFormatError) as exc:
        check_tags(first, "bio", "f.conllu")
    assert exc.value.line == 7 and exc.value.path == "f.conllu" and "'I-X'" in exc.value.message
    check_tags(first, "iob1", "f.conllu")
    check_tags(Sentence(["a"], None, [["a"]], 1), "bio", "x")


def test_conll_write_read_round_trip_with_predicted_column(tmp_path):
    sents = list(read_conll(write(tmp_path, CONLL2003)))
    predicted = [[["P" + t for t in s.tags]] for s in sents]
    buf = io.StringIO()
    assert write_conll(sents, buf, predicted) == 3
    assert buf.getvalue().startswith("EU\tNNP\tI-NP\tI-ORG\tPI-ORG\nrejects\t")
    back = list(read_conll(write(tmp_path, buf.getvalue(), "out.txt"), tag_column=-1))
    assert [s.tags for s in back] == [p[0] for p in predicted]
    assert [s.rows for s in read_conll(write(tmp_path, buf.getvalue(), "out.txt"))] == [
        [r + [p] for r, p in zip(s.rows, pred[0])] for s, pred in zip(sents, predicted)]


def test_conllu_writes_back_exactly_and_pads_extra_columns(tmp_path):
    buf = io.StringIO()
    write_conll(read_conllu(write(tmp_path, CONLLU)), buf)
    assert buf.getvalue() == CONLLU + "\n"
    buf = io.StringIO()
    write_conll(read_conllu(write(tmp_path, CONLLU)), buf, [[list("abcde")], [["z"]]])
    lines = buf.getvalue().splitlines()
    assert lines[3].endswith("\t_\t_") and lines[3].split("\t")[-1] == "_"  # the 2-3 range
    assert lines[4].endswith("\t_\tb") and lines[7].endswith("\t0:root\t_\t_")


def test_write_rejects_mismatched_extra_columns():
    s = Sentence(["a", "b"], None, [["a"], ["b"]], 1)
    for extras, message in [([[["x"]]], "1 values"), ([], "end after 0"), ([[["x", "y"]], [["z"]]], "more extra"),
                            ([[["x", "y z\t"]]], "cannot write")]:
        with pytest.raises(ValueError, match=message):
            write_conll([s], io.StringIO(), extras)


def _kept(sentences, **kw) -> str:
    buf = io.StringIO()
    for s in sentences:
        write_kept(s, buf, **kw)
    return buf.getvalue()


LAYOUTS = {
    "spaces": CONLL2003,
    "tabs": CONLL2003.replace(" ", "\t"),
    "aligned, trailing blanks": CONLL2003.replace(" ", "  \t").replace("\n", " \n"),
    "crlf": CONLL2003.replace("\n", "\r\n"),
    "no final newline": CONLL2003.rstrip("\n"),
    "blank lines at both ends": "\n\n" + CONLL2003 + "\n \n\t\n",
    "bom": "\ufeff" + CONLL2003,
    "mixed ends": CONLL2003.replace("\n", "\r\n", 3),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_layout_writes_a_conll_file_back_byte_for_byte(tmp_path, name):
    path = write(tmp_path, LAYOUTS[name])
    text = LAYOUTS[name].removeprefix("\ufeff")  # a byte-order mark is dropped, as UTF-8 output needs none
    sents = list(read_conll(path, layout=True))
    assert _kept(sents) == text
    assert [s for s in sents if len(s)] == list(read_conll(path))  # the same sentences as without the layout
    # A new last column, after the line's own separator; removing it gives the input back.
    out = io.StringIO()
    for s in sents:
        words = [append_fields(t, [f"@@{i}"]) for i, t in enumerate(word_texts(s))] if len(s) else None
        write_kept(s, out, words)
    assert out.getvalue().count("@@") == sum(len(s) for s in sents)
    assert re.sub(r"[ \t]+@@[0-9]+", "", out.getvalue()) == text


def test_layout_keeps_conllu_and_text_lines(tmp_path):
    path = write(tmp_path, CONLLU.replace("\n", "\r\n"))
    sents = list(read_conllu(path, layout=True))
    assert _kept(sents) == CONLLU.replace("\n", "\r\n")
    first = sents[0]
    assert [first.layout.lines[i][0].split("\t")[1] for i in first.layout.word_lines] == first.tokens
    assert first.layout.before[-1][0] == "# text = I can't go."
    text = "\n  \nThe cat sat .\r\n\nIt ran"
    sents = list(read_tokenized(write(tmp_path, text), layout=True))
    assert [s.tokens for s in sents] == [["The", "cat", "sat", "."], ["It", "ran"]]
    assert [s.layout.lines for s in sents] == [[("The cat sat .", "\r\n")], [("It ran", "")]]


def test_line_edits():
    assert append_fields("EU NNP I-ORG", ["B-ORG", "0.5"]) == "EU NNP I-ORG B-ORG 0.5"
    assert append_fields("EU\tNNP  \t", ["X"]) == "EU\tNNPX  \t".replace("NNPX", "NNP\tX")
    assert append_fields("word", ["X"]) == "word\tX"
    assert replace_field("a  b\tc ", 1, "BB") == "a  BB\tc "
    assert replace_field("a b c", -1, "Z") == "a b Z"
    assert merge_misc("_", {"Tag": "X"}) == "Tag=X"
    assert merge_misc("SpaceAfter=No|Tag=A", {"Tag": "B", "P": "1"}) == "SpaceAfter=No|Tag=B|P=1"
    row = "1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_"
    assert set_conllu_fields(row, "xpos", "NN").split("\t")[4] == "NN"
    assert set_conllu_fields(row, "misc", "B-PER", {"TagProb": "0.9"}).split("\t")[9] == "Tag=B-PER|TagProb=0.9"


def test_conllu_misc_tag_field(tmp_path):
    text = CONLLU.replace("\t_\n", "\tTag=Z\n").replace("\t0:root\t_", "\t0:root\tTag=Z")
    assert [s.tags for s in read_conllu(write(tmp_path, text), "misc")] == [["Z"] * 5, ["Z"]]
    with pytest.raises(DataFormatError) as exc:
        list(read_conllu(write(tmp_path, CONLLU), "misc"))
    assert exc.value.line == 3 and "Tag=" in exc.value.message


FRAGMENTS = ["\n", "\n\n", "\r\n", "\t", " ", "#", "-DOCSTART-", "1", "2", "1-2", "8.1", "_", "O", "B-X",
             "\xff", "\x85", "\xa0", "word", ROW, ROW.replace("1", "2", 1)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.lists(st.sampled_from(FRAGMENTS)).map("".join), st.text(max_size=60)), st.booleans())
def test_fuzz_readers_raise_only_data_format_errors(text, latin1):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "fuzz.txt"
        p.write_bytes(text.encode("latin-1" if latin1 else "utf-8", errors="replace" if latin1 else "surrogatepass"))
        readers = [
            lambda: list(read_conll(str(p))),
            lambda: list(read_conll(str(p), word_column=1, tag_column=None)),
            lambda: list(read_conllu(str(p), "xpos")),
            lambda: list(read_tokenized(str(p))),
            lambda: detect_input_format(str(p)),
        ]
        for read in readers:
            try:
                read()
            except DataFormatError:
                pass
