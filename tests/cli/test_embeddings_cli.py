"""`--embeddings FILE` end to end, for train-tagger and train-classifier, on the GloVe
sample (50-d): the model's embedding row of every vocabulary word that has a vector
(looked up as the word, then lowercased) starts as that vector and the size is the
vectors' (whatever --embedding-size says); `--freeze-embeddings` keeps the whole
matrix as it started, while without it the training words' rows move; words found
only in the dev or test file join the vocabulary when they have a vector (and keep it:
they are never trained), and not when they have none.

The starting matrix is read from a run with `--epochs 0`, which writes the untrained model.

Options used: train-tagger / train-classifier --dev --test --embeddings
--freeze-embeddings --embedding-size --hidden-size --dropout --optimizer --lr --epochs
--device -q -o; train-tagger --char-filters --char-embedding-size."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnn_cli import checkpoint
from tests.conftest import SAMPLES
from tests.inprocess import ok

GLOVE = SAMPLES / "glove.sample.txt"

# word/TAG; "Zorp" has no vector; "The" and "China" are found lowercased.
TRAIN = ["The/DET government/NOUN said/VERB the/DET president/NOUN was/AUX in/ADP the/DET city/NOUN ./PUNCT",
         "Zorp/PROPN said/VERB the/DET company/NOUN was/AUX in/ADP China/PROPN ./PUNCT",
         "The/DET team/NOUN was/AUX in/ADP the/DET country/NOUN ./PUNCT"] * 4
# Dev and test only: "minister", "police" (dev) and "officials" (test) have vectors, "Blorf" and "Quux" have none.
DEV = ["The/DET minister/NOUN said/VERB the/DET police/NOUN was/AUX in/ADP Blorf/PROPN ./PUNCT"]
TEST = ["The/DET officials/NOUN said/VERB Quux/PROPN was/AUX in/ADP China/PROPN ./PUNCT"]
DEV_ONLY_WITH_VECTOR = {"minister", "police", "officials"}
WITHOUT_VECTOR = {"Blorf", "Quux"}


def write(path: Path, sentences: list[str], trainer: str) -> Path:
    rows = [[tuple(tok.rsplit("/", 1)) for tok in s.split()] for s in sentences]
    if trainer == "train-tagger":  # CoNLL: word and tag
        path.write_text("".join("".join(f"{w} {t}\n" for w, t in r) + "\n" for r in rows))
    else:  # TSV: label 'zorp' for the sentences about Zorp, 'other' for the rest; the text
        path.write_text("".join(f"{'zorp' if r[0][0] == 'Zorp' else 'other'}\t{' '.join(w for w, _ in r)}\n"
                                for r in rows))
    return path


def glove() -> dict[str, torch.Tensor]:
    vectors = {}
    for line in GLOVE.read_text(encoding="utf-8").splitlines():
        word, *values = line.rstrip().split(" ")
        vectors[word] = torch.tensor([float(v) for v in values], dtype=torch.float32)
    return vectors


def vector(vectors: dict[str, torch.Tensor], word: str) -> torch.Tensor | None:
    """Lookup as the README says: the word, then its lowercase form (no digits here)."""
    return vectors.get(word, vectors.get(word.lower()))


SMALL = {"train-tagger": ["--hidden-size", "8", "--char-filters", "4", "--char-embedding-size", "4"],
         "train-classifier": ["--hidden-size", "8"]}


@pytest.fixture(scope="module", params=["train-tagger", "train-classifier"])
def runs(request, tmp_path_factory) -> dict[str, tuple[list[str], torch.Tensor]]:
    """trainer's runs -> (vocabulary, embedding matrix): "start" (--epochs 0), "frozen"
    and "trained" (2 epochs with and without --freeze-embeddings)."""
    trainer = request.param
    d = tmp_path_factory.mktemp(trainer)
    files = [write(d / f"{name}.txt", s, trainer) for name, s in (("train", TRAIN), ("dev", DEV), ("test", TEST))]
    common = [trainer, files[0], "--dev", files[1], "--test", files[2], "--embeddings", GLOVE,
              "--embedding-size", "8", *SMALL[trainer], "--dropout", "0", "--optimizer", "adam", "--lr", "0.05",
              "--device", "cpu", "-q"]
    out = {}
    for name, extra in (("start", ["--epochs", "0"]), ("frozen", ["--epochs", "2", "--freeze-embeddings"]),
                        ("trained", ["--epochs", "2"])):
        ok(*common, *extra, "-o", d / f"{name}.pt")
        payload = checkpoint.load(d / f"{name}.pt")
        out[name] = (payload["vocab"]["words"], payload["state_dict"]["embedding.weight"])
    return out


def test_rows_of_words_with_vectors_start_as_the_vectors(runs):
    vocab, matrix = runs["start"]
    vectors = glove()
    assert matrix.shape == (len(vocab), 50)  # the vectors' size, not --embedding-size 8
    found = [w for w in vocab[2:] if vector(vectors, w) is not None]
    assert {"The", "China", "government", "."} <= set(found) and "Zorp" in vocab
    for w in found:
        assert torch.equal(matrix[vocab.index(w)], vector(vectors, w)), w


def test_dev_and_test_words_with_a_vector_join_the_vocabulary(runs):
    vocab, _ = runs["start"]
    train_words = {tok.rsplit("/", 1)[0] for s in TRAIN for tok in s.split()}
    assert set(vocab[2:]) == train_words | DEV_ONLY_WITH_VECTOR
    assert not WITHOUT_VECTOR & set(vocab)


def test_freeze_keeps_the_vectors_and_training_without_it_moves_them(runs):
    vocab, start = runs["start"]
    frozen_vocab, frozen = runs["frozen"]
    trained_vocab, trained = runs["trained"]
    assert frozen_vocab == trained_vocab == vocab
    assert torch.equal(frozen, start)
    train_words = {tok.rsplit("/", 1)[0] for s in TRAIN for tok in s.split()}
    moved = [w for w in train_words if not torch.equal(trained[vocab.index(w)], start[vocab.index(w)])]
    assert sorted(moved) == sorted(train_words)
    for w in DEV_ONLY_WITH_VECTOR:  # never in a training batch: still the pretrained vector
        assert torch.equal(trained[vocab.index(w)], start[vocab.index(w)]), w


@pytest.mark.parametrize("trainer", ["train-tagger", "train-classifier"])
def test_keep_all_vectors_brings_words_no_file_had(trainer, tmp_path):
    # --keep-all-vectors: every word of the vectors file is in the model, and a word met
    # only later (here capitalised, as GloVe never spells it) reaches its vector through
    # the lowercased lookup; its row was never trained. Without the option it is <unk>.
    import rnn_cli

    files = [write(tmp_path / f"{name}.txt", s, trainer) for name, s in (("train", TRAIN), ("dev", DEV))]
    seen = {tok.rsplit("/", 1)[0].lower() for s in TRAIN + DEV for tok in s.split()}
    vectors = glove()
    later = next(w for w in vectors if w.isalpha() and w not in seen)
    common = [trainer, files[0], "--dev", files[1], "--embeddings", GLOVE, *SMALL[trainer], "--dropout", "0",
              "--epochs", "2", "--device", "cpu", "-q"]
    loud = [a for a in common if a != "-q"]
    kept = ok(*loud, "--keep-all-vectors", "--test", files[1], "-o", tmp_path / "all.pt").stderr
    left = ok(*loud, "-o", tmp_path / "data.pt").stderr
    assert "are not kept (--keep-all-vectors keeps them" in left and "not kept" not in kept
    payload = checkpoint.load(tmp_path / "all.pt")
    vocab, matrix = payload["vocab"]["words"], payload["state_dict"]["embedding.weight"]
    assert set(vectors) <= set(vocab) and payload["vocab"]["fold"] == ["words"]
    assert "test_accuracy" in payload["metrics"]  # scored with the saved weights cut back to the training rows
    # Training leaves the kept words out (no optimiser step over them): the training
    # state's table holds the data's words only, the saved model's every word.
    trained = torch.load(tmp_path / "all.state.pt", weights_only=True)["model_state"]
    table = "embedding.weight" if "embedding.weight" in trained else next(k for k in trained if k.endswith(
        "embedding.weight") and not k.startswith("chars."))
    assert trained[table].size(0) < len(vocab) == matrix.size(0)
    row = vocab.index(later)
    assert torch.equal(matrix[row], vectors[later])
    words = rnn_cli.load(str(tmp_path / "all.pt")).vocabs.words
    assert words.encode([later.capitalize(), later.upper(), "Zorpf"]) == [row, row, words.unk_index]
    narrow = rnn_cli.load(str(tmp_path / "data.pt")).vocabs.words
    assert later not in narrow and narrow.encode([later.capitalize()]) == [narrow.unk_index]


def test_keep_all_vectors_needs_embeddings(tmp_path):
    from tests.inprocess import error_line, invoke

    train = write(tmp_path / "train.txt", TRAIN, "train-tagger")
    res = invoke("train-tagger", train, "--keep-all-vectors", "-o", tmp_path / "m.pt")
    assert res.exit_code == 2 and "--keep-all-vectors keeps the words of --embeddings FILE" in error_line(res)
