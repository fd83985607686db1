"""Vocabularies and padded batches (`rnn_cli.batches.ClassBatch`) for text classification.

Items are token lists; training batches group items of similar length (see
`buckets.length_buckets`) and are built by `encode_batch`; prediction reads a window
of items at a time (`item_batching.item_batches`, for texts, trees, pairs and stories
alike) and gives back each batch's `indices` in the window, as the tagger's batcher
does. An empty text is encoded as one `<unk>` token, so every row has at least one
position."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch

from rnn_cli.batches import ClassBatch
from rnn_cli.data.vocab import FOLD_KEY, PAD, UNK, Vocab, folds

WINDOW_BATCHES = 20  # prediction: read this many batches' worth of items ahead


@dataclass
class ClassVocabs:
    words: Vocab  # <pad> = 0, <unk> = 1
    labels: Vocab  # no specials, sorted
    # The format of the training file (tsv, fasttext, jsonl, label-text): how its labels
    # are spelled (`__label__x`) and which input layout counts as labelled. None: unknown
    # (a model file from before it was stored).
    train_format: str | None = None

    def to_dict(self) -> dict[str, list[str]]:
        out = {"words": self.words.to_list(), "labels": self.labels.to_list()}
        if self.words.fold:
            out[FOLD_KEY] = ["words"]
        if self.train_format is not None:
            out["train_format"] = [self.train_format]  # a list of strings, as every vocabulary entry
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[str]]) -> ClassVocabs:
        if list(data.get("words", ()))[:2] != [PAD, UNK]:
            raise ValueError(f"invalid classifier vocabulary: 'words' must start with {PAD}, {UNK}")
        if not data.get("labels"):
            raise ValueError("invalid classifier vocabulary: no labels")
        fmt = list(data.get("train_format", ()))
        if len(fmt) > 1 or not all(isinstance(f, str) for f in fmt):
            raise ValueError("invalid classifier vocabulary: 'train_format' must hold one format name")
        return cls(Vocab(data["words"], fold=folds(data)), Vocab(data["labels"], unk=None), fmt[0] if fmt else None)


def build_class_vocabs(tokens: Iterable[Sequence[str]], labels: Iterable[Sequence[str]], min_freq: int = 1,
                       extra_words: Iterable[str] = (), train_format: str | None = None,
                       fold: bool = False) -> ClassVocabs:
    """Words seen `min_freq` times or more (plus `extra_words`), and the labels, sorted;
    `train_format`: the training file's format; `fold`: see `Vocab`."""
    if min_freq < 1:
        raise ValueError(f"invalid min_freq: {min_freq} (must be at least 1)")
    words: Counter[str] = Counter()
    for toks in tokens:
        words.update(toks)
    for w in extra_words:
        words[w] = max(words[w], min_freq)
    label_set = sorted({label for row in labels for label in row})
    return ClassVocabs(Vocab.build(words, specials=[PAD, UNK], min_freq=min_freq, fold=fold),
                       Vocab(label_set, unk=None), train_format)


def encode_batch(tokens: Sequence[Sequence[str]], vocabs: ClassVocabs, indices: Sequence[int],
                 labels: Sequence[Sequence[str]] | None = None, multi_label: bool = False) -> ClassBatch:
    rows = [vocabs.words.encode(t) or [vocabs.words.unk_index] for t in tokens]
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    words = torch.zeros(len(rows), int(lengths.max()) if rows else 0, dtype=torch.long)
    for i, r in enumerate(rows):
        words[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    target = encode_labels(labels, vocabs, multi_label) if labels is not None else None
    return ClassBatch(words, lengths, target, list(indices))


def encode_labels(labels: Sequence[Sequence[str]], vocabs: ClassVocabs, multi_label: bool = False) -> torch.Tensor:
    """Targets: class ids (B,), or 0/1 rows (B, C) for a multi-label model."""
    if multi_label:
        target = torch.zeros(len(labels), len(vocabs.labels))
        for i, row in enumerate(labels):
            target[i, vocabs.labels.encode(row)] = 1.0
        return target
    return torch.tensor([vocabs.labels.index(row[0]) for row in labels], dtype=torch.long)
