import gzip
import io
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnn_cli.data.babi import Question, encode_stories, looks_like_babi, read_babi, tokenize_babi
from rnn_cli.data.text import head_lines
from rnn_cli.errors import DataFormatError

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_data"

# Two stories: questions between the statements, a list answer, two supports, a
# support that skips over a question.
SNIPPET = (
    "1 Mary moved to the bathroom.\n"
    "2 John went to the hallway.\n"
    "3 Where is Mary? \tbathroom\t1\n"
    "4 Mary picked up the apple.\n"
    "5 Mary got the football there.\n"
    "6 What is Mary carrying?\tapple,football\t4 5\n"
    "7 Where is John?\thallway\t2\n"
    "1 Sandra travelled to the office.\n"
    "2 Where is Sandra?\toffice\t1\n"
)
MARY, JOHN, APPLE, FOOTBALL = ("Mary moved to the bathroom.", "John went to the hallway.",
                               "Mary picked up the apple.", "Mary got the football there.")
EXPECTED = [
    Question([MARY, JOHN], "Where is Mary?", "bathroom", [0], 3),
    Question([MARY, JOHN, APPLE, FOOTBALL], "What is Mary carrying?", "apple,football", [2, 3], 6),
    Question([MARY, JOHN, APPLE, FOOTBALL], "Where is John?", "hallway", [1], 7),
    Question(["Sandra travelled to the office."], "Where is Sandra?", "office", [0], 9),
]


def write(tmp_path: Path, text: str | bytes, name: str = "qa.txt") -> str:
    p = tmp_path / name
    data = text.encode("utf-8") if isinstance(text, str) else text
    p.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return str(p)


def read(tmp_path: Path, text: str, answers: str = "required") -> list[Question]:
    return list(read_babi(write(tmp_path, text), answers=answers))


def test_snippet(tmp_path):
    assert read(tmp_path, SNIPPET) == EXPECTED


def test_crlf_gz_and_blank_lines(tmp_path):
    crlf = SNIPPET.replace("\n", "\r\n")
    assert read(tmp_path, crlf) == EXPECTED
    assert list(read_babi(write(tmp_path, crlf, "qa.txt.gz"))) == EXPECTED
    assert read(tmp_path, "\n" + SNIPPET.replace("7 Where", "\n   \n7 Where")) == [
        Question(q.story, q.question, q.answer, q.supports, q.line + (q.line >= 7) * 2 + 1) for q in EXPECTED
    ]


def test_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(SNIPPET.encode())))
    assert list(read_babi("-")) == EXPECTED


def test_stdin_subprocess():
    """A real process reading `-`; the reader needs no torch."""
    code = ("import sys; from rnn_cli.data.babi import read_babi; qs = list(read_babi('-'));"
            "print(len(qs), qs[1].answer, qs[1].supports, 'torch' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], input=SNIPPET.encode(), capture_output=True, env=env,
                         timeout=120, check=True)
    assert out.stdout.decode().split() == ["4", "apple,football", "[2,", "3]", "False"]


def test_streams(tmp_path):
    """The first question comes before the bad line at the end is read."""
    questions = read_babi(write(tmp_path, SNIPPET + "x broken\n"))
    assert next(questions) == EXPECTED[0]
    with pytest.raises(DataFormatError, match="line id"):
        list(questions)


def test_samples():
    for name, count in [("babi.qa1.train.txt", 300), ("babi.qa1.test.txt", 100), ("babi.qa2.test.txt", 100)]:
        questions = list(read_babi(str(SAMPLES / name)))
        assert len(questions) == count
        assert all(q.answer and q.supports and q.story for q in questions)
    qa2 = list(read_babi(str(SAMPLES / "babi.qa2.test.txt")))
    assert {len(q.supports) for q in qa2} == {2}  # task 2: two supporting facts


def test_optional_answers(tmp_path):
    text = ("1 Mary moved to the bathroom.\n"
            "2 Where is Mary?\n"
            "3 Where is Mary? \t\n"
            "4 Where is Mary?\tbathroom\t1\n"
            "5 John went to the hallway.\n")
    got = read(tmp_path, text, answers="optional")
    assert [(q.story, q.question, q.answer, q.supports, q.line) for q in got] == [
        ([MARY], "Where is Mary?", None, [], 2),
        ([MARY], "Where is Mary?", None, [], 3),
        ([MARY], "Where is Mary?", "bathroom", [0], 4),
    ]
    # a tab makes a question even without '?'; "ignore" drops answers and does not check them
    got = read(tmp_path, "1 Mary moved.\n2 Tell me where Mary is\t\n3 Where?\tx\t9 nonsense\textra\n", "ignore")
    assert [(q.question, q.answer, q.supports) for q in got] == [("Tell me where Mary is", None, []),
                                                                ("Where?", None, [])]


def test_bad_mode(tmp_path):
    with pytest.raises(ValueError, match="invalid answers mode: 'maybe'"):
        read_babi(write(tmp_path, SNIPPET), answers="maybe")


HEAD = "1 Mary moved to the bathroom.\n2 John went to the hallway.\n"


@pytest.mark.parametrize("bad, message", [
    ("x Where is Mary?\tbathroom\t1", "expected a line id (a number) and a space, found 'x'"),
    ("3\tWhere is Mary?\tbathroom\t1", "a tab after the line id 3: expected a space (ID text)"),
    ("4 Where is Mary?\tbathroom\t1", "id 4 after id 2: ids go up by one within a story, and a new story starts at 1"),
    ("2 Where is Mary?\tbathroom\t1", "id 2 after id 2"),
    ("0 Where is Mary?\tbathroom\t1", "id 0 after id 2"),
    ("3 Where is Mary?\tbathroom\t3", "supporting id 3 does not come before the question (id 3)"),
    ("3 Where is Mary?\tbathroom\t1 7", "supporting id 7 does not come before the question (id 3)"),
    ("3 Where is Mary?\tbathroom\t0", "supporting id 0 is outside the story (its ids start at 1)"),
    ("3 Where is Mary?\tbathroom\t-1", "supporting id '-1' is not a line id (a positive number)"),
    ("3 Where is Mary?\tbathroom\tone", "supporting id 'one' is not a line id"),
    ("3 Where is Mary?", "a question without an answer (a line that ends in '?' is a question): expected ID question"),
    ("3 Where is Mary?\t", "a question without an answer: expected ID question<TAB>answer<TAB>supporting ids"),
    ("3 Where is Mary?\t \t", "a question without an answer"),
    ("3 Where is Mary?\t\t1", "supporting ids '1' but no answer"),
    ("3 Where is Mary?\tbathroom\t1\t2", "4 tab-separated fields, expected at most 3"),
    ("3  ", "an empty statement (id 3)"),
    ("3", "an empty statement (id 3)"),
    ("3 \tbathroom\t1", "an empty question (id 3)"),
])
def test_malformed(tmp_path, bad, message):
    with pytest.raises(DataFormatError) as info:
        read(tmp_path, HEAD + bad + "\n4 Daniel went to the garden.\n")
    assert info.value.line == 3
    assert info.value.path.endswith("qa.txt")
    assert message in info.value.message


def test_malformed_later_lines(tmp_path):
    """A support that points at a question; ids of a new story; the first line."""
    cases = [
        (HEAD + "3 Where is Mary?\tbathroom\t1\n4 Where is John?\thallway\t3\n", 4,
         "supporting id 3 is a question, not a statement"),
        (HEAD + "3 Where is Mary?\tbathroom\t1\n1 Sandra left.\n3 Where is Sandra?\toffice\t1\n", 5, "id 3 after id 1"),
        (HEAD + "3 Where is Mary?\tbathroom\t1\n1 Sandra left.\n2 Where is Sandra?\toffice\t2\n", 5,
         "supporting id 2 does not come before the question (id 2)"),
        ("\n2 Mary moved.\n", 2, "the first line has id 2: a story starts at id 1"),
    ]
    for text, line, message in cases:
        with pytest.raises(DataFormatError) as info:
            read(tmp_path, text)
        assert (info.value.line, message in info.value.message) == (line, True), info.value.message


def test_tokenize():
    assert tokenize_babi("Where is Mary? ") == ["where", "is", "mary"]
    assert tokenize_babi("Mary got the football, then left.") == ["mary", "got", "the", "football", "then", "left"]
    assert tokenize_babi(" . ? ") == []


def unlabelled(text: str) -> list[str]:
    """bAbI as prediction input: the answer fields cut off."""
    return [line.split("\t")[0] for line in text.splitlines()]


def test_looks_like_babi():
    for name in ["babi.qa1.train.txt", "babi.qa1.test.txt", "babi.qa2.test.txt"]:
        lines = head_lines(str(SAMPLES / name))
        assert looks_like_babi(lines), name
        assert looks_like_babi(unlabelled("\n".join(lines))), name
        assert looks_like_babi([line.split("\t")[0] + "\t" if "\t" in line else line for line in lines]), name
    assert looks_like_babi(SNIPPET.splitlines())
    assert looks_like_babi(["", *SNIPPET.splitlines()[:3]])  # one story, but labelled
    assert looks_like_babi(unlabelled(SNIPPET))


@pytest.mark.parametrize("lines", [
    ["1 apples", "2 pears", "3 plums"],
    ["1 apples", "2 pears", "1 plums", "2 figs"],  # restarts, but no question
    ["1 Mary moved.", "2 Where is Mary?"],  # unlabelled, one story only: too weak to tell
    ["1 Why?", "2 Because.", "1 How?", "2 So."],  # a story does not start with a question
    ["1 Mary moved.", "2 John left.", "1 Mary came back.", "2 Where is Mary?"],  # a whole story without a question
    ["1 apples\t3", "2 pears\t5"],  # a numbered TSV
    ["1 Mary moved.", "2 John left.\t12\t3"],  # a tab line that is no question: support points past it
    ["1 Mary moved.", "2 Where?\tkitchen\t2"],
    ["1 Mary moved.", "2 Where?\t\t1"],
    ["1 Mary moved.", "2 Where?\ta\t1\tb"],
    ["2 Mary moved.", "3 Where?\tkitchen\t2"],  # the first id is not 1
    ["1 Mary moved.", "3 Where?\tkitchen\t1"],
    ["1 Mary moved.", "2 Where?\tkitchen\t1", "three Where?\tkitchen\t1"],
    ["The cat sat on the mat.", "It was happy."],
    ["pos\tA fine film.", "neg\tA dull one."],
    [],
    ["", "  "],
])
def test_not_babi(lines):
    assert not looks_like_babi(lines)


def test_not_babi_samples():
    for name in ["ewt.train.conllu", "names.train.conll", "ewt.genre.train.tsv", "shakespeare.train.txt",
                 "trees.train.txt"]:
        assert not looks_like_babi(head_lines(str(SAMPLES / name))), name
    conllu_words = [line for line in head_lines(str(SAMPLES / "ewt.train.conllu")) if line[:1].isdigit()]
    assert conllu_words and not looks_like_babi(conllu_words)


def dense(batch) -> list:
    """Per row, its facts as lists without padding, its question and supports."""
    out = []
    for b in range(batch.size):
        n = int(batch.num_facts[b])
        facts = [batch.facts[b, f, :int(batch.fact_lengths[b, f])].tolist() for f in range(n)]
        q = batch.question[b, :int(batch.question_lengths[b])].tolist()
        s = [x for x in batch.supports[b].tolist() if x >= 0] if batch.supports is not None else None
        out.append((facts, q, s))
    return out


def test_encode_padding():
    stories = [[[5, 6, 7], [8]], [[9, 10]]]
    batch = encode_stories(stories, [[3, 4], [2]], [7, 8], [[1, 0], []], [4, 2])
    assert batch.facts.tolist() == [[[5, 6, 7], [8, 0, 0]], [[9, 10, 0], [0, 0, 0]]]
    assert batch.fact_lengths.tolist() == [[3, 1], [2, 0]]
    assert batch.num_facts.tolist() == [2, 1]
    assert batch.question.tolist() == [[3, 4], [2, 0]]
    assert batch.question_lengths.tolist() == [2, 1]
    assert batch.labels.tolist() == [7, 8]
    assert batch.supports.tolist() == [[1, 0], [-1, -1]]
    assert batch.indices == [4, 2]
    assert batch.fact_mask.tolist() == [[True, True], [True, False]]
    assert all(t.dtype == torch.long for t in (batch.facts, batch.fact_lengths, batch.num_facts, batch.question,
                                                batch.question_lengths, batch.labels, batch.supports))


def test_encode_empty_cases():
    batch = encode_stories([[], [[], [4]]], [[], [5]], None, [[], []], [0, 1])
    assert batch.facts.tolist() == [[[1], [0]], [[1], [4]]]
    assert batch.fact_lengths.tolist() == [[1, 0], [1, 1]]
    assert batch.num_facts.tolist() == [1, 2]
    assert batch.question.tolist() == [[1], [5]]
    assert batch.labels is None
    assert batch.supports.tolist() == [[-1], [-1]]  # S >= 1
    assert encode_stories([[[2]]], [[3]], [0], None, [0]).supports is None


def test_encode_max_facts():
    story = [[10 + i] for i in range(6)]
    batch = encode_stories([story, story[:2]], [[1], [1]], [0, 0], [[5, 1, 3], [1]], [0, 1], max_facts=3)
    assert batch.facts[:, :, 0].tolist() == [[13, 14, 15], [10, 11, 0]]
    assert batch.num_facts.tolist() == [3, 2]
    assert batch.supports.tolist() == [[2, 0], [1, -1]]  # 5 -> 2, 1 falls off, 3 -> 0
    assert encode_stories([story], [[1]], None, [[0]], [0], max_facts=3).supports.tolist() == [[-1]]


def test_encode_matches_its_rows():
    rng = random.Random(3)
    for _ in range(30):
        size = rng.randint(1, 6)
        stories = [[[rng.randint(2, 50) for _ in range(rng.randint(0, 5))] for _ in range(rng.randint(0, 7))]
                   for _ in range(size)]
        questions = [[rng.randint(2, 50) for _ in range(rng.randint(0, 4))] for _ in range(size)]
        supports = [rng.sample(range(len(s)), min(len(s), rng.randint(0, 3))) for s in stories]
        cap = rng.choice([0, 1, 3])
        batch = encode_stories(stories, questions, list(range(size)), supports, list(range(size)), max_facts=cap)
        for story, q, sup, (facts, qq, ss) in zip(stories, questions, supports, dense(batch)):
            cut = max(0, len(story) - cap) if cap else 0
            assert facts == ([f or [1] for f in story[cut:]] or [[1]])
            assert qq == (q or [1])
            assert ss == [s - cut for s in sup if s >= cut]
        assert batch.fact_lengths.gt(0).sum(1).tolist() == batch.num_facts.tolist()
        assert batch.facts.gt(0).sum(2).tolist() == batch.fact_lengths.tolist()
        assert batch.facts.shape == (size, int(batch.num_facts.max()), int(batch.fact_lengths.max()))


def test_encode_errors():
    with pytest.raises(ValueError, match="2 stories but 1 questions"):
        encode_stories([[[2]], [[3]]], [[1]], None, None, [0, 1])
    with pytest.raises(ValueError, match="row 0: supporting fact 2 outside its 2 facts"):
        encode_stories([[[2], [3]]], [[1]], None, [[2]], [0])
    with pytest.raises(ValueError, match="invalid max_facts: -1"):
        encode_stories([[[2]]], [[1]], None, None, [0], max_facts=-1)
    with pytest.raises(ValueError, match="no questions"):
        encode_stories([], [], None, None, [])
