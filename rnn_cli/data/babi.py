"""bAbI question answering (Weston et al. 2015): reading the task files and batching
their questions (`rnn_cli.batches.StoryBatch`).

A file is numbered lines; the id restarts at 1 for each new story:

    1 Mary moved to the bathroom.                 a statement: `ID text`
    2 John went to the hallway.
    3 Where is Mary? <TAB>bathroom<TAB>1          a question: `ID question<TAB>answer<TAB>supporting ids`
    4 Daniel went back to the hallway.
    5 Where is Daniel? <TAB>hallway<TAB>4
    1 Sandra travelled to the office.             a new story

Each question is read with the statements of its story so far (questions are not
facts), and its supporting ids become indices into that list: above, question 5
sees the facts [Mary.., John.., Daniel..] and its support 4 is index 2.

How a question is recognised: a line with a tab is always a question; a line
without one is a question when it ends in `?` (prediction input may leave the
answer out, as `ID question?` or `ID question<TAB>`), and a statement otherwise
(no bAbI statement ends in `?`). Blank lines are skipped. The reader streams:
it holds one story at a time, never the whole file."""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rnn_cli.data.text import display_name, iter_lines
from rnn_cli.errors import DataFormatError

if TYPE_CHECKING:  # torch is imported where a batch is built: reading and detection go without it
    import torch

    from rnn_cli.batches import StoryBatch

ANSWERS = ("required", "optional", "ignore")
UNK = 1  # the id that stands in for an empty story, fact or question
LAYOUT = "ID question<TAB>answer<TAB>supporting ids"
QUESTION = "ID question<TAB>[answer<TAB>supporting ids], or ID question? (a question mark ends it)"
_WORD = re.compile(r"[^\s.?,!;:]+")


@dataclass
class Question:
    """One question with the statements of its story up to it. `story`: the statements'
    text after the id (surrounding spaces stripped); `answer`: the answer field as
    written (`apple,football` kept whole), None if the line has none; `supports`:
    indices into `story` of the supporting facts, in the order given; `line`: the
    1-based line of the question."""

    story: list[str]
    question: str
    answer: str | None
    supports: list[int]
    line: int


def read_babi(path: str, encoding: str = "utf-8", answers: str = "required") -> Iterator[Question]:
    """The questions of a bAbI file (a path, `-` for stdin, or .gz), in file order.

    `answers`: "required" (training and scoring: a question without an answer is an
    error), "optional" (prediction: a question may have none; its answer is then None)
    or "ignore" (whatever follows the question is neither checked nor returned: every
    answer None, no supports). A malformed line is a DataFormatError with its line."""
    if answers not in ANSWERS:
        raise ValueError(f"invalid answers mode: {answers!r} (expected one of {', '.join(ANSWERS)})")
    return _read(path, encoding, answers)


def _read(path: str, encoding: str, answers: str) -> Iterator[Question]:
    name = display_name(path)
    facts: list[str] = []  # the statements of the current story
    slots: list[int] = []  # per id - 1 of the current story: its index in `facts`, -1 for a question
    for lineno, text in iter_lines(path, encoding):
        if not text.strip():
            continue
        head, _, rest = text.partition(" ")
        if not (head.isascii() and head.isdigit()):
            first = head.partition("\t")[0]
            if first != head and first.isascii() and first.isdigit():
                raise DataFormatError(name, lineno, f"a tab after the line id {first}: expected a space (ID text)")
            raise DataFormatError(name, lineno, f"expected a line id (a number) and a space, found {head[:30]!r}")
        ident = int(head)
        if ident == 1:
            facts, slots = [], []
        elif ident != len(slots) + 1:
            if not slots:
                raise DataFormatError(name, lineno, f"the first line has id {ident}: a story starts at id 1")
            raise DataFormatError(name, lineno, f"id {ident} after id {len(slots)}: ids go up by one within a story, "
                                  "and a new story starts at 1")
        body, tab, tail = rest.partition("\t")
        body = body.strip()
        if not tab and not body.endswith("?"):
            if not body:
                raise DataFormatError(name, lineno, f"an empty statement (id {ident})")
            slots.append(len(facts))
            facts.append(body)
            continue
        if not body:
            raise DataFormatError(name, lineno, f"an empty question (id {ident})")
        slots.append(-1)
        answer, supports = None, []
        if answers != "ignore":
            if not tab and answers == "required":
                raise DataFormatError(name, lineno, f"a question without an answer (a line that ends in '?' is a "
                                      f"question): expected {LAYOUT}")
            answer, supports = _answer(tail, slots, name, lineno, answers == "required")
        yield Question(facts[:], body, answer, supports, lineno)


def _answer(tail: str, slots: list[int], name: str, lineno: int, required: bool) -> tuple[str | None, list[int]]:
    """The answer and the supporting facts' indices from what follows a question's tab."""
    fields = tail.split("\t")
    if len(fields) > 2:
        raise DataFormatError(name, lineno, f"{len(fields) + 1} tab-separated fields, expected at most 3: {LAYOUT}")
    answer = fields[0].strip()
    ids = fields[1].split() if len(fields) == 2 else []
    if not answer:
        if ids:
            raise DataFormatError(name, lineno, f"supporting ids {' '.join(ids)!r} but no answer: {LAYOUT}")
        if required:
            raise DataFormatError(name, lineno, f"a question without an answer: expected {LAYOUT}")
        return None, []
    ident = len(slots)
    supports: list[int] = []
    for tok in ids:
        if not (tok.isascii() and tok.isdigit()):
            raise DataFormatError(name, lineno, f"supporting id {tok!r} is not a line id (a positive number)")
        s = int(tok)
        if s < 1:
            raise DataFormatError(name, lineno, f"supporting id {s} is outside the story (its ids start at 1)")
        if s >= ident:
            raise DataFormatError(name, lineno, f"supporting id {s} does not come before the question (id {ident})")
        if slots[s - 1] < 0:
            raise DataFormatError(name, lineno, f"supporting id {s} is a question, not a statement")
        supports.append(slots[s - 1])
    return answer, supports


def looks_like_babi(lines: Sequence[str]) -> bool:
    """Whether the first lines of an input (blank ones are skipped) are bAbI.

    Every line must be `ID text` (a positive integer, one space, text), the first id
    1, each next id one more or 1 (a new story), and a story must start with a
    statement. Then either some line has the question layout and every line with a
    tab has it: `ID question<TAB>answer<TAB>ids`, the ids pointing at earlier
    statements of its story, or `ID question?<TAB>answer` / `ID question?<TAB>`;
    or, with no tab anywhere (unlabelled prediction input), the ids restart at 1 at
    least once, some lines end in `?`, and every story seen in full has such a line.
    A numbered list ("1 apples", "2 pears") has no question layout, so is not bAbI."""
    kinds: list[bool] = []  # per id - 1 of the current story: True for a question
    tabbed = asked = restarts = 0
    story_asked = True
    for line in lines:
        if not line.strip():
            continue
        head, sep, rest = line.partition(" ")
        if not (sep and head.isascii() and head.isdigit()):
            return False
        ident = int(head)
        if ident == 1:
            if kinds:
                restarts += 1
                if not story_asked:
                    return False
            kinds, story_asked = [], False
        elif ident != len(kinds) + 1:
            return False
        body, tab, tail = rest.partition("\t")
        body = body.strip()
        if not body:
            return False
        if tab:
            fields = tail.split("\t")
            ids = fields[1].split() if len(fields) == 2 else []
            if len(fields) > 2 or (ids and not fields[0].strip()):
                return False
            if not ids and not body.endswith("?"):
                return False
            for tok in ids:
                if not (tok.isascii() and tok.isdigit() and 1 <= int(tok) < ident) or kinds[int(tok) - 1]:
                    return False
            tabbed += 1
        question = bool(tab) or body.endswith("?")
        if question and ident == 1:
            return False
        asked += question
        story_asked = story_asked or question
        kinds.append(question)
    if not kinds:
        return False
    return tabbed > 0 or (restarts > 0 and asked > 0)


def tokenize_babi(text: str) -> list[str]:
    """Lowercased words, punctuation (`. ? , ! ; :`) dropped, as in the memory-network
    and DMN code (Sukhbaatar et al. 2015; Kumar et al. 2016): `Where is Mary?` gives
    `['where', 'is', 'mary']`. Answers are labels, not tokenized."""
    return _WORD.findall(text.lower())


def encode_stories(stories: Sequence[Sequence[Sequence[int]]], questions: Sequence[Sequence[int]],
                   labels: Sequence[int] | None, supports: Sequence[Sequence[int]] | None, indices: Sequence[int],
                   max_facts: int = 0) -> StoryBatch:
    """A batch of questions over their stories, from word ids (`stories[b][f]`: the ids
    of fact f of row b; `questions[b]`: the question's), padded with 0 to (B, F, W)
    and (B, Q). An empty story becomes one fact `[UNK]`, an empty fact or question
    `[UNK]`, so that every row has a fact and every fact and question a token.

    `supports[b]`: indices into `stories[b]`, padded with -1 to (B, S), S >= 1.
    `max_facts` > 0 keeps only the last `max_facts` facts of a story (the DMN caps
    bAbI stories at 70 facts, Kumar et al. 2016): supports shift with them, and a
    support that falls off is dropped (the others keep their order)."""
    from rnn_cli.batches import StoryBatch

    size = len(stories)
    if not size:
        raise ValueError("no questions to batch")
    if len(questions) != size or len(indices) != size:
        raise ValueError(f"{size} stories but {len(questions)} questions and {len(indices)} indices")
    if labels is not None and len(labels) != size:
        raise ValueError(f"{size} stories but {len(labels)} labels")
    if supports is not None and len(supports) != size:
        raise ValueError(f"{size} stories but {len(supports)} support lists")
    if max_facts < 0:
        raise ValueError(f"invalid max_facts: {max_facts} (0 for all, or a positive number)")
    unk = [UNK]
    rows: list[list[Sequence[int]]] = []
    kept: list[list[int]] = []
    for b, story in enumerate(stories):
        cut = len(story) - max_facts if 0 < max_facts < len(story) else 0
        if supports is not None:
            for s in supports[b]:
                if not 0 <= s < len(story):
                    raise ValueError(f"row {b}: supporting fact {s} outside its {len(story)} facts")
            kept.append([s - cut for s in supports[b] if s >= cut])
        rows.append([fact if len(fact) else unk for fact in story[cut:]] or [unk])
    qs = [q if len(q) else unk for q in questions]
    nf = max(map(len, rows))
    nw = max(len(fact) for facts in rows for fact in facts)
    nq = max(map(len, qs))
    words = [0] * (size * nf * nw)
    fact_lengths = [0] * (size * nf)
    for b, facts in enumerate(rows):
        base = b * nf
        for f, fact in enumerate(facts):
            start = (base + f) * nw
            words[start:start + len(fact)] = fact
            fact_lengths[base + f] = len(fact)
    question = [0] * (size * nq)
    for b, q in enumerate(qs):
        question[b * nq:b * nq + len(q)] = q
    sup = None
    if supports is not None:
        ns = max(1, max(map(len, kept)))
        flat = [-1] * (size * ns)
        for b, k in enumerate(kept):
            flat[b * ns:b * ns + len(k)] = k
        sup = _long(flat).view(size, ns)
    return StoryBatch(_long(words).view(size, nf, nw), _long(fact_lengths).view(size, nf),
                      _long([len(facts) for facts in rows]), _long(question).view(size, nq),
                      _long([len(q) for q in qs]), _long(list(labels)) if labels is not None else None, sup,
                      list(indices))


def _long(values: list[int]) -> torch.Tensor:
    """A long tensor of `values` (never empty here), through an array: faster than
    `torch.tensor` on a list."""
    import torch

    return torch.frombuffer(array("q", values), dtype=torch.long)
