"""train-tagger, tag and evaluate as a shell user runs them, on the open samples."""

import json

import pytest

from rnn_cli.data.conll import read_conll
from rnn_cli.data.schemes import validate

SMALL = ["--embedding-size", "32", "--hidden-size", "48", "--char-filters", "20", "--batch-size", "16",
         "--optimizer", "adam", "--lr", "0.01", "--dropout", "0.25", "--device", "cpu"]


@pytest.fixture(scope="module")
def names_model(cli, samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("tagger") / "names.pt"
    res = cli("train-tagger", str(samples / "names.train.conll"), "--dev", str(samples / "names.dev.conll"),
              "--epochs", "6", *SMALL, "-o", str(out))
    assert res.returncode == 0, res.stderr.decode()
    return out, json.loads(res.stdout)


def test_tagger_learns_entities_far_above_the_majority_baseline(names_model):
    _, summary = names_model
    assert summary["scheme"] == "bio"
    # Tagging everything O finds no entity (F1 0); the derived NAME/NUM task is learnable.
    assert summary["dev_f1"] > 0.75, summary


def test_tag_then_evaluate_gold_pred_matches_model_evaluation(cli, names_model, samples, tmp_path):
    model, summary = names_model
    dev = samples / "names.dev.conll"
    res = cli("tag", str(model), str(dev))
    assert res.returncode == 0, res.stderr.decode()
    pred = tmp_path / "pred.conll"
    pred.write_bytes(res.stdout)
    gold_s, pred_s = list(read_conll(str(dev))), list(read_conll(str(pred)))
    assert [s.tokens for s in gold_s] == [s.tokens for s in pred_s]  # order and tokens kept
    assert all(len(p.rows[0]) == len(g.rows[0]) + 1 for g, p in zip(gold_s, pred_s))  # tag appended
    assert all(p.rows[i][:-1] == g.rows[i] for g, p in zip(gold_s, pred_s) for i in range(len(g)))
    scored = json.loads(cli("evaluate", "--gold", str(dev), "--pred", str(pred), "--json").stdout)
    direct = json.loads(cli("evaluate", str(model), str(dev), "--json", "--device", "cpu").stdout)
    assert scored["f1"] == pytest.approx(direct["f1"]) == pytest.approx(summary["dev_f1"])


def test_tag_text_from_stdin_and_other_formats(cli, names_model):
    model, _ = names_model
    text = "John Smith paid 20 dollars .\nThe cat sat .\n"
    res = cli("tag", str(model), stdin=text)
    assert res.returncode == 0, res.stderr.decode()
    blocks = res.stdout.decode().strip().split("\n\n")
    assert len(blocks) == 2
    assert [line.split("\t")[0] for line in blocks[0].splitlines()] == "John Smith paid 20 dollars .".split()
    inline = cli("tag", str(model), "--format", "inline", stdin=text).stdout.decode().splitlines()
    assert inline[1].split()[0].startswith("The/")
    rows = [json.loads(line) for line in cli("tag", str(model), "--format", "jsonl", stdin=text).stdout.splitlines()]
    assert rows[0]["tokens"][0] == "John" and len(rows[0]["tags"]) == 6
    assert all({"type", "start", "end", "text"} <= set(span) for span in rows[0]["spans"])
    bioes = cli("tag", str(model), "--format", "jsonl", "--scheme", "bioes", stdin=text).stdout.splitlines()
    for line in bioes:
        validate(json.loads(line)["tags"], "bioes")


def test_pos_tagging_on_conllu(cli, samples, tmp_path):
    out = tmp_path / "pos.pt"
    res = cli("train-tagger", str(samples / "ewt.train.conllu"), "--dev", str(samples / "ewt.dev.conllu"),
              "--epochs", "3", "--decoder", "softmax", *SMALL, "-o", str(out))
    assert res.returncode == 0, res.stderr.decode()
    summary = json.loads(res.stdout)
    assert summary["scheme"] == "plain"
    # The most frequent UPOS tag (NOUN) covers about 17% of tokens.
    assert summary["dev_accuracy"] > 0.6, summary


@pytest.mark.parametrize("case", ["columns", "scheme"])
def test_malformed_training_data_exits_2_with_file_and_line(cli, samples, tmp_path, case):
    bad = tmp_path / "bad.conll"
    if case == "columns":
        bad.write_text("a X O\nb X O\n\nc X\n")
        expected = f"{bad}:4:"
    else:
        bad.write_text("a X B-PER\nb X I-LOC\n")
        expected = f"{bad}:2:"
    res = cli("train-tagger", str(bad), "--dev", str(samples / "names.dev.conll"), "--scheme", "bio",
              "-o", str(tmp_path / "m.pt"))
    assert res.returncode == 2, res.stderr.decode()
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and expected in lines[0]
