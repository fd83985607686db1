"""Language-model corpora: plain text read as word tokens (with `<eos>` at each line
end) or as characters (with `\\n`), a vocabulary built from the training file, and
the whole file encoded as one id tensor."""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import islice

import torch

from rnn_cli.data.text import display_name, iter_lines
from rnn_cli.data.vocab import EOS, UNK, Vocab
from rnn_cli.errors import DataFormatError

LEVELS = ("word", "char")
CHAR_EOS = "\n"


def tokenize_line(line: str, level: str) -> list[str]:
    if level == "word":
        return line.split() + [EOS]
    return list(line) + [CHAR_EOS]


def start_token(level: str) -> str:
    """The token that stands before the first line, as a line end would."""
    return EOS if level == "word" else CHAR_EOS


def line_ids(line: str, vocab: Vocab, level: str) -> list[int]:
    """One line scored on its own: the start token, then the line's tokens and its end
    (`(len(tokens) + 2,)` ids), as `encode_corpus` lays out a file of that one line."""
    return [vocab.index(start_token(level)), *vocab.encode(tokenize_line(line, level))]


def iter_tokens(path: str, level: str, encoding: str = "utf-8") -> Iterator[str]:
    if level not in LEVELS:
        raise ValueError(f"invalid level: {level!r}")
    empty = True
    for _, line in iter_lines(path, encoding):
        if line.strip():
            empty = False
        yield from tokenize_line(line, level)
    if empty:
        raise DataFormatError(display_name(path), None, "file is empty (no tokens)")


def read_tokens(path: str, level: str, encoding: str = "utf-8") -> list[str]:
    return list(iter_tokens(path, level, encoding))


def build_vocab(tokens: list[str], level: str, min_freq: int = 1, max_size: int = 0) -> Vocab:
    specials = [UNK, EOS] if level == "word" else [UNK, CHAR_EOS]
    return Vocab.build(Counter(tokens), specials=specials, min_freq=min_freq, max_size=max_size)


def encode_corpus(tokens: Iterable[str], vocab: Vocab, level: str, chunk: int = 1 << 16) -> torch.Tensor:
    """Ids of the start token followed by every token: `(len(tokens) + 1,)` long.

    With the start token in front, every token of the file is predicted once, so
    perplexity counts exactly the file's tokens (PTB test: 82,430). `tokens` may be a
    stream (`iter_tokens`): it is encoded `chunk` tokens at a time into a packed
    array, 8 bytes a token, so a large file is never held as a list of strings."""
    ids = array("q", [vocab.index(start_token(level))])
    stream = iter(tokens)
    while part := list(islice(stream, chunk)):
        ids.extend(vocab.encode(part))
    return torch.frombuffer(ids, dtype=torch.long).clone()
