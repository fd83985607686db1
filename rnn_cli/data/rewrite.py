"""Writing a file back as it was read, with only its tags added or changed: each
sentence's `Layout` (see `data/conll.py`) gives its lines as they stood, so the
column separators, line ends, a missing final newline, and the blank, `-DOCSTART-`
and comment lines around sentences all come back byte for byte.

    for s in read_conll(path, layout=True):
        write_kept(s, out, [append_fields(text, [tag]) for text, tag in zip(word_texts(s), tags)])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

from rnn_cli.data.conll import CONLLU_FIELDS, DOCSTART, Sentence, split_fields

_FIELD = re.compile(r"[^ \t\r\x0b\x0c]+")  # a CoNLL column: what the separators (ASCII blanks) leave


def word_texts(sentence: Sentence) -> list[str]:
    """The text of each token's line, as it stood in the file."""
    layout = sentence.layout
    if layout is None or layout.fmt == "text":
        raise ValueError("the sentence was read without its CoNLL layout")
    return [layout.lines[i][0] for i in layout.word_lines]


def append_fields(text: str, values: Sequence[str]) -> str:
    """A CoNLL line with `values` as new last columns, each after the separator that
    stands before the line's last column (a tab if it has one column); whatever
    follows the last column (trailing blanks) stays at the end."""
    spans = [m.span() for m in _FIELD.finditer(text)]
    sep = text[spans[-2][1]: spans[-1][0]] if len(spans) >= 2 else "\t"
    cut = spans[-1][1] if spans else len(text)
    return text[:cut] + "".join(sep + v for v in values) + text[cut:]


def replace_field(text: str, index: int, value: str) -> str:
    """A CoNLL line with column `index` (negative: from the end) replaced by `value`."""
    spans = [m.span() for m in _FIELD.finditer(text)]
    a, b = spans[index]
    return text[:a] + value + text[b:]


def merge_misc(misc: str, values: Mapping[str, str]) -> str:
    """A CoNLL-U MISC field (`_` or `A=x|B=y`) with `values` set: an attribute already
    there keeps its place, a new one is added at the end."""
    items = [] if misc == "_" else misc.split("|")
    todo = dict(values)
    for i, item in enumerate(items):
        key = item.partition("=")[0]
        if key in todo:
            items[i] = f"{key}={todo.pop(key)}"
    items += [f"{k}={v}" for k, v in todo.items()]
    return "|".join(items) or "_"


def set_conllu_fields(text: str, field: str, tag: str, misc: Mapping[str, str] | None = None) -> str:
    """A CoNLL-U word line with `tag` in `field` ("upos", "xpos", or "misc" as `Tag=`)
    and the attributes `misc` merged into MISC."""
    fields = text.split("\t")
    extra = dict(misc or {})
    if field == "misc":
        extra = {"Tag": tag, **extra}
    else:
        fields[CONLLU_FIELDS[field]] = tag
    if extra:
        fields[-1] = merge_misc(fields[-1], extra)
    return "\t".join(fields)


def is_docstart(text: str) -> bool:
    return split_fields(text)[0] == DOCSTART


def write_kept(sentence: Sentence, file: TextIO, words: Sequence[str] | None = None, header: Sequence[str] = (),
               docstart: Callable[[str], str] | None = None) -> None:
    """Write `sentence` as it stood in its file: the lines before it, its own lines with
    token i's line replaced by `words[i]` (if given), then the line that closed it.
    `header` lines go right before its first line (with its line end), and `docstart`
    rewrites the `-DOCSTART-` lines around it."""
    layout = sentence.layout
    if layout is None:
        raise ValueError("the sentence was read without its layout (layout=True)")
    if words is not None and len(words) != len(layout.word_lines):
        raise ValueError(f"{len(words)} lines for a sentence of {len(layout.word_lines)} tokens")

    def around(lines: Sequence[tuple[str, str]]) -> None:
        for text, end in lines:
            file.write((docstart(text) if docstart is not None and is_docstart(text) else text) + end)

    around(layout.before)
    if header and layout.lines:
        end = layout.lines[0][1] or "\n"
        for line in header:
            file.write(line + end)
    replaced = dict(zip(layout.word_lines, words)) if words is not None else {}
    for i, (text, end) in enumerate(layout.lines):
        file.write(replaced.get(i, text) + end)
    around(layout.after)
