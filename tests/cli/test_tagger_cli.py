"""train-tagger, tag and evaluate as a shell user runs them, on the open samples."""

import dataclasses
import json

import pytest

from rnn_cli.data.conll import read_conll
from rnn_cli.data.schemes import convert, validate

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


def test_train_tagger_without_dev_holds_out_a_tenth_of_the_sentences(cli, samples, tmp_path):
    out = tmp_path / "m.pt"
    res = cli("train-tagger", str(samples / "names.train.conll"), "--epochs", "1", *SMALL, "-o", str(out))
    assert res.returncode == 0, res.stderr.decode()
    err = res.stderr.decode()
    assert "720 sentences" in err and "no --dev: 80 sentences of" in err and "held out as dev" in err
    assert 0 <= json.loads(res.stdout)["dev_f1"] <= 1 and out.exists()
    few = tmp_path / "few.conll"
    few.write_text("John B-NAME\nran O\n\n" * 5)
    res = cli("train-tagger", str(few), "-o", str(tmp_path / "few.pt"))
    assert res.returncode == 2 and b"few.conll: 5 sentences are too few" in res.stderr


def test_a_dev_entity_type_unseen_in_training_is_noted_and_scored_as_missed(cli, samples, tmp_path):
    dev = tmp_path / "dev.conll"
    dev.write_text((samples / "names.dev.conll").read_text() + "\nParis PROPN B-CITY\nis AUX O\n")
    res = cli("train-tagger", str(samples / "names.train.conll"), "--dev", str(dev), "--epochs", "1", *SMALL,
              "-o", str(tmp_path / "m.pt"))
    assert res.returncode == 0, res.stderr.decode()
    lines = len(dev.read_text().splitlines())
    assert (f"note: {dev}: 1 of 251 sentences with a gold entity type the model was not trained on ('CITY', "
            f"first at line {lines - 1}): its entities are scored as missed").encode() in res.stderr


@pytest.mark.parametrize("scheme", ["iob1", "bioes"])
def test_evaluate_reads_a_gold_file_in_another_scheme_by_its_entities(cli, names_model, samples, tmp_path, scheme):
    """A BIO model scored on the same gold file re-encoded in IOB1 / BIOES (as CoNLL-2003
    is IOB1) gives the same figures: detected, or named with --scheme."""
    model, _ = names_model
    dev = samples / "names.dev.conll"
    other = tmp_path / f"dev.{scheme}.conll"
    with open(other, "w", encoding="utf-8") as fh:
        for s in read_conll(str(dev)):
            for row, tag in zip(s.rows, convert(s.tags, "bio", scheme)):
                fh.write("\t".join(row[:-1] + [tag]) + "\n")
            fh.write("\n")
    assert other.read_text() != dev.read_text()
    direct = json.loads(cli("evaluate", str(model), str(dev), "--json").stdout)
    detected = cli("evaluate", str(model), str(other), "--json")
    assert detected.returncode == 0, detected.stderr.decode()
    assert f"gold tags read as {scheme}" in detected.stderr.decode()
    named = cli("evaluate", str(model), str(other), "--json", "--scheme", scheme)
    assert named.returncode == 0 and b"read as" not in named.stderr
    for res in (detected, named):
        scores = json.loads(res.stdout)
        assert (scores["f1"], scores["accuracy"]) == pytest.approx((direct["f1"], direct["accuracy"]))
    wrong = cli("evaluate", str(model), str(other), "--scheme", "plain")
    assert wrong.returncode == 2 and b"--scheme plain" in wrong.stderr


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


def _names_tagger(names_model):
    import torch

    from rnn_cli.predict.tagger import load_tagger

    return load_tagger(str(names_model[0]), torch.device("cpu"))


@pytest.mark.parametrize("scheme", ["bioes", "bio", "iob1"])
def test_marginals_match_the_exhaustive_nbest_distribution(names_model, samples, scheme):
    """With k large enough to list every allowed sequence, the k best probabilities sum
    to 1, the first is the Viterbi path, and each token's reported probability is the
    total probability of the sequences that agree with it (BIO: same tag; IOB1: same type)."""
    import torch

    from rnn_cli.data.schemes import split_tag
    from rnn_cli.predict.tagger import predict

    tagger = _names_tagger(names_model)
    sentences = [s for s in read_conll(str(samples / "names.dev.conll")) if 2 <= len(s) <= 3][:4]
    sentences = [dataclasses.replace(s, tokens=["Mr", "Smith", "paid"][: len(s)]) if i == 0 else s
                 for i, s in enumerate(sentences)]
    assert len(sentences) >= 2
    k = len(tagger.vocabs.tags) ** 3
    preds = list(predict(tagger, sentences, 3, torch.device("cpu"), scheme, probs=True, nbest=k))
    assert [p.sentence for p in preds] == sentences
    for p in preds:
        assert p.nbest[0][0] == p.tags
        probs = [q for _, q in p.nbest]
        assert sum(probs) == pytest.approx(1.0, abs=1e-4)
        assert probs == sorted(probs, reverse=True)
        assert len({tuple(t) for t, _ in p.nbest}) == len(p.nbest)  # distinct in the output scheme too
        for t, tag in enumerate(p.tags):
            if scheme == "iob1":
                same = [q for tags, q in p.nbest if (split_tag(tags[t]) or ("", ""))[1] == split_tag(tag)[1]]
            else:
                same = [q for tags, q in p.nbest if tags[t] == tag]
            assert p.probs[t] == pytest.approx(sum(same), abs=1e-4)


def test_tag_probs_and_nbest_columns(cli, names_model, samples):
    model, _ = names_model
    dev = str(samples / "names.dev.conll")
    plain = cli("tag", str(model), dev).stdout.decode().split("\n\n")
    res = cli("tag", str(model), dev, "--nbest", "3", "--probs")
    assert res.returncode == 0, res.stderr.decode()
    blocks = res.stdout.decode().split("\n\n")
    assert len(blocks) == len(plain)
    gold = list(read_conll(dev))
    for block, plain_block, g in zip(blocks, plain, gold):
        lines = block.strip("\n").splitlines()
        header, rows = lines[0].split(), [line.split(" ") for line in lines[1:]]  # the input's separator
        assert header[:2] == ["#", "score"] and len(header) <= 5
        scores = [float(x) for x in header[2:]]
        assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0001
        assert len(rows) == len(g)
        width = len(g.rows[0])
        assert all(len(r) == width + len(scores) + 1 for r in rows)
        assert [r[width] for r in rows] == [line.split(" ")[-1] for line in plain_block.strip("\n").splitlines()]
        assert all(0.0 <= float(r[-1]) <= 1.0 for r in rows), [r for r in rows if not 0.0 <= float(r[-1]) <= 1.0]
    jsonl = cli("tag", str(model), "--format", "jsonl", "--probs", "--nbest", "2", stdin="John Smith paid .\n")
    row = json.loads(jsonl.stdout)
    assert len(row["probs"]) == 4 and row["nbest"][0]["tags"] == row["tags"]
    bad = cli("tag", str(model), dev, "--nbest", "-1")
    assert bad.returncode == 2 and b"--nbest" in bad.stderr


def test_tag_answers_each_sentence_while_stdin_is_still_open(names_model):
    """A pipeline that feeds one sentence at a time gets each one back at once."""
    import os
    import subprocess
    import sys
    import threading

    from tests.conftest import ROOT

    model, _ = names_model
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "rnn_cli", "tag", str(model), "--device", "cpu"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        for sentence in ("John Smith paid 20 dollars .", "The cat sat ."):
            proc.stdin.write((sentence + "\n").encode())
            proc.stdin.flush()
            lines: list[str] = []
            reader = threading.Thread(target=lambda out=lines: out.extend(iter(
                lambda: proc.stdout.readline().decode(), "\n")))
            reader.start()
            reader.join(timeout=60)
            assert not reader.is_alive(), "no answer while stdin stayed open"
            assert [line.split("\t")[0] for line in lines] == sentence.split()
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    assert proc.returncode == 0, proc.stderr.read().decode()


def test_one_bad_tag_among_bio_tags_is_refused_at_its_line(samples, tmp_path):
    """A typo among BIO tags used to switch the whole tag set to "plain" silently."""
    from tests.inprocess import error_line, invoke

    lines = (samples / "names.train.conll").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if i > 100 and line.endswith(" O"))
    lines[at] = lines[at][:-1] + "Q-XYZ"
    bad = tmp_path / "train.conll"
    bad.write_text("\n".join(lines) + "\n")
    res = invoke("train-tagger", bad, "--dev", samples / "names.dev.conll", "-o", tmp_path / "m.pt")
    assert res.exit_code == 2
    message = error_line(res)
    assert f"{bad}:{at + 1}: tag 'Q-XYZ' is neither O nor a chunk tag" in message and "--scheme plain" in message
    assert not (tmp_path / "m.pt").exists()


def test_model_evaluation_prints_conllevals_report(names_model, samples, tmp_path):
    from tests.inprocess import ok

    model, _ = names_model
    dev = samples / "names.dev.conll"
    direct = ok("evaluate", model, dev, "--format", "conlleval", "--device", "cpu").stdout
    tokens = sum(len(s) for s in read_conll(str(dev)))
    assert direct.startswith(f"processed {tokens} tokens with ") and len(direct.splitlines()) == 4  # NAME, NUM
    pred = tmp_path / "pred.conll"
    pred.write_text(ok("tag", model, dev, "--device", "cpu").stdout)
    assert ok("evaluate", "--conlleval", pred, "--format", "conlleval").stdout == direct


def test_a_file_without_blank_lines_trains_as_one_sentence_with_a_note(tmp_path):
    from tests.inprocess import ok

    rows = [f"w{i % 50} {'B-X' if i % 7 == 0 else 'O'}" for i in range(1200)]
    train = tmp_path / "flat.conll"
    train.write_text("\n".join(rows) + "\n")
    res = ok("train-tagger", train, "--dev", train, "-o", tmp_path / "m.pt", "--epochs", "1", "--hidden-size", "8",
             "--embedding-size", "8", "--char-filters", "4", "--device", "cpu")
    assert "flat.conll:1: a sentence of 1,200 tokens (sentences end at a blank line" in res.stderr
    sentences = tmp_path / "ok.conll"  # the same tokens, one sentence each
    sentences.write_text("\n\n".join(rows) + "\n")
    normal = ok("train-tagger", sentences, "--dev", train, "-o", tmp_path / "n.pt", "--epochs", "1", "--hidden-size",
                "8", "--embedding-size", "8", "--char-filters", "4", "--device", "cpu")
    assert "a sentence of" not in normal.stderr


def test_without_dev_a_sentence_with_the_only_entity_of_its_type_stays_in_training(cli, tmp_path):
    # Ten sentences, one of them the only LOC: held out, the model could never learn LOC
    # (and dev would hold an entity type training lacks), so it stays in training.
    from rnn_cli.data.holdout import held_out

    lone = held_out(10).index(True)
    lines = [("Paris B-LOC\n" if k == lone else "John B-PER\n") + "ran O\n\n" for k in range(10)]
    tiny = tmp_path / "tiny.conll"
    tiny.write_text("".join(lines))
    res = cli("train-tagger", str(tiny), "--epochs", "1", *SMALL, "-o", str(tmp_path / "m.pt"))
    assert res.returncode == 2 and b"no sentences could be held out as dev" in res.stderr
    tiny.write_text("".join(lines) + "Mary B-PER\nsat O\n\n" * 10)
    res = cli("train-tagger", str(tiny), "--epochs", "1", *SMALL, "-o", str(tmp_path / "m.pt"))
    assert res.returncode == 0, res.stderr.decode()
    assert b"3 tags" in res.stderr and b"the model was not trained on" not in res.stderr  # S-LOC, S-PER, O
