"""A token <-> index mapping, stored in checkpoints as a plain list of strings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

UNK = "<unk>"
EOS = "<eos>"
PAD = "<pad>"


class Vocab:
    """Maps tokens to ids; unknown tokens map to `unk` when the vocabulary has one."""

    def __init__(self, tokens: Sequence[str], unk: str | None = UNK) -> None:
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
    ) -> Vocab:
        """Specials first, then tokens by falling frequency (ties alphabetical, so the
        result does not depend on reading order); `max_size` counts the specials."""
        specials = [s for s in dict.fromkeys(specials)]
        words = [w for w, c in counts.items() if c >= min_freq and w not in specials]
        words.sort(key=lambda w: (-counts[w], w))
        if max_size > 0:
            words = words[: max(0, max_size - len(specials))]
        return cls(specials + words, unk=unk)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def index(self, token: str) -> int:
        i = self.stoi.get(token)
        if i is None:
            if self.unk is None:
                raise KeyError(token)
            return self.unk_index
        return i

    def encode(self, tokens: Iterable[str]) -> list[int]:
        if self.unk is None:
            return [self.index(t) for t in tokens]
        get, unk = self.stoi.get, self.unk_index
        return [get(t, unk) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    def to_list(self) -> list[str]:
        return list(self.itos)
