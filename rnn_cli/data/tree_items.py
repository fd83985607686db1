"""What the tree, pair and regression options ask of labelled items, checked and
applied once after reading (`classification.read_labelled`):

- `binary`: SST's 0-4 sentiment as the published binary split (SST-2): 0-1 become 0,
  3-4 become 1, neutral (2) phrases lose their label, and items whose (root) label
  is neutral are dropped;
- `pair`: every item has a second text; `encoder` tree-lstm: every text has a tree;
- `regression`: every label is a number;
and `phrase_items`, every labelled phrase of the training trees as an item of its own
(how a sequential classifier is trained on SST's phrases)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from rnn_cli.data.tree_batching import phrases
from rnn_cli.errors import DataFormatError

BINARY = {"0": "0", "1": "0", "2": None, "3": "1", "4": "1"}
TREE_SOURCES = "--input-format ptb-trees, conllu, or JSONL with \"heads\""


def _binary(name: str, e: Any) -> Any:
    def mapped(label: str) -> str | None:
        if label not in BINARY:
            raise DataFormatError(name, e.line, f"label '{label}': --binary maps SST's labels 0-4")
        return BINARY[label]

    labels = [m for m in (mapped(label) for label in e.labels or []) if m is not None]
    if e.labels and not labels:
        return None  # a neutral item
    tree = e.tree
    if tree is not None:
        tree = dataclasses.replace(tree, labels=[None if x is None else mapped(x) for x in tree.labels])
    return dataclasses.replace(e, labels=labels or None, tree=tree)


def check_items(name: str, examples: list[Any], c: dict[str, Any]) -> list[Any]:
    """`examples` (`classification.Example`s) as the options `c` (training options, a
    dict) want them, or the first item they do not fit reported with its line."""
    if c.get("binary"):
        examples = [m for m in (_binary(name, e) for e in examples) if m is not None]
        if not examples:
            raise DataFormatError(name, None, "--binary: every item is neutral (label 2)")
    trees = c.get("encoder") == "tree-lstm"
    stories = c.get("encoder") == "dmn"
    for e in examples:
        if stories and e.story is None:
            raise DataFormatError(name, e.line, "no story: --encoder dmn answers questions over bAbI stories "
                                  "(--input-format babi)")
        if not stories and e.story is not None:
            raise DataFormatError(name, e.line, "a bAbI question is answered over its story: add --encoder dmn")
        if c.get("pair") and e.text_pair is None:
            raise DataFormatError(name, e.line, "no second text: --pair reads TSV with --pair-column, or JSONL "
                                  "with \"text_pair\"")
        if trees and (e.tree is None or (c.get("pair") and e.tree_pair is None)):
            raise DataFormatError(name, e.line, f"no tree: --encoder tree-lstm reads {TREE_SOURCES}"
                                  + (" (\"heads_pair\" for the second text)" if e.tree is not None else ""))
        if c.get("regression"):
            for label in e.labels or []:
                try:
                    value = float(label)
                except ValueError:
                    value = math.nan
                if not math.isfinite(value):
                    raise DataFormatError(name, e.line, f"label '{label}' is not a number (--regression)")
    return examples


def phrase_items(data: Any, lowercase: bool) -> Any:
    """Every labelled node of every tree of `data` (a `classification.LabelledSet`) as
    an item (the root last of each tree's); items without a tree are kept as they are.
    (Typed loosely: `classification` calls `check_items`, so this module cannot import it.)"""
    examples, tokens, labels = [], [], []
    for e, toks, gold in zip(data.examples, data.tokens, data.labels):
        if e.tree is None:
            examples.append(e)
            tokens.append(toks)
            labels.append(gold)
            continue
        for words, label in phrases(e.tree):
            examples.append(dataclasses.replace(e, text=" ".join(words), labels=[label], tree=None))
            tokens.append([w.lower() for w in words] if lowercase else list(words))
            labels.append([label])
    return dataclasses.replace(data, examples=examples, tokens=tokens, labels=labels)
