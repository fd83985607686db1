"""`evaluate --conlleval`: one file whose columns hold gold and predicted tags, scored
as the conlleval script scores it (its report with --format conlleval); plain tag sets
get per-tag scores and confusions; --gold/--pred with columns and CoNLL-U."""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from rnn_cli.cli.app import app


def run(*args, stdin: bytes | None = None, code: int = 0):
    res = CliRunner().invoke(app, [str(a) for a in args], input=stdin)
    assert res.exit_code == code, res.stderr[-2000:]
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res


def encode(spans: list[tuple[str, int, int]], n: int, scheme: str) -> list[str]:
    """Tags of `n` tokens holding `spans` (sorted, apart), written out here by hand for each scheme."""
    tags = ["O"] * n
    prev_kind, prev_end = None, -1
    for kind, a, b in spans:
        if scheme == "bioes" and b - a == 1:
            tags[a] = f"S-{kind}"
        else:
            touching = prev_kind == kind and prev_end == a
            tags[a] = f"{'B' if scheme != 'iob1' or touching else 'I'}-{kind}"
            for i in range(a + 1, b):
                tags[i] = f"I-{kind}"
            if scheme == "bioes":
                tags[b - 1] = f"E-{kind}"
        prev_kind, prev_end = kind, b
    return tags


def random_spans(rng: random.Random, n: int) -> list[tuple[str, int, int]]:
    spans, i = [], 0
    while i < n:
        if rng.random() < 0.4:
            length = min(rng.randint(1, 3), n - i)
            spans.append((rng.choice("AB"), i, i + length))
            i += length
        else:
            i += 1
    return spans


def perturb(rng: random.Random, spans: list[tuple[str, int, int]], n: int) -> list[tuple[str, int, int]]:
    """Predicted spans: the gold ones, some dropped, retyped or shortened, never overlapping."""
    out = []
    for kind, a, b in spans:
        r = rng.random()
        if r < 0.15:
            continue
        if r < 0.3:
            kind = "B" if kind == "A" else "A"
        elif r < 0.4 and b - a > 1:
            b -= 1
        out.append((kind, a, b))
    return out


@pytest.mark.parametrize("scheme", ["iob1", "bio", "bioes"])
def test_conlleval_counts_equal_an_independent_count(tmp_path, scheme):
    rng = random.Random(7)
    lines, expected = [], {"tokens": 0, "correct_tags": 0, "gold": 0, "found": 0, "correct": 0}
    per_type = {k: {"gold": 0, "found": 0, "correct": 0} for k in "AB"}
    for s in range(60):
        n = rng.randint(1, 12)
        gold_spans = random_spans(rng, n)
        pred_spans = perturb(rng, gold_spans, n)
        gold, pred = encode(gold_spans, n, scheme), encode(pred_spans, n, scheme)
        lines += [f"w{s}_{i} X {g} {p}" for i, (g, p) in enumerate(zip(gold, pred))] + [""]
        expected["tokens"] += n
        expected["correct_tags"] += sum(g == p for g, p in zip(gold, pred))
        for key, spans in (("gold", gold_spans), ("found", pred_spans),
                           ("correct", set(gold_spans) & set(pred_spans))):
            expected[key] += len(spans)
            for kind, _, _ in spans:
                per_type[kind][key] += 1
    src = tmp_path / "pred.txt"
    src.write_text("\n".join(lines))
    result = json.loads(run("evaluate", "--conlleval", src, "--json").stdout)
    counts = result["conlleval"]
    assert {k: counts[k] for k in expected} == expected
    assert counts["types"] == per_type
    assert result["scheme"] == scheme
    assert result["micro"]["precision"] == pytest.approx(expected["correct"] / expected["found"])
    assert result["micro"]["recall"] == pytest.approx(expected["correct"] / expected["gold"])
    report = run("evaluate", "--conlleval", src, "--format", "conlleval").stdout.splitlines()
    assert report[0] == (f"processed {expected['tokens']} tokens with {expected['gold']} phrases; "
                         f"found: {expected['found']} phrases; correct: {expected['correct']}.")
    p, r = 100 * expected["correct"] / expected["found"], 100 * expected["correct"] / expected["gold"]
    assert report[1] == (f"accuracy: {100 * expected['correct_tags'] / expected['tokens']:6.2f}%; "
                         f"precision: {p:6.2f}%; recall: {r:6.2f}%; FB1: {2 * p * r / (p + r):6.2f}")
    assert [line.split(":")[0].strip() for line in report[2:]] == ["A", "B"]


REPORT = """\
processed 5 tokens with 3 phrases; found: 2 phrases; correct: 2.
accuracy:  80.00%; precision: 100.00%; recall:  66.67%; FB1:  80.00
             MISC: precision:   0.00%; recall:   0.00%; FB1:   0.00  0
              ORG: precision: 100.00%; recall: 100.00%; FB1: 100.00  1
              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  1
"""
SMALL = "EU B-ORG B-ORG\nrejects O O\nGerman B-MISC O\n\nPeter B-PER B-PER\nBlackburn I-PER I-PER\n"


def test_conlleval_report_on_a_real_pipe(cli):
    res = cli("evaluate", "--conlleval", "--format", "conlleval", stdin=SMALL)
    assert res.returncode == 0, res.stderr.decode()
    assert res.stdout.decode() == REPORT
    table = run("evaluate", "--conlleval", stdin=SMALL.encode()).stdout
    assert "micro avg\t100.00\t66.67\t80.00\t3" in table


def test_docstart_lines_count_as_conlleval_counts_them_and_columns_are_chosen(tmp_path):
    src = tmp_path / "pred.txt"
    # word, gold, predicted, then a column that is not a tag
    src.write_text("-DOCSTART- O O x\n\nEU B-ORG B-ORG x\nrejects O O x\nGerman B-MISC O x\n\n"
                   "Peter B-PER B-PER x\nBlackburn I-PER I-PER x\n")
    result = json.loads(run("evaluate", "--conlleval", src, "--gold-column", "1", "--pred-column", "-2",
                            "--json").stdout)
    assert result["conlleval"]["tokens"] == 6 and result["tokens"] == 5  # conlleval counts the -DOCSTART- line
    assert result["conlleval"]["correct_tags"] == 5
    swapped = json.loads(run("evaluate", "--conlleval", src, "--gold-column", "2", "--pred-column", "1",
                             "--json").stdout)
    assert swapped["micro"]["recall"] == 1.0 and swapped["micro"]["precision"] == pytest.approx(2 / 3)
    res = run("evaluate", "--conlleval", src, code=2)  # the default columns (-2, -1): "O x" is no tag pair
    assert f"{src}:" in res.stderr


def test_plain_tags_get_per_tag_scores_and_confusions(tmp_path):
    src = tmp_path / "pos.txt"
    src.write_text("a NN NN\nb VB NN\nc NN NN\nd DT DT\n\ne VB VB\n")
    result = json.loads(run("evaluate", "--conlleval", src, "--format", "json").stdout)
    assert result["scheme"] == "plain" and result["accuracy"] == pytest.approx(4 / 5)
    # NN: 2 right, 1 VB taken for NN; VB: 1 of 2 found; DT: 1 of 1.
    assert result["tags"]["NN"] == {"precision": pytest.approx(2 / 3), "recall": 1.0, "f1": pytest.approx(0.8),
                                    "support": 2}
    assert result["tags"]["VB"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert result["confusions"] == [{"gold": "VB", "pred": "NN", "count": 1}]
    text = run("evaluate", "--conlleval", src).stdout
    assert text.splitlines()[0] == "tag\tprecision\trecall\tf1\tsupport"
    assert "confusion\tVB\tNN\t1" in text.splitlines() and "accuracy\t80.00" in text.splitlines()


def test_mixed_tags_are_refused_at_their_line(tmp_path):
    src = tmp_path / "pred.txt"
    src.write_text("EU B-ORG B-ORG\nrejects O O\n\nPeter B-PER B-PER\nBlackburn Q-XYZ I-PER\n")
    res = run("evaluate", "--conlleval", src, code=2)
    assert f"{src}:5: tag 'Q-XYZ' is neither O nor a chunk tag" in res.stderr and "--scheme plain" in res.stderr
    plain = json.loads(run("evaluate", "--conlleval", src, "--scheme", "plain", "--json").stdout)
    assert plain["tags"]["Q-XYZ"]["support"] == 1


CONLLU = """\
# text = The cat sat .
1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_
2\tcat\tcat\tNOUN\tNN\t_\t3\tnsubj\t_\tSpaceAfter=No
3\tsat\tsit\tVERB\tVBD\t_\t0\troot\t_\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

"""


def test_gold_pred_with_conllu_and_columns(tmp_path):
    gold = tmp_path / "gold.conllu"
    gold.write_text(CONLLU)
    pred = tmp_path / "pred.conllu"
    pred.write_text(CONLLU.replace("\tNOUN\t", "\tVERB\t").replace("\t_\t_\n", "\t_\tTag=X\n"))
    result = json.loads(run("evaluate", "--gold", gold, "--pred", pred, "--json").stdout)
    assert result["accuracy"] == 0.75 and result["confusions"] == [{"gold": "NOUN", "pred": "VERB", "count": 1}]
    xpos = json.loads(run("evaluate", "--gold", gold, "--pred", pred, "--gold-column", "xpos", "--pred-column",
                          "xpos", "--json").stdout)
    assert xpos["accuracy"] == 1.0
    columns = tmp_path / "pred.tsv"  # `tag` on text writes token<TAB>tag
    columns.write_text("The\tDET\ncat\tNOUN\nsat\tVERB\n.\tPUNCT\n")
    assert json.loads(run("evaluate", "--gold", gold, "--pred", columns, "--json").stdout)["accuracy"] == 1.0
    res = run("evaluate", "--gold", gold, "--pred", pred, "--pred-column", "misc", code=2)
    assert f"{pred}:3:" in res.stderr and "Tag=" in res.stderr  # "cat" has no Tag= in its MISC


def test_gold_pred_warns_when_the_columns_share_no_type(tmp_path):
    gold = tmp_path / "gold.conll"
    gold.write_text("EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n")
    pred = tmp_path / "pred.conll"
    pred.write_text("EU NNP B-NP B-NP\nrejects VBZ B-VP B-VP\n")
    res = run("evaluate", "--gold", gold, "--pred", pred)
    assert "no entity type in common" in res.stderr and "--gold-column" in res.stderr
    right = run("evaluate", "--gold", gold, "--pred", pred, "--gold-column", "2", "--json")
    assert json.loads(right.stdout)["f1"] == 1.0 and right.stderr == ""
