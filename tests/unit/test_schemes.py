import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_cli.data.schemes import (
    SCHEMES,
    MixedTagsError,
    SchemeError,
    allowed_transitions,
    convert,
    detect_scheme,
    from_spans,
    split_tag,
    to_spans,
    validate,
)

SPAN_SCHEMES = ["iob1", "bio", "bioes"]


@st.composite
def span_sets(draw):
    """Random non-overlapping spans over a random length, as (spans, length)."""
    pieces = draw(st.lists(st.one_of(
        st.just(None),
        st.tuples(st.sampled_from(["PER", "LOC", "B-X"]), st.integers(1, 4)),
    ), max_size=8))
    spans, pos = [], 0
    for piece in pieces:
        if piece is None:
            pos += 1
        else:
            kind, n = piece
            spans.append((kind, pos, pos + n))
            pos += n
    return spans, pos + draw(st.integers(0, 2))


@settings(max_examples=150, deadline=None)
@given(span_sets())
def test_spans_round_trip_through_every_pair_of_schemes(case):
    spans, length = case
    for source in SPAN_SCHEMES:
        tags = from_spans(spans, length, source)
        assert len(tags) == length
        validate(tags, source)
        assert to_spans(tags, source) == spans
        for target in SPAN_SCHEMES:
            converted = convert(tags, source, target)
            assert converted == from_spans(spans, length, target)
            assert to_spans(converted, target) == spans
            assert convert(converted, target, source) == tags


@settings(max_examples=100, deadline=None)
@given(span_sets())
def test_detect_scheme_recognises_generated_tags(case):
    spans, length = case
    for scheme in SPAN_SCHEMES:
        expected = scheme if spans else "bio"
        assert detect_scheme([from_spans(spans, length, scheme)]) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["O", "B-A", "I-A", "B-B", "I-B", "E-A", "S-B"]), max_size=10))
def test_lenient_reading_gives_well_formed_spans_and_convert_repairs(tags):
    for scheme in SPAN_SCHEMES:
        if scheme != "bioes" and any(t[0] in "ES" for t in tags):
            continue
        spans = to_spans(tags, scheme)
        assert all(0 <= s < e <= len(tags) for _, s, e in spans)
        assert all(a[2] <= b[1] for a, b in itertools.pairwise(spans))
        for target in SPAN_SCHEMES:
            fixed = convert(tags, scheme, target)
            validate(fixed, target)
            assert to_spans(fixed, target) == spans


@pytest.mark.parametrize("tags, scheme, spans", [
    (["I-PER", "I-PER", "O"], "bio", [("PER", 0, 2)]),  # conlleval: I- after O starts an entity
    (["B-PER", "I-LOC", "I-LOC"], "bio", [("PER", 0, 1), ("LOC", 1, 3)]),
    (["I-PER", "B-PER", "I-PER"], "iob1", [("PER", 0, 1), ("PER", 1, 3)]),
    (["B-PER", "E-PER", "E-PER", "S-LOC", "I-LOC"], "bioes", [("PER", 0, 2), ("PER", 2, 3), ("LOC", 3, 4),
                                                          ("LOC", 4, 5)]),
    (["B-PER", "O"], "bioes", [("PER", 0, 1)]),
    (["I-B-X", "I-B-X"], "iob1", [("B-X", 0, 2)]),
    ([], "bioes", []),
])
def test_to_spans_examples(tags, scheme, spans):
    assert to_spans(tags, scheme) == spans


def test_from_spans_examples_and_errors():
    spans = [("LOC", 3, 4), ("PER", 0, 2), ("PER", 2, 3)]
    assert from_spans(spans, 5, "iob1") == ["I-PER", "I-PER", "B-PER", "I-LOC", "O"]
    assert from_spans(spans, 5, "bio") == ["B-PER", "I-PER", "B-PER", "B-LOC", "O"]
    assert from_spans(spans, 5, "bioes") == ["B-PER", "E-PER", "S-PER", "S-LOC", "O"]
    with pytest.raises(ValueError, match="overlaps"):
        from_spans([("A", 0, 2), ("B", 1, 3)], 4, "bio")
    for bad in [("A", 2, 2), ("A", 0, 5), ("", 0, 1), ("A", -1, 1)]:
        with pytest.raises(ValueError, match="invalid span"):
            from_spans([bad], 4, "bio")
    with pytest.raises(ValueError, match="plain"):
        from_spans([], 3, "plain")


def test_unknown_scheme_and_plain_conversion():
    with pytest.raises(ValueError, match="invalid tag scheme: 'iob2'"):
        validate(["O"], "iob2")
    assert convert(["NN", "VB"], "plain", "plain") == ["NN", "VB"]
    with pytest.raises(ValueError, match="plain"):
        convert(["O"], "plain", "bio")
    with pytest.raises(ValueError, match="plain"):
        to_spans(["NN"], "plain")
    assert set(SCHEMES) == {"iob1", "bio", "bioes", "plain"}


def test_split_tag():
    assert split_tag("O") == ("O", "")
    assert split_tag("B-PER") == ("B", "PER")
    assert split_tag("E-B-X") == ("E", "B-X")
    for tag in ["NN", "-LRB-", "B-", "B", "X-PER", "b-per", "o"]:
        assert split_tag(tag) is None


CONLL2003 = [  # IOB1: entities start with I-, B- only between touching same-type entities
    ["I-ORG", "O", "I-PER", "I-PER"],
    ["O", "I-MISC", "B-MISC", "O", "I-LOC", "I-PER"],
]
CONLL2000 = [["B-NP", "I-NP", "B-VP", "B-NP", "O"], ["B-PP", "B-NP", "I-NP"]]


@pytest.mark.parametrize("sequences, expected", [
    (CONLL2003, "iob1"),
    (CONLL2000, "bio"),
    ([["B-PER", "E-PER", "O"], ["O", "B-LOC"]], "bioes"),  # any E-/S- means bioes
    ([["S-LOC"]], "bioes"),
    ([["NN", "VBZ", "."]], "plain"),
    ([["O", "O"], []], "bio"),  # no entities: the default
    ([], "bio"),
    ([["I-PER", "O", "B-PER", "O", "B-LOC"]], "bio"),  # 2 BIO votes beat 1 IOB1 vote
    ([["I-PER", "O", "I-LOC", "O", "B-LOC"]], "iob1"),
    ([["I-PER", "O", "B-PER"]], "bio"),  # a tie
    ([["B-PER", "B-PER"]], "bio"),  # B-X after O/start is only valid in BIO
])
def test_detect_scheme_examples(sequences, expected):
    assert detect_scheme(sequences) == expected


@pytest.mark.parametrize("sequences, where, tag", [
    ([["B-PER", "I-PER", "O"], ["O", "Q-XYZ", "B-LOC"]], (1, 1), "Q-XYZ"),  # a typo among BIO tags
    ([["B-NP", "I-NP"], ["NN"]], (1, 0), "NN"),
    ([["NN", "VB", "B-X"], ["JJ", "B-Y"]], (0, 2), "B-X"),  # chunk-like tags among POS tags: the rarer kind
    ([["NN", "B-X"]], (0, 0), "NN"),  # a tie: the tag that is not a chunk tag
    ([["B-PER", "L-PER", "O", "U-LOC"]], (0, 1), "L-PER"),  # BILOU
])
def test_detect_scheme_refuses_mixed_tag_sets_at_the_odd_tag(sequences, where, tag):
    with pytest.raises(MixedTagsError) as exc:
        detect_scheme(sequences)
    assert (exc.value.sequence, exc.value.position) == where and exc.value.tag == tag
    assert repr(tag) in exc.value.message
    assert exc.value.bilou == tag.startswith(("L-", "U-"))


def test_detect_scheme_default_and_streaming_input():
    assert detect_scheme([["O"]], default="iob1") == "iob1"
    assert detect_scheme(iter(CONLL2003)) == "iob1"
    with pytest.raises(ValueError):
        detect_scheme([], default="nope")


@pytest.mark.parametrize("tags, scheme, position, bad", [
    (["O", "I-PER"], "bio", 1, "I-PER"),
    (["I-PER"], "bio", 0, "I-PER"),
    (["B-PER", "I-LOC"], "bio", 1, "I-LOC"),
    (["O", "E-PER"], "bio", 1, "E-PER"),  # prefix unknown to bio
    (["O", "B-PER"], "iob1", 1, "B-PER"),
    (["B-PER"], "iob1", 0, "B-PER"),
    (["I-LOC", "B-PER"], "iob1", 1, "B-PER"),
    (["O", "E-X"], "bioes", 1, "E-X"),
    (["I-X", "E-X"], "bioes", 0, "I-X"),
    (["B-X", "O"], "bioes", 1, "O"),
    (["B-X", "E-Y"], "bioes", 1, "E-Y"),
    (["B-X", "S-X"], "bioes", 1, "S-X"),
    (["S-X", "I-X"], "bioes", 1, "I-X"),
    (["O", "S-X", "B-X"], "bioes", 2, "B-X"),  # B-X cannot end a sentence
    (["O", "B-X", "I-X"], "bioes", 2, "I-X"),
    (["O", "PER"], "bio", 1, "PER"),
    (["O", "B-"], "bioes", 1, "B-"),
    (["O", "X-PER"], "iob1", 1, "X-PER"),
])
def test_validate_names_position_and_tag(tags, scheme, position, bad):
    with pytest.raises(SchemeError) as exc:
        validate(tags, scheme)
    assert exc.value.position == position and exc.value.tag == bad
    assert repr(bad) in str(exc.value) and f"position {position}" in str(exc.value)


def test_validate_accepts_valid_and_plain():
    validate(CONLL2003[0], "iob1")
    validate(CONLL2000[0], "bio")
    validate(["B-X", "I-X", "E-X", "S-X", "O"], "bioes")
    validate(["NN", "-LRB-", "B-"], "plain")
    validate([], "bioes")


def test_validate_messages_hint_at_the_fix():
    with pytest.raises(SchemeError, match="starts with B-PER"):
        validate(["O", "I-PER"], "bio")
    with pytest.raises(SchemeError, match="expected I-X or E-X"):
        validate(["B-X", "O"], "bioes")


TAG_SETS = {
    "bio": ["O", "B-A", "I-A", "B-B", "I-B"],
    "iob1": ["O", "B-A", "I-A", "B-B", "I-B"],
    "bioes": ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "E-B", "S-B"],
}


def _is_valid(tags, scheme):
    try:
        validate(tags, scheme)
    except SchemeError:
        return False
    return True


@pytest.mark.parametrize("scheme", SPAN_SCHEMES)
def test_allowed_transitions_agree_with_validate_by_brute_force(scheme):
    tag_list = TAG_SETS[scheme]
    allowed, start, end = allowed_transitions(tag_list, scheme)
    n = len(tag_list)
    assert len(allowed) == n and all(len(row) == n for row in allowed) and len(start) == len(end) == n
    for length in range(1, 5):
        for seq in itertools.product(range(n), repeat=length):
            tags = [tag_list[i] for i in seq]
            by_mask = start[seq[0]] and end[seq[-1]] and all(allowed[a][b] for a, b in itertools.pairwise(seq))
            valid = _is_valid(tags, scheme)
            assert by_mask == valid, tags
            # An independent oracle: valid sequences are exactly the canonical encodings of their spans.
            assert valid == (from_spans(to_spans(tags, scheme), length, scheme) == tags), tags


def test_allowed_transitions_examples_plain_and_bad_tags():
    allowed, start, end = allowed_transitions(["O", "B-X", "I-X", "I-Y"], "bio")
    assert allowed[0] == [True, True, False, False]  # O -> I-X forbidden
    assert allowed[1] == [True, True, True, False]  # B-X -> I-Y forbidden
    assert start == [True, True, False, False] and end == [True] * 4
    allowed, start, end = allowed_transitions(["NN", "VB"], "plain")
    assert allowed == [[True, True], [True, True]] and start == end == [True, True]
    with pytest.raises(SchemeError, match="'<pad>'"):
        allowed_transitions(["O", "<pad>"], "bio")
