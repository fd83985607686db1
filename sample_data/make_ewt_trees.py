"""Derives the dependency-tree samples from the committed UD English EWT excerpts
(`ewt.train.conllu`, `ewt.dev.conllu`; CC BY-SA 4.0), deterministically:

- `ewt.root.{train,dev}.conllu`: every sentence with a `# label = X` comment, X the
  UPOS of its root word if VERB, NOUN, PROPN or ADJ, else OTHER (a sentence label
  that only the tree tells directly); the
  columns LEMMA, XPOS, FEATS, DEPS and MISC blanked to `_` to keep the files small.
- `ewt.pairs.{train,dev}.jsonl`: sentence pairs with their dependency heads
  (`text`, `heads`, `text_pair`, `heads_pair`) and a relatedness `label` from 1 to 5:
  1 + 4 * the Jaccard overlap of the two sentences' lowercased word sets. A third of
  the pairs are a sentence with itself (5), a third with the next sentence, a third
  with a random one.

Run: python sample_data/make_ewt_trees.py"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).parent


def sentences(path: Path) -> list[list[list[str]]]:
    out, rows = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if rows:
                out.append(rows)
            rows = []
        elif not line.startswith("#"):
            cols = line.split("\t")
            if cols[0].isdigit():
                rows.append(cols)
    if rows:
        out.append(rows)
    return out


def root_file(sents: list[list[list[str]]], out: Path) -> None:
    lines = []
    for rows in sents:
        root = next(r for r in rows if r[6] == "0")
        lines.append(f"# label = {root[3] if root[3] in ('VERB', 'NOUN', 'PROPN', 'ADJ') else 'OTHER'}")
        lines += ["\t".join([r[0], r[1], "_", r[3], "_", "_", r[6], r[7], "_", "_"]) for r in rows]
        lines.append("")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def pair_file(sents: list[list[list[str]]], out: Path, rng: random.Random) -> None:
    lines = []
    for i, a in enumerate(sents):
        kind = i % 3
        j = i if kind == 0 else (i + 1) % len(sents) if kind == 1 else rng.randrange(len(sents))
        b = sents[j]
        wa, wb = {r[1].lower() for r in a}, {r[1].lower() for r in b}
        score = round(1 + 4 * len(wa & wb) / len(wa | wb), 2)
        lines.append(json.dumps({"text": " ".join(r[1] for r in a), "heads": [int(r[6]) for r in a],
                                 "text_pair": " ".join(r[1] for r in b), "heads_pair": [int(r[6]) for r in b],
                                 "label": score}, ensure_ascii=False))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    rng = random.Random(7)
    for split in ("train", "dev"):
        sents = sentences(HERE / f"ewt.{split}.conllu")
        root_file(sents, HERE / f"ewt.root.{split}.conllu")
        pair_file(sents, HERE / f"ewt.pairs.{split}.jsonl", rng)


if __name__ == "__main__":
    main()
