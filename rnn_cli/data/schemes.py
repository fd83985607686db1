"""Tag schemes for chunks and entities (IOB1, BIO, BIOES), with spans as the common
currency: `to_spans` reads tags, `from_spans` writes them, `convert` goes through
both. `validate` is strict; `allowed_transitions` gives the same rules as masks for a
CRF, so that constrained decoding can only produce valid sequences.

A tag is `O` or `P-TYPE`, P one of the scheme's prefixes; TYPE may hold hyphens (only
the first one splits). A span is `(type, start, end)` with `end` exclusive. Tag sets
with other tags (POS tags such as `NN`) use the `plain` scheme: no spans, and every
sequence is valid.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Span = tuple[str, int, int]
Parsed = tuple[str, str]  # (prefix, type); ("O", "") for O

OUTSIDE = "O"
PLAIN = "plain"

SCHEMES: dict[str, str] = {
    "iob1": "IOB1 (CoNLL-2003): I-X starts an entity; B-X only where two X entities touch",
    "bio": "BIO, also IOB2 (CoNLL-2000): B-X starts every entity, I-X continues it",
    "bioes": "BIOES, also IOBES: B-X begins, I-X inside, E-X ends, S-X a one-token entity",
    PLAIN: "no scheme: tags are labels of their own (POS tags), any sequence is valid",
}

_PREFIXES: dict[str, tuple[str, ...]] = {"iob1": ("B", "I"), "bio": ("B", "I"), "bioes": ("B", "I", "E", "S")}
_OPEN = ("B", "I")  # prefixes after which an entity is still open


class SchemeError(ValueError):
    """An invalid tag, or a tag that may not stand where it does, at `position` (0-based).

    The readers turn it into a `DataFormatError` at the token's line."""

    def __init__(self, position: int, tag: str, message: str) -> None:
        self.position = position
        self.tag = tag
        self.message = message
        super().__init__(f"position {position}: {message}")


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"invalid tag scheme: {scheme!r} (choose from {', '.join(SCHEMES)})")


def _check_spans_scheme(scheme: str) -> None:
    _check_scheme(scheme)
    if scheme == PLAIN:
        raise ValueError("plain tags have no spans (choose from iob1, bio, bioes)")


def split_tag(tag: str) -> Parsed | None:
    """`("O", "")` for O, `("B", "PER")` for B-PER (prefixes B, I, E, S), None for any other tag."""
    if tag == OUTSIDE:
        return OUTSIDE, ""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BIES":
        return tag[0], tag[2:]
    return None


def _parse(tags: Sequence[str], scheme: str) -> list[Parsed]:
    if scheme == PLAIN:
        return [(tag, "") for tag in tags]
    prefixes = _PREFIXES[scheme]
    parsed = []
    for i, tag in enumerate(tags):
        p = split_tag(tag)
        if p is None or (p[0] != OUTSIDE and p[0] not in prefixes):
            allowed = "/".join(f"{x}-" for x in prefixes)
            raise SchemeError(i, tag, f"tag {tag!r} is not valid in {scheme} (expected O or {allowed} and a type)")
        parsed.append(p)
    return parsed


def _can_start(cur: Parsed, scheme: str) -> bool:
    if scheme == "bio":
        return cur[0] != "I"
    if scheme == "iob1":
        return cur[0] != "B"
    if scheme == "bioes":
        return cur[0] in (OUTSIDE, "B", "S")
    return True


def _can_follow(prev: Parsed, cur: Parsed, scheme: str) -> bool:
    inside_same = prev[0] in _OPEN and prev[1] == cur[1]
    if scheme == "bio":
        return cur[0] != "I" or inside_same
    if scheme == "iob1":
        return cur[0] != "B" or inside_same
    if scheme == "bioes":
        if prev[0] in _OPEN:
            return cur[0] in ("I", "E") and inside_same
        return cur[0] in (OUTSIDE, "B", "S")
    return True


def _can_end(cur: Parsed, scheme: str) -> bool:
    return scheme != "bioes" or cur[0] not in _OPEN


def _hint(cur: Parsed, scheme: str) -> str:
    if scheme == "bio" and cur[0] == "I":
        return f" (an entity starts with B-{cur[1]})"
    if scheme == "iob1" and cur[0] == "B":
        return f" (B- only separates two touching {cur[1]} entities; an entity starts with I-{cur[1]})"
    return ""


def validate(tags: Sequence[str], scheme: str) -> None:
    """Raise `SchemeError` at the first tag that is unknown to `scheme` or may not stand
    where it does (I-X after O in bio, B-X after O in iob1, E-X without B-X in bioes...).

    IOB1 is taken strictly: B-X only right after B-X or I-X."""
    _check_scheme(scheme)
    parsed = _parse(tags, scheme)
    for i, cur in enumerate(parsed):
        if i == 0:
            if not _can_start(cur, scheme):
                raise SchemeError(i, tags[i], f"{tags[i]!r} cannot start a sentence in {scheme}{_hint(cur, scheme)}")
        elif not _can_follow(parsed[i - 1], cur, scheme):
            hint = _hint(cur, scheme)
            if scheme == "bioes" and parsed[i - 1][0] in _OPEN:
                t = parsed[i - 1][1]
                hint = f" (expected I-{t} or E-{t})"
            raise SchemeError(i, tags[i], f"{tags[i]!r} cannot follow {tags[i - 1]!r} in {scheme}{hint}")
    if parsed and not _can_end(parsed[-1], scheme):
        t = parsed[-1][1]
        raise SchemeError(
            len(tags) - 1, tags[-1], f"{tags[-1]!r} cannot end a sentence in {scheme} (expected E-{t} or S-{t})"
        )


def allowed_transitions(
    tag_list: Sequence[str], scheme: str
) -> tuple[list[list[bool]], list[bool], list[bool]]:
    """`(allowed, allowed_start, allowed_end)`: `allowed[i][j]` says whether tag j may
    follow tag i; the others whether tag i may start or end a sentence. A sequence is
    valid under `validate` exactly when all its transitions are allowed. Every tag must
    belong to the scheme (strip specials such as padding first)."""
    _check_scheme(scheme)
    parsed = _parse(tag_list, scheme)
    allowed = [[_can_follow(a, b, scheme) for b in parsed] for a in parsed]
    return allowed, [_can_start(p, scheme) for p in parsed], [_can_end(p, scheme) for p in parsed]


def to_spans(tags: Sequence[str], scheme: str) -> list[Span]:
    """The entities of a tag sequence, in order.

    Invalid sequences are read leniently, as conlleval does, rather than rejected
    (`validate` is the strict check): B-X and S-X always start an entity, I-X or E-X
    start one unless they continue an open X entity, and E-X closes it. So a model's
    I-PER after O still counts as a PER entity. Unknown tags raise `SchemeError`."""
    _check_spans_scheme(scheme)
    spans: list[Span] = []
    kind, start = "", -1  # the open entity, start -1 when none
    for i, (p, t) in enumerate(_parse(tags, scheme)):
        if start >= 0 and (p not in ("I", "E") or t != kind):
            spans.append((kind, start, i))
            start = -1
        if p != OUTSIDE and start < 0:
            kind, start = t, i
        if p in ("E", "S"):
            spans.append((kind, start, i + 1))
            start = -1
    if start >= 0:
        spans.append((kind, start, len(tags)))
    return spans


def from_spans(spans: Iterable[Span], length: int, scheme: str) -> list[str]:
    """Tags of `length` tokens holding `spans` (non-overlapping, in any order) in `scheme`."""
    _check_spans_scheme(scheme)
    tags = [OUTSIDE] * length
    prev_kind, prev_end = "", -1
    for kind, start, end in sorted(spans, key=lambda s: (s[1], s[2])):
        if not kind or not 0 <= start < end <= length:
            raise ValueError(f"invalid span {(kind, start, end)!r} for {length} tokens")
        if start < prev_end:
            raise ValueError(f"span {(kind, start, end)!r} overlaps the one before it")
        if scheme == "bioes" and end - start == 1:
            tags[start] = f"S-{kind}"
        else:
            touching = start == prev_end and kind == prev_kind
            first = "I" if scheme == "iob1" and not touching else "B"
            tags[start] = f"{first}-{kind}"
            for j in range(start + 1, end):
                tags[j] = f"I-{kind}"
            if scheme == "bioes":
                tags[end - 1] = f"E-{kind}"
        prev_kind, prev_end = kind, end
    return tags


def convert(tags: Sequence[str], source: str, target: str) -> list[str]:
    """Re-encode tags from one scheme to another through their spans. The result is
    always valid in `target`, even for an invalid input (read as `to_spans` does), so
    converting a scheme to itself repairs a sequence. `plain` converts only to itself."""
    _check_scheme(source)
    _check_scheme(target)
    if source == PLAIN and target == PLAIN:
        return list(tags)
    return from_spans(to_spans(tags, source), len(tags), target)


class MixedTagsError(SchemeError):
    """A tag set that mixes chunk tags with tags that are neither chunk tags nor O, at
    tag `position` of the `sequence`-th sequence (0-based). `bilou`: the tag is an L-/U-
    tag of the BILOU scheme, which rnn-cli reads as BIOES (E-/S-)."""

    def __init__(self, sequence: int, position: int, tag: str, message: str, bilou: bool = False) -> None:
        super().__init__(position, tag, message)
        self.sequence = sequence
        self.bilou = bilou


def _bilou(tag: str) -> bool:
    return len(tag) > 2 and tag[1] == "-" and tag[0] in "LU"


def detect_scheme(sequences: Iterable[Sequence[str]], default: str = "bio") -> str:
    """Guess the scheme of tag sequences: "iob1", "bio", "bioes" or "plain".

    - Only tags other than O and B-/I-/E-/S- + type (POS tags): "plain".
    - Both kinds, i.e. chunk tags and tags that are neither chunk tags nor O (a typo
      such as Q-XYZ among BIO tags, or B-X among POS tags): `MixedTagsError` at the
      first tag of the rarer kind (the other kind on a tie), rather than a silent
      "plain". So are BILOU's L-/U- tags (rnn-cli reads BIOES, their E-/S-).
    - Any E- or S- tag: "bioes".
    - Otherwise each entity start that does not follow B-X/I-X of its own type is a vote:
      I-X there is only valid in IOB1, B-X there only in BIO. More IOB1 votes: "iob1";
      otherwise, with any vote, "bio" (ties too: the minority then fails `validate`,
      which points at it).
    - No votes at all, i.e. only O tags or no tags: such data is the same in every
      scheme, and `default` is returned. (Any entity casts a vote, so data valid in
      both IOB1 and BIO has no entities.)"""
    _check_scheme(default)
    iob1_votes = bio_votes = 0
    bioes = False
    counts = {"chunk": 0, "plain": 0}
    first: dict[str, tuple[int, int, str]] = {}  # kind -> (sequence, position, tag) of its first tag
    for k, tags in enumerate(sequences):
        prev: Parsed = (OUTSIDE, "")
        for i, tag in enumerate(tags):
            cur = split_tag(tag)
            if cur is None:
                kind = "bilou" if _bilou(tag) else "plain"
                counts["chunk" if kind == "bilou" else kind] += 1
                first.setdefault(kind, (k, i, tag))
                prev = (OUTSIDE, "")
                continue
            if cur[0] != OUTSIDE:
                counts["chunk"] += 1
                first.setdefault("chunk", (k, i, tag))
            if cur[0] in ("E", "S"):
                bioes = True
            elif cur[0] in _OPEN and not (prev[0] in _OPEN and prev[1] == cur[1]):
                if cur[0] == "I":
                    iob1_votes += 1
                else:
                    bio_votes += 1
            prev = cur
    if "bilou" in first and not counts["plain"]:
        k, i, tag = first["bilou"]
        raise MixedTagsError(k, i, tag, f"tag {tag!r} is a BILOU tag; rnn-cli reads BIOES, where L- is E- and "
                             "U- is S- (rewrite them, e.g. with sed)", bilou=True)
    if counts["plain"] and counts["chunk"]:
        first["chunk"] = min(first[kind] for kind in ("chunk", "bilou") if kind in first)
        odd = "chunk" if counts["chunk"] < counts["plain"] else "plain"
        k, i, tag = first[odd]
        other = first["plain" if odd == "chunk" else "chunk"][2]
        if odd == "plain":
            n = counts["chunk"]
            what = f"tag {tag!r} is neither O nor a chunk tag (B-, I-, E- or S- and a type), while {n:,} " \
                   f"tag{'s are' if n > 1 else ' is'} (such as {other!r})"
        else:
            what = f"tag {tag!r} looks like a chunk tag (B-, I-, E- or S- and a type) among plain tags such as " \
                   f"{other!r}"
        raise MixedTagsError(k, i, tag, what)
    if counts["plain"]:
        return PLAIN
    if bioes:
        return "bioes"
    if iob1_votes > bio_votes:
        return "iob1"
    return "bio" if bio_votes else default
