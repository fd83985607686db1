"""Pretrained word vectors (GloVe or word2vec) read through gensim, and the
lookup used to match them to a vocabulary: the word, then its lowercase form,
then that with every digit replaced by 0 (Ma & Hovy 2016; Lample et al. 2016).

gensim is imported inside `load_vectors` only, so importing this module stays cheap."""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Container, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from rnn_cli.data.vocab import PAD, UNK, word_forms
from rnn_cli.errors import DataFormatError

FORMATS: dict[str, str] = {
    "auto": "word2vec-binary, word2vec or glove, told apart by the first bytes of the file",
    "glove": "text, one `word v1 ... vd` line per word, no header (GloVe)",
    "word2vec": "text with a `count dim` header line, then GloVe-like lines",
    "word2vec-binary": "a `count dim` header line, then each word, a space and dim float32 values",
}


def _open(path: str) -> Any:
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")  # noqa: SIM115


def detect_format(path: str | os.PathLike[str]) -> str:
    """"word2vec-binary" if the first line is `count dim` and the bytes after it are not
    text (NUL bytes or invalid UTF-8), "word2vec" if it is `count dim` otherwise, else "glove"."""
    name = os.fspath(path)
    with _open(name) as fh:
        head: bytes = fh.read(4096)
    first = head.split(b"\n", 1)[0]
    parts = first.split()
    if not (len(parts) == 2 and all(p.isdigit() for p in parts)):
        return "glove"
    rest = head[len(first) + 1 :]
    try:
        rest.decode("utf-8")
        binary = b"\x00" in rest
    except UnicodeDecodeError as exc:
        binary = exc.start < len(rest) - 4  # a multi-byte character cut at the end of the head is text
    return "word2vec-binary" if binary else "word2vec"


def _lines(path: str) -> Iterator[tuple[int, list[str]]]:
    """`(line_number, fields)` split as gensim splits them (trailing whitespace off, then on
    single spaces), so that what passes here is what gensim reads."""
    with _open(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DataFormatError(
                    path, lineno, "not UTF-8 text (a word2vec binary file needs a `count dim` header line)"
                ) from None
            yield lineno, text.rstrip().split(" ")


def _check_text_vectors(path: str, header: bool) -> None:
    """Every line must hold a word and the same number of values, and agree with the
    header if there is one: gensim pads or cuts a ragged line silently (`b 1` in a
    2-d file becomes [1, 1]) or fails without a line number."""
    dim = count = None
    n = 0
    for lineno, fields in _lines(path):
        if header and lineno == 1:
            count, dim = int(fields[0]), int(fields[1])
            if count < 1 or dim < 1:
                raise DataFormatError(path, 1, f"the header `{' '.join(fields)}` announces no vectors")
            continue
        values = len(fields) - 1
        if fields == [""]:
            raise DataFormatError(path, lineno, "empty line (expected a word followed by its vector values)")
        if dim is None:
            if values < 1:
                raise DataFormatError(path, lineno, "expected a word followed by its vector values")
            dim = values
        elif values != dim:
            first = "the header says" if header else "the first vector has"
            raise DataFormatError(path, lineno, f"has {values} values, {first} {dim}")
        n += 1
    if n == 0:
        raise DataFormatError(path, None, "holds no vectors (the file is empty)")
    if count is not None and n != count:
        raise DataFormatError(path, 1, f"the header says {count} vectors, the file has {n}")


def _check_binary_header(path: str) -> None:
    """The `count dim` header of a binary file must fit the file (each vector takes
    `4 * dim` bytes and a word), before gensim allocates a `(count, dim)` array for it."""
    with _open(path) as fh:
        count, dim = (int(x) for x in fh.readline().split())
    if count < 1 or dim < 1:
        raise DataFormatError(path, 1, f"the header `{count} {dim}` announces no vectors")
    need = count * (4 * dim + 2)
    if not path.endswith(".gz") and need > os.path.getsize(path):
        raise DataFormatError(path, 1, f"the header announces {count} vectors of {dim} values, more than the "
                                       f"file's {os.path.getsize(path)} bytes hold (truncated, or a wrong header?)")
    if need > os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"):
        raise DataFormatError(path, 1, f"the header announces {count} vectors of {dim} values, more than this "
                                       "machine's memory holds (a wrong header?)")


def _find_bad_value(path: str, header: bool) -> DataFormatError | None:
    """Called only after gensim failed: the first value that is not a number."""
    for lineno, fields in _lines(path):
        if header and lineno == 1:
            continue
        for value in fields[1:]:
            try:
                float(value)
            except ValueError:
                return DataFormatError(path, lineno, f"{value!r} is not a number (word {fields[0]!r})")
    return None


def _explain(path: str, fmt: str, exc: Exception) -> DataFormatError:
    """A gensim or gzip failure as a `DataFormatError`, at the bad line where one is found."""
    if isinstance(exc, (gzip.BadGzipFile, zlib.error)) or (isinstance(exc, EOFError) and fmt != "word2vec-binary"):
        return DataFormatError(path, None, f"corrupt or truncated gzip data: {exc}")
    if isinstance(exc, EOFError):
        return DataFormatError(path, None, "the file ends before the vectors its header announces "
                                           "(truncated, or a wrong header?)")
    if isinstance(exc, PermissionError):
        return DataFormatError(path, None, "permission denied")
    if isinstance(exc, ValueError) and fmt in ("glove", "word2vec"):
        located = _find_bad_value(path, header=fmt == "word2vec")
        if located is not None:
            return located
    msg = " ".join(str(exc).split())[:200] or type(exc).__name__
    return DataFormatError(path, None, f"cannot read {fmt} vectors: {msg}")


def load_vectors(path: str | os.PathLike[str], fmt: str = "auto") -> Any:
    """A gensim `KeyedVectors` (`.vector_size`, `word in kv`, `kv[word]`) read from a
    GloVe or word2vec file, plain or `.gz`. Every problem with the file is a
    `DataFormatError` naming it, and the line where one can be found."""
    name = os.fspath(path)
    if fmt not in FORMATS:
        raise DataFormatError(name, None, f"unknown embeddings format '{fmt}' (choose from {', '.join(FORMATS)})")
    if os.path.isdir(name):
        raise DataFormatError(name, None, "is a directory, expected a vectors file")
    if not os.path.exists(name):
        raise DataFormatError(name, None, "no such file")
    try:
        if fmt == "auto":
            fmt = detect_format(name)
        text = fmt != "word2vec-binary"
        if text:
            _check_text_vectors(name, header=fmt == "word2vec")
        else:
            _check_binary_header(name)
        from gensim.models import KeyedVectors

        vectors = KeyedVectors.load_word2vec_format(
            name, binary=not text, no_header=fmt == "glove", unicode_errors="strict"
        )
    except DataFormatError:
        raise
    except MemoryError:
        raise DataFormatError(name, 1, "the header announces more vectors than fit in memory "
                                       "(a wrong header, or not a word2vec file?)") from None
    except (ValueError, TypeError, EOFError, OSError, zlib.error, UnicodeDecodeError, IndexError) as exc:
        raise _explain(name, fmt, exc) from None
    if len(vectors) == 0:
        raise DataFormatError(name, None, "holds no vectors")
    return vectors


def lookup(vectors: Any, word: str) -> np.ndarray | None:
    """The vector of `word`, else of its lowercase form, else of that with every digit
    replaced by 0; None if none is there. The array belongs to `vectors`: copy it before
    changing it."""
    for candidate in word_forms(word):
        if candidate in vectors:
            return vectors[candidate]
    return None


def extend_vocab_with_pretrained(train_counts: Container[str], extra_words: Iterable[str], vectors: Any) -> list[str]:
    """The words of `extra_words` (dev/test tokens) that are not in `train_counts` but
    have a pretrained vector (by `lookup`), each once, in first-seen order. Adding them to
    the vocabulary lets the pretrained knowledge reach them; their rows are never trained
    (they never occur in training), so they keep the pretrained vectors."""
    seen: set[str] = set()
    out: list[str] = []
    for w in extra_words:
        if w in seen or w in train_counts:
            continue
        seen.add(w)
        if lookup(vectors, w) is not None:
            out.append(w)
    return out


def all_vector_words(vectors: Any, have: Container[str]) -> list[str]:
    """Every word of `vectors` not in `have`, in the file's order: with
    `--keep-all-vectors` these join the vocabulary, so that a word no training, dev or
    test file holds still reaches its pretrained vector."""
    return [w for w in vectors.index_to_key if w not in have]


def build_embedding_matrix(tokens: list[str], vectors: Any, dim: int, seed: int) -> tuple[torch.Tensor, int]:
    """A (V, dim) float matrix for the vocabulary `tokens` and the number of words found.

    Row i is the pretrained vector of tokens[i] where `lookup` finds one, else uniform in
    ±sqrt(3 / dim) (Ma & Hovy 2016); row 0 (padding) is zero, and `<pad>`/`<unk>` are never
    looked up. The random rows depend only on `seed` and V, not on which words are found."""
    if dim < 1:
        raise ValueError(f"invalid embedding dimension: {dim}")
    size = getattr(vectors, "vector_size", dim)
    if size != dim:
        raise ValueError(f"embedding dimension {dim} differs from the vectors' {size}")
    gen = torch.Generator().manual_seed(seed)
    bound = math.sqrt(3.0 / dim)
    matrix = (torch.rand(len(tokens), dim, generator=gen) * 2 - 1) * bound  # (V, dim)
    rows: list[int] = []
    found: list[np.ndarray] = []
    for i, w in enumerate(tokens):
        vec = lookup(vectors, w) if w not in (PAD, UNK) else None
        if vec is not None:
            rows.append(i)
            found.append(vec)
    if rows:
        # np.stack copies, so the matrix never aliases gensim's arrays.
        matrix[rows] = torch.from_numpy(np.stack(found).astype(np.float32, copy=False))
    if len(tokens) > 0:
        matrix[0] = 0.0
    return matrix, len(rows)


def vectors_note(path: str, vocab: Sequence[str], found: int, vectors: Any, kept: int | None) -> str:
    """What a trainer says of its --embeddings: how many vocabulary words have a vector,
    and what becomes of the file's other words (`kept` of them kept with
    --keep-all-vectors, else None)."""
    note = f"{path}: {found:,} of {len(vocab):,} words found ({100 * found / max(len(vocab), 1):.1f}%)"
    if kept is not None:
        return note + f"; its other {kept:,} words join the saved model (--keep-all-vectors), not training"
    # The file's words that no vocabulary word reaches, as itself or by `lookup`'s other forms.
    left = len(all_vector_words(vectors, {f for w in vocab for f in word_forms(w)}))
    if left:
        note += f"; its other {left:,} words are not kept (--keep-all-vectors keeps them for text met later)"
    return note
