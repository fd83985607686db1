"""Question answering over bAbI stories through the classifier commands: `--encoder
dmn` trained on the committed bAbI excerpts (task 1, single supporting fact), answers
one per question from a file and from stdin, the attention over facts with
`--explain`, several task files trained as one set and scored one by one, and what
the commands refuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import SAMPLES, run_cli
from tests.inprocess import error_line, invoke, ok

QA1, QA1_TEST, QA2_TEST = SAMPLES / "babi.qa1.train.txt", SAMPLES / "babi.qa1.test.txt", SAMPLES / "babi.qa2.test.txt"
COMMON = ["--device", "cpu", "--seed", "3", "-q", "--embedding-size", "80", "--hidden-size", "80", "--lr", "0.003"]


def _questions(path: Path) -> int:
    return sum("\t" in line for line in path.read_text().splitlines())


@pytest.fixture(scope="module")
def dmn(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dmn") / "qa1.pt"
    ok("train-classifier", QA1, "--dev", QA1_TEST, "-o", out, "--encoder", "dmn", "--supervise-facts",
       "--epochs", "10", *COMMON)
    return out


def test_dmn_with_fact_supervision_answers_single_supporting_fact_questions(dmn):
    scores = json.loads(ok("evaluate", dmn, QA1_TEST, "--json").stdout)
    assert scores["items"] == _questions(QA1_TEST) and scores["accuracy"] > 0.9  # six places: chance 1/6


def test_classify_answers_each_question_from_a_file_and_stdin(dmn):
    rows = ok("classify", dmn, QA1_TEST).stdout.splitlines()
    assert len(rows) == _questions(QA1_TEST)
    answer, question = rows[0].split("\t")
    assert question == "Where is John?" and answer in {"hallway", "bathroom", "kitchen", "office", "bedroom",
                                                       "garden"}
    piped = run_cli("classify", str(dmn), "-", stdin=QA1_TEST.read_text())
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.decode().splitlines() == rows
    # Unlabelled questions (no answer after the tab) are answered too.
    bare = "\n".join(line.split("\t")[0] + "\t" if "\t" in line else line
                     for line in QA1_TEST.read_text().splitlines()[:9])
    res = run_cli("classify", str(dmn), "-", "--input-format", "babi", stdin=bare + "\n")
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode().splitlines() == rows[:3]


def test_explain_shows_the_gates_over_the_story_facts_per_pass(dmn):
    lines = QA1_TEST.read_text().splitlines()
    first = json.loads(ok("classify", dmn, QA1_TEST, "--explain", "--format", "jsonl").stdout.splitlines()[0])
    facts = [line.split(" ", 1)[1] for line in lines[:2]]  # the story before the first question
    assert [a["fact"] for a in first["attention"]] == facts
    passes = len(first["attention"][0]["weights"])
    assert passes == 3
    for k in range(passes):
        assert sum(a["weights"][k] for a in first["attention"]) == pytest.approx(1.0, abs=1e-4)
    # The first question's supporting fact is the one it attends to in the first pass.
    support = int(lines[2].split("\t")[2]) - 1
    assert max(range(len(facts)), key=lambda i: first["attention"][i]["weights"][0]) == support


def test_several_task_files_train_as_one_set_and_score_one_by_one(dmn, tmp_path):
    out = tmp_path / "joint.pt"
    res = invoke("train-classifier", QA1, QA2_TEST, "--dev", str(SAMPLES / "babi.qa*.test.txt"), "-o", out,
                 "--encoder", "dmn", "--epochs", "1", *(a for a in COMMON if a != "-q"))
    assert res.exit_code == 0, res.stderr
    assert "and 1 more file(s): 400 questions" in res.stderr
    text = ok("evaluate", dmn, QA1_TEST, QA2_TEST).stdout.splitlines()
    assert text[0] == "file\taccuracy\titems" and text[-1].startswith("mean\t") and len(text) == 4
    report = json.loads(ok("evaluate", dmn, str(SAMPLES / "babi.qa*.test.txt"), "--json").stdout)
    accs = [f["accuracy"] for f in report["files"]]
    assert len(accs) == 2 and report["mean_accuracy"] == pytest.approx(sum(accs) / 2)


def test_malformed_stories_and_misused_options_are_reported(dmn, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1 Mary went home.\n2 Where is Mary?\thome\t1\n3 Where is she?\thome\t2\n")
    assert "bad.txt:3:" in error_line(invoke("train-classifier", bad, "--dev", QA1_TEST, "-o", tmp_path / "m.pt",
                                             "--encoder", "dmn", "--input-format", "babi", *COMMON))
    assert "--encoder dmn" in error_line(invoke("train-classifier", QA1, "--dev", QA1_TEST, "-o", tmp_path / "m.pt",
                                                "--supervise-facts", *COMMON))
    assert "add --supervise-facts" in error_line(invoke("train-classifier", QA1, "--dev", QA1_TEST, "-o",
                                                        tmp_path / "m.pt", "--encoder", "dmn", "--fact-weight", "3",
                                                        *COMMON))
    assert "no story" in error_line(invoke("classify", dmn, SAMPLES / "ewt.genre.dev.tsv", "--input-format", "text"))
    tsv = SAMPLES / "ewt.genre.dev.tsv"
    assert "ewt.genre.dev.tsv:1: expected a line id" in error_line(invoke("classify", dmn, tsv))
    assert "no file matches" in error_line(invoke("evaluate", dmn, tmp_path / "none*.txt", tmp_path / "x.txt"))
    assert "export takes" in error_line(invoke("export", dmn, "-o", tmp_path / "x.ts"))


def test_a_dmn_reads_its_input_as_stories_and_names_the_line_that_is_not_one(dmn, tmp_path):
    # Without --input-format: one story and a question with neither tab nor answer is
    # too little to recognise bAbI, but a DMN reads nothing else.
    asked = run_cli("classify", str(dmn), stdin="1 Mary went to the kitchen.\n2 Where is Mary?\n")
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.decode().split("\t")[1] == "Where is Mary?\n"
    for text, where, what in (("Mary went to the kitchen.\nWhere is Mary?\n", 1, "a line id"),
                              ("1 Mary went to the kitchen.\n3 Where is Mary?\tkitchen\t1\n", 2, "go up by one"),
                              ("2 Where is Mary?\tkitchen\n", 1, "starts at id 1")):
        res = run_cli("classify", str(dmn), stdin=text)
        assert res.returncode == 2 and f"<stdin>:{where}: " in res.stderr.decode() and what in res.stderr.decode()
    unasked = tmp_path / "unasked.txt"
    unasked.write_text("1 Mary went to the kitchen.\n2 Where is Mary\n")  # no '?' nor tab: a statement
    assert "no questions" in error_line(invoke("classify", dmn, unasked))
    assert "no questions" in error_line(invoke("evaluate", dmn, unasked))
    piped = run_cli("classify", str(dmn), stdin=unasked.read_text())
    assert piped.returncode == 0 and not piped.stdout and "no questions" in piped.stderr.decode()
    answerless = tmp_path / "answerless.txt"
    answerless.write_text("1 Mary went to the kitchen.\n2 Where is Mary?\n")
    assert "answerless.txt:2: a question without an answer" in error_line(invoke("evaluate", dmn, answerless))


def test_an_answer_training_never_had_is_a_wrong_answer_not_an_error(dmn, tmp_path):
    story = QA1_TEST.read_text().splitlines()[:3]  # two statements and "Where is John?" (hallway)
    unseen = story[:2] + [story[2].replace("\thallway\t", "\thallway,office\t")]
    path = tmp_path / "unseen.txt"
    path.write_text("\n".join(story + unseen) + "\n")  # the same story twice, the second with a list answer
    scores = json.loads(ok("evaluate", dmn, path, "--input-format", "babi", "--json").stdout)
    assert scores["items"] == 2 and scores["accuracy"] == pytest.approx(0.5)


def test_the_python_api_answers_a_question_over_a_story_as_classify_does(dmn):
    import rnn_cli

    lines = QA1_TEST.read_text().splitlines()
    statements = [line.split(" ", 1)[1] for line in lines[:2]]  # the first question's story
    question = lines[2].split(" ", 1)[1].split("\t")[0]
    expected = ok("classify", dmn, QA1_TEST).stdout.splitlines()[0].split("\t")[0]
    model = rnn_cli.load(str(dmn))
    as_list, as_text = model.classify_many([(statements, question), ("\n".join(statements) + "\n", question)])
    assert as_list.label == as_text.label == expected
    assert abs(sum(as_list.probs.values()) - 1) < 1e-5
    explained = model.classify_many([(statements, question)], explain=True)[0]
    assert explained.label == expected
    with pytest.raises(ValueError, match="story, question"):
        model.classify_many([question])


def test_an_ensemble_of_dmns_learns_and_explains(tmp_path):
    """`--ensemble 3 --encoder dmn`: one model file of three DMNs that answers as well
    as one, whose `--explain` gates (the members' mean) still sum to one per pass."""
    out = tmp_path / "ens.pt"
    ok("train-classifier", QA1, "--dev", QA1_TEST, "-o", out, "--encoder", "dmn", "--supervise-facts",
       "--epochs", "6", "--ensemble", "3", *COMMON)
    scores = json.loads(ok("evaluate", out, QA1_TEST, "--json").stdout)
    assert scores["accuracy"] > 0.9
    info = ok("info", out).stdout
    assert "members: 3" in info and "encoder: dmn" in info and "passes: 3" in info
    assert "pooling" not in info and "cell:" not in info  # options a DMN does not read are not shown
    first = json.loads(ok("classify", out, QA1_TEST, "--explain", "--format", "jsonl").stdout.splitlines()[0])
    assert len(first["attention"]) == 2 and len(first["attention"][0]["weights"]) == 3
    for k in range(3):
        assert sum(a["weights"][k] for a in first["attention"]) == pytest.approx(1.0, abs=1e-4)


def test_freeze_embeddings_keeps_a_dmns_word_vectors(tmp_path):
    """`--freeze-embeddings` holds for the DMN too: after training, its word vectors are
    those it started with (here pretrained); without it they move."""
    from rnn_cli import checkpoint

    glove = SAMPLES / "glove.sample.txt"
    common = ["train-classifier", QA1, "--dev", QA1_TEST, "--encoder", "dmn", "--embeddings", glove,
              "--lowercase", *COMMON]
    weights = {}
    for name, extra in (("start", ["--epochs", "0"]), ("frozen", ["--epochs", "1", "--freeze-embeddings"]),
                        ("trained", ["--epochs", "1"])):
        ok(*common, *extra, "-o", tmp_path / f"{name}.pt")
        weights[name] = checkpoint.load(tmp_path / f"{name}.pt")["state_dict"]["dmn.embedding.weight"]
    assert weights["start"].shape[1] == 50
    assert torch.equal(weights["frozen"], weights["start"])
    assert not torch.equal(weights["trained"], weights["start"])


def test_options_a_dmn_does_not_read_are_named_not_silently_dropped(tmp_path):
    res = invoke("train-classifier", QA1, "--dev", QA1_TEST, "-o", tmp_path / "m.pt", "--encoder", "dmn",
                 "--cell", "sru", "--pooling", "attention", "--unidirectional", "--epochs", "1",
                 *(a for a in COMMON if a != "-q"))
    assert res.exit_code == 0, res.stderr
    notes = [line for line in res.stderr.splitlines() if "not read by this model" in line]
    assert notes == ["note: --unidirectional, --cell, --pooling: not read by this model (--encoder dmn), ignored"]
    plain = invoke("train-classifier", QA1, "--dev", QA1_TEST, "-o", tmp_path / "p.pt", "--encoder", "dmn",
                   "--passes", "2", "--epochs", "1", *(a for a in COMMON if a != "-q"))
    assert plain.exit_code == 0 and "not read by this model" not in plain.stderr


def test_fact_weight_weighs_the_gates_loss(tmp_path):
    # --fact-weight reaches the model: one step from the same start moves the weights
    # differently with weight 0 (the answer's loss alone) and 3, and is stored.
    outs = {}
    for w in ("0", "3"):
        out = tmp_path / f"w{w}.pt"
        ok("train-classifier", QA1, "--dev", QA1_TEST, "-o", out, "--encoder", "dmn", "--supervise-facts",
           "--fact-weight", w, "--epochs", "1", *COMMON)
        outs[w] = torch.load(out, weights_only=True)
    assert [outs[w]["config"]["fact_weight"] for w in ("0", "3")] == [0.0, 3.0]
    gate = [k for k in outs["0"]["state_dict"] if k.startswith("dmn.gate")][0]
    assert not torch.equal(outs["0"]["state_dict"][gate], outs["3"]["state_dict"][gate])
