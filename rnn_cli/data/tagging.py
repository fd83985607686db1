"""Vocabularies and padded batches for sequence tagging.

Training batches group sentences of similar length (sorted inside large shuffled
chunks) so that little padding is computed; prediction reads its input a window
at a time, so that a multi-GB file streams with flat memory while the output
keeps the input order."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import torch

from rnn_cli.data.conll import Sentence
from rnn_cli.data.vocab import PAD, UNK, Vocab

MAX_WORD_LENGTH = 30


@dataclass
class TaggingVocabs:
    words: Vocab  # <pad> = 0, <unk> = 1
    chars: Vocab  # <pad> = 0, <unk> = 1
    tags: Vocab  # no specials

    def to_dict(self) -> dict[str, list[str]]:
        return {"words": self.words.to_list(), "chars": self.chars.to_list(), "tags": self.tags.to_list()}

    @classmethod
    def from_dict(cls, data: dict[str, list[str]]) -> TaggingVocabs:
        return cls(Vocab(data["words"]), Vocab(data["chars"]), Vocab(data["tags"], unk=None))


def build_vocabs(sentences: Sequence[Sentence], min_freq: int = 1, extra_words: Iterable[str] = ()) -> TaggingVocabs:
    """Words of the training sentences (plus `extra_words`, e.g. dev/test words that
    have pretrained vectors), their characters, and the tags."""
    words = Counter(w for s in sentences for w in s.tokens)
    chars = Counter(c for w in words for c in w)
    for w in extra_words:
        words[w] = max(words[w], min_freq)
    tags = Counter(t for s in sentences for t in (s.tags or []))
    return TaggingVocabs(
        Vocab.build(words, specials=[PAD, UNK], min_freq=min_freq),
        Vocab.build(chars, specials=[PAD, UNK]),
        Vocab(sorted(tags), unk=None),
    )


@dataclass
class TagBatch:
    words: torch.Tensor  # (B, L) long, 0 = padding
    chars: torch.Tensor  # (B, L, C) long, 0 = padding
    mask: torch.Tensor  # (B, L) bool
    tags: torch.Tensor | None  # (B, L) long, 0 at padding
    lengths: torch.Tensor  # (B,) long
    indices: list[int]  # each row's position in the list it was built from

    def to(self, device: torch.device) -> TagBatch:
        return TagBatch(self.words.to(device), self.chars.to(device), self.mask.to(device),
                        self.tags.to(device) if self.tags is not None else None, self.lengths, self.indices)


def encode_batch(sentences: Sequence[Sentence], vocabs: TaggingVocabs, indices: Sequence[int] | None = None,
                 max_word_length: int = MAX_WORD_LENGTH) -> TagBatch:
    lengths = [len(s) for s in sentences]
    b, n = len(sentences), max(lengths)
    c = max(min(len(w), max_word_length) for s in sentences for w in s.tokens)
    words = torch.zeros(b, n, dtype=torch.long)
    chars = torch.zeros(b, n, c, dtype=torch.long)
    with_tags = all(s.tags is not None for s in sentences)
    tags = torch.zeros(b, n, dtype=torch.long) if with_tags else None
    for i, s in enumerate(sentences):
        words[i, : len(s)] = torch.tensor(vocabs.words.encode(s.tokens))
        for j, w in enumerate(s.tokens):
            ids = vocabs.chars.encode(w[:max_word_length])
            chars[i, j, : len(ids)] = torch.tensor(ids)
        if tags is not None:
            tags[i, : len(s)] = torch.tensor([vocabs.tags.stoi.get(t, 0) for t in s.tags or []])
    lengths_t = torch.tensor(lengths)
    mask = torch.arange(n).unsqueeze(0) < lengths_t.unsqueeze(1)
    return TagBatch(words, chars, mask, tags, lengths_t, list(indices) if indices is not None else list(range(b)))


def training_batches(sentences: Sequence[Sentence], vocabs: TaggingVocabs, batch_size: int,
                     generator: torch.Generator, chunk: int = 50) -> Iterator[TagBatch]:
    """Every sentence once per call, in batches of similar length, in a shuffled
    order that depends only on `generator`."""
    order = torch.randperm(len(sentences), generator=generator).tolist()
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk * batch_size):
        part = sorted(order[start : start + chunk * batch_size], key=lambda i: len(sentences[i]))
        batches.extend(part[k : k + batch_size] for k in range(0, len(part), batch_size))
    for k in torch.randperm(len(batches), generator=generator).tolist():
        yield encode_batch([sentences[i] for i in batches[k]], vocabs, batches[k])


def prediction_batches(sentences: Iterable[Sentence], vocabs: TaggingVocabs, batch_size: int,
                       window: int = 20) -> Iterator[tuple[list[Sentence], list[TagBatch]]]:
    """Read `window * batch_size` sentences at a time (lazily) and yield them with
    their length-sorted batches; `TagBatch.indices` are positions in the window, so
    the caller can put predictions back in input order and write the window."""
    it = iter(sentences)
    while True:
        block = list(itertools.islice(it, window * batch_size))
        if not block:
            return
        order = sorted(range(len(block)), key=lambda i: len(block[i]))
        batches = [encode_batch([block[i] for i in order[k : k + batch_size]], vocabs, order[k : k + batch_size])
                   for k in range(0, len(order), batch_size)]
        yield block, batches


def decode_tags(tag_ids: torch.Tensor, lengths: torch.Tensor, vocabs: TaggingVocabs) -> list[list[str]]:
    return [vocabs.tags.decode(row[: int(n)].tolist()) for row, n in zip(tag_ids, lengths)]
