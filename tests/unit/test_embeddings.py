import gzip

import numpy as np
import pytest
import torch

from rnn_cli.data.embeddings import (
    build_embedding_matrix,
    detect_format,
    extend_vocab_with_pretrained,
    load_vectors,
    lookup,
)
from rnn_cli.errors import DataFormatError

GLOVE = "the 0.1 0.2 0.3\nparis 1.0 1.0 1.0\n0000 0.5 0.5 0.5\n"


@pytest.fixture
def files(tmp_path):
    glove = tmp_path / "g.txt"
    glove.write_text(GLOVE)
    gz = tmp_path / "g.txt.gz"
    gz.write_bytes(gzip.compress(GLOVE.encode()))
    w2v = tmp_path / "w.txt"
    w2v.write_text("3 3\n" + GLOVE)
    from gensim.models import KeyedVectors

    kv = KeyedVectors(3)
    kv.add_vectors(["the", "paris", "0000"], np.array([[0.1, 0.2, 0.3], [1, 1, 1], [0.5, 0.5, 0.5]], "float32"))
    binary = tmp_path / "w.bin"
    kv.save_word2vec_format(str(binary), binary=True)
    return {"glove": glove, "gz": gz, "word2vec": w2v, "word2vec-binary": binary}


@pytest.mark.parametrize("name, fmt", [("glove", "glove"), ("gz", "glove"), ("word2vec", "word2vec"),
                                       ("word2vec-binary", "word2vec-binary")])
def test_formats_are_detected_and_read(files, name, fmt):
    assert detect_format(str(files[name])) == fmt
    kv = load_vectors(str(files[name]))
    assert kv.vector_size == 3 and len(kv) == 3
    assert np.allclose(kv["paris"], [1, 1, 1])


def test_bad_files_name_the_file(tmp_path):
    for content in ("", "a 1 2\nb 1\n", "a 1 x\n"):
        p = tmp_path / "bad.txt"
        p.write_text(content)
        with pytest.raises(DataFormatError, match=str(p)):
            load_vectors(str(p))
    with pytest.raises(DataFormatError, match="no such file"):
        load_vectors(str(tmp_path / "missing.txt"))


def test_lookup_order_and_matrix(files):
    kv = load_vectors(str(files["glove"]))
    assert np.allclose(lookup(kv, "Paris"), [1, 1, 1])  # lowercase
    assert np.allclose(lookup(kv, "1999"), [0.5, 0.5, 0.5])  # digits -> 0
    assert lookup(kv, "zebra") is None
    tokens = ["<pad>", "<unk>", "The", "zebra", "Paris"]
    m1, found = build_embedding_matrix(tokens, kv, 3, seed=1)
    m2, _ = build_embedding_matrix(tokens, kv, 3, seed=1)
    assert found == 2 and torch.equal(m1, m2)
    assert torch.all(m1[0] == 0) and torch.allclose(m1[4], torch.ones(3))
    assert m1[3].abs().max() <= (3 / 3) ** 0.5
    from collections import Counter

    assert extend_vocab_with_pretrained(Counter(["the"]), ["Paris", "zebra", "the", "paris"], kv) == ["Paris",
                                                                                                     "paris"]
