"""Writes the synthetic sentiment trees `trees.train.txt` / `trees.dev.txt`
(PTB brackets, labels 0-4 on every node, as the Stanford Sentiment Treebank's) from a
tiny lexicon and a compositional rule, so that tests and examples have trees with an
open licence (CC0) and an answer that depends on the structure:

    a word has a value in -2..2 (neutral words 0); "not" negates the value of the
    phrase it is the left sibling of; "very" doubles it; any other phrase adds its
    children's values; values are clamped to -2..2 and a node's label is value + 2.

Run: python sample_data/make_trees.py (deterministic)."""

from __future__ import annotations

import random
from pathlib import Path

WORDS = {
    "good": 1, "great": 2, "fun": 1, "lovely": 2, "warm": 1, "clever": 1,
    "bad": -1, "awful": -2, "dull": -1, "boring": -1, "terrible": -2, "flat": -1,
    "the": 0, "film": 0, "plot": 0, "cast": 0, "is": 0, "and": 0, "story": 0, "ending": 0, "a": 0, "it": 0,
}
MODIFIERS = ("not", "very")


def clamp(v: int) -> int:
    return max(-2, min(2, v))


def build(rng: random.Random, n: int) -> tuple[str, int]:
    """A random binary tree over n words: its bracketing and its value."""
    if n == 1:
        word = rng.choice(list(WORDS))
        return f"({WORDS[word] + 2} {word})", WORDS[word]
    if rng.random() < 0.25:  # a modifier over a phrase
        mod = rng.choice(MODIFIERS)
        text, v = build(rng, n - 1)
        value = clamp(-v if mod == "not" else 2 * v)
        return f"({value + 2} (2 {mod}) {text})", value
    k = rng.randint(1, n - 1)
    (lt, lv), (rt, rv) = build(rng, k), build(rng, n - k)
    value = clamp(lv + rv)
    return f"({value + 2} {lt} {rt})", value


def main() -> None:
    rng = random.Random(13)
    here = Path(__file__).parent
    for name, count in (("trees.train.txt", 1200), ("trees.dev.txt", 300)):
        lines = [build(rng, rng.randint(3, 12))[0] for _ in range(count)]
        (here / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
