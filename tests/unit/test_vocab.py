from collections import Counter

import pytest

from rnn_cli.data.vocab import Vocab


def test_specials_first_then_by_frequency_with_alphabetical_ties():
    v = Vocab.build(Counter({"b": 2, "a": 2, "c": 5, "d": 1}), specials=["<unk>", "<eos>"])
    assert v.itos == ["<unk>", "<eos>", "c", "a", "b", "d"]


def test_min_freq_and_max_size():
    counts = Counter({"x": 5, "y": 3, "z": 1})
    assert Vocab.build(counts, min_freq=2).itos == ["<unk>", "x", "y"]
    assert Vocab.build(counts, max_size=2).itos == ["<unk>", "x"]


def test_unknowns_and_round_trip():
    v = Vocab.build(Counter("aab"))
    assert v.encode(["a", "q"]) == [v.index("a"), v.unk_index]
    assert Vocab(v.to_list()).itos == v.itos


def test_a_folding_vocabulary_looks_unknown_words_up_lowercased_then_with_digits_as_zero():
    from rnn_cli.data.cls_batching import ClassVocabs
    from rnn_cli.data.tagging import TaggingVocabs

    words = ["<pad>", "<unk>", "the", "Paris", "0000", "a0"]
    folding, plain = Vocab(words, fold=True), Vocab(words)
    tokens = ["the", "The", "THE", "Paris", "PARIS", "1984", "A7", "Zorp"]
    assert folding.encode(tokens) == [2, 2, 2, 3, 1, 4, 5, 1]  # "paris" is not there: PARIS stays unknown
    assert plain.encode(tokens) == [2, 1, 1, 3, 1, 1, 1, 1]
    assert [folding.index(t) for t in tokens] == folding.encode(tokens)
    # Stored with the model, and read back.
    tagging = TaggingVocabs(folding, Vocab(["<pad>", "<unk>", "a"]), Vocab(["O"], unk=None))
    assert TaggingVocabs.from_dict(tagging.to_dict()).words.fold
    assert not TaggingVocabs.from_dict({**tagging.to_dict(), "fold": []}).words.fold
    classes = ClassVocabs(folding, Vocab(["x"], unk=None))
    assert ClassVocabs.from_dict(classes.to_dict()).words.fold
    assert "fold" not in ClassVocabs(plain, classes.labels).to_dict()
    with pytest.raises(ValueError, match="'fold' must be"):
        ClassVocabs.from_dict({**classes.to_dict(), "fold": ["chars"]})
