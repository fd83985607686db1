"""Deciding which layout a classification file (or stdin) holds, from its first lines.

The layouts (`classification.py` reads them):

    tsv         label<TAB>text, or named columns under a header row
    fasttext    __label__a __label__b text
    jsonl       {"text": ..., "label": ...}
    label-text  label text          (SST, TREC, MR-style: the first word is the label)
    text        the whole line is the text (prediction input only)
    ptb-trees   (label (label word) (label word))   a bracketed tree, labels on the nodes
    conllu      CoNLL-U rows: 10 tab-separated columns, `#` comments (`# label = X`)
    babi        1 Mary went home.  /  2 Where is Mary?<TAB>home<TAB>1   (numbered stories, questions)

JSON, `__label__` and tabs tell themselves apart at once. `label text` and plain text
do not: the first word of a sentence looks like a label. Labels form a small closed
set and hardly ever occur inside the texts, while the first words of sentences vary
and are common words ("the", "it"): `label_evidence` measures both on the first
lines. Training and scoring data must carry labels, so there the evidence decides
between `label-text` and an error; prediction input is plain text unless the model
was trained on `label text` and every first word is one of its labels. A choice made
on weak evidence carries a `hint` (how to force the other reading), which the
command prints as a note on stderr.

Unlabelled TSV (`id<TAB>text` given to `classify`) is read as columns: the text is
one column (`text_column`), and every column is written back."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from rnn_cli.data.babi import looks_like_babi
from rnn_cli.data.sentences import judge_lines
from rnn_cli.data.text import display_name, head_lines
from rnn_cli.errors import ConfigError, DataFormatError

FORMATS = ("auto", "tsv", "fasttext", "jsonl", "label-text", "text", "ptb-trees", "conllu", "babi")
FASTTEXT_PREFIX = "__label__"
LOOKAHEAD = 100  # lines read ahead (blank ones not counted) to decide
DESCRIPTIONS = {
    "tsv": "TSV (label<TAB>text)",
    "columns": "tab-separated columns",
    "fasttext": "fastText (__label__x text)",
    "jsonl": "JSON lines",
    "label-text": "`label text` (the first word is the label)",
    "text": "plain text, one item a line",
    "ptb-trees": "PTB-bracketed trees",
    "conllu": "CoNLL-U dependency trees",
    "babi": "bAbI stories and questions",
}
ONLY_FORMAT = {"dmn": "babi"}  # classifier encoders that read one layout only
_TREE_START = re.compile(r"\(\s*[^\s()]+(\s|$)")
FORCE = "choose the format with --input-format (tsv, fasttext, jsonl, label-text, ptb-trees, conllu, babi)"


@dataclass(frozen=True)
class Detection:
    """The layout chosen for an input and why. `hint`: how to force the other plausible
    reading, set when the choice was a guess; `text_column`: set for unlabelled TSV read
    as columns (a 0-based index or a header name), whose columns are all kept, and with
    `label_column` for labelled TSV whose label is not the first column, or for JSON
    lines, the keys the options named; `pair_column`: with it, the column of a pair's
    second text."""

    format: str
    reason: str
    hint: str = ""
    text_column: str | None = None
    pair_column: str | None = None  # a pair model's second text, when chosen for this input
    label_column: str | None = None  # labelled TSV: the label's column, when not label<TAB>text

    @property
    def ambiguous(self) -> bool:
        return bool(self.hint)

    @property
    def description(self) -> str:
        if self.format != "tsv":
            return DESCRIPTIONS[self.format]
        if self.label_column is not None:
            return f"TSV, the text in column {_named(self.text_column)} and the label in column " \
                f"{_named(self.label_column)}"
        if self.text_column is not None:
            what = f"column {self.text_column}" if self.text_column.isdigit() else f"column '{self.text_column}'"
            return f"{DESCRIPTIONS['columns']}, classifying {what}"
        return DESCRIPTIONS[self.format]

    def note(self, name: str) -> str:
        """One line for stderr: what was chosen, why, and how to force the other."""
        return f"{name}: read as {self.description}: {self.reason}; {self.hint}"


@dataclass(frozen=True)
class Evidence:
    """Whether the first words of some lines look like labels."""

    looks: bool
    strong: bool  # many lines, few distinct first words: a clear closed set
    why: str


def label_evidence(lines: Sequence[str]) -> Evidence:
    """Do the first words of `lines` (not blank) form a small closed set that does not
    occur inside the texts? Counted case-insensitively; a first word counts as "inside"
    when the rest of the lines hold it at least as often as line starts do (a label
    seen once in a text does not spoil it; "the" starting a line does)."""
    spelled = {}  # lowercased -> as first seen, for the message
    for line in lines:
        word = line.split(None, 1)[0] if line.strip() else ""
        spelled.setdefault(word.lower(), word)
    rows = [line.lower().split() for line in lines]
    n = len(rows)
    if n == 0:
        return Evidence(False, False, "no lines")
    if any(len(r) < 2 for r in rows):
        one = next(i for i, r in enumerate(rows) if len(r) < 2)
        return Evidence(False, False, f"line {one + 1} of those read is a single word, with no label and text")
    firsts = Counter(r[0] for r in rows)
    body = Counter(w for r in rows for w in r[1:])
    inside = sum(1 for r in rows if body[r[0]] >= firsts[r[0]])
    if inside > n // 20:
        return Evidence(False, False, f"the first words recur inside the texts ({inside} of {n} lines)")
    d = len(firsts)
    if d == 1:
        return Evidence(False, False, f"every line starts with '{spelled[next(iter(firsts))]}'")
    if d > max(2, int(0.8 * n)):
        return Evidence(False, False, f"{d} different first words in {n} lines")
    shown = ", ".join(spelled[w] for w in sorted(firsts)[:5]) + (", ..." if d > 5 else "")
    return Evidence(True, n >= 20 and d <= n // 2,
                    f"{d} different first words in {n} lines ({shown}), none recurring inside the texts")


def _split_first(lines: Sequence[str]) -> list[str]:
    return [line.split(None, 1)[0] if len(line.split(None, 1)) == 2 else "" for line in lines]


def _judge_tsv(lines: Sequence[str], labelled: bool, trained: str | None, known: Collection[str],
               text_name: str) -> Detection:
    rows = [line.split("\t") for line in lines]
    header = set(rows[0])
    widths = {len(r) for r in rows}
    if labelled:
        if {"text", "label"} <= header or widths != {len(rows[0])}:
            return Detection("tsv", "tab-separated columns")
        if len(rows[0]) == 2:
            return _two_columns(rows)
        # Three or more columns on every line, none named: which is the label?
        return Detection("text", f"{len(rows[0])} tab-separated columns on every line and no header naming "
                         "'text' and 'label'", "name them with --text-column and --label-column")
    if trained == "tsv" and len(rows[0]) >= 2 and all(r[0].strip() in known for r in rows):
        return Detection("tsv", "label<TAB>text: the first column holds the model's labels, as in its training data")
    width = min(widths)
    if text_name.isdigit() and int(text_name) < width:
        return Detection("tsv", f"column {text_name} held the text in training", "choose another with --text-column",
                         text_column=text_name)
    if text_name in header:
        return Detection("tsv", f"a header row names the '{text_name}' column", text_column=text_name)
    # The text is the column with the most words per line.
    words = [sum(len(r[i].split()) for r in rows[1:] or rows) for i in range(width)]
    best = max(range(width), key=lambda i: (words[i], i))
    other = "; if the first column is a label, use --input-format tsv" if trained == "tsv" else ""
    hint = f"choose the text column with --text-column (a 0-based index, or a header name){other}"
    if _header_like(rows, best):
        return Detection("tsv", f"a header row; column '{rows[0][best]}' holds the most words", hint,
                         text_column=rows[0][best])
    return Detection("tsv", f"column {best} holds the most words", hint, text_column=str(best))


def _named(column: str | None) -> str:
    return str(column) if column is None or column.isdigit() else f"'{column}'"


def _two_columns(rows: Sequence[Sequence[str]]) -> Detection:
    """Labelled TSV of two columns: label<TAB>text, unless a header row names the
    other column `label`, or the second column holds single words from a small set
    beside longer texts in the first (text<TAB>label, as GLUE's files, with or without
    a header row)."""
    first = [f.strip() for f in rows[0]]
    named = [j for j, f in enumerate(first) if f.lower() == "label"]
    if len(named) == 1 and len(first[1 - named[0]].split()) == 1:
        label = named[0]
        return Detection("tsv", f"a header row names column {label} '{first[label]}'",
                         text_column=first[1 - label], label_column=first[label])

    def label_like(j: int, body: Sequence[Sequence[str]]) -> bool:
        values = [r[j].strip() for r in body]
        few = len(set(values)) <= max(2, len(values) // 2) or len(values) < 20  # few lines: words alone tell
        return all(len(v.split()) == 1 for v in values) and few

    def words(j: int, body: Sequence[Sequence[str]]) -> float:
        return sum(len(r[j].split()) for r in body) / len(body)

    body = rows[1:]  # below a header row, if the first row is one
    if len(rows) >= 3 and label_like(1, body) and not label_like(0, body) and words(0, body) >= 2 \
            and first[1] not in {r[1].strip() for r in body} and len(first[0].split()) == 1:
        return Detection("tsv", "a header row, then texts in the first column and labels (single words from a "
                         "small set) in the second", text_column=first[0], label_column=first[1])
    if label_like(1, rows) and not label_like(0, rows) and words(0, rows) > words(1, rows):
        hint = "" if len(rows) >= 20 else "if the first column is the label, use --label-column 0 --text-column 1"
        return Detection("tsv", "the second column holds single words from a small set (labels), the first "
                         "longer texts", hint, text_column="0", label_column="1")
    return Detection("tsv", "tab-separated columns")


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _header_like(rows: Sequence[Sequence[str]], text: int) -> bool:
    """Is the first row a header? Yes when a column holds numbers below a first row that
    does not, or the text column holds one word above rows of several."""
    if len(rows) < 3 or any(len(r) != len(rows[0]) for r in rows):
        return False
    first, rest = rows[0], rows[1:]
    if any(not _is_number(first[j]) and all(_is_number(r[j]) for r in rest) for j in range(len(first))):
        return True
    return len(first[text].split()) == 1 and sum(len(r[text].split()) for r in rest) >= 3 * len(rest)


def _balanced(lines: Sequence[str]) -> bool:
    """Do the brackets of `lines` never close more than they opened, and does every
    tree that closes end its line (no text after it, as in `(see above) text`)?"""
    depth = 0
    for line in lines:
        text = line.rstrip()
        for i, ch in enumerate(text):
            depth += (ch == "(") - (ch == ")")
            if depth < 0 or (depth == 0 and ch == ")" and i != len(text) - 1):
                return False
    return True


def _trees(lines: Sequence[str], trained: str | None) -> bool:
    """Are `lines`, each starting with a bracket, trees? Yes if their brackets balance
    (`_balanced`); if not, still yes for a model trained on trees, or when most lines
    are a whole tree each, so that the reader names the malformed line instead of the
    input being taken for plain text that has no tree."""
    if _balanced(lines) or trained == "ptb-trees":
        return True
    whole = sum(_balanced([line]) and line.count("(") == line.count(")") for line in lines)
    return len(lines) >= 3 and whole >= 0.8 * len(lines)


def _conllu(lines: Sequence[str]) -> bool:
    rows = [line.split("\t") for line in lines if not line.startswith("#")]
    return bool(rows) and all(len(r) == 10 and r[0].replace("-", "").replace(".", "").isdigit() for r in rows)


def judge_class_lines(lines: Sequence[str], labelled: bool, trained: str | None = None,
                      known: Collection[str] = (), text_name: str = "text") -> Detection:
    """The layout of the non-blank `lines` (the start of an input).

    `labelled`: the input must carry labels (training, scoring). `trained`, `known`:
    the layout of a model's training data and its labels, when a model reads the input;
    `text_name`: the name of the text column of a TSV header (the model's, or "text")."""
    if not lines:
        return Detection("text", "empty input")
    first = lines[0].lstrip()
    if _TREE_START.match(first) and all(_TREE_START.match(line.lstrip()) or line.lstrip().startswith("(")
                                        for line in lines) and _trees(lines, trained):
        return Detection("ptb-trees", "bracketed trees: the first line starts with (label")
    if looks_like_babi(lines):
        return Detection("babi", "bAbI: numbered lines from 1, questions as `id question<TAB>answer<TAB>facts`")
    if _conllu(lines):
        return Detection("conllu", "CoNLL-U: rows of 10 tab-separated columns with a numeric ID, # comments")
    if first.startswith("{"):
        return Detection("jsonl", "the first line starts with {")
    if first.startswith(FASTTEXT_PREFIX):
        return Detection("fasttext", f"the first line starts with {FASTTEXT_PREFIX}")
    if "\t" in lines[0] and (labelled or all("\t" in line for line in lines)):
        return _judge_tsv(lines, labelled, trained, known, text_name)
    firsts = _split_first(lines)
    model_labels = bool(known) and all(f and f in known for f in firsts)
    evidence = label_evidence(lines)
    if labelled:
        if model_labels:
            return Detection("label-text", "the first word of each line is one of the model's labels")
        if evidence.looks:
            return Detection("label-text", evidence.why, "" if evidence.strong else "if that is wrong, " + FORCE)
        return Detection("text", f"not TSV, fastText or JSON lines, and no label first: {evidence.why}",
                         "if the first word of each line is its label, use --input-format label-text; "
                         "otherwise " + FORCE)
    if trained == "label-text" and model_labels:
        hint = "" if evidence.strong else "if it is part of the text, use --input-format text"
        return Detection("label-text", "the first word of each line is one of the model's labels, as in its "
                         "training data", hint)
    if evidence.looks and len(lines) >= 5:
        but = {None: "", "label-text": ", but not all are the model's"}.get(trained, ", but the model was not "
                                                                             "trained on `label text`")
        return Detection("text", f"the first words look like labels{but} ({evidence.why})",
                         "if they are labels, use --input-format label-text")
    return Detection("text", "no tab, JSON or __label__")


def detect_class_format(path: str, fmt: str = "auto", encoding: str = "utf-8", labelled: bool = True,
                        trained: str | None = None, known: Collection[str] = (), text_column: str | None = None,
                        label_column: str | None = None, text_name: str = "text",
                        encoder: str | None = None) -> Detection:
    """The layout to read `path` in: `fmt` unless it is "auto", else judged on the first
    lines (stdin is peeked at, not consumed; see `judge_class_lines` for the other
    arguments). Columns named for a labelled input mean TSV; for prediction input
    (`labelled` False), a `text_column` means TSV read as columns. An `encoder` that
    reads one layout only (a DMN: bAbI) takes its input in that layout, so that a
    malformed line is reported by its reader rather than the input read as another."""
    if fmt not in FORMATS:
        raise ConfigError(f"--input-format: unknown format '{fmt}' ({', '.join(FORMATS)})")
    named = text_column is not None or label_column is not None
    if named and fmt in ("auto", "jsonl") and json_first(path, encoding):
        return Detection("jsonl", "--text-column/--label-column name keys of JSON lines", text_column=text_column,
                         label_column=label_column)
    if not labelled and text_column is not None:
        if fmt not in ("auto", "tsv"):
            raise ConfigError(f"--text-column picks a column of tab-separated input or a key of JSON lines, not of "
                              f"{fmt}")
        return Detection("tsv", "--text-column", text_column=text_column)
    if fmt != "auto":
        return Detection(fmt, "--input-format")
    if named:
        return Detection("tsv", "--text-column/--label-column")
    if encoder in ONLY_FORMAT:
        return Detection(ONLY_FORMAT[encoder], f"--encoder {encoder} reads {DESCRIPTIONS[ONLY_FORMAT[encoder]]} only")
    raw = head_lines(path, encoding, LOOKAHEAD)
    lines = [line for line in raw if line.strip()]
    found = judge_class_lines(lines, labelled, trained, known, text_name)
    if found.format not in ("label-text", "text") or not (why := conll_columns(raw)):
        return found
    if labelled:
        raise DataFormatError(display_name(path), None, f"looks like CoNLL columns, a token a line ({why}): a "
                              "classifier reads an item a line (TSV, fastText, JSON lines, `label text`) or "
                              "CoNLL-U sentences with a `# label = ...` comment; to label tokens, use "
                              f"train-tagger; to read the file anyway, {FORCE}")
    return Detection("text", f"each line is an item, though the input looks like CoNLL columns ({why})",
                     "a classifier reads an item a line; to label tokens, use a tagger")


def json_first(path: str, encoding: str) -> bool:
    """Does the first line that is not blank start with `{` (JSON lines)?"""
    first = next((line for line in head_lines(path, encoding, LOOKAHEAD) if line.strip()), "")
    return first.lstrip().startswith("{")


def conll_columns(lines: Sequence[str]) -> str | None:
    """Why `lines` (blank ones included) look like CoNLL columns without doubt (a token a
    line, as many columns on every line, blank lines between sentences), else None."""
    judged = judge_lines(lines)
    return judged.reason if judged.format == "conll" and not judged.ambiguous else None
