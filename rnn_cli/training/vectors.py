"""Pretrained vectors for the tagger's and the classifier's training (`--embeddings`,
`--keep-all-vectors`): read the file, name the dev and test words that join the
vocabulary, build the starting embedding matrix and say what was found."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from rnn_cli.errors import ConfigError
from rnn_cli.training.widen import ExtraWords


@dataclass
class Pretrained:
    matrix: torch.Tensor | None = None  # the starting embedding matrix (None: random, or a resumed run)
    note: str = ""  # what a new run says of the vectors
    size: int = 0  # the vectors' dimension (0: no vectors)
    extra: ExtraWords | None = None  # --keep-all-vectors: the file's other words, for the saved model


def load_for(cfg: Any, resuming: bool) -> Any | None:
    """The vectors file of `cfg.embeddings`, when a run needs it: a new run, or a resumed
    one that keeps all of its words (they are not in the training state)."""
    if cfg.keep_all_vectors and not cfg.embeddings:
        raise ConfigError("--keep-all-vectors keeps the words of --embeddings FILE: give that file")
    if not cfg.embeddings or (resuming and not cfg.keep_all_vectors):
        return None
    from rnn_cli.data.embeddings import load_vectors

    return load_vectors(cfg.embeddings, cfg.embeddings_format)


def joining_words(vectors: Any | None, train_words: Iterable[str], other_words: Iterable[str]) -> list[str]:
    """The dev and test words with a vector that the training words lack (they join the
    vocabulary and keep their vectors); none without vectors."""
    if vectors is None:
        return []
    from rnn_cli.data.embeddings import extend_vocab_with_pretrained

    return extend_vocab_with_pretrained(Counter(train_words), other_words, vectors)


def pretrained(cfg: Any, vectors: Any | None, words: list[str], size_key: str, resuming: bool) -> Pretrained:
    """The starting matrix of vocabulary `words` and the note on it (a new run), and the
    words kept beside them with --keep-all-vectors (`size_key`: the model config's entry
    for the word vocabulary's size)."""
    if vectors is None:
        return Pretrained()
    extra = ExtraWords.of(vectors, words, size_key) if cfg.keep_all_vectors else None
    if resuming:
        return Pretrained(size=vectors.vector_size, extra=extra)
    from rnn_cli.data.embeddings import build_embedding_matrix, vectors_note

    matrix, found = build_embedding_matrix(words, vectors, vectors.vector_size, cfg.seed)
    note = vectors_note(cfg.embeddings, words, found, vectors, len(extra.words) if extra else None)
    return Pretrained(matrix, note, vectors.vector_size, extra)
