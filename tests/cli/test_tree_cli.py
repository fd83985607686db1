"""Trees, pairs and scores through the classifier commands: `--encoder tree-lstm` on
PTB-bracketed trees (the synthetic sentiment trees of `sample_data/make_trees.py`,
whose labels depend on the structure) and on CoNLL-U dependency trees, the
sequential encoder trained on every phrase, `--pair` and `--regression` on JSONL and
TSV, and what each command writes and refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnn_cli.data.trees import parse_ptb
from rnn_cli.errors import DataFormatError
from tests.conftest import SAMPLES, run_cli
from tests.inprocess import error_line, invoke, ok

TREES, TREES_DEV = SAMPLES / "trees.train.txt", SAMPLES / "trees.dev.txt"
ROOT, ROOT_DEV = SAMPLES / "ewt.root.train.conllu", SAMPLES / "ewt.root.dev.conllu"
PAIRS, PAIRS_DEV = SAMPLES / "ewt.pairs.train.jsonl", SAMPLES / "ewt.pairs.dev.jsonl"
COMMON = ["--device", "cpu", "--seed", "3", "-q", "--batch-size", "25"]
SMALL = ["--embedding-size", "30", "--hidden-size", "50"]


def _roots(path: Path) -> list[str]:
    return [parse_ptb(line, "x", 1).labels[-1] for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def tree_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tree") / "tree.pt"
    ok("train-classifier", TREES, "--dev", TREES_DEV, "-o", out, "--encoder", "tree-lstm", "--epochs", "4",
       "--lr", "0.01", *SMALL, *COMMON)
    return out


def test_tree_lstm_learns_compositional_sentiment(tree_model):
    summary = json.loads(tree_model.with_suffix(".metrics.jsonl").read_text().splitlines()[-1])
    gold = _roots(TREES_DEV)
    majority = max(gold.count(x) for x in set(gold)) / len(gold)
    assert summary["dev_accuracy"] > majority + 0.4, (summary, majority)
    payload_cfg = json.loads(ok("info", tree_model, "--json").stdout)["config"]
    assert payload_cfg["encoder"] == "tree-lstm" and payload_cfg["tree_cell"] == "binary"  # every node <= 2 children


def test_classify_prints_root_labels_and_every_node(tree_model):
    lines = TREES_DEV.read_text().splitlines()[:20]
    out = ok("classify", tree_model, TREES_DEV).stdout.splitlines()
    assert len(out) == 300
    assert out[0].split("\t")[1] == " ".join(parse_ptb(lines[0], "x", 1).words)
    # --all-nodes writes each tree back with a predicted label on every node: same
    # words and shape, and the root's label is the one printed without the option.
    nodes = ok("classify", tree_model, TREES_DEV, "--all-nodes").stdout.splitlines()
    for line, plain, full in zip(lines, out, nodes):
        label, tree_text = full.split("\t")
        predicted, gold = parse_ptb(tree_text, "x", 1), parse_ptb(line, "x", 1)
        assert predicted.words == gold.words and predicted.children == gold.children
        assert predicted.labels[-1] == label == plain.split("\t")[0]
    row = json.loads(ok("classify", tree_model, TREES_DEV, "--all-nodes", "--format", "jsonl").stdout.splitlines()[0])
    assert len(row["nodes"]) == len(parse_ptb(lines[0], "x", 1).labels) and row["nodes"][-1]["text"] == row["text"]
    # Scored on the roots; the same from stdin, detected as trees.
    scores = json.loads(ok("evaluate", tree_model, TREES_DEV, "--json").stdout)
    assert scores["items"] == 300
    res = run_cli("classify", str(tree_model), "-", stdin="\n".join(lines) + "\n")
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode().splitlines() == out[:20]
    import rnn_cli  # the Python API on PTB strings: the same root labels

    assert [p.label for p in rnn_cli.load(str(tree_model)).classify_many(lines)] == [r.split("\t")[0] for r in out[:20]]


def test_tree_models_refuse_text_they_cannot_read(tree_model, tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("a good film\n")
    assert "plain.txt:1: no tree" in error_line(invoke("classify", tree_model, plain, "--input-format", "text"))
    broken = tmp_path / "broken.txt"
    broken.write_text("(3 (2 a) (3 good))\n(3 (2 a) (3 good)\n")
    assert "broken.txt:2:" in error_line(invoke("classify", tree_model, broken))
    broken.write_text("(3 (2 a) (3 good))\n(3 (2 a) (3 good)))\n")  # a bracket too many: still trees
    assert "broken.txt:2: text after the tree" in error_line(invoke("classify", tree_model, broken))
    assert "export takes" in error_line(invoke("export", tree_model, "-o", tmp_path / "x.ts"))
    assert "is a Tree-LSTM" in error_line(invoke("classify", tree_model, TREES_DEV, "--explain", "--format", "jsonl"))
    wide = tmp_path / "wide.txt"
    wide.write_text("(3 (2 a) (3 good) (2 film))\n")
    assert "wide.txt:1: a node with 3 children" in error_line(invoke("classify", tree_model, wide))


def test_binary_sst_split_drops_neutral_roots_and_phrases(tmp_path):
    out = tmp_path / "bin.pt"
    ok("train-classifier", TREES, "--dev", TREES_DEV, "-o", out, "--encoder", "tree-lstm", "--binary",
       "--epochs", "2", "--lr", "0.01", *SMALL, *COMMON)
    scores = json.loads(ok("evaluate", out, TREES_DEV, "--json").stdout)
    assert scores["items"] == sum(1 for x in _roots(TREES_DEV) if x != "2")
    assert sorted(scores["labels"]) == ["0", "1"]


def test_sequential_encoder_trains_on_every_phrase(tmp_path):
    nodes = sum(len(parse_ptb(line, "x", 1).labels) for line in TREES.read_text().splitlines())
    res = invoke("train-classifier", TREES, "--dev", TREES_DEV, "-o", tmp_path / "rnn.pt", "--epochs", "3",
                 "--optimizer", "adam", "--lr", "0.01", *SMALL, "--device", "cpu", "--batch-size", "50")
    assert res.exit_code == 0, res.stderr
    assert f"{nodes:,} items" in res.stderr
    assert res.summary()["dev_accuracy"] > 0.5
    roots = invoke("train-classifier", TREES, "--dev", TREES_DEV, "-o", tmp_path / "roots.pt", "--epochs", "1",
                   "--roots-only", *SMALL, "--device", "cpu")
    assert "1,200 items" in roots.stderr


def test_dependency_tree_lstm_on_conllu_with_sentence_labels(tmp_path):
    out = tmp_path / "dep.pt"
    # Judged on its training file (the sample is too small for its unseen words):
    # whether the dependency trees are read and fitted.
    ok("train-classifier", ROOT, "--dev", ROOT, "-o", out, "--encoder", "tree-lstm", "--epochs", "6",
       "--lr", "0.01", *SMALL, *COMMON)
    cfg = json.loads(ok("info", out, "--json").stdout)["config"]
    assert cfg["tree_cell"] == "child-sum"  # UD nodes have many children
    fitted = json.loads(ok("evaluate", out, ROOT, "--json").stdout)
    assert fitted["accuracy"] > 0.9  # majority (VERB) 0.70
    cyclic = tmp_path / "cyclic.conllu"
    cyclic.write_text("# label = VERB\n1\tA\t_\tDET\t_\t_\t2\tdet\t_\t_\n2\tdog\t_\tNOUN\t_\t_\t1\troot\t_\t_\n\n")
    assert "cyclic.conllu:" in error_line(invoke("classify", out, cyclic))


def test_pair_regression_with_tree_lstm_and_scores(tmp_path):
    out = tmp_path / "pair.pt"
    ok("train-classifier", PAIRS, "--dev", PAIRS_DEV, "-o", out, "--encoder", "tree-lstm", "--pair",
       "--regression", "--epochs", "4", "--lr", "0.01", *SMALL, *COMMON)
    scores = json.loads(ok("evaluate", out, PAIRS_DEV, "--json").stdout)
    assert scores["pearson"] > 0.5 and set(scores) >= {"spearman", "mse", "items"}
    text = ok("evaluate", out, PAIRS_DEV).stdout
    assert text.startswith("pearson\t") and "spearman\t" in text and "mse\t" in text
    rows = ok("classify", out, PAIRS_DEV).stdout.splitlines()
    assert len(rows) == 200
    score, first, second = rows[0].split("\t")
    assert 1.0 <= float(score) <= 5.0 and first and second
    row = json.loads(ok("classify", out, PAIRS_DEV, "--format", "jsonl").stdout.splitlines()[0])
    assert {"text", "text_pair", "score"} <= set(row)
    # The Python API takes the JSONL records as dicts (heads and all): the command's scores.
    import rnn_cli

    model = rnn_cli.load(str(out))
    records = [json.loads(line) for line in PAIRS_DEV.read_text().splitlines()[:5]]
    assert [f"{p.score:.4f}" for p in model.classify_many(records)] == [r.split("\t")[0] for r in rows[:5]]
    with pytest.raises(DataFormatError, match="heads"):
        model.classify({**records[0], "heads": [9]})


def test_pair_columns_of_a_tsv_file_as_sick_has_them(tmp_path):
    def tsv(src: Path, dst: Path) -> Path:
        rows = ["pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment"]
        for i, line in enumerate(src.read_text().splitlines()):
            item = json.loads(line)
            same = "SAME" if item["label"] > 3 else "OTHER"
            rows.append(f"{i}\t{item['text']}\t{item['text_pair']}\t{item['label']}\t{same}")
        dst.write_text("\n".join(rows) + "\n")
        return dst

    train, dev = tsv(PAIRS, tmp_path / "train.tsv"), tsv(PAIRS_DEV, tmp_path / "dev.tsv")
    cols = ["--text-column", "sentence_A", "--pair-column", "sentence_B"]
    out = tmp_path / "rel.pt"
    ok("train-classifier", train, "--dev", dev, "-o", out, "--pair", "--regression", "--label-column",
       "relatedness_score", *cols, "--epochs", "3", "--lr", "0.005", *SMALL, *COMMON)
    assert json.loads(ok("evaluate", out, dev, "--json").stdout)["pearson"] > 0.3
    rows = ok("classify", out, dev).stdout.splitlines()
    assert rows[0].split("\t")[:2] == ["predicted", "pair_ID"] and len(rows) == 201
    ent = tmp_path / "ent.pt"
    # Five epochs: with this seed the first three stay at the majority class (OTHER, two thirds).
    ok("train-classifier", train, "--dev", dev, "-o", ent, "--pair", "--label-column", "entailment_judgment",
       *cols, "--epochs", "5", "--lr", "0.005", *SMALL, *COMMON)
    assert json.loads(ok("evaluate", ent, dev, "--json").stdout)["accuracy"] > 0.7  # SAME is a third


def test_a_pair_model_trained_on_jsonl_reads_two_tab_separated_texts(tmp_path, tree_model):
    out = tmp_path / "pair.pt"
    ok("train-classifier", PAIRS, "--dev", PAIRS_DEV, "-o", out, "--pair", "--regression", "--epochs", "1",
       *SMALL, *COMMON)
    records = [json.loads(line) for line in PAIRS_DEV.read_text().splitlines()[:20]]
    expected = [r.split("\t")[0] for r in ok("classify", out, PAIRS_DEV).stdout.splitlines()[:20]]
    two = "".join(f"{r['text']}\t{r['text_pair']}\n" for r in records)
    piped = run_cli("classify", str(out), stdin=two)
    assert piped.returncode == 0 and not piped.stderr.decode().strip(), piped.stderr
    rows = [row.split("\t") for row in piped.stdout.decode().splitlines()]
    assert [r[0] for r in rows] == expected and rows[0][1:] == [records[0]["text"], records[0]["text_pair"]]
    # More columns: name both texts (by header name or index; the first defaults to column 0).
    named = tmp_path / "named.tsv"
    named.write_text("id\tfirst\tsecond\n" + "".join(f"{i}\t{r['text']}\t{r['text_pair']}\n"
                                                   for i, r in enumerate(records)))
    rows = ok("classify", out, named, "--text-column", "first", "--pair-column", "second").stdout.splitlines()
    assert rows[0] == "predicted\tid\tfirst\tsecond" and [r.split("\t")[0] for r in rows[1:]] == expected
    res = invoke("classify", out, named)  # (after a note on the column it guessed for the first text)
    assert res.exit_code == 2 and "named.tsv:2: no second text" in res.stderr.splitlines()[-1]
    assert "not a pair model" in error_line(invoke("classify", tree_model, named, "--pair-column", "second"))
    assert "not of jsonl" in error_line(invoke("classify", out, PAIRS_DEV, "--pair-column", "1",
                                               "--input-format", "jsonl"))


def test_inconsistent_options_and_bad_scores_are_reported(tmp_path):
    assert "add --pair" in error_line(invoke("train-classifier", PAIRS, "--dev", PAIRS_DEV, "-o", tmp_path / "m.pt",
                                             "--pair-column", "x", *COMMON))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(PAIRS.read_text().splitlines()[0] + "\n" + '{"text": "a", "text_pair": "b", "label": "high"}\n')
    assert "bad.jsonl:2: label 'high' is not a number" in error_line(
        invoke("train-classifier", bad, "--dev", PAIRS_DEV, "-o", tmp_path / "m.pt", "--pair", "--regression",
               *COMMON))
    assert "no second text" in error_line(
        invoke("train-classifier", SAMPLES / "ewt.genre.train.tsv", "--dev", SAMPLES / "ewt.genre.dev.tsv",
               "-o", tmp_path / "m.pt", "--pair", *COMMON))
    assert "--tree-cell binary" in error_line(
        invoke("train-classifier", ROOT, "--dev", ROOT_DEV, "-o", tmp_path / "m.pt", "--encoder", "tree-lstm",
               "--tree-cell", "binary", *COMMON))


def test_a_dev_tree_too_wide_for_the_binary_cell_stops_training_before_it_starts(tmp_path):
    dev = tmp_path / "dev.txt"
    dev.write_text(TREES_DEV.read_text().splitlines()[0] + "\n(3 (2 a) (3 good) (2 film))\n")
    out = tmp_path / "m.pt"
    res = invoke("train-classifier", TREES, "--dev", dev, "-o", out, "--encoder", "tree-lstm", "--tree-cell",
                 "binary", "--epochs", "1", "--checkpoint-every", "1", *SMALL, *COMMON)
    assert res.exit_code == 2
    assert "dev.txt:2: a node with 3 children" in error_line(res)
    assert not out.exists() and not out.with_suffix(".state.pt").exists()  # not one step was taken


def test_ensembles_of_tree_lstms_and_of_pair_regressors(tmp_path):
    """`--ensemble 2` with a Tree-LSTM: one model file whose root and phrase labels are
    the members' mean; with `--pair --regression`: scores that still lie in 1..5 and
    follow the gold ones."""
    out = tmp_path / "trees.pt"
    ok("train-classifier", TREES, "--dev", TREES_DEV, "-o", out, "--encoder", "tree-lstm", "--ensemble", "2",
       "--epochs", "4", "--lr", "0.01", *SMALL, *COMMON)
    gold = _roots(TREES_DEV)
    majority = max(gold.count(x) for x in set(gold)) / len(gold)
    assert json.loads(ok("evaluate", out, TREES_DEV, "--json").stdout)["accuracy"] > majority + 0.4
    assert "members: 2" in ok("info", out).stdout
    roots = [row.split("\t")[0] for row in ok("classify", out, TREES_DEV).stdout.splitlines()]
    nodes = [row.split("\t")[0] for row in ok("classify", out, TREES_DEV, "--all-nodes").stdout.splitlines()]
    assert roots == nodes and len(roots) == 300
    pairs = tmp_path / "pairs.pt"
    ok("train-classifier", PAIRS, "--dev", PAIRS_DEV, "-o", pairs, "--encoder", "tree-lstm", "--pair", "--regression",
       "--ensemble", "2", "--epochs", "4", "--lr", "0.01", *SMALL, *COMMON)
    assert json.loads(ok("evaluate", pairs, PAIRS_DEV, "--json").stdout)["pearson"] > 0.5
    scores = [float(row.split("\t")[0]) for row in ok("classify", pairs, PAIRS_DEV).stdout.splitlines()]
    assert len(scores) == 200 and all(1.0 <= s <= 5.0 for s in scores)
