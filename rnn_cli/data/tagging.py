"""Vocabularies and padded batches (`rnn_cli.batches.TagBatch`) for sequence tagging.

Training batches group sentences of similar length (`buckets.length_buckets`, sorted
inside large shuffled chunks of CHUNK_BATCHES batches) so that little padding is
computed; `encode_batch` builds each. Prediction reads its input a window at a time,
so that a multi-GB file streams with flat memory; inside a window the batches are
sorted by length, and each batch's `indices` say where its rows go back:

    for window, batches in prediction_batches(sentences, vocabs, batch_size):
        out = [None] * len(window)
        for batch in batches:
            for i, tags in zip(batch.indices, decode_tags(model.predict(batch), batch.lengths, vocabs)):
                out[i] = tags
        write(window, out)  # input order
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch

from rnn_cli.batches import TagBatch
from rnn_cli.data.buckets import sorted_windows
from rnn_cli.data.conll import Sentence
from rnn_cli.data.vocab import FOLD_KEY, PAD, UNK, Vocab, folds

MAX_WORD_LENGTH = 30
CHAR_CACHE_SIZE = 500_000  # word types whose character ids are kept
CHUNK_BATCHES = 50  # training: sort by length inside chunks of this many batches
WINDOW_BATCHES = 20  # prediction: read this many batches' worth of sentences ahead


@dataclass
class TaggingVocabs:
    words: Vocab  # <pad> = 0, <unk> = 1
    chars: Vocab  # <pad> = 0, <unk> = 1
    tags: Vocab  # no specials, sorted

    def char_ids(self, words: Sequence[str], max_word_length: int) -> list[list[int]]:
        """Each word's character ids (its first `max_word_length` characters). A hot path
        when tagging, so each word type is encoded once: the cache (up to CHAR_CACHE_SIZE
        types) lives on the vocabularies, which do not change after training."""
        cache = self.__dict__.setdefault("_char_caches", {}).setdefault(max_word_length, {})
        out = []
        for w in words:
            ids = cache.get(w)
            if ids is None:
                ids = self.chars.encode(w[:max_word_length])
                if len(cache) < CHAR_CACHE_SIZE:
                    cache[w] = ids
            out.append(ids)
        return out

    def to_dict(self) -> dict[str, list[str]]:
        """Plain lists of strings, for a checkpoint."""
        out = {"words": self.words.to_list(), "chars": self.chars.to_list(), "tags": self.tags.to_list()}
        return {**out, FOLD_KEY: ["words"]} if self.words.fold else out

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[str]]) -> TaggingVocabs:
        for key in ("words", "chars"):
            if list(data.get(key, ()))[:2] != [PAD, UNK]:
                raise ValueError(f"invalid tagging vocabulary: '{key}' must start with {PAD}, {UNK}")
        if not data.get("tags"):
            raise ValueError("invalid tagging vocabulary: no tags")
        return cls(Vocab(data["words"], fold=folds(data)), Vocab(data["chars"]), Vocab(data["tags"], unk=None))


def build_vocabs(sentences: Iterable[Sentence], min_freq: int = 1, extra_words: Iterable[str] = (),
                 fold: bool = False) -> TaggingVocabs:
    """Words of the training sentences as they are (those seen `min_freq` times or more,
    plus every one of `extra_words`, e.g. dev/test words that have pretrained vectors;
    `fold`: unknown words are looked up lowercased too, `Vocab`), the characters of the
    training words, and the tags, sorted."""
    if min_freq < 1:
        raise ValueError(f"invalid min_freq: {min_freq} (must be at least 1)")
    words: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    for s in sentences:
        words.update(s.tokens)
        tags.update(s.tags or ())
    chars = Counter(c for w in words for c in w)  # training words only
    for w in extra_words:
        words[w] = max(words[w], min_freq)
    return TaggingVocabs(
        Vocab.build(words, specials=[PAD, UNK], min_freq=min_freq, fold=fold),
        Vocab.build(chars, specials=[PAD, UNK]),
        Vocab(sorted(tags), unk=None),
    )


def encode_batch(sentences: Sequence[Sentence], vocabs: TaggingVocabs, indices: Sequence[int] | None = None,
                 max_word_length: int = MAX_WORD_LENGTH, with_tags: bool = True) -> TagBatch:
    """Pad `sentences` into one batch; unknown words and characters get id 1, words longer
    than `max_word_length` keep their first characters. Tags are encoded when `with_tags`
    and every sentence has them; a tag missing from `vocabs.tags` is a ValueError."""
    if not sentences:
        raise ValueError("cannot encode an empty batch")
    if max_word_length < 1:
        raise ValueError(f"invalid max_word_length: {max_word_length}")
    if indices is not None and len(indices) != len(sentences):
        raise ValueError(f"{len(indices)} indices for {len(sentences)} sentences")
    lengths = [len(s) for s in sentences]
    n = max(lengths)
    lengths_t = torch.tensor(lengths, dtype=torch.long)
    mask = torch.arange(n).unsqueeze(0) < lengths_t.unsqueeze(1)  # (B, L)
    word_ids = [vocabs.words.encode(s.tokens) + [0] * (n - len(s)) for s in sentences]
    char_ids = [ids for s in sentences for ids in vocabs.char_ids(s.tokens, max_word_length)]  # real tokens
    c = max((len(ids) for ids in char_ids), default=1) or 1
    chars = torch.zeros(len(sentences), n, c, dtype=torch.long)  # (B, L, C), 0 = padding
    if char_ids:
        # The real tokens in row-major order are exactly the mask's True positions.
        chars[mask] = torch.tensor([ids + [0] * (c - len(ids)) for ids in char_ids], dtype=torch.long)
    tags = None
    if with_tags and all(s.tags is not None for s in sentences):
        stoi = vocabs.tags.stoi
        rows = []
        for s in sentences:
            unknown = [t for t in s.tags or () if t not in stoi]
            if unknown:
                raise ValueError(f"tag {unknown[0]!r} (sentence at line {s.first_line}) is not in the tag vocabulary")
            rows.append([stoi[t] for t in s.tags or ()] + [0] * (n - len(s)))
        tags = torch.tensor(rows, dtype=torch.long).view(len(sentences), n)
    words = torch.tensor(word_ids, dtype=torch.long).view(len(sentences), n)
    rows_at = list(indices) if indices is not None else list(range(len(sentences)))
    return TagBatch(words, chars, mask, tags, lengths_t, rows_at)


def prediction_batches(sentences: Iterable[Sentence], vocabs: TaggingVocabs, batch_size: int,
                       lookahead: int | None = None) -> Iterator[tuple[list[Sentence], list[TagBatch]]]:
    """Read `lookahead` sentences at a time (default `20 * batch_size`), lazily, and yield
    each such window with its batches, sorted by length. A batch's `indices` are positions
    in the window, so the caller puts predictions back in input order (see the module
    docstring) and can write the window before the next one is read. Tags are not encoded."""
    size = WINDOW_BATCHES * batch_size if lookahead is None else lookahead
    for window, batches in sorted_windows(sentences, size, batch_size, len):
        yield window, [encode_batch([window[i] for i in batch], vocabs, batch, with_tags=False) for batch in batches]


def decode_tags(tag_ids: torch.Tensor, lengths: torch.Tensor | Sequence[int], vocabs: TaggingVocabs) -> list[list[str]]:
    """(B, L) tag ids -> each row's first `lengths[b]` tags as strings."""
    rows = tag_ids.tolist()
    return [vocabs.tags.decode(row[: int(n)]) for row, n in zip(rows, lengths)]
