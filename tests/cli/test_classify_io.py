"""The classifier commands' input and output as a shell user meets them: every layout
(TSV, fastText, JSONL, `label text`, plain text) read from a file or stdin without
saying which, ids of `id<TAB>text` kept, labels answered in the training data's
spelling, notes on stderr where a layout was guessed, and error messages that name
options that exist. Tiny models, trained in process on the EWT genre sample."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT, SAMPLES, run_cli
from tests.inprocess import Result, error_line, ok

TINY = ["--epochs", "1", "--embedding-size", "8", "--hidden-size", "8", "--device", "cpu", "--threads", "1"]
FORMATS = ["tsv", "fasttext", "jsonl", "label-text"]


def items(start: int, stop: int) -> list[tuple[str, str]]:
    rows = (SAMPLES / "ewt.genre.train.tsv").read_text(encoding="utf-8").splitlines()[start:stop]
    return [tuple(r.split("\t", 1)) for r in rows]  # type: ignore[misc]


def layout(fmt: str, pairs: list[tuple[str, str]]) -> str:
    line = {"tsv": lambda g, t: f"{g}\t{t}", "fasttext": lambda g, t: f"__label__{g} {t}",
            "jsonl": lambda g, t: json.dumps({"text": t, "label": g}), "label-text": lambda g, t: f"{g} {t}",
            "text": lambda g, t: t}[fmt]
    return "".join(line(g, t) + "\n" for g, t in pairs)


def invoke_stdin(*args: object, stdin: str = "") -> Result:
    """`invoke` with text on stdin."""
    from typer.testing import CliRunner

    from rnn_cli.cli.app import app

    res = CliRunner().invoke(app, [str(a) for a in args], input=stdin)
    exc = res.exception if res.exception is not None and not isinstance(res.exception, SystemExit) else None
    return Result(res.exit_code, res.stdout, res.stderr, exc)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """{format: (train file, dev file)}: the same items in each layout."""
    d = tmp_path_factory.mktemp("layouts")
    out = {}
    for fmt in [*FORMATS, "text"]:
        train, dev = d / f"train.{fmt}", d / f"dev.{fmt}"
        train.write_text(layout(fmt, items(0, 150)), encoding="utf-8")
        dev.write_text(layout(fmt, items(150, 200)), encoding="utf-8")
        out[fmt] = (train, dev)
    return out


@pytest.fixture(scope="module")
def models(data, tmp_path_factory):
    """{format: (model file, summary, stderr)}, each trained on its layout, none named."""
    d = tmp_path_factory.mktemp("models")
    out = {}
    for fmt in FORMATS:
        train, dev = data[fmt]
        res = ok("train-classifier", train, "--dev", dev, *TINY, "-o", d / f"{fmt}.pt")
        out[fmt] = (d / f"{fmt}.pt", json.loads(res.stdout), res.stderr)
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_training_reads_each_layout_unasked_and_the_model_remembers_it(models, fmt):
    model, _, stderr = models[fmt]
    assert f"150 items ({fmt})" in stderr
    assert "read as" not in stderr  # 150 lines of 5 labels: no guess to report
    payload = torch.load(model, weights_only=True)
    assert payload["vocab"]["train_format"] == [fmt]
    assert payload["vocab"]["labels"] == sorted({g for g, _ in items(0, 150)})  # bare names, any layout


@pytest.mark.parametrize("fmt", FORMATS)
def test_classify_reads_its_training_layout_from_a_file_and_from_stdin(models, data, fmt):
    model = models[fmt][0]
    dev = data[fmt][1]
    by_file = ok("classify", model, dev, "--device", "cpu")
    by_stdin = invoke_stdin("classify", model, "--device", "cpu", stdin=dev.read_text(encoding="utf-8"))
    assert by_stdin.exit_code == 0, by_stdin.stderr
    assert by_file.stdout == by_stdin.stdout
    rows = [line.split("\t") for line in by_file.stdout.splitlines()]
    # The gold label is not part of the text, and the answer is spelled as in training.
    assert [r[1] for r in rows] == [t for _, t in items(150, 200)]
    prefix = "__label__" if fmt == "fasttext" else ""
    assert {r[0] for r in rows} <= {prefix + g for g, _ in items(0, 150)}


def test_id_tab_text_keeps_its_id_through_a_shell_pipeline(models, tmp_path):
    model = models["tsv"][0]
    texts = [t for _, t in items(150, 160)]
    ids = "".join(f"doc{i}\t{t}\n" for i, t in enumerate(texts))
    pipeline = f"{sys.executable} -m rnn_cli classify {model} --device cpu | cut -f2,3"
    res = subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], input=ids.encode(), capture_output=True,
                         cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr.decode()
    assert res.stdout.decode() == ids  # every id, with its text, in order
    # A guess (the text column), said on stderr with the way to choose another.
    assert "classifying column 1" in res.stderr.decode() and "--text-column" in res.stderr.decode()
    # The same file named, the column chosen: no note, the same answers.
    path = tmp_path / "ids.tsv"
    path.write_text(ids, encoding="utf-8")
    chosen = ok("classify", model, path, "--text-column", "1", "--device", "cpu")
    assert "read as" not in chosen.stderr
    rows = [line.split("\t") for line in chosen.stdout.splitlines()]
    assert [r[1:] for r in rows] == [line.split("\t") for line in ids.splitlines()]
    # With a header: chosen by name, the header written back above the predictions.
    named = tmp_path / "named.tsv"
    named.write_text("id\tsentence\n" + ids, encoding="utf-8")
    out = ok("classify", model, named, "--text-column", "sentence", "--probs", "--device", "cpu").stdout.splitlines()
    assert out[0] == "predicted\tprob\tid\tsentence"
    assert [line.split("\t")[2] for line in out[1:]] == [f"doc{i}" for i in range(len(texts))]
    jsonl = ok("classify", model, named, "--text-column", "sentence", "--format", "jsonl", "--device", "cpu")
    first = json.loads(jsonl.stdout.splitlines()[0])
    assert first["columns"] == {"id": "doc0", "sentence": texts[0]} and first["text"] == texts[0]


def test_classify_labels_in_their_training_spelling_round_trip(models, tmp_path):
    """Answers written back in the layout the model was trained on are read as the
    same labels: the model agrees with every one of its own answers."""
    texts = layout("text", items(200, 240))
    for fmt, write in (("fasttext", lambda g, t: f"{g} {t}"), ("label-text", lambda g, t: f"{g} {t}")):
        model = models[fmt][0]
        res = run_cli("classify", str(model), "--device", "cpu", stdin=texts)  # plain text on a real stdin
        assert res.returncode == 0, res.stderr.decode()
        answers = [line.split("\t", 1) for line in res.stdout.decode().splitlines()]
        assert len(answers) == 40 and all(t == e for (_, t), e in zip(answers, texts.splitlines()))
        if fmt == "fasttext":
            assert all(g.startswith("__label__") for g, _ in answers)
        again = tmp_path / f"again.{fmt}"
        again.write_text("".join(write(g, t) + "\n" for g, t in answers), encoding="utf-8")
        scored = json.loads(ok("evaluate", model, again, "--json", "--device", "cpu").stdout)
        assert scored["items"] == 40 and scored["accuracy"] == 1.0


def test_label_text_trains_and_evaluates_from_a_file_and_stdin(models, data):
    model, summary, _ = models["label-text"]
    dev = data["label-text"][1]
    by_file = json.loads(ok("evaluate", model, dev, "--json", "--device", "cpu").stdout)
    by_stdin = invoke_stdin("evaluate", model, "-", "--json", "--device", "cpu", stdin=dev.read_text())
    assert by_stdin.exit_code == 0, by_stdin.stderr
    assert json.loads(by_stdin.stdout)["accuracy"] == by_file["accuracy"] == pytest.approx(summary["dev_accuracy"])
    assert by_file["items"] == 50 and sum(map(sum, by_file["confusion"]["matrix"])) == 50
    # A model trained on TSV scores the same items written as `label text`.
    tsv_score = json.loads(ok("evaluate", models["tsv"][0], dev, "--json", "--device", "cpu").stdout)
    tsv_own = json.loads(ok("evaluate", models["tsv"][0], data["tsv"][1], "--json", "--device", "cpu").stdout)
    assert tsv_score["accuracy"] == tsv_own["accuracy"]


def test_training_from_stdin_in_label_text(data, tmp_path):
    train, dev = data["label-text"]
    res = invoke_stdin("train-classifier", "-", "--dev", dev, *TINY, "-o", tmp_path / "m.pt",
                       stdin=train.read_text(encoding="utf-8"))
    assert res.exit_code == 0, res.stderr
    assert "<stdin>: 150 items (label-text)" in res.stderr


def test_notes_on_stderr_where_the_layout_was_a_guess(models, tmp_path):
    small = tmp_path / "small.txt"
    small.write_text("reviews great food here\nemail see you soon\nreviews bad service today\n", encoding="utf-8")
    res = ok("train-classifier", small, "--dev", small, *TINY, "-o", tmp_path / "s.pt")
    assert f"{small}: read as `label text`" in res.stderr and "--input-format" in res.stderr
    # A `label text` model reading two lines that start with its labels: read so, and said.
    lines = "reviews the food was great\nemail thanks for the reply\n"
    guessed = invoke_stdin("classify", models["label-text"][0], "--device", "cpu", stdin=lines)
    assert guessed.exit_code == 0, guessed.stderr
    assert "<stdin>: read as `label text`" in guessed.stderr and "--input-format text" in guessed.stderr
    assert [r.split("\t")[1] for r in guessed.stdout.splitlines()] == ["the food was great", "thanks for the reply"]
    forced = invoke_stdin("classify", models["label-text"][0], "--input-format", "text", "--device", "cpu",
                          stdin=lines)
    assert forced.stderr == "" and [r.split("\t")[1] for r in forced.stdout.splitlines()] == lines.splitlines()
    # Any other model reads them as text, and says they look like labels.
    ten = layout("label-text", items(200, 210))  # 5 labels twice
    other = invoke_stdin("classify", models["tsv"][0], "--device", "cpu", stdin=ten)
    assert "--input-format label-text" in other.stderr
    assert [r.split("\t", 1)[1] for r in other.stdout.splitlines()] == ten.splitlines()
    plain = invoke_stdin("classify", models["tsv"][0], "--device", "cpu", stdin=layout("text", items(200, 205)))
    assert plain.exit_code == 0 and plain.stderr == ""


def test_evaluate_errors_name_options_that_evaluate_has(models, data, tmp_path):
    helps = ok("evaluate", "--help").stdout
    plain = invoke_stdin("evaluate", models["tsv"][0], data["text"][1], "--device", "cpu")
    line = error_line(plain)
    assert plain.exit_code == 2 and "--input-format label-text" in line
    options = {word.strip(".,;:()") for word in line.split() if word.startswith("--")}
    assert options and all(option in helps for option in options), (options, line)
    # Columns named for a file whose header does not say text and label.
    named = tmp_path / "named.tsv"
    named.write_text("id\tsentence\tgenre\n" + "".join(f"{i}\t{t}\t{g}\n" for i, (g, t) in enumerate(items(150, 200))),
                     encoding="utf-8")
    refused = invoke_stdin("evaluate", models["tsv"][0], named, "--device", "cpu")
    assert refused.exit_code == 2 and "--text-column and --label-column" in error_line(refused)
    scored = ok("evaluate", models["tsv"][0], named, "--text-column", "sentence", "--label-column", "genre",
                "--json", "--device", "cpu")
    own = ok("evaluate", models["tsv"][0], data["tsv"][1], "--json", "--device", "cpu")
    assert json.loads(scored.stdout)["accuracy"] == json.loads(own.stdout)["accuracy"]


def test_training_without_dev_holds_out_a_tenth_of_the_training_items(data, tmp_path):
    train, _ = data["tsv"]
    res = ok("train-classifier", train, *TINY, "-o", tmp_path / "m.pt")
    assert "no --dev: 15 of the training items" in res.stderr and "held out as dev" in res.stderr
    assert "135 items (tsv)" in res.stderr  # trained on the rest only
    summary = json.loads(res.stdout)
    assert 0 <= summary["dev_accuracy"] <= 1 and (tmp_path / "m.pt").exists()
    again = ok("train-classifier", train, *TINY, "-o", tmp_path / "m2.pt")
    assert json.loads(again.stdout)["dev_accuracy"] == summary["dev_accuracy"]  # the same split every run


def test_json_lines_with_other_keys_are_read_by_the_column_options(tmp_path):
    """GLUE-style JSON lines (`sentence`, a numeric or true/false `label`, an `idx`): the
    column options name the keys (they made the first line a TSV header), and the
    model reads the same keys in `evaluate`, `classify` and the Python API."""
    import rnn_cli

    def write(path, pairs):
        path.write_text("".join(json.dumps({"idx": i, "sentence": t, "gold": g == "reviews"}) + "\n"
                                for i, (g, t) in enumerate(pairs)), encoding="utf-8")
    train, dev, model = tmp_path / "train.jsonl", tmp_path / "dev.jsonl", tmp_path / "m.pt"
    write(train, items(0, 150))
    write(dev, items(150, 200))
    res = ok("train-classifier", train, "--dev", dev, "--text-column", "sentence", "--label-column", "gold", *TINY,
             "-o", model)
    assert json.loads(res.stdout)["epochs"] == 1 and "2 labels" in res.stderr
    scores = json.loads(ok("evaluate", model, dev, "--json").stdout)
    assert scores["items"] == 50 and set(scores["labels"]) <= {"true", "false"}
    out = ok("classify", model, dev).stdout.splitlines()
    assert len(out) == 50 and {line.split("\t")[0] for line in out} <= {"true", "false"}
    rows = [json.loads(line) for line in ok("classify", model, dev, "--format", "jsonl").stdout.splitlines()]
    assert [r["columns"] for r in rows] == [{"idx": i} for i in range(50)]  # the id survives; text and gold not
    other = tmp_path / "other.jsonl"  # keys of its own, named when classifying
    other.write_text("".join(json.dumps({"review": t, "n": i}) + "\n" for i, (_, t) in enumerate(items(150, 160))),
                     encoding="utf-8")
    rows = [json.loads(line) for line in
            ok("classify", model, other, "--text-column", "review", "--format", "jsonl").stdout.splitlines()]
    assert [(r["text"], r["columns"]) for r in rows] == [(t, {"n": i}) for i, (_, t) in enumerate(items(150, 160))]
    loaded = rnn_cli.load(str(model))
    assert loaded.classify_many([{"sentence": "Thanks for the great service"}])[0].labels[0] in {"true", "false"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"sentence": "a", "gold": true}\n{"text": "b", "gold": false}\n', encoding="utf-8")
    assert 'bad.jsonl:2: expected an object with a "sentence" string' in error_line(
        invoke_stdin("train-classifier", bad, "--text-column", "sentence", "--label-column", "gold", *TINY,
                     "-o", tmp_path / "b.pt"))


def test_a_models_tsv_columns_do_not_name_keys_of_json_lines(data, tmp_path):
    train, dev = data["tsv"]
    model = tmp_path / "by-index.pt"
    ok("train-classifier", train, "--dev", dev, "--text-column", "1", "--label-column", "0", *TINY, "-o", model)
    jsonl = data["jsonl"][1]
    scores = json.loads(ok("evaluate", model, jsonl, "--json").stdout)  # read with `text` and `label`
    assert scores["items"] == 50
    assert len(ok("classify", model, jsonl).stdout.splitlines()) == 50
