import json
import random
import threading

import pytest
import torch

from rnn_cli.batches import TagBatch
from rnn_cli.data.buckets import length_buckets
from rnn_cli.data.conll import Sentence
from rnn_cli.data.tagging import TaggingVocabs, build_vocabs, decode_tags, encode_batch, prediction_batches
from rnn_cli.errors import DataFormatError


def sent(tokens, tags=None, line=1):
    tokens = tokens.split() if isinstance(tokens, str) else tokens
    tags = tags.split() if isinstance(tags, str) else tags
    return Sentence(tokens, tags, [[t] for t in tokens], line)


TRAIN = [
    sent("John lives in Paris", "B-PER O O B-LOC"),
    sent("Paris is big", "B-LOC O O"),
    sent("John", "B-PER"),
]


def corpus(n, seed=0):
    """`n` tagged sentences of 1 to 40 tokens; token j of sentence i is `w{i}_{j}`, so
    every row of a batch can be traced back to its sentence."""
    rng = random.Random(seed)
    return [sent([f"w{i}_{j}" for j in range(k)], ["O"] * k, line=i + 1)
            for i, k in enumerate(rng.randint(1, 40) for _ in range(n))]


def test_build_vocabs():
    v = build_vocabs(TRAIN, extra_words=["Berlin"])
    assert v.words.itos[:4] == ["<pad>", "<unk>", "John", "Paris"]  # by frequency, ties alphabetical
    assert "Berlin" in v.words and v.words.index("Rome") == 1
    assert v.chars.itos[:2] == ["<pad>", "<unk>"] and "J" in v.chars and "B" not in v.chars  # training words only
    assert v.tags.itos == ["B-LOC", "B-PER", "O"] and v.tags.unk is None
    rare = build_vocabs(TRAIN, min_freq=2, extra_words=["Berlin"])
    assert rare.words.itos == ["<pad>", "<unk>", "Berlin", "John", "Paris"]  # extra words count as min_freq
    assert build_vocabs(iter(TRAIN)).to_dict() == v.to_dict() | {"words": [w for w in v.words.itos if w != "Berlin"]}
    with pytest.raises(ValueError, match="min_freq"):
        build_vocabs(TRAIN, min_freq=0)


def test_vocabs_round_trip_through_plain_lists():
    v = build_vocabs(TRAIN)
    data = json.loads(json.dumps(v.to_dict()))
    assert set(data) == {"words", "chars", "tags"} and all(isinstance(x, str) for xs in data.values() for x in xs)
    back = TaggingVocabs.from_dict(data)
    assert back.to_dict() == v.to_dict()
    assert back.words.index("nowhere") == 1 and back.chars.index("#") == 1 and back.tags.unk is None
    with pytest.raises(ValueError, match="words"):
        TaggingVocabs.from_dict({**data, "words": ["John", "<pad>"]})
    with pytest.raises(ValueError, match="tags"):
        TaggingVocabs.from_dict({**data, "tags": []})


def test_encode_batch_pads_and_marks_unknowns():
    v = build_vocabs(TRAIN)
    batch = encode_batch([sent("Paris is", "B-LOC O"), sent("John lives in Zürich now", "B-PER O O B-LOC O")], v,
                         max_word_length=4)
    assert batch.words.shape == (2, 5) and batch.chars.shape == (2, 5, 4) and batch.tags.shape == (2, 5)
    assert batch.words.dtype == batch.chars.dtype == batch.tags.dtype == batch.lengths.dtype == torch.long
    assert batch.lengths.tolist() == [2, 5] and batch.indices == [0, 1]
    assert batch.mask.tolist() == [[True, True, False, False, False], [True] * 5]
    assert batch.words[0].tolist() == [v.words.index("Paris"), v.words.index("is"), 0, 0, 0]
    assert batch.words[1, 3:].tolist() == [1, 1]  # Zürich, now: unknown words
    assert batch.tags[0].tolist() == [0, 2, 0, 0, 0]  # B-LOC O, then padding 0
    assert batch.chars[0, 2:].eq(0).all()  # padding words have no characters
    assert batch.chars[1, 3].tolist() == [v.chars.index("Z"), 1, v.chars.index("r"), v.chars.index("i")]  # ü unknown
    assert batch.chars[0, 1].tolist() == [v.chars.index("i"), v.chars.index("s"), 0, 0]
    assert batch.chars[1, 1].tolist() == v.chars.encode("live")  # "lives" cut to 4 characters


def test_encode_batch_tags_and_errors():
    v = build_vocabs(TRAIN)
    assert encode_batch([sent("John"), sent("Paris", "B-LOC")], v).tags is None  # not every sentence is tagged
    assert encode_batch(TRAIN[:1], v, with_tags=False).tags is None
    assert encode_batch(TRAIN[:2], v, indices=[7, 3]).indices == [7, 3]
    with pytest.raises(ValueError, match="'I-MISC'.*line 5"):
        encode_batch([sent("John", "I-MISC", line=5)], v)
    with pytest.raises(ValueError, match="empty batch"):
        encode_batch([], v)
    with pytest.raises(ValueError, match="indices"):
        encode_batch(TRAIN, v, indices=[0])


def test_batch_to_device_keeps_lengths_on_cpu():
    batch = encode_batch(TRAIN, build_vocabs(TRAIN)).to(torch.device("cpu"))
    assert isinstance(batch, TagBatch) and batch.lengths.device.type == "cpu" and batch.indices == [0, 1, 2]


def training_batches(sents, v, batch_size, generator, shuffle=True, chunk=50):
    """What the tagger's trainer builds: length buckets, each encoded."""
    for idx in length_buckets([len(s) for s in sents], batch_size, generator, shuffle, chunk):
        yield encode_batch([sents[i] for i in idx], v, idx)


def test_training_batches_cover_every_sentence_once_in_similar_lengths():
    sents = corpus(300)
    v = build_vocabs(sents)
    batches = list(training_batches(sents, v, 16, torch.Generator().manual_seed(0), chunk=50))
    seen = [i for b in batches for i in b.indices]
    assert sorted(seen) == list(range(300))
    assert [b.words.size(0) for b in batches].count(16) == len(batches) - 1  # one short batch
    for b in batches:
        for row, i in enumerate(b.indices):
            assert v.words.decode(b.words[row, : b.lengths[row]].tolist()) == sents[i].tokens
    # One chunk holds all 300 sentences, so the batches' length ranges cannot interleave.
    spans = sorted((int(b.lengths.min()), int(b.lengths.max())) for b in batches)
    assert all(hi <= next_lo for (_, hi), (next_lo, _) in zip(spans, spans[1:]))
    assert max(hi - lo for lo, hi in spans) <= 6  # 300 lengths in 1..40, 16 a batch


def test_training_batches_depend_only_on_the_generator():
    sents = corpus(200)
    v = build_vocabs(sents)

    def order(seed, chunk=2):
        return [b.indices for b in training_batches(sents, v, 8, torch.Generator().manual_seed(seed), chunk=chunk)]

    assert order(1) == order(1)
    assert order(1) != order(2)
    gen = torch.Generator().manual_seed(1)
    first, second = ([b.indices for b in training_batches(sents, v, 8, gen)] for _ in range(2))
    assert first != second  # a new epoch draws a new order from the same generator
    fixed = [b.indices for b in training_batches(sents, v, 8, None, shuffle=False, chunk=1)]
    assert [i for b in fixed for i in b] == [i for k in range(0, 200, 8)
                                             for i in sorted(range(k, min(k + 8, 200)), key=lambda i: len(sents[i]))]
    with pytest.raises(ValueError, match="batch_size"):
        next(training_batches(sents, v, 0, torch.Generator()))


def test_prediction_batches_stream_and_give_back_the_input_order():
    sents = corpus(103, seed=3)
    v = build_vocabs(sents[:50])
    lookahead = 20
    handed = [0]

    def source():
        for i, s in enumerate(sents):
            # Read-ahead is bounded: the reader's queue holds 2 windows, plus the window
            # being built and the item in the reader's hand.
            if i > handed[0] + 3 * lookahead:
                raise AssertionError(f"sentence {i} read with only {handed[0]} handed out")
            yield s

    out = []
    for window, batches in prediction_batches(source(), v, batch_size=6, lookahead=lookahead):
        handed[0] += len(window)
        assert len(window) <= lookahead
        assert sorted(i for b in batches for i in b.indices) == list(range(len(window)))
        assert all(b.tags is None and b.words.size(0) <= 6 for b in batches)
        lengths = [n for b in batches for n in b.lengths.tolist()]
        assert lengths == sorted(lengths)  # sorted by length inside the window
        restored = [None] * len(window)
        for b in batches:
            for row, i in enumerate(b.indices):
                assert b.lengths[row] == len(window[i])
                restored[i] = window[i].tokens[: int(b.lengths[row])]
        out.extend(restored)
    assert out == [s.tokens for s in sents]


def test_a_slow_producer_gets_each_sentence_back_without_waiting_for_a_full_window():
    sents = corpus(5, seed=4)
    v = build_vocabs(sents)
    first_out = threading.Event()

    def source():
        yield sents[0]
        if not first_out.wait(timeout=10):
            raise AssertionError("the first sentence was held back waiting for more input")
        yield from sents[1:]

    windows = []
    for window, _ in prediction_batches(source(), v, batch_size=4, lookahead=80):
        windows.append(window)
        first_out.set()
    assert windows[0] == [sents[0]]
    assert [s for w in windows for s in w] == sents


def test_a_read_error_comes_out_after_the_sentences_before_it():
    sents = corpus(7, seed=5)
    v = build_vocabs(sents)

    def source():
        yield from sents[:3]
        raise DataFormatError("in.txt", 4, "bad line")

    got = []
    with pytest.raises(DataFormatError, match="in.txt:4"):
        for window, _ in prediction_batches(source(), v, batch_size=2, lookahead=10):
            got.extend(window)
    assert got == sents[:3]


def test_prediction_batches_default_lookahead_and_empty_input():
    sents = corpus(50)
    v = build_vocabs(sents)
    windows = list(prediction_batches(iter(sents), v, batch_size=2))
    assert [len(w) for w, _ in windows] == [40, 10]  # 20 batches ahead
    assert list(prediction_batches(iter([]), v, batch_size=4)) == []


def test_decode_tags_cuts_each_row_at_its_length():
    v = build_vocabs(TRAIN)
    ids = torch.tensor([[1, 2, 0, 0], [0, 0, 2, 1]])
    assert decode_tags(ids, torch.tensor([2, 4]), v) == [["B-PER", "O"], ["B-LOC", "B-LOC", "O", "B-PER"]]
    assert decode_tags(ids, [0, 1], v) == [[], ["B-LOC"]]
