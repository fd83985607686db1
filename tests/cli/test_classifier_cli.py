"""train-classifier, classify and evaluate as a shell user runs them, on the open
EWT genre sample (5 balanced genres) and a multi-label task derived from EWT."""

import json

import pytest

from rnn_cli.data.conll import read_conllu
from rnn_cli.metrics import classification_scores

SMALL = ["--embedding-size", "48", "--hidden-size", "48", "--lr", "0.004", "--dropout", "0.3", "--device", "cpu",
         "--tokenizer", "simple", "--lowercase"]


@pytest.fixture(scope="module")
def genre_model(cli, samples, tmp_path_factory):
    out = tmp_path_factory.mktemp("classifier") / "genre.pt"
    res = cli("train-classifier", str(samples / "ewt.genre.train.tsv"), "--dev", str(samples / "ewt.genre.dev.tsv"),
              "--epochs", "4", "--pooling", "attention", *SMALL, "-o", str(out))
    assert res.returncode == 0, res.stderr.decode()
    return out, json.loads(res.stdout)


def test_classifier_learns_genre_far_above_the_majority_baseline(genre_model):
    _, summary = genre_model
    assert summary["multi_label"] is False
    # Five balanced genres: the majority baseline is 20%.
    assert summary["dev_accuracy"] > 0.33, summary


def test_classify_then_evaluate_agree(cli, genre_model, samples, tmp_path):
    model, summary = genre_model
    dev = samples / "ewt.genre.dev.tsv"
    gold = [line.split("\t", 1) for line in dev.read_text(encoding="utf-8").splitlines()]
    texts = "".join(text + "\n" for _, text in gold)
    res = cli("classify", str(model), stdin=texts)  # plain text from stdin
    assert res.returncode == 0, res.stderr.decode()
    rows = [line.split("\t", 1) for line in res.stdout.decode().splitlines()]
    assert [text for _, text in rows] == [text for _, text in gold]  # order and text kept
    accuracy = sum(p == g for (p, _), (g, _) in zip(rows, gold)) / len(gold)
    scored = json.loads(cli("evaluate", str(model), str(dev), "--json", "--device", "cpu").stdout)
    assert scored["accuracy"] == pytest.approx(accuracy) == pytest.approx(summary["dev_accuracy"])
    assert sum(map(sum, scored["confusion"]["matrix"])) == len(gold)
    # The gold TSV itself is accepted as input: its text column is classified.
    again = cli("classify", str(model), str(dev)).stdout.decode().splitlines()
    assert [line.split("\t", 1)[0] for line in again] == [p for p, _ in rows]


def test_probabilities_top_k_and_explanations(cli, genre_model):
    model, _ = genre_model
    text = "Thanks for the quick reply , see you on Monday .\nThe food was great !\n"
    rows = [json.loads(line) for line in cli("classify", str(model), "--format", "jsonl", "--top-k", "3",
                                             "--explain", stdin=text).stdout.splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert sum(row["probs"].values()) == pytest.approx(1.0, abs=1e-5)
        assert row["label"] == max(row["probs"], key=row["probs"].get) == row["top_k"][0]["label"]
        probs = [t["prob"] for t in row["top_k"]]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True)
        assert [a["token"] for a in row["attention"]] == row["text"].lower().split()
        assert sum(a["weight"] for a in row["attention"]) == pytest.approx(1.0, abs=1e-5)
    tsv = cli("classify", str(model), "--probs", "--top-k", "2", stdin=text).stdout.decode().splitlines()
    fields = tsv[0].split("\t")
    assert len(fields) == 5 and float(fields[1]) >= float(fields[3])


def _multilabel_files(samples, tmp_path):
    """Labels from EWT annotations: `name` (a PROPN), `number` (a NUM), `question` (ends
    with ?), `other` when none applies; as fastText lines (train) and JSONL (dev)."""
    def labels(s):
        found = [name for name, tag in (("name", "PROPN"), ("number", "NUM")) if tag in (s.tags or [])]
        found += ["question"] if s.tokens[-1] == "?" else []
        return found or ["other"]

    train = tmp_path / "ml.train.txt"
    train.write_text("".join(" ".join(f"__label__{x}" for x in labels(s)) + " " + " ".join(s.tokens) + "\n"
                             for s in read_conllu(str(samples / "ewt.train.conllu"))), encoding="utf-8")
    dev = tmp_path / "ml.dev.jsonl"
    dev_items = [(labels(s), " ".join(s.tokens)) for s in read_conllu(str(samples / "ewt.dev.conllu"))]
    dev.write_text("".join(json.dumps({"text": t, "labels": ls}) + "\n" for ls, t in dev_items), encoding="utf-8")
    return train, dev, dev_items


def test_multi_label_training_tunes_a_threshold_and_beats_the_constant_baseline(cli, samples, tmp_path):
    train, dev, dev_items = _multilabel_files(samples, tmp_path)
    out = tmp_path / "ml.pt"
    res = cli("train-classifier", str(train), "--dev", str(dev), "--epochs", "6", "--pooling", "max",
              "--metric", "macro-f1", *SMALL[:-3], "--lr", "0.01", "-o", str(out))
    assert res.returncode == 0, res.stderr.decode()
    summary = json.loads(res.stdout)
    assert summary["multi_label"] is True
    # Baseline: the most frequent label set for every item ('name' is on ~80% of them).
    gold = [set(ls) for ls, _ in dev_items]
    sets = [tuple(sorted(g)) for g in gold]
    common = set(max(set(sets), key=sets.count))
    baseline = classification_scores(gold, [common] * len(gold), ["name", "number", "other", "question"], True)
    assert summary["dev_macro_f1"] > baseline["macro_f1"] + 0.2, (summary, baseline["macro_f1"])
    assert 0.05 <= summary["dev_threshold"] <= 0.95
    # Every label at or above the tuned threshold is chosen, every label below it left out
    # (the top label is always kept), on a prompt and on dev texts.
    import torch

    texts = ["Where is John Smith ?"] + [t for _, t in dev_items[:40]]
    res = cli("classify", str(out), "--format", "jsonl", stdin="".join(t + "\n" for t in texts))
    rows = [json.loads(line) for line in res.stdout.decode().splitlines()]
    assert len(rows) == len(texts)
    threshold = float(torch.tensor(summary["dev_threshold"], dtype=torch.float32))  # as the model holds it
    for row in rows:
        top = max(row["probs"], key=row["probs"].get)
        assert set(row["labels"]) == {x for x, p in row["probs"].items() if p >= threshold} | {top}, (row, threshold)
    excluded = [p for row in rows for x, p in row["probs"].items() if x not in row["labels"]]
    assert excluded and max(excluded) < threshold
    scored = json.loads(cli("evaluate", str(out), str(dev), "--json", "--device", "cpu").stdout)
    assert scored["multi_label"] and scored["macro_f1"] == pytest.approx(summary["dev_macro_f1"])


@pytest.mark.parametrize("case", ["malformed", "no-known-label", "explain", "format"])
def test_bad_input_exits_2_with_one_line(cli, genre_model, samples, tmp_path, case):
    model, _ = genre_model
    if case == "malformed":
        bad = tmp_path / "bad.tsv"
        bad.write_text("reviews\tgood\nno tab here\n", encoding="utf-8")
        res = cli("train-classifier", str(bad), "--dev", str(bad), "-o", str(tmp_path / "m.pt"))
        expect = f"{bad}:2:"
    elif case == "no-known-label":  # one unknown label among known ones is scored (tests/hardening)
        bad = tmp_path / "gold.tsv"
        bad.write_text("sports\tgoal !\nnews\tthe vote\n", encoding="utf-8")
        res = cli("evaluate", str(model), str(bad))
        expect = f"{bad}:1: none of the gold labels occurs in the training data (the first: 'sports')"
    elif case == "explain":
        res = cli("classify", str(model), "--explain", stdin="hello\n")
        expect = "--format jsonl"
    else:
        res = cli("classify", str(model), "--format", "xml", stdin="hello\n")
        expect = "--format"
    assert res.returncode == 2
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and expect in lines[0] and "Traceback" not in lines[0], lines


@pytest.mark.slow
def test_ensemble_with_word_dropout_learns_explains_and_evaluates(cli, samples, tmp_path):
    """`--ensemble 3 --word-dropout 0.2`: one model file of three members that learns the
    genres, and whose classify, --explain and evaluate agree with each other."""
    out, dev = tmp_path / "ens.pt", samples / "ewt.genre.dev.tsv"
    res = cli("train-classifier", str(samples / "ewt.genre.train.tsv"), "--dev", str(dev), "--epochs", "4",
              "--pooling", "attention", "--ensemble", "3", "--word-dropout", "0.2", *SMALL, "-o", str(out))
    assert res.returncode == 0, res.stderr.decode()
    summary = json.loads(res.stdout)
    assert summary["dev_accuracy"] > 0.33, summary
    info = cli("info", str(out), "--json")
    assert info.returncode == 0 and '"members": 3' in info.stdout.decode(), info.stderr.decode()
    scored = json.loads(cli("evaluate", str(out), str(dev), "--json", "--device", "cpu").stdout)
    assert scored["accuracy"] == pytest.approx(summary["dev_accuracy"])
    rows = [json.loads(line) for line in cli("classify", str(out), "--format", "jsonl", "--explain",
                                             stdin="The food was great !\n").stdout.splitlines()]
    assert sum(rows[0]["probs"].values()) == pytest.approx(1.0, abs=1e-5)
    assert sum(a["weight"] for a in rows[0]["attention"]) == pytest.approx(1.0, abs=1e-5)


def test_a_layout_note_is_printed_once_when_dev_is_held_out_of_the_training_file(tmp_path):
    from tests.inprocess import ok

    src = tmp_path / "items.txt"  # `label text`, too few lines for the labels to be sure
    src.write_text("".join(f"{label} {text}\n" for label, text in
                           [("pos", "a fine film"), ("neg", "a dull film"), ("pos", "great fun"), ("neg", "so bad"),
                            ("pos", "lovely work"), ("neg", "awful plot"), ("pos", "very good"), ("neg", "weak")] * 2))
    res = ok("train-classifier", src, "--epochs", "1", "--hidden-size", "8", "--embedding-size", "8",
             "-o", tmp_path / "m.pt")
    notes = [line for line in res.stderr.splitlines() if "read as `label text`" in line]
    assert len(notes) == 1, res.stderr
