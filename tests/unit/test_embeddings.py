import gzip
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from rnn_cli.data.conll import read_conll
from rnn_cli.data.embeddings import (
    build_embedding_matrix,
    detect_format,
    extend_vocab_with_pretrained,
    load_vectors,
    lookup,
)
from rnn_cli.errors import DataFormatError

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"
WORDS = ["the", "paris", "0000"]
VALUES = np.array([[0.1, 0.2, 0.3], [1, 1, 1], [0.5, 0.5, 0.5]], dtype=np.float32)
GLOVE = "the 0.1 0.2 0.3\nparis 1.0 1.0 1.0\n0000 0.5 0.5 0.5\n"


def keyed_vectors(words, values):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(values.shape[1])
    kv.add_vectors(words, values)
    return kv


@pytest.fixture
def files(tmp_path):
    out = {"glove": tmp_path / "g.txt", "glove-gz": tmp_path / "g.txt.gz", "word2vec": tmp_path / "w.txt",
           "word2vec-gz": tmp_path / "w.txt.gz", "word2vec-binary": tmp_path / "w.bin",
           "word2vec-binary-gz": tmp_path / "w.bin.gz"}
    out["glove"].write_text(GLOVE)
    out["glove-gz"].write_bytes(gzip.compress(GLOVE.encode()))
    out["word2vec"].write_text("3 3\n" + GLOVE)
    out["word2vec-gz"].write_bytes(gzip.compress(("3 3\n" + GLOVE).encode()))
    keyed_vectors(WORDS, VALUES).save_word2vec_format(str(out["word2vec-binary"]), binary=True)
    out["word2vec-binary-gz"].write_bytes(gzip.compress(out["word2vec-binary"].read_bytes()))
    return out


@pytest.mark.parametrize("name", ["glove", "glove-gz", "word2vec", "word2vec-gz", "word2vec-binary",
                                  "word2vec-binary-gz"])
def test_every_format_is_detected_and_read(files, name):
    fmt = name.removesuffix("-gz")
    assert detect_format(files[name]) == fmt
    for kv in (load_vectors(files[name]), load_vectors(str(files[name]), fmt)):
        assert kv.vector_size == 3 and list(kv.index_to_key) == WORDS
        assert np.allclose(np.stack([kv[w] for w in WORDS]), VALUES)


def test_sample_file_is_glove_50d():
    kv = load_vectors(SAMPLES / "glove.sample.txt")
    assert detect_format(SAMPLES / "glove.sample.txt") == "glove"
    assert len(kv) == 150 and kv.vector_size == 50
    assert kv.index_to_key[:3] == ["the", ",", "."]
    assert np.allclose(kv["the"][:4], [0.418, 0.24968, -0.41242, 0.1217])


def test_sample_vectors_cover_the_sample_tagging_data():
    sentences = list(read_conll(str(SAMPLES / "names.train.conll")))
    kv = load_vectors(SAMPLES / "glove.sample.txt")
    counts = Counter(w for s in sentences for w in s.tokens)
    tokens = ["<pad>", "<unk>", *sorted(counts)]
    matrix, found = build_embedding_matrix(tokens, kv, 50, seed=0)
    assert matrix.shape == (len(tokens), 50) and found > 200  # "The" and "the" both found
    assert torch.allclose(matrix[tokens.index("The")], torch.tensor(kv["the"]))


BAD = {
    "empty": ("", None, "no vectors"),
    "blank line": ("a 1 2\n\nb 1 2\n", 2, "empty line"),
    "too few values": ("a 1 2\nb 1\n", 2, "has 1 values, the first vector has 2"),
    "too many values": ("a 1 2\nb 1 2 3\n", 2, "has 3 values"),
    "word only": ("a\n", 1, "expected a word followed by"),
    "not a number": ("a 1 2\nb 1 x\n", 2, "'x' is not a number"),
    "double space": ("a 1 2\nb  1\n", 2, "'' is not a number"),
    "not utf-8": (b"a 1 2\n\xff\xfe 1 2\n", 2, "not UTF-8"),
    "header dim": ("2 3\na 1 2\nb 1 2\n", 2, "has 2 values, the header says 3"),
    "header count": ("3 2\na 1 2\nb 1 2\n", 1, "the header says 3 vectors, the file has 2"),
    "corrupt gz": (b"\x1f\x8b\x08\x00garbage", None, "gzip"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_files_are_data_format_errors_naming_file_and_line(tmp_path, case):
    content, line, message = BAD[case]
    path = tmp_path / ("bad.txt.gz" if case == "corrupt gz" else "bad.txt")
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    with pytest.raises(DataFormatError, match=re.escape(message)) as info:
        load_vectors(str(path))
    assert info.value.path == str(path) and info.value.line == line
    assert str(info.value).startswith(str(path))


def test_missing_directory_truncated_binary_and_unknown_format(tmp_path, files):
    for path, message in ((tmp_path / "missing.txt", "no such file"), (tmp_path, "is a directory")):
        with pytest.raises(DataFormatError, match=message):
            load_vectors(path)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(files["word2vec-binary"].read_bytes()[:-5])
    with pytest.raises(DataFormatError, match="ends before") as info:
        load_vectors(cut)
    assert info.value.path == str(cut)
    with pytest.raises(DataFormatError, match="unknown embeddings format"):
        load_vectors(files["glove"], "fasttext")
    with pytest.raises(DataFormatError, match=str(files["word2vec-binary"])):
        load_vectors(files["word2vec-binary"], "glove")


def test_lookup_tries_exact_then_lowercase_then_digits_as_zero():
    words = ["Apple", "apple", "1999", "0000", "x00"]
    kv = keyed_vectors(words, np.arange(10, dtype=np.float32).reshape(5, 2))
    assert lookup(kv, "Apple").tolist() == [0, 1]  # exact first
    assert lookup(kv, "APPLE").tolist() == [2, 3]  # then lowercase
    assert lookup(kv, "1999").tolist() == [4, 5]  # the exact number before the normalised one
    assert lookup(kv, "2024").tolist() == [6, 7]  # then digits -> 0
    assert lookup(kv, "X12").tolist() == [8, 9]  # lowercase and digits together
    assert lookup(kv, "pear") is None and lookup(kv, "x1") is None


def test_embedding_matrix_copies_found_vectors_and_counts_them(files):
    kv = load_vectors(files["glove"])
    tokens = ["<pad>", "<unk>", "The", "zebra", "Paris", "1999"]
    m1, found = build_embedding_matrix(tokens, kv, 3, seed=1)
    assert m1.dtype == torch.float32 and m1.shape == (6, 3)
    assert found == 3
    assert torch.equal(m1[0], torch.zeros(3))
    assert torch.allclose(m1[2], torch.tensor([0.1, 0.2, 0.3]))
    assert torch.allclose(m1[4], torch.ones(3)) and torch.allclose(m1[5], torch.full((3,), 0.5))
    bound = (3 / 3) ** 0.5
    assert m1[[1, 3]].abs().max() <= bound and not torch.equal(m1[1], m1[3])
    m2, _ = build_embedding_matrix(tokens, kv, 3, seed=1)
    m3, _ = build_embedding_matrix(tokens, kv, 3, seed=2)
    assert torch.equal(m1, m2) and not torch.equal(m1[3], m3[3]) and torch.equal(m1[4], m3[4])
    m1[4] = 7.0
    assert np.allclose(kv["paris"], 1.0)  # the matrix is a copy
    with pytest.raises(ValueError, match="dimension"):
        build_embedding_matrix(tokens, kv, 4, seed=1)


def test_pad_and_unk_are_never_looked_up():
    kv = keyed_vectors(["<pad>", "<unk>"], np.ones((2, 4), dtype=np.float32))
    matrix, found = build_embedding_matrix(["<pad>", "<unk>"], kv, 4, seed=0)
    assert found == 0 and torch.equal(matrix[0], torch.zeros(4)) and not torch.equal(matrix[1], torch.ones(4))


def test_vocab_extension_adds_only_new_words_with_vectors(files):
    kv = load_vectors(files["glove"])
    extra = ["Paris", "zebra", "the", "paris", "Paris", "2001", "The"]
    assert extend_vocab_with_pretrained(Counter(["the", "dog"]), extra, kv) == ["Paris", "paris", "2001", "The"]
    assert extend_vocab_with_pretrained(Counter(), (w for w in ["zebra"]), kv) == []
