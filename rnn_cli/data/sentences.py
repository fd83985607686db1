"""Reading tagged or untagged sentences for the tagger, in any supported format, and
deciding which format a file or stdin holds by looking at its first lines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from rnn_cli.data.conll import DOCSTART, Sentence, is_conllu_row, read_conll, read_conllu, read_tokenized, split_fields
from rnn_cli.data.schemes import MixedTagsError, detect_scheme
from rnn_cli.data.text import display_name, head_lines
from rnn_cli.errors import ConfigError, DataFormatError, UnreadableError

FORMATS = ("auto", "conll", "conllu", "text")
DESCRIPTIONS = {"conll": "CoNLL columns", "conllu": "CoNLL-U", "text": "text, one sentence a line"}
LOOKAHEAD = 100  # lines (not blank, not comments) judged by `judge_lines`


@dataclass(frozen=True)
class Detection:
    """The format chosen for an input, why, and whether another was plausible too
    (`alternative`, empty when the choice is clear)."""

    format: str
    reason: str
    alternative: str = ""

    @property
    def ambiguous(self) -> bool:
        return bool(self.alternative)

    def hint(self) -> str:
        """What was chosen, why, and how to force the other."""
        return (f"read as {DESCRIPTIONS[self.format]} ({self.reason}); if it is {DESCRIPTIONS[self.alternative]}, "
                f"use --input-format {self.alternative}")

    def note(self, name: str) -> str:
        """One line for stderr, naming the input."""
        return f"{name}: {self.hint()}"


def judge_lines(lines: Sequence[str], tagged: bool = False, is_tag: Callable[[str], bool] | None = None) -> Detection:
    """Decide between CoNLL-U, CoNLL columns and text (one sentence a line) from a
    file's first lines. `tagged`: the file must hold tags, so text is out. `is_tag`
    (when tagging: a tag of the model's tag set, in any scheme) settles what few lines
    leave open: as CoNLL, a line would end in a tag column (or be tab-separated), so
    lines of space-separated tokens none of which ends in a tag are text without doubt
    (`echo "a sentence" | rnn-cli tag MODEL` gets no note; a last token of punctuation
    only, as PTB's `.` tag, does not count as a tag: sentences end in one).

    CoNLL-U: the first line that is not blank or a `#` comment has 10 tab-separated
    fields and a CoNLL-U ID. Otherwise consecutive lines tell: every line of a CoNLL
    sentence has as many columns as the one before it (a pair that differs is a
    malformed line), while consecutive lines of text seldom hold as many tokens. Few
    lines, one-token lines, or one or two differing pairs among many equal ones leave
    both plausible: the choice is then marked ambiguous, `alternative` the other.
    Lines of as many columns each with no blank line between (a CoNLL sentence, or a
    list of short texts) are CoNLL when, on three or more lines, every last field reads
    as a tag of some tag set (`O`, `B-NP`, `NNP`; not only the model's: CoNLL-2000 chunks
    given to a named-entity tagger, which adds its column): a text's lines do not all
    end so. On two lines, both ending in a chunk or entity tag, CoNLL is in doubt."""
    counts: list[int] = []  # the column counts of the lines judged
    equal = differ = 0  # consecutive lines (no blank line between) with the same count / another
    prev: int | None = None
    blank_between = docstart = False
    tag_like = False  # a line of several columns, tab-separated or ending in a tag
    tag_ended: list[str] = []  # per line: "tag" (O, B-X, ...), "caps" (NNP, PROPN, ...) or "" (neither)
    lowercase = False  # a line's first field has a lowercase letter (the text is not all capitals)
    for line in lines:
        if line.startswith("#"):
            continue
        fields = split_fields(line)
        if not fields[0] or fields[0] == DOCSTART:
            blank_between = blank_between or bool(counts)
            docstart = docstart or fields[0] == DOCSTART
            prev = None
            continue
        if not counts and is_conllu_row(line):
            return Detection("conllu", "10 tab-separated columns with a CoNLL-U ID")
        if prev is not None:
            equal, differ = equal + (len(fields) == prev), differ + (len(fields) != prev)
        prev = len(fields)
        counts.append(prev)
        shape = _tag_shape(fields[-1]) if prev > 1 else ""
        tag_like = tag_like or (prev > 1 and (shape == "tag" or _tag_column(line, fields[-1], is_tag)))
        tag_ended.append(shape)
        lowercase = lowercase or any(c.islower() for c in fields[0])
        if len(counts) >= LOOKAHEAD:
            break
    if tagged:
        return Detection("conll", "not CoNLL-U")
    if docstart:
        return Detection("conll", "-DOCSTART- lines")
    if not counts:
        return Detection("text", "no sentences")
    columns, seen = Counter(counts).most_common(1)[0]
    pairs = equal + differ
    if pairs == 0:
        if len(counts) >= 3 and seen == len(counts) and columns >= 2:
            return Detection("conll", f"every line has {columns} columns", "text")
        why = "only one line to judge from" if len(counts) == 1 else "no two lines in a row to compare"
        if not tag_like:
            return Detection("text", why + ", no tag column")
        return Detection("text", why, "conll")
    agree = equal / pairs
    if differ == 0:
        if columns == 1:
            if blank_between:
                return Detection("conll", "one token a line, blank lines between sentences", "text")
            return Detection("text", "one token a line, no blank line between sentences", "conll")
        if not blank_between:  # as CoNLL, one sentence of every line so far
            why = f"consecutive lines have {columns} columns, each ending in a tag"
            if len(counts) >= 3 and all(tag_ended) and ("tag" in tag_ended or lowercase):
                return Detection("conll", why)
            if all(shape == "tag" for shape in tag_ended):  # two lines
                return Detection("conll", why, "text")
            if len(counts) >= LOOKAHEAD:
                return Detection("text", f"{len(counts)} lines and no blank line between sentences")
            why = f"lines of {columns} tokens, no blank line between sentences"
            return Detection("text", why, "conll") if tag_like else Detection("text", why + ", no tag column")
        why = f"consecutive lines have {columns} columns"
        return Detection("conll", why) if equal >= 3 else Detection("conll", why, "text")
    why = "consecutive lines have different numbers of tokens"
    if differ >= 3 or equal == 0:  # as CoNLL, malformed from the start or on several lines
        return Detection("text", why)
    if agree >= 0.9 and columns >= 2:  # CoNLL with a malformed line? The reader will say which.
        return Detection("conll", f"most consecutive lines have {columns} columns", "text")
    return Detection("text", why, "conll")


def _tag_shape(field: str) -> str:
    """"tag" for a field shaped as a chunk or entity tag of any scheme (`O`, `B-NP`,
    `I-PER`, `S-LOC`, `B-person`), "caps" for one of capitals (POS tags as `NNP`, `PRP$`, `PROPN`),
    else ""."""
    prefixed = len(field) > 2 and field[0] in "BIESLU" and field[1] == "-"
    if field == "O" or (prefixed and any(c.isalpha() for c in field[2:])):
        return "tag"
    letters = [c for c in field if c.isalpha()]
    return "caps" if letters and all(c.isupper() for c in letters) and len(field) <= 10 else ""


def _tag_column(line: str, last: str, is_tag: Callable[[str], bool] | None) -> bool:
    """Whether a line of several fields may be CoNLL columns: tab-separated, or its
    `last` field a tag of the model's (any field without a tag set to ask)."""
    return "\t" in line.strip() or is_tag is None or (any(c.isalnum() for c in last) and is_tag(last))


def detect_input_format(path: str, fmt: str = "auto", encoding: str = "utf-8", tagged: bool = False,
                        is_tag: Callable[[str], bool] | None = None) -> Detection:
    """The format to read `path` in: `fmt` itself unless it is "auto", else decided on
    the file's first lines (`judge_lines`, `is_tag` as there). Stdin is peeked at, not
    consumed."""
    if fmt not in FORMATS:
        raise ConfigError(f"--input-format: unknown format '{fmt}' ({', '.join(FORMATS)})")
    if fmt != "auto":
        return Detection(fmt, "--input-format")
    return judge_lines(head_lines(path, encoding), tagged=tagged, is_tag=is_tag)


def read_sentences(path: str, fmt: str = "auto", word_column: int = 0, tag_column: int | None = -1,
                   tag_field: str = "upos", encoding: str = "utf-8", layout: bool = False) -> Iterator[Sentence]:
    """Sentences of a CoNLL, CoNLL-U or plain tokenized file (one sentence a line).

    `auto` decides on the first lines (`detect_input_format`; files with tags, i.e.
    `tag_column` not None, are CoNLL-U or CoNLL). `layout`: see `read_conll`."""
    if tag_column is not None and tag_column == word_column and fmt in ("auto", "conll"):
        raise ConfigError(f"the word and tag columns are the same ({word_column}): choose another tag or word column")
    if tag_column is not None:
        fmt, hint = judge_tagged(path, fmt, encoding)
    else:
        fmt, hint = detect_input_format(path, fmt, encoding).format, None
    if fmt == "conllu":
        return read_conllu(path, tag_field=tag_field if tag_column is not None else None, encoding=encoding,
                           layout=layout)
    if fmt == "text":
        return read_tokenized(path, encoding, layout=layout)
    sentences = read_conll(path, word_column=word_column, tag_column=tag_column, encoding=encoding, layout=layout)
    return hinted(sentences, hint) if hint else sentences


def judge_tagged(path: str, fmt: str = "auto", encoding: str = "utf-8") -> tuple[str, str | None]:
    """The format of a file that must hold tags: `fmt` unless it is "auto", else CoNLL-U or
    CoNLL decided on its first lines, and then what to add to an input error in it when
    those lines read as text without doubt (a sentence a line, given where tagged columns
    are needed), else None."""
    if fmt != "auto":
        return detect_input_format(path, fmt, encoding, tagged=True).format, None
    lines = head_lines(path, encoding)
    untagged = judge_lines(lines)
    hint = None
    if untagged.format == "text" and not untagged.ambiguous and untagged.reason != "no sentences":
        hint = f"the file looks like {DESCRIPTIONS['text']} ({untagged.reason}), not CoNLL columns with tags"
    return judge_lines(lines, tagged=True).format, hint


def hinted(sentences: Iterator[Sentence], hint: str) -> Iterator[Sentence]:
    """`sentences`, an input error among them ending in `hint`."""
    try:
        yield from sentences
    except UnreadableError:
        raise
    except DataFormatError as exc:
        raise DataFormatError(exc.path, exc.line, f"{exc.message}; {hint}") from None


def read_tagged_file(path: str, fmt: str = "auto", word_column: int = 0, tag_column: int = -1,
                     tag_field: str = "upos", encoding: str = "utf-8") -> list[Sentence]:
    """The non-empty sentences of a tagged file, every one with tags."""
    if fmt == "text":
        raise ConfigError(f"{display_name(path)}: --input-format text has no tags (use conll or conllu)")
    sentences = [s for s in read_sentences(path, fmt, word_column, tag_column, tag_field, encoding) if len(s) > 0]
    if not sentences:
        raise DataFormatError(display_name(path), None, "file is empty (no sentences)")
    if any(s.tags is None for s in sentences):
        raise DataFormatError(display_name(path), None, "has no tag column")
    return sentences


def detect_sentence_scheme(sentences: Iterable[Sentence], path: str, default: str = "bio",
                           fix: str = "use --scheme plain") -> str:
    """`detect_scheme` over sentences' tags, a tag set that mixes chunk tags with other
    tags refused at the first offending tag's line; `fix` ends the message (what to do
    if the tags really are labels of their own)."""
    seen: list[Sentence] = []

    def tags() -> Iterator[list[str]]:
        for s in sentences:
            seen.append(s)
            yield s.tags or []

    try:
        return detect_scheme(tags(), default)
    except MixedTagsError as exc:
        where = seen[exc.sequence].line_of(exc.position)
        raise DataFormatError(display_name(path), where, f"{exc.message}; if the tags are labels of their own "
                              f"(such as POS tags), {fix}") from None
