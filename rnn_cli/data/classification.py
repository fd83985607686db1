"""Reading labelled (or unlabelled) texts for classification, and tokenising them.

Formats, one item per line (blank lines are skipped):
- tsv: `label<TAB>text`, or columns named by a header row (`text_column` /
  `label_column`; a first row holding both `text` and `label` is taken as a header
  without being asked).
- fasttext: `__label__a __label__b text...` (any number of labels, at least one).
- jsonl: `{"text": "...", "label": "x"}` or `{"text": "...", "labels": ["x", "y"]}`.
- text: the whole line is the text (prediction input only).
`auto` decides on the first non-blank line, so it works on stdin too: `{` -> jsonl,
`__label__` -> fasttext, a tab -> tsv, otherwise text."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rnn_cli.data.text import display_name, iter_lines
from rnn_cli.errors import DataFormatError

if TYPE_CHECKING:
    from rnn_cli.data.cls_batching import ClassVocabs

FORMATS = ("auto", "tsv", "fasttext", "jsonl", "text")
TOKENIZERS = ("whitespace", "simple")
FASTTEXT_PREFIX = "__label__"

# Words (with inner apostrophes, hyphens, dots and commas as in "don't", "e-mail",
# "3.5", "1,000"), or any single other non-space character.
_SIMPLE = re.compile(r"\w+(?:['’.,\-]\w+)*|[^\w\s]")


@dataclass
class Example:
    text: str
    labels: list[str] | None  # None: the input has no labels
    line: int
    fields: list[str] | None = None  # a TSV row's columns (written back by `classify`)


def tokenize(text: str, tokenizer: str = "whitespace", lowercase: bool = False) -> list[str]:
    if lowercase:
        text = text.lower()
    if tokenizer == "whitespace":
        return text.split()
    if tokenizer == "simple":
        return _SIMPLE.findall(text)
    raise ValueError(f"invalid tokenizer: {tokenizer!r} (choose from {', '.join(TOKENIZERS)})")


def _guess(line: str) -> str:
    stripped = line.lstrip()
    if stripped.startswith("{"):
        return "jsonl"
    if stripped.startswith(FASTTEXT_PREFIX):
        return "fasttext"
    if "\t" in line:
        return "tsv"
    return "text"


def read_examples(path: str, fmt: str = "auto", text_column: str | None = None, label_column: str | None = None,
                  encoding: str = "utf-8", labels: str = "required") -> Iterator[Example]:
    """Lazily yield the examples of `path` (`-`: stdin).

    `labels`: "required" (training and scoring: every line must carry a label),
    "optional" (prediction: a label is read where the format has one), or "ignore"."""
    if fmt not in FORMATS:
        raise ValueError(f"invalid format: {fmt!r}")
    name = display_name(path)
    lines = ((n, t) for n, t in iter_lines(path, encoding) if t.strip())
    first = next(lines, None)
    if first is None:
        return
    if fmt == "auto":
        fmt = _guess(first[1])
        if fmt == "text" and labels == "required":
            raise DataFormatError(name, first[0], "cannot tell the format: not TSV (label<TAB>text), fastText "
                                  "(__label__x text) or JSONL; choose one with --format")
    if fmt == "text" and labels == "required":
        raise DataFormatError(name, None, "plain text has no labels; use tsv, fasttext or jsonl")
    rows = itertools.chain([first], lines)
    want = labels != "ignore"
    if fmt == "tsv":
        yield from _read_tsv(name, rows, text_column, label_column, labels)
    elif fmt == "fasttext":
        for n, line in rows:
            words = line.split()
            tags = list(itertools.takewhile(lambda w: w.startswith(FASTTEXT_PREFIX), words))
            found = [t[len(FASTTEXT_PREFIX):] for t in tags]
            if any(not t for t in found):
                raise DataFormatError(name, n, "empty label '__label__'")
            if not found and labels == "required":
                raise DataFormatError(name, n, "no label: a fastText line starts with __label__<name>")
            yield Example(" ".join(words[len(tags):]), (found or None) if want else None, n)
    elif fmt == "jsonl":
        for n, line in rows:
            yield _json_example(name, n, line, labels)
    else:
        for n, line in rows:
            yield Example(line, None, n)


def _read_tsv(name: str, rows: Iterator[tuple[int, str]], text_column: str | None, label_column: str | None,
              labels: str) -> Iterator[Example]:
    first_n, first = next(rows)
    header = first.split("\t")
    named = text_column is not None or label_column is not None
    if named or {"text", "label"} <= set(header):
        text_name, label_name = text_column or "text", label_column or "label"
        if text_name not in header:
            raise DataFormatError(name, first_n, f"header has no column '{text_name}' (columns: {', '.join(header)})")
        ti = header.index(text_name)
        li = header.index(label_name) if label_name in header else None
        if li is None and labels == "required":
            raise DataFormatError(name, first_n, f"header has no column '{label_name}' (columns: {', '.join(header)})")
        for n, line in rows:
            cols = line.split("\t")
            if len(cols) != len(header):
                raise DataFormatError(name, n, f"{len(cols)} columns, the header has {len(header)}")
            label = cols[li].strip() if li is not None else None
            if labels == "required" and not label:
                raise DataFormatError(name, n, "empty label")
            yield Example(cols[ti], [label] if label and labels != "ignore" else None, n, cols)
        return
    for n, line in itertools.chain([(first_n, first)], rows):
        if "\t" not in line:
            if labels == "required":
                raise DataFormatError(name, n, "no label: expected label<TAB>text")
            yield Example(line, None, n, [line])
            continue
        label, text = line.split("\t", 1)
        label = label.strip()
        if not label and labels == "required":
            raise DataFormatError(name, n, "empty label before the tab")
        yield Example(text, [label] if label and labels != "ignore" else None, n, [label, text])


def _json_example(name: str, n: int, line: str, labels: str) -> Example:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataFormatError(name, n, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise DataFormatError(name, n, "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise DataFormatError(name, n, f"invalid JSON: {exc}"[:200]) from None
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise DataFormatError(name, n, 'expected an object with a "text" string')
    found: list[str] | None = None
    if "labels" in obj:
        value = obj["labels"]
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                                  for v in value):
            raise DataFormatError(name, n, '"labels" must be a list of strings')
        found = [str(v) for v in value]
    elif "label" in obj:
        value = obj["label"]
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise DataFormatError(name, n, '"label" must be a string')
        found = [str(value)]
    if found is not None and any(not s.strip() for s in found):
        raise DataFormatError(name, n, "empty label")
    if labels == "required" and not found:
        raise DataFormatError(name, n, 'no label: expected "label" or a non-empty "labels" list')
    return Example(obj["text"], found if labels != "ignore" else None, n)


@dataclass
class LabelledSet:
    path: str
    examples: list[Example]
    tokens: list[list[str]]
    labels: list[list[str]]
    truncated: int  # items cut at max_length


def read_labelled(path: str, cfg: Any) -> LabelledSet:
    """Read, tokenise (as the training options `cfg`, a dataclass or a dict, say) and cut a labelled file."""
    c = cfg if isinstance(cfg, dict) else dataclasses.asdict(cfg)
    examples = list(read_examples(path, c["input_format"], c["text_column"], c["label_column"], c["encoding"]))
    if not examples:
        raise DataFormatError(display_name(path), None, "file is empty (no labelled items)")
    tokens, truncated = [], 0
    for e in examples:
        toks = tokenize(e.text, c["tokenizer"], c["lowercase"])
        if c["max_length"] and len(toks) > c["max_length"]:
            toks, truncated = toks[: c["max_length"]], truncated + 1
        tokens.append(toks)
    return LabelledSet(path, examples, tokens, [list(dict.fromkeys(e.labels or [])) for e in examples], truncated)


def check_labels(data: LabelledSet, vocabs: ClassVocabs, multi_label: bool) -> None:
    """Every label must be known to the model; a single-label model takes one per item."""
    for e, labels in zip(data.examples, data.labels):
        for label in labels:
            if label not in vocabs.labels:
                raise DataFormatError(display_name(data.path), e.line,
                                      f"label '{label}' does not occur in the training data")
        if not multi_label and len(labels) > 1:
            raise DataFormatError(display_name(data.path), e.line,
                                  f"{len(labels)} labels for a single-label model")
