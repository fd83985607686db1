"""Reading labelled (or unlabelled) texts for classification, and tokenising them.

Formats, one item per line (blank lines are skipped):
- tsv: `label<TAB>text`, or columns named by a header row (`text_column` /
  `label_column`; a first row holding both `text` and `label` is taken as a header
  without being asked), or chosen by 0-based index (no header).
- fasttext: `__label__a __label__b text...` (any number of labels, at least one).
- jsonl: `{"text": "...", "label": "x"}` or `{"text": "...", "labels": ["x", "y"]}`.
- label-text: `label text...`: the first word is the label (SST, TREC).
- text: the whole line is the text (prediction input only).
- ptb-trees: a PTB-bracketed tree per line, `(label (label word) ...)`; the item is
  the sentence, its label the root's; every node keeps its label (`Example.tree`).
- conllu: CoNLL-U sentences as dependency trees (the HEAD column), the label in a
  `# label = X` comment.
- babi: bAbI stories (`babi.py`): each question an item, its answer the label, the
  story so far its context.
Pairs (`pair_column`; JSONL `text_pair`) carry a second text; JSONL may give dependency
trees for both as `heads` / `heads_pair` (1-based, 0 = root, one per whitespace token).
`auto` decides on the first lines (`cls_detect`), so it works on stdin too.
Prediction input naming a `text_column` is TSV read as columns: every column is kept
(`Example.fields`) and written back by `classify`, so ids survive a pipeline."""

from __future__ import annotations

import dataclasses
import glob
import itertools
import json
import os
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rnn_cli.data.babi import LAYOUT as BABI_LAYOUT
from rnn_cli.data.babi import read_babi, tokenize_babi
from rnn_cli.data.cls_detect import FASTTEXT_PREFIX, FORMATS, Detection, detect_class_format
from rnn_cli.data.text import display_name, iter_lines, quoted
from rnn_cli.data.trees import Tree, read_conllu_trees, read_ptb_trees, tree_from_heads
from rnn_cli.errors import ConfigError, DataFormatError

if TYPE_CHECKING:
    from rnn_cli.data.cls_batching import ClassVocabs

TOKENIZERS = ("whitespace", "simple")

# Words (with inner apostrophes, hyphens, dots and commas as in "don't", "e-mail",
# "3.5", "1,000"), or any single other non-space character.
_SIMPLE = re.compile(r"\w+(?:['’.,\-]\w+)*|[^\w\s]")


@dataclass
class Example:
    text: str
    labels: list[str] | None  # None: the input has no labels
    line: int
    fields: list[str] | None = None  # TSV: the row's columns less its label column (written back by `classify`)
    columns: list[str] | None = None  # the header's names of `fields` (None: no header)
    tree: Tree | None = None  # ptb-trees, conllu, JSONL with heads: the text's tree
    text_pair: str | None = None  # pairs: the second text
    tree_pair: Tree | None = None  # and its tree
    story: list[str] | None = None  # babi: the statements of the question's story so far (the text is the question)
    supports: list[int] | None = None  # babi: indices into `story` of the supporting facts
    source: str | None = None  # the file it was read from, when several were read as one (`read_many`)
    extra: dict[str, Any] | None = None  # JSON lines to predict on: the record's other keys (an id), written back


def tokenize(text: str, tokenizer: str = "whitespace", lowercase: bool = False) -> list[str]:
    if lowercase:
        text = text.lower()
    if tokenizer == "whitespace":
        return text.split()
    if tokenizer == "simple":
        return _SIMPLE.findall(text)
    raise ValueError(f"invalid tokenizer: {tokenizer!r} (choose from {', '.join(TOKENIZERS)})")


def spell(label: str, fmt: str | None) -> str:
    """A label as the files of format `fmt` write it (`__label__x` in fastText)."""
    return FASTTEXT_PREFIX + label if fmt == "fasttext" else label


def read_examples(path: str, fmt: str = "auto", text_column: str | None = None, label_column: str | None = None,
                  encoding: str = "utf-8", labels: str = "required", detection: Detection | None = None,
                  pair_column: str | None = None) -> Iterator[Example]:
    """Lazily yield the examples of `path` (`-`: stdin).

    `labels`: "required" (training and scoring: every line must carry a label),
    "optional" (prediction: a label is read where the format has one), or "ignore".
    `text_column`, `label_column`: TSV columns, by header name or 0-based index; for
    prediction input, a `text_column` reads TSV as columns (no label column).
    `detection`: the format as already decided (`detect_class_format`), for `fmt`.
    `pair_column`: TSV, the column of a pair's second text."""
    if detection is not None:
        fmt = detection.format
    if fmt not in FORMATS:
        raise ValueError(f"invalid format: {fmt!r}")
    name = display_name(path)
    if fmt == "auto":
        detection = detect_class_format(path, fmt, encoding, labels == "required", text_column=text_column,
                                        label_column=label_column)
        fmt = detection.format
    if detection is not None and detection.label_column is not None and text_column is None and label_column is None:
        text_column, label_column = detection.text_column, detection.label_column  # text<TAB>label, judged
    if fmt in ("ptb-trees", "conllu"):
        yield from _read_trees(path, fmt, encoding, labels)
        return
    if fmt == "babi":
        for q in read_babi(path, encoding, labels):
            yield Example(q.question, [q.answer] if q.answer is not None and labels != "ignore" else None, q.line,
                          story=q.story, supports=q.supports)
        return
    lines = ((n, t) for n, t in iter_lines(path, encoding) if t.strip())
    first = next(lines, None)
    if first is None:
        return
    if fmt == "text" and labels == "required":
        raise _no_labels(name, detection)
    rows = itertools.chain([first], lines)
    want = labels != "ignore"
    if fmt == "tsv":
        yield from _read_tsv(name, rows, text_column, label_column, labels, pair_column)
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
        keys = JsonKeys.of(text_column, label_column, pair_column)
        for n, line in rows:
            yield _json_example(name, n, line, labels, keys)
    elif fmt == "label-text":
        for n, line in rows:
            label, text = (line.split(None, 1) + [""])[:2]
            if not text and labels == "required":
                raise DataFormatError(name, n, f"no text after the label '{label}' (label-text: label, space, text)")
            yield Example(text, [label] if want else None, n)
    else:
        for n, line in rows:
            yield Example(line, None, n)


def _read_trees(path: str, fmt: str, encoding: str, labels: str) -> Iterator[Example]:
    want = labels != "ignore"
    if fmt == "ptb-trees":
        for tree in read_ptb_trees(path, encoding):
            label = tree.labels[tree.root]
            yield Example(" ".join(tree.words), [label] if want and label is not None else None, tree.line, tree=tree)
        return
    for tree, label in read_conllu_trees(path, encoding):
        if label is None and labels == "required":
            raise DataFormatError(display_name(path), tree.line, "no label: a CoNLL-U sentence to classify carries "
                                  "it in a `# label = X` comment")
        yield Example(" ".join(tree.words), [label] if want and label is not None else None, tree.line, tree=tree)


def _no_labels(name: str, detection: Detection | None) -> DataFormatError:
    if detection is None or not detection.hint:
        return DataFormatError(name, None, "plain text has no labels; choose a labelled format with --input-format "
                               "(tsv, fasttext, jsonl, label-text, ptb-trees, conllu, babi)")
    return DataFormatError(name, None, f"cannot tell the format: {detection.reason}; {detection.hint}")


def _column(spec: str, header: list[str] | None, option: str) -> int:
    """The index of column `spec`: a header name, or a 0-based index."""
    if header is not None and spec in header:
        return header.index(spec)
    if spec.isdigit():
        return int(spec)
    if header is None:
        raise ConfigError(f"{option}: '{spec}' is neither a 0-based column index nor a header name")
    raise ConfigError(f"{option}: no column '{spec}' in the header (columns: {', '.join(header)})")


def _read_tsv(name: str, rows: Iterator[tuple[int, str]], text_column: str | None, label_column: str | None,
              labels: str, pair_column: str | None = None) -> Iterator[Example]:
    first_n, first = next(rows)
    header: list[str] | None = first.split("\t")
    assert header is not None
    as_columns = labels != "required" and text_column is not None  # prediction input, every column kept
    if text_column is None and label_column is None and not {"text", "label"} <= set(header):
        yield from _read_label_tab_text(name, itertools.chain([(first_n, first)], rows), labels)
        return
    if all(c is None or c.isdigit() for c in (text_column, label_column, pair_column)) and \
            not {"text", "label"} <= set(header):
        header, rows = None, itertools.chain([(first_n, first)], rows)  # columns by index: no header
    if header is not None and text_column is None and "text" not in header:
        raise DataFormatError(name, first_n, f"header has no column 'text' (columns: {', '.join(header)})")
    ti = _column(text_column or "text", header, "--text-column")
    li = None
    if not as_columns:
        if label_column is not None:
            li = _column(label_column, header, "--label-column")
        elif header is not None and "label" in header:
            li = header.index("label")
        elif labels == "required":
            where = f"the header has no column 'label' (columns: {', '.join(header)})" if header is not None else \
                "name the label column with --label-column"
            raise DataFormatError(name, first_n, where)
    if li == ti:
        raise ConfigError(f"the text and label columns are the same ({ti})")
    pi = _column(pair_column, header, "--pair-column") if pair_column is not None else None
    if pi is not None and pi in (ti, li):
        raise ConfigError(f"--pair-column is the {'text' if pi == ti else 'label'} column ({pi})")
    names = [c for j, c in enumerate(header) if j != li] if header is not None else None
    need = max(ti, li if li is not None else 0, pi if pi is not None else 0) + 1
    for n, line in rows:
        cols = line.split("\t")
        if header is not None and len(cols) != len(header):
            raise DataFormatError(name, n, f"{len(cols)} columns, the header has {len(header)}")
        if len(cols) < need:
            raise DataFormatError(name, n, f"{len(cols)} column(s), but column {need - 1} (0-based) was asked for")
        label = cols[li].strip() if li is not None else None
        if labels == "required" and not label:
            raise DataFormatError(name, n, "empty label")
        yield Example(cols[ti], [label] if label and labels != "ignore" else None, n,
                      [c for j, c in enumerate(cols) if j != li], names, text_pair=cols[pi] if pi is not None else None)


def _read_label_tab_text(name: str, rows: Iterator[tuple[int, str]], labels: str) -> Iterator[Example]:
    for n, line in rows:
        if "\t" not in line:
            if labels == "required":
                raise DataFormatError(name, n, "no label: expected label<TAB>text")
            yield Example(line, None, n)
            continue
        label, text = line.split("\t", 1)
        label = label.strip()
        if not label and labels == "required":
            raise DataFormatError(name, n, "empty label before the tab")
        yield Example(text, [label] if label and labels != "ignore" else None, n)


@dataclass(frozen=True)
class JsonKeys:
    """The keys of a JSON line: the text, the label (None: `label`, or `labels` for a
    list), a pair's second text. `--text-column` / `--label-column` / `--pair-column`
    name them for JSONL input (e.g. GLUE's `sentence`)."""

    text: str = "text"
    label: str | None = None
    pair: str = "text_pair"

    @classmethod
    def of(cls, text: str | None, label: str | None, pair: str | None) -> JsonKeys:
        return cls(text or "text", label, pair or "text_pair")


def _json_example(name: str, n: int, line: str, labels: str, keys: JsonKeys = JsonKeys()) -> Example:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataFormatError(name, n, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise DataFormatError(name, n, "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise DataFormatError(name, n, f"invalid JSON: {exc}"[:200]) from None
    return record_example(obj, name, n, labels, keys)


def record_example(obj: object, name: str, n: int, labels: str = "ignore", keys: JsonKeys = JsonKeys()) -> Example:
    """The example of one JSON object (a JSONL line, or a dict given to the Python API):
    `text`, `label` or `labels`, `text_pair`, `heads` / `heads_pair` (dependency trees),
    or the keys `keys` names."""
    if not isinstance(obj, dict) or not isinstance(obj.get(keys.text), str):
        raise DataFormatError(name, n, f'expected an object with a "{keys.text}" string')
    found: list[str] | None = None
    label_key = keys.label or "label"
    if keys.label is None and "labels" in obj:
        if not isinstance(obj["labels"], list):
            raise DataFormatError(name, n, '"labels" must be a list of strings')
        found = _json_labels(name, n, obj["labels"], "labels")
    elif label_key in obj:
        found = _json_labels(name, n, obj[label_key], label_key)
    if found is not None and any(not s.strip() for s in found):
        raise DataFormatError(name, n, "empty label")
    if labels == "required" and not found:
        want = f'"{keys.label}"' if keys.label else '"label" or a non-empty "labels" list'
        raise DataFormatError(name, n, f"no label: expected {want}")
    pair = obj.get(keys.pair)
    if pair is not None and not isinstance(pair, str):
        raise DataFormatError(name, n, f'"{keys.pair}" must be a string')
    used = {keys.text, keys.pair, label_key, "labels", "heads", "heads_pair"}
    extra = {k: v for k, v in obj.items() if k not in used} if labels == "ignore" else None
    return Example(obj[keys.text], found if labels != "ignore" else None, n,
                   tree=_json_tree(name, n, obj, keys.text, "heads"), text_pair=pair,
                   tree_pair=_json_tree(name, n, obj, keys.pair, "heads_pair"), extra=extra or None)


def _json_labels(name: str, n: int, value: object, key: str) -> list[str]:
    """A JSON label (a string, number or true/false, spelled as in JSON) or a list of them."""
    def one(v: object) -> str:
        if isinstance(v, bool):
            return json.dumps(v)
        if isinstance(v, (str, int, float)):
            return str(v)
        raise DataFormatError(name, n, f'"{key}" must be a string, a number, true/false, or a list of them')
    return [one(v) for v in value] if isinstance(value, list) else [one(value)]


def _json_tree(name: str, n: int, obj: dict[str, Any], text_key: str, heads_key: str) -> Tree | None:
    """The dependency tree of `obj[text_key]` given as `obj[heads_key]`, if any."""
    heads = obj.get(heads_key)
    if heads is None:
        return None
    if not isinstance(obj.get(text_key), str):
        raise DataFormatError(name, n, f'"{heads_key}" without a "{text_key}" string')
    if not isinstance(heads, list) or not all(isinstance(h, int) and not isinstance(h, bool) for h in heads):
        raise DataFormatError(name, n, f'"{heads_key}" must be a list of integers (1-based heads, 0 = root)')
    return tree_from_heads(obj[text_key].split(), heads, name, n)


@dataclass
class LabelledSet:
    path: str
    examples: list[Example]
    tokens: list[list[str]]
    labels: list[list[str]]
    truncated: int  # items cut at max_length
    detection: Detection | None = None  # the format it was read in, and why
    pair_tokens: list[list[str]] | None = None  # pairs: the second text's tokens


def item_tokens(text: str, tree: Tree | None, c: dict[str, Any], babi: bool = False) -> tuple[list[str], bool]:
    """The tokens of one text (a tree's own words; a bAbI sentence as `babi` tokenises
    it; else tokenised) as the training options `c` say, and whether they were cut at
    max_length (never a tree's)."""
    if babi:
        return tokenize_babi(text), False
    if tree is not None:
        return ([w.lower() for w in tree.words] if c["lowercase"] else list(tree.words)), False
    toks = tokenize(text, c["tokenizer"], c["lowercase"])
    if c["max_length"] and len(toks) > c["max_length"]:
        return toks[: c["max_length"]], True
    return toks, False


def read_labelled(path: str, cfg: Any, trained: str | None = None, known: Collection[str] = ()) -> LabelledSet:
    """Read, tokenise (as the training options `cfg`, a dataclass or a dict, say) and cut a labelled file.
    `trained`, `known`: the format of the model's training data and its labels (see `judge_class_lines`)."""
    from rnn_cli.data.tree_items import check_items

    c = cfg if isinstance(cfg, dict) else dataclasses.asdict(cfg)
    detection = detect_class_format(path, c["input_format"], c["encoding"], True, trained, known, c["text_column"],
                                    c["label_column"], encoder=c.get("encoder"))
    examples = list(read_examples(path, c["input_format"], c["text_column"], c["label_column"], c["encoding"],
                                  detection=detection, pair_column=c.get("pair_column")))
    if not examples and detection.format == "babi":
        raise DataFormatError(display_name(path), None, f"no questions: a question is a line {BABI_LAYOUT}")
    if not examples:
        raise DataFormatError(display_name(path), None, "file is empty (no labelled items)")
    examples = check_items(display_name(path), examples, c)
    tokens, pair_tokens, truncated = [], [], 0
    for e in examples:
        toks, cut = item_tokens(e.text, e.tree, c, e.story is not None)
        tokens.append(toks)
        truncated += cut
        if c.get("pair"):
            assert e.text_pair is not None
            toks, cut = item_tokens(e.text_pair, e.tree_pair, c)
            pair_tokens.append(toks)
            truncated += cut
    return LabelledSet(path, examples, tokens, [list(dict.fromkeys(e.labels or [])) for e in examples], truncated,
                       detection, pair_tokens if c.get("pair") else None)


def expand_paths(spec: str | Sequence[str]) -> list[str]:
    """The files a training-file argument names: each path as given, or the files a
    glob pattern (`qa*_train.txt`) matches, sorted; a pattern matching nothing is an
    error."""
    paths = [spec] if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for p in paths:
        if p != "-" and glob.has_magic(p) and not os.path.exists(p):
            found = sorted(glob.glob(p))
            if not found:
                raise DataFormatError(p, None, "no file matches this pattern")
            out.extend(found)
        else:
            out.append(p)
    if not out:
        raise ConfigError("no training file given")
    return out


def read_many(paths: Sequence[str], cfg: Any, trained: str | None = None, known: Collection[str] = ()) -> LabelledSet:
    """`read_labelled` over several files read as one set (joint training over tasks):
    each example keeps its file as `source`, for errors. The first file's format is
    the others' (its detection, when it was guessed)."""
    if len(paths) == 1:
        return read_labelled(paths[0], cfg, trained, known)
    sets = [read_labelled(paths[0], cfg, trained, known)]
    fmt = sets[0].detection.format if sets[0].detection is not None else trained
    c = cfg if isinstance(cfg, dict) else dataclasses.asdict(cfg)
    sets += [read_labelled(p, {**c, "input_format": c["input_format"] if c["input_format"] != "auto" else fmt},
                           trained, known) for p in paths[1:]]
    for d in sets:
        for e in d.examples:
            e.source = display_name(d.path)
    pair_tokens = [t for d in sets for t in d.pair_tokens or []] if sets[0].pair_tokens is not None else None
    return LabelledSet(paths[0], [e for d in sets for e in d.examples], [t for d in sets for t in d.tokens],
                       [lab for d in sets for lab in d.labels], sum(d.truncated for d in sets), sets[0].detection,
                       pair_tokens)


def check_labels(data: LabelledSet, vocabs: ClassVocabs, multi_label: bool) -> str | None:
    """Check a dev or test set's gold labels against the model's: a single-label model
    takes one label per item. A gold label training never had (a rare class missing
    from the training split, a bAbI list answer such as `football,apple,milk`) is an
    item the model gets wrong, not an input error: the returned note counts them (None
    when there are none). Only when no item has a label the model knows is the file
    refused (a wrong `--label-column`, or another task's file)."""
    name = display_name(data.path)
    sources = {e.source for e in data.examples if e.source}
    if len(sources) > 1:  # several files read as one (`read_many`)
        name += f" and {len(sources) - 1} more file(s)"
    unseen: dict[str, None] = {}  # the labels the model lacks, in the order met
    first: tuple[str, int] | None = None  # the file and line of the first item with one
    items, known_any = 0, False
    for e, labels in zip(data.examples, data.labels):
        if not multi_label and len(labels) > 1:
            raise DataFormatError(e.source or name, e.line, f"{len(labels)} labels for a single-label model")
        new = [label for label in labels if label not in vocabs.labels]
        known_any = known_any or len(new) < len(labels)
        if new:
            items += 1
            first = first or (e.source or name, e.line)
            unseen.update(dict.fromkeys(new))
    if first is None:
        return None
    source, line = first
    if not known_any:
        raise DataFormatError(source, line, f"none of the gold labels occurs in the training data (the first: "
                              f"'{next(iter(unseen))}'): another label column, or another task's file?")
    where = f"line {line}" if source == name else f"{source}:{line}"
    return (f"{name}: {items:,} of {len(data.examples):,} items with a gold label the model was not trained on "
            f"({quoted(list(unseen))}, first at {where}): {'never predicted' if multi_label else 'scored as wrong'}")
