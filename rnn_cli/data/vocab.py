"""A token <-> index mapping, stored in checkpoints as a plain list of strings."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

UNK = "<unk>"
EOS = "<eos>"
PAD = "<pad>"
_DIGITS = re.compile(r"[0-9]")


def word_forms(word: str) -> tuple[str, str, str]:
    """The forms a word is looked up under, in order: as it is, lowercased, and
    lowercased with every digit as 0 (how GloVe's and word2vec's files spell words)."""
    lower = word.lower()
    return word, lower, _DIGITS.sub("0", lower)


class Vocab:
    """Maps tokens to ids; unknown tokens map to `unk` when the vocabulary has one. With
    `fold`, a token that is not there is looked up under its other `word_forms` first
    (a vocabulary holding a pretrained file's lowercased words)."""

    def __init__(self, tokens: Sequence[str], unk: str | None = UNK, fold: bool = False) -> None:
        self.fold = fold
        self.itos: list[str] = list(tokens)
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary has duplicate tokens")
        self.unk = unk if unk is not None and unk in self.stoi else None
        self.unk_index = self.stoi[self.unk] if self.unk is not None else -1

    @classmethod
    def build(
        cls,
        counts: Counter[str],
        specials: Iterable[str] = (UNK,),
        min_freq: int = 1,
        max_size: int = 0,
        unk: str | None = UNK,
        fold: bool = False,
    ) -> Vocab:
        """Specials first, then tokens by falling frequency (ties alphabetical, so the
        result does not depend on reading order); `max_size` counts the specials."""
        specials = [s for s in dict.fromkeys(specials)]
        words = [w for w, c in counts.items() if c >= min_freq and w not in specials]
        words.sort(key=lambda w: (-counts[w], w))
        if max_size > 0:
            words = words[: max(0, max_size - len(specials))]
        return cls(specials + words, unk=unk, fold=fold)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def index(self, token: str) -> int:
        i = self.stoi.get(token)
        if i is None and self.fold:
            i = next((self.stoi[f] for f in word_forms(token)[1:] if f in self.stoi), None)
        if i is None:
            if self.unk is None:
                raise KeyError(token)
            return self.unk_index
        return i

    def encode(self, tokens: Iterable[str]) -> list[int]:
        if self.unk is None or self.fold:
            return [self.index(t) for t in tokens]
        get, unk = self.stoi.get, self.unk_index
        return [get(t, unk) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    def to_list(self) -> list[str]:
        return list(self.itos)


FOLD_KEY = "fold"  # in a model's vocabulary dict: ["words"] when its word vocabulary folds


def folds(data: dict[str, Sequence[str]] | Any) -> bool:
    """Whether a stored vocabulary dict says its words fold (`Vocab(fold=True)`)."""
    value = data.get(FOLD_KEY, [])
    if value not in ([], ["words"]):  # a list as stored (a string or a number is a damaged file)
        raise ValueError(f"invalid vocabulary: '{FOLD_KEY}' must be [] or ['words'], not {value!r}")
    return bool(value)
