"""Pretrained word vectors (GloVe or word2vec) read through gensim, and the
lookup used to match them to a vocabulary: the word, then its lowercase form,
then that with every digit replaced by 0 (Ma & Hovy 2016; Lample et al. 2016)."""

from __future__ import annotations

import gzip
import math
import os
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import torch

from rnn_cli.errors import DataFormatError

FORMATS = ("auto", "glove", "word2vec", "word2vec-binary")
_DIGITS = re.compile(r"[0-9]")


def _head(path: str, size: int = 4096) -> bytes:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as fh:  # type: ignore[operator]
        return fh.read(size)


def detect_format(path: str) -> str:
    head = _head(path)
    first = head.split(b"\n", 1)[0]
    parts = first.split()
    header = len(parts) == 2 and all(p.isdigit() for p in parts)
    if header:
        rest = head[len(first) + 1 :]
        try:
            rest.decode("utf-8")
            binary = b"\x00" in rest
        except UnicodeDecodeError as exc:
            binary = exc.start < len(rest) - 4  # a cut multi-byte character at the end is fine
        return "word2vec-binary" if binary else "word2vec"
    return "glove"


def _check_text_vectors(path: str, header: bool) -> None:
    """Every line must hold a word and the same number of values (gensim would pad or
    cut a ragged line silently); report the first bad line."""
    from rnn_cli.data.text import iter_lines

    dim = None
    for lineno, line in iter_lines(path):
        if header and lineno == 1:
            continue
        fields = line.rstrip().split(" ")
        if dim is None:
            dim = len(fields) - 1
            if dim < 1:
                raise DataFormatError(path, lineno, "expected a word followed by its vector values")
        elif len(fields) - 1 != dim:
            raise DataFormatError(path, lineno, f"has {len(fields) - 1} values, the first vector has {dim}")


def load_vectors(path: str, fmt: str = "auto") -> Any:
    """A gensim `KeyedVectors` (with `.vector_size`); errors name the file."""
    if fmt not in FORMATS:
        raise DataFormatError(path, None, f"unknown embeddings format '{fmt}' (choose from {', '.join(FORMATS)})")
    if os.path.isdir(path):
        raise DataFormatError(path, None, "is a directory, expected a vectors file")
    if not os.path.exists(path):
        raise DataFormatError(path, None, "no such file")
    try:
        if fmt == "auto":
            fmt = detect_format(path)
        if fmt != "word2vec-binary":
            _check_text_vectors(path, header=fmt == "word2vec")
        from gensim.models import KeyedVectors

        vectors = KeyedVectors.load_word2vec_format(path, binary=fmt == "word2vec-binary",
                                                    no_header=fmt == "glove", unicode_errors="strict")
    except DataFormatError:
        raise
    except (ValueError, TypeError, EOFError, OSError, UnicodeDecodeError, IndexError) as exc:
        msg = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise DataFormatError(path, None, f"cannot read {fmt} vectors: {msg}") from None
    if len(vectors) == 0:
        raise DataFormatError(path, None, "holds no vectors")
    return vectors


def lookup(vectors: Any, word: str) -> Any | None:
    for candidate in (word, word.lower(), _DIGITS.sub("0", word.lower())):
        if candidate in vectors.key_to_index:
            return vectors[candidate]
    return None


def extend_vocab_with_pretrained(train_counts: Counter[str], extra_words: Iterable[str], vectors: Any) -> list[str]:
    """Dev/test words missing from training that have a pretrained vector: they may
    join the vocabulary so that the pretrained knowledge reaches them."""
    seen = set(train_counts)
    out: list[str] = []
    for w in extra_words:
        if w not in seen and lookup(vectors, w) is not None:
            seen.add(w)
            out.append(w)
    return out


def build_embedding_matrix(tokens: list[str], vectors: Any, dim: int, seed: int) -> tuple[torch.Tensor, int]:
    """(V, dim) rows: the pretrained vector where `lookup` finds one, else uniform in
    ±sqrt(3 / dim) (Ma & Hovy 2016); row 0 (padding) is zero. Also the found count."""
    gen = torch.Generator().manual_seed(seed)
    bound = math.sqrt(3.0 / dim)
    matrix = (torch.rand(len(tokens), dim, generator=gen) * 2 - 1) * bound
    found = 0
    for i, w in enumerate(tokens):
        vec = lookup(vectors, w) if i > 1 else None  # rows 0 and 1 are <pad> and <unk>
        if vec is not None:
            matrix[i] = torch.tensor(vec, dtype=torch.float32)
            found += 1
    matrix[0] = 0.0
    return matrix, found
