"""Trees for tree-structured encoders: PTB-bracketed constituency trees (the Stanford
Sentiment Treebank writes one a line, `(3 (2 It) (4 (2 's) (3 lovely)))`, a label on
every node) and dependency trees (CoNLL-U HEAD columns).

Both become a `Tree`: nodes numbered so that every child comes before its parent
(the root is the last node), which is the order a bottom-up encoder computes them
in (`tree_batching.py`). Parsing is iterative, so a tree of any depth is read."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rnn_cli.data.conll import read_conllu
from rnn_cli.data.text import display_name, iter_lines
from rnn_cli.errors import DataFormatError

CONLLU_HEAD = 6  # 0-based column of HEAD
LABEL_COMMENT = "label"  # a CoNLL-U sentence's label: `# label = pos`

# Tokens: "(" with the label after it, ")", or a word. Whitespace is ASCII only, as in
# conll.py: U+00A0 and U+0085 may be parts of words.
_BLANK = " \t\r\n\x0b\x0c"
_TOKEN = re.compile(r"\([ \t\r\n\x0b\x0c]*[^ \t\r\n\x0b\x0c()]*|\)|[^ \t\r\n\x0b\x0c()]+")


@dataclass
class Tree:
    """A tree over a sentence's words. Per node: `children` (node ids, left to right),
    `word` (index into `words` of the node's own word, -1 for an inner constituency
    node) and `labels` (None where unlabelled). `line` is the line the tree starts on."""

    words: list[str]
    children: list[list[int]]
    word: list[int]
    labels: list[str | None]
    line: int

    @property
    def root(self) -> int:
        return len(self.children) - 1

    def spans(self) -> list[tuple[int, int]]:
        """Per node, the `[start, end)` range of `words` covered by its own word and
        its descendants' (for a non-projective dependency subtree, min..max + 1)."""
        spans: list[tuple[int, int]] = []
        for kids, w in zip(self.children, self.word):
            lo, hi = (w, w + 1) if w >= 0 else (len(self.words), 0)
            for c in kids:
                s, e = spans[c]
                lo, hi = min(lo, s), max(hi, e)
            spans.append((lo, hi))
        return spans

    def heights(self) -> list[int]:
        """Per node, 0 for a leaf, else 1 + its highest child's height."""
        heights: list[int] = []
        for kids in self.children:
            heights.append(1 + max([heights[c] for c in kids]) if kids else 0)
        return heights


def to_ptb(tree: Tree, labels: Sequence[str]) -> str:
    """`tree` in PTB brackets with `labels[n]` on node n: `(label word)` at a leaf,
    `(label child ...)` above; a dependency node's own word stands among its
    children in sentence order."""
    out: list[str] = []
    spans = tree.spans()
    for n, (kids, w) in enumerate(zip(tree.children, tree.word)):
        if not kids:
            out.append(f"({labels[n]} {tree.words[w]})")
            continue
        parts = [(spans[c][0], out[c]) for c in kids]
        if w >= 0:
            parts.append((w, tree.words[w]))
        out.append(f"({labels[n]} {' '.join(text for _, text in sorted(parts, key=lambda p: p[0]))})")
    return out[-1]


def _position(text: str, k: int) -> int:
    """The character offset of token `k` of `text` (its length past the last token)."""
    for i, m in enumerate(_TOKEN.finditer(text)):
        if i == k:
            return m.start()
    return len(text)


def _error(text: str, name: str, line: int, k: int, message: str) -> DataFormatError:
    """`message` located at token `k`: its line (the text may span several) and column."""
    pos = _position(text, k)
    nl = text.rfind("\n", 0, pos)
    return DataFormatError(name, line + text.count("\n", 0, pos), f"{message} at column {pos - nl}")


def parse_ptb(text: str, name: str, line: int) -> Tree:
    """One bracketed tree, `(label child ...)` or `(label word)`; `text` may span
    several lines, `line` being that of its first."""
    tokens = _TOKEN.findall(text)
    if not tokens:
        raise DataFormatError(name, line, "expected a tree, found nothing")
    words: list[str] = []
    children: list[list[int]] = []
    word: list[int] = []
    labels: list[str | None] = []
    # Open brackets: (token index of "(", label, children so far, [word index or -1]).
    stack: list[tuple[int, str, list[int], list[int]]] = []
    for k, tok in enumerate(tokens):
        first = tok[0]
        if first == "(":
            if not stack and children:
                raise _error(text, name, line, k, "text after the tree (one tree a line, or unbalanced brackets?)")
            if stack and stack[-1][3][0] >= 0:
                raise _error(text, name, line, k, f"a subtree after the word {words[stack[-1][3][0]]!r} of a leaf")
            label = tok[1:].lstrip(_BLANK)
            if not label:
                nxt = tokens[k + 1] if k + 1 < len(tokens) else ""
                what = {"(": "a node without a label: '(' follows '('", ")": "empty brackets '()'"}.get(
                    nxt[:1], "unbalanced brackets: the text ends after '('")
                raise _error(text, name, line, k, what)
            stack.append((k, label, [], [-1]))
        elif first == ")":
            if not stack:
                what = "text after the tree: ')'" if children else "unbalanced brackets: ')'"
                raise _error(text, name, line, k, f"{what} with no '(' open")
            _, label, kids, own = stack.pop()
            if not kids and own[0] < 0:
                raise _error(text, name, line, k, f"a leaf without a word: '({label})'")
            if stack:
                stack[-1][2].append(len(children))
            children.append(kids)
            word.append(own[0])
            labels.append(label)
        elif not stack:
            what = "text after the tree:" if children else "expected '(' to open a tree, found"
            raise _error(text, name, line, k, f"{what} {tok!r}")
        else:
            own = stack[-1][3]
            if own[0] >= 0:
                raise _error(text, name, line, k, f"a second word {tok!r} in a leaf (words hold no spaces)")
            if stack[-1][2]:
                raise _error(text, name, line, k, f"a word {tok!r} beside subtrees (put it in its own '(label word)')")
            own[0] = len(words)
            words.append(tok)
    if stack:
        what = f"unbalanced brackets: {len(stack)} '(' never closed, the last opened"
        raise _error(text, name, line, stack[-1][0], what)
    return Tree(words, children, word, labels, line)


def read_ptb_trees(path: str, encoding: str = "utf-8") -> Iterator[Tree]:
    """The trees of a bracketed file, one a line, or spread over lines: a tree goes on
    while brackets are open. Blank lines between trees are skipped."""
    name = display_name(path)
    lines: list[str] = []
    first = depth = 0
    for lineno, text in iter_lines(path, encoding):
        if not lines:
            if not text.strip(_BLANK):
                continue
            first = lineno
        lines.append(text)
        depth += text.count("(") - text.count(")")
        if depth <= 0:
            yield parse_ptb("\n".join(lines), name, first)
            lines, depth = [], 0
    if lines:
        yield parse_ptb("\n".join(lines), name, first)


def tree_from_heads(words: list[str], heads: list[int], name: str, line: int, label: str | None = None,
                    *, word_lines: Sequence[int] | None = None) -> Tree:
    """A dependency tree from 1-based `heads` (0: the root), one per word. Node n holds
    word `word[n]`; the root node is labelled `label`, the others not. An error is
    reported at `line`, or at `word_lines[i]` (the file line of word i) when given."""

    def fail(i: int, message: str) -> DataFormatError:
        return DataFormatError(name, word_lines[i] if word_lines is not None else line, f"word {i + 1}: {message}")

    if len(heads) != len(words):
        raise DataFormatError(name, line, f"{len(words)} words but {len(heads)} heads")
    if not words:
        raise DataFormatError(name, line, "a tree needs at least one word")
    deps: list[list[int]] = [[] for _ in range(len(words) + 1)]  # deps[h]: the words headed by word h (1-based)
    for i, h in enumerate(heads):
        if not 0 <= h <= len(words):
            raise fail(i, f"head {h} out of range (0 to {len(words)})")
        if h == i + 1:
            raise fail(i, "is its own head")
        if h == 0 and deps[0]:
            raise fail(i, f"a second root (head 0), after word {deps[0][0] + 1}")
        deps[h].append(i)
    if not deps[0]:
        raise DataFormatError(name, line, "no root: no word has head 0")
    children: list[list[int]] = []
    word: list[int] = []
    # Post-order walk from the root, children left to right: (word, its child nodes so far).
    stack: list[tuple[int, list[int]]] = [(deps[0][0], [])]
    pending: list[Iterator[int]] = [iter(deps[deps[0][0] + 1])]
    while stack:
        nxt = next(pending[-1], None)
        if nxt is not None:
            stack.append((nxt, []))
            pending.append(iter(deps[nxt + 1]))
            continue
        w, kids = stack.pop()
        pending.pop()
        children.append(kids)
        word.append(w)
        if stack:
            stack[-1][1].append(len(children) - 1)
    if len(word) < len(words):
        seen = set(word)
        i = next(i for i in range(len(words)) if i not in seen)
        cycle = [i]
        while heads[cycle[-1]] - 1 not in cycle:
            cycle.append(heads[cycle[-1]] - 1)
        ring = " -> ".join(str(j + 1) for j in cycle[cycle.index(heads[cycle[-1]] - 1):])
        raise fail(i, f"no path to the root: its heads run into a cycle ({ring} -> ...)")
    labels: list[str | None] = [None] * len(word)
    labels[-1] = label
    return Tree(list(words), children, word, labels, line)


def _sentence_label(comments: list[str], name: str, line: int) -> str | None:
    """The value of a `# label = X` comment, None if there is none."""
    found = None
    for comment in comments:
        key, sep, value = comment[1:].partition("=")
        if sep and key.strip() == LABEL_COMMENT:
            if found is not None:
                raise DataFormatError(name, line, f"two '# {LABEL_COMMENT} =' comments before this sentence")
            found = value.strip()
            if not found:
                raise DataFormatError(name, line, f"an empty '# {LABEL_COMMENT} =' comment before this sentence")
    return found


def read_conllu_trees(path: str, encoding: str = "utf-8") -> Iterator[tuple[Tree, str | None]]:
    """The dependency trees of a CoNLL-U file over its word rows (multiword-token and
    empty-node rows are left out), each with its `# label = X` (None if absent)."""
    name = display_name(path)
    for sentence in read_conllu(path, tag_field=None, encoding=encoding):
        label = _sentence_label(sentence.comments, name, sentence.first_line)
        lines = [sentence.line_of(i) for i in range(len(sentence))]
        heads: list[int] = []
        for i, row in enumerate(sentence.rows):
            head = row[CONLLU_HEAD]
            if not (head.isascii() and head.isdigit()):
                raise DataFormatError(name, lines[i], f"HEAD {head!r} of word {i + 1} is not a number")
            heads.append(int(head))
        yield tree_from_heads(sentence.tokens, heads, name, sentence.first_line, label, word_lines=lines), label
