"""Classification readers, tokenisers and batches, on small files a user could write."""

import pytest
import torch

from rnn_cli.data.buckets import length_buckets
from rnn_cli.data.classification import read_examples, tokenize
from rnn_cli.data.cls_batching import build_class_vocabs, encode_batch
from rnn_cli.data.item_batching import BatchSpec, Side, item_batches
from rnn_cli.errors import DataFormatError


def write(tmp_path, text, name="data.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def read(path, **kw):
    return [(e.text, e.labels) for e in read_examples(path, **kw)]


def test_tsv_label_tab_text_and_auto_detection(tmp_path):
    path = write(tmp_path, "pos\tgood film\n\nneg\tdull ,\tlong\r\n")
    assert read(path) == [("good film", ["pos"]), ("dull ,\tlong", ["neg"])]
    assert read(path, fmt="tsv") == read(path)


def test_tsv_header_found_by_name_or_given_columns(tmp_path):
    path = write(tmp_path, "id\ttext\tlabel\n1\ta b\tx\n2\tc\ty\n")
    assert read(path) == [("a b", ["x"]), ("c", ["y"])]
    named = write(tmp_path, "sentence\tclass\na b\tx\n", "named.tsv")
    assert read(named, text_column="sentence", label_column="class") == [("a b", ["x"])]
    with pytest.raises(DataFormatError, match=r"named.tsv:1: header has no column 'text'"):
        read(named, label_column="class")


@pytest.mark.parametrize("text, where, what", [
    ("pos\tok\njust text\n", ":2:", "no label"),
    ("id\ttext\tlabel\n1\ta\tx\n2\tb\n", ":3:", "2 columns, the header has 3"),
    ("pos\tok\n\tno label\n", ":2:", "empty label"),
])
def test_tsv_errors_name_file_and_line(tmp_path, text, where, what):
    path = write(tmp_path, text)
    with pytest.raises(DataFormatError) as err:
        read(path, fmt="tsv")
    assert str(err.value).startswith(path + where) and what in str(err.value)


def test_fasttext_several_labels_and_errors(tmp_path):
    path = write(tmp_path, "__label__a __label__b some text\n__label__c more\n")
    assert read(path) == [("some text", ["a", "b"]), ("more", ["c"])]
    bad = write(tmp_path, "__label__a fine\nno label here\n", "bad.txt")
    with pytest.raises(DataFormatError, match=r"bad.txt:2: no label"):
        read(bad, fmt="fasttext")
    assert read(bad, fmt="fasttext", labels="optional")[1] == ("no label here", None)


def test_jsonl_label_labels_and_errors(tmp_path):
    path = write(tmp_path, '{"text": "a b", "label": "x"}\n{"text": "c", "labels": ["x", 3]}\n')
    assert read(path) == [("a b", ["x"]), ("c", ["x", "3"])]
    for body, what in [('{"text": "a", "label": "x"}\n{"text": "b", "label": \n', "invalid JSON"),
                       ('{"text": "a", "label": "x"}\n{"label": "x"}\n', '"text" string'),
                       ('{"text": "a", "label": "x"}\n{"text": "b"}\n', "no label"),
                       ('{"text": "a", "label": "x"}\n{"text": "b", "labels": "x"}\n', "list of strings")]:
        bad = write(tmp_path, body, "bad.jsonl")
        with pytest.raises(DataFormatError) as err:
            read(bad)
        assert str(err.value).startswith(bad + ":2:") and what in str(err.value)


def test_plain_text_is_prediction_input_only(tmp_path):
    path = write(tmp_path, "first line\nsecond\n")
    assert read(path, labels="optional") == [("first line", None), ("second", None)]
    with pytest.raises(DataFormatError, match="cannot tell the format"):
        read(path)
    assert read(write(tmp_path, ""), labels="required") == []


def test_tokenizers():
    text = "Don't stop, e-mail me at 3.5 or 1,000!"
    assert tokenize(text) == ["Don't", "stop,", "e-mail", "me", "at", "3.5", "or", "1,000!"]
    assert tokenize(text, "simple") == ["Don't", "stop", ",", "e-mail", "me", "at", "3.5", "or", "1,000", "!"]
    assert tokenize("A B", lowercase=True) == ["a", "b"]


def test_batches_cover_every_item_once_and_pad_with_zero():
    tokens = [["a"] * n for n in (3, 1, 5, 2, 4, 0, 6)]
    labels = [["x"], ["y"], ["x"], ["y"], ["x"], ["y"], ["x"]]
    vocabs = build_class_vocabs(tokens, labels)
    seen = []
    for idx in length_buckets([len(t) for t in tokens], 3, torch.Generator().manual_seed(0)):
        # What the classifier's trainer builds from each bucket.
        batch = encode_batch([tokens[i] for i in idx], vocabs, idx, [labels[i] for i in idx])
        seen += batch.indices
        for row, i in enumerate(batch.indices):
            n = max(len(tokens[i]), 1)  # an empty text is one <unk>
            assert int(batch.lengths[row]) == n
            assert batch.words[row, n:].eq(0).all() and batch.words[row, :n].ne(0).all()
            assert vocabs.labels.itos[int(batch.labels[row])] == labels[i][0]
    assert sorted(seen) == list(range(len(tokens)))
    multi = encode_batch([["a"]], vocabs, [0], [["x", "y"]], multi_label=True)
    assert multi.labels.tolist() == [[1.0, 1.0]]
    windows = list(item_batches(((i, (Side(t), None)) for i, t in enumerate(tokens)), vocabs, 2, BatchSpec()))
    assert [item[0] for w, _ in windows for item in w] == list(range(len(tokens)))


def test_label_text_first_word_is_the_label(tmp_path):
    path = write(tmp_path, "pos a  good film\n\nneg\tdull , long\r\n")
    assert read(path, fmt="label-text") == [("a  good film", ["pos"]), ("dull , long", ["neg"])]
    assert read(path) == read(path, fmt="label-text")  # auto: two labels, never inside the texts
    assert read(path, fmt="label-text", labels="ignore")[0] == ("a  good film", None)
    bad = write(tmp_path, "pos a good film\nneg\n", "bad.txt")
    with pytest.raises(DataFormatError, match=r"bad.txt:2: no text after the label 'neg'"):
        read(bad, fmt="label-text")


def test_labels_are_spelled_as_the_training_format_writes_them():
    from rnn_cli.data.classification import spell
    from rnn_cli.data.cls_batching import ClassVocabs

    assert spell("1", "fasttext") == "__label__1" and spell("1", "label-text") == spell("1", None) == "1"
    vocabs = build_class_vocabs([["a"]], [["x"]], train_format="fasttext")
    again = ClassVocabs.from_dict(vocabs.to_dict())
    assert again.train_format == "fasttext" and again.labels.itos == ["x"]
    older = {k: v for k, v in vocabs.to_dict().items() if k != "train_format"}  # a model file from before
    assert ClassVocabs.from_dict(older).train_format is None


def test_prediction_tsv_by_column_keeps_every_column(tmp_path):
    path = write(tmp_path, "7\tgood film\tx\n8\tdull\ty\n")
    rows = list(read_examples(path, "tsv", text_column="1", labels="ignore"))
    assert [(e.text, e.labels, e.fields, e.columns) for e in rows] == [
        ("good film", None, ["7", "good film", "x"], None), ("dull", None, ["8", "dull", "y"], None)]
    short = write(tmp_path, "7\tgood film\n8\n", "short.tsv")
    with pytest.raises(DataFormatError, match=r"short.tsv:2: 1 column\(s\), but column 1"):
        list(read_examples(short, "tsv", text_column="1", labels="ignore"))
