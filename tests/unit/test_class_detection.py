"""Which layout a classification input holds, judged on its first lines: files and
stdin alike (stdin is peeked at, never consumed), and on every classification file of
../shared/data when it is there."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rnn_cli.data.classification import read_examples
from rnn_cli.data.cls_detect import detect_class_format, judge_class_lines, label_evidence
from rnn_cli.errors import ConfigError, DataFormatError
from tests.conftest import ROOT, SAMPLES

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def genre_items(n: int = 120) -> list[tuple[str, str]]:
    """(genre, text) pairs of the EWT genre sample (5 genres, interleaved)."""
    rows = (SAMPLES / "ewt.genre.train.tsv").read_text(encoding="utf-8").splitlines()[:n]
    return [tuple(r.split("\t", 1)) for r in rows]  # type: ignore[misc]


def layouts() -> dict[str, str]:
    """The same items in every layout (plain text: the texts alone)."""
    items = genre_items()
    return {
        "tsv": "".join(f"{g}\t{t}\n" for g, t in items),
        "fasttext": "".join(f"__label__{g} {t}\n" for g, t in items),
        "jsonl": "".join(json.dumps({"text": t, "label": g}) + "\n" for g, t in items),
        "label-text": "".join(f"{g} {t}\n" for g, t in items),
        "text": "".join(f"{t}\n" for _, t in items),
    }


DETECT = ("import json, sys\nfrom rnn_cli.data.cls_detect import detect_class_format\n"
          "from rnn_cli.data.classification import read_examples\n"
          "enc = sys.argv[1]\n"
          "found = [detect_class_format('-', encoding=enc, labelled=lab) for lab in (True, False)]\n"
          "items = list(read_examples('-', found[0].format, encoding=enc, labels='optional'))\n"
          "print(json.dumps({'labelled': found[0].format, 'prediction': found[1].format,\n"
          "                  'column': found[1].text_column, 'items': len(items),\n"
          "                  'labels': sorted({l for e in items for l in (e.labels or [])})}))\n")


def detect_stdin(data: bytes, encoding: str = "utf-8") -> dict:
    """Detect in a real process reading a pipe, then read the same stdin to its end."""
    res = subprocess.run([sys.executable, "-c", DETECT, encoding], input=data, capture_output=True, cwd=ROOT,
                         timeout=60)
    assert res.returncode == 0, res.stderr.decode()
    return json.loads(res.stdout)


@pytest.mark.parametrize("fmt", ["tsv", "fasttext", "jsonl", "label-text", "text"])
def test_each_layout_is_detected_in_a_file_and_on_stdin(tmp_path, fmt):
    text = layouts()[fmt]
    path = tmp_path / "data.txt"
    path.write_text(text, encoding="utf-8")
    labelled = detect_class_format(str(path), labelled=True)
    prediction = detect_class_format(str(path), labelled=False)
    # Labelled data must carry labels: plain text is refused when read, with the way out.
    assert labelled.format == fmt
    # Prediction input without a model: `label text` is read as plain text (its first
    # word could be the text's), tab-separated as columns of which the text is one.
    assert prediction.format == {"label-text": "text"}.get(fmt, fmt)
    assert prediction.text_column == ("1" if fmt == "tsv" else None)
    piped = detect_stdin(text.encode())
    assert (piped["labelled"], piped["prediction"]) == (labelled.format, prediction.format)
    # Nothing of stdin was lost to the look-ahead: every line is read, labels intact.
    assert piped["items"] == len(text.splitlines())
    if fmt != "text":
        assert piped["labels"] == sorted({g for g, _ in genre_items()})


def test_label_text_with_weak_evidence_says_how_to_force_another_format():
    lines = ["pos a good film", "neg a bad film", "pos great fun"]
    found = judge_class_lines(lines, labelled=True)
    assert found.format == "label-text" and found.ambiguous
    assert "--input-format" in found.note("x.txt") and found.note("x.txt").startswith("x.txt: read as `label text`")
    many = [f"{'pos' if i % 2 else 'neg'} item number {i} of a long list" for i in range(40)]
    clear = judge_class_lines(many, labelled=True)
    assert clear.format == "label-text" and not clear.ambiguous  # 2 labels over 40 lines


def test_prediction_input_is_plain_text_unless_the_model_was_trained_on_label_text():
    lines = ["pos a good film", "neg a bad film", "pos great fun", "neg dull", "pos fine work"]
    plain = judge_class_lines(lines, labelled=False)
    assert plain.format == "text" and "--input-format label-text" in plain.note("-")
    trained = judge_class_lines(lines, labelled=False, trained="label-text", known={"pos", "neg"})
    assert trained.format == "label-text" and "--input-format text" in trained.note("-")
    # A first word the model does not know as a label: the line is text.
    other = judge_class_lines(lines + ["great stuff"], labelled=False, trained="label-text", known={"pos", "neg"})
    assert other.format == "text"
    one = judge_class_lines(["just one sentence here"], labelled=False)
    assert one.format == "text" and not one.ambiguous  # no note for a plain sentence


def test_first_words_of_sentences_are_not_labels():
    # Common words start lines and recur inside them; labels do not.
    text = [t for _, t in genre_items()]
    assert not label_evidence(text).looks
    assert label_evidence([f"{g} {t}" for g, t in genre_items()]).looks
    assert not label_evidence(["one", "two words"]).looks  # a single word has no label and text
    assert not label_evidence(["John paid 20 dollars ."] * 30).looks  # one first word: no label set


def test_tab_separated_prediction_input_is_labelled_only_for_a_tsv_model_knowing_the_labels():
    rows = ["17\tgood film", "18\tbad film", "19\tgreat fun"]
    assert judge_class_lines(rows, labelled=False).text_column == "1"
    assert judge_class_lines(rows, labelled=False, trained="tsv", known={"pos", "neg"}).text_column == "1"
    gold = ["pos\tgood film", "neg\tbad film"]
    labelled = judge_class_lines(gold, labelled=False, trained="tsv", known={"pos", "neg"})
    assert labelled.format == "tsv" and labelled.text_column is None
    assert judge_class_lines(gold, labelled=False, trained="label-text", known={"pos", "neg"}).text_column == "1"
    # A model trained on a column by index reads that column again (and says so).
    by_index = judge_class_lines(rows, labelled=False, trained="tsv", known={"pos"}, text_name="0")
    assert by_index.text_column == "0" and "--text-column" in by_index.note("-")
    header = ["id\tscore\tsentence", "1\t0.5\tthe first one here", "2\t0.7\tand a second one", "3\t1\tthird"]
    found = judge_class_lines(header, labelled=False)
    assert (found.format, found.text_column) == ("tsv", "sentence")


def test_labelled_tsv_of_many_unnamed_columns_is_refused_until_they_are_named(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("id\ta\tb\tgold\n1\tx y\tz\tyes\n2\tu\tv w\tno\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"pairs.tsv: cannot tell the format: 4 tab-separated columns.*"
                                              r"--text-column and --label-column"):
        list(read_examples(str(path)))
    items = list(read_examples(str(path), text_column="a", label_column="gold"))
    assert [(e.text, e.labels, e.fields) for e in items] == [("x y", ["yes"], ["1", "x y", "z"]),
                                                             ("u", ["no"], ["2", "u", "v w"])]
    headerless = tmp_path / "headerless.tsv"
    headerless.write_text("1\tx y\tyes\n2\tu\tno\n", encoding="utf-8")
    items = list(read_examples(str(headerless), text_column="1", label_column="2"))
    assert [(e.text, e.labels) for e in items] == [("x y", ["yes"]), ("u", ["no"])]
    with pytest.raises(ConfigError, match="--label-column: no column 'class'"):
        list(read_examples(str(path), text_column="a", label_column="class"))


def text_tab_label(header: str = "", n: int = 120, label=lambda g: g) -> str:
    """The genre items as text<TAB>label lines (GLUE's layout), under `header` if given."""
    return header + "".join(f"{t}\t{label(g)}\n" for g, t in genre_items(n))


@pytest.mark.parametrize("name, text, columns, note", [
    ("no header", text_tab_label(), ("0", "1"), False),
    ("GLUE's header, numeric labels", text_tab_label("sentence\tlabel\n", label=lambda g: len(g) % 3),
     ("sentence", "label"), False),
    ("a header of other names", text_tab_label("review\tgenre\n"), ("review", "genre"), False),
    ("few lines", text_tab_label(n=8), ("0", "1"), True),
])
def test_labelled_tsv_with_the_label_second_is_read_so(tmp_path, name, text, columns, note):
    # Read as label<TAB>text, every text was a label (and a header row an item).
    path = tmp_path / "train.tsv"
    path.write_text(text, encoding="utf-8")
    found = detect_class_format(str(path))
    assert (found.format, found.text_column, found.label_column, found.ambiguous) == ("tsv", *columns, note), found
    items = list(read_examples(str(path)))
    expected = genre_items(len(items))
    assert [e.text for e in items] == [t for _, t in expected]
    assert len({e.labels[0] for e in items}) <= 5
    if note:
        assert "use --label-column 0 --text-column 1" in found.note("f")


def test_labelled_tsv_of_two_columns_stays_label_first_unless_the_second_looks_like_labels(tmp_path):
    for text in ("".join(f"{g}\t{t}\n" for g, t in genre_items()),  # label<TAB>text
                 "pos\tgood\nneg\tbad\npos\tfine\n",  # single words on both sides: as ever
                 "label\tsentence\n" + "".join(f"{g}\t{t}\n" for g, t in genre_items())):  # a header, label first
        path = tmp_path / "train.tsv"
        path.write_text(text, encoding="utf-8")
        items = list(read_examples(str(path)))
        assert all(e.labels[0] in {"pos", "neg"} or e.labels[0] in {g for g, _ in genre_items()} for e in items)
        assert items[0].text != "sentence"


def test_unknown_format_names_the_option():
    with pytest.raises(ConfigError, match="--input-format: unknown format 'xml'"):
        detect_class_format("-", "xml")


# file (under ../shared/data), encoding, format when labels are required, format of
# prediction input (no model), labels of the whole file (a few of them for TREC's 50).
SHARED_FILES = [
    *[(f"sst/stsa.binary.{s}", "utf-8", "label-text", "text", {"0", "1"}) for s in ("train", "dev", "test")],
    *[(f"sst/stsa.fine.{s}", "utf-8", "label-text", "text", {"0", "1", "2", "3", "4"})
      for s in ("train", "dev", "test")],
    ("trec/TREC.train", "latin-1", "label-text", "text", {"DESC:manner", "NUM:date", "ABBR:exp"}),
    ("trec/TREC.test", "utf-8", "label-text", "text", {"DESC:manner", "NUM:date", "ABBR:exp"}),
    ("mr/rt-polarity.pos", "cp1252", "text", "text", set()),
    ("mr/rt-polarity.neg", "cp1252", "text", "text", set()),
    *[(f"sick/{name}", "utf-8", "text", "tsv", set())
      for name in ("SICK_train.txt", "SICK_trial.txt", "SICK_test_annotated.txt")],
    ("sick/test/a.txt", "utf-8", "text", "text", set()),
    ("ptb/ptb.valid.txt.gz", "utf-8", "text", "text", set()),
]


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not there")
@pytest.mark.parametrize("name, encoding, labelled, prediction, labels", SHARED_FILES,
                         ids=[f[0] for f in SHARED_FILES])
def test_shared_classification_files_are_detected_as_what_they_are(name, encoding, labelled, prediction, labels):
    path = SHARED / name
    raw = path.read_bytes()
    data = gzip.decompress(raw) if name.endswith(".gz") else raw
    lines = [line for line in data.decode(encoding).split("\n") if line.strip()]
    for enc in dict.fromkeys([encoding, "utf-8"]):  # the look-ahead never fails on the encoding
        found = detect_class_format(str(path), encoding=enc, labelled=True)
        assert found.format == labelled, found
        assert detect_class_format(str(path), encoding=enc, labelled=False).format == prediction
    piped = detect_stdin(data, encoding)  # what `zcat FILE | rnn-cli ...` would see
    assert (piped["labelled"], piped["prediction"]) == (labelled, prediction)
    assert piped["items"] == len(lines)  # stdin read to its end after the look-ahead
    if labelled == "text":
        return  # plain text (MR) or unnamed columns (SICK): refused as training data, with the way out
    items = list(read_examples(str(path), encoding=encoding))
    assert len(items) == len(lines)
    found_labels = {label for e in items for label in e.labels or []}
    assert labels <= found_labels and set(piped["labels"]) == found_labels
    assert all(e.text.split() == line.split()[1:] for e, line in zip(items, lines))
    if name.startswith("trec"):
        assert {label.split(":")[0] for label in found_labels} == {"ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"}
    else:
        assert found_labels == labels


def test_conll_columns_are_refused_for_training_and_noted_for_prediction(tmp_path):
    """A tagger's file handed to a classifier: every token line would be an item, its
    first word a label (the file below read as `label text` with 9 labels before)."""
    conll = tmp_path / "tokens.conll"
    conll.write_text("".join(f"{w} NNP B-PER\nsaid VBD O\n{w}'s POS O\nfriend NN O\n\n"
                             for w in ("Mary", "John", "Ann", "Bob", "Sue", "Tom", "Kim")))
    with pytest.raises(DataFormatError, match=r"tokens.conll: looks like CoNLL columns, a token a line "
                                              r"\(consecutive lines have 3 columns\).*use train-tagger"):
        detect_class_format(str(conll), labelled=True)
    assert detect_class_format(str(conll), "label-text", labelled=True).format == "label-text"  # forced: as told
    found = detect_class_format(str(conll), labelled=False)
    assert found.format == "text" and found.ambiguous and "looks like CoNLL columns" in found.note("f")
    # Items of one length each, but no blank lines between groups: not CoNLL.
    same = tmp_path / "same.txt"
    same.write_text("".join(f"{label} a b c\n" for label in ["pos", "neg"] * 20))
    assert detect_class_format(str(same), labelled=True).format == "label-text"
