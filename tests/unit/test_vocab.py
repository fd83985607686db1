from collections import Counter

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
