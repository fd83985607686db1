"""The Python API: `rnn_cli.load(path)` and the methods of what it returns give what the
commands print, fail with the commands' messages, and `import rnn_cli` stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import rnn_cli
from rnn_cli.errors import CheckpointError
from tests.conftest import ROOT, SAMPLES
from tests.inprocess import error_line, invoke, ok

DEV = SAMPLES / "names.dev.conll"


def conll_sentences(path, limit=60):
    blocks = [b for b in path.read_text().split("\n\n") if b.strip()][:limit]
    return [[line.split()[0] for line in b.splitlines() if line.strip()] for b in blocks]


def test_tag_and_tag_many_equal_the_command(deploy_models, tmp_path):
    sentences = conll_sentences(DEV)
    text = tmp_path / "in.txt"
    text.write_text("".join(" ".join(s) + "\n" for s in sentences))
    rows = [json.loads(r) for r in ok("tag", deploy_models["tagger"], text, "--format", "jsonl", "--probs",
                                      "--nbest", "3", "--scheme", "bioes").stdout.splitlines()]
    tagger = rnn_cli.load(deploy_models["tagger"])
    assert [tagger.tag(s) for s in sentences[:5]] == [tagger.tag(" ".join(s)) for s in sentences[:5]]
    got = tagger.tag_many(sentences, probs=True, nbest=3, scheme="bioes", batch_size=7)
    assert len(got) == len(rows) == len(sentences)
    for p, row, s in zip(got, rows, sentences):
        assert p.tokens == s and p.tags == row["tags"]
        assert p.probs == pytest.approx(row["probs"], abs=1e-5)
        assert [t for t, _ in p.nbest] == [n["tags"] for n in row["nbest"]]
    plain = [json.loads(r)["tags"] for r in ok("tag", deploy_models["tagger"], text, "--format", "jsonl")
             .stdout.splitlines()]
    assert [tagger.tag(s) for s in sentences] == plain
    with pytest.raises(ValueError, match="sentence 2: expected a non-empty list"):
        tagger.tag_many([["a"], []])
    with pytest.raises(ValueError, match="invalid scheme"):
        tagger.tag(["a"], scheme="bilou")


def test_classify_equals_the_command(deploy_models, tmp_path):
    texts = [line.split("\t", 1)[1] for line in (SAMPLES / "ewt.genre.dev.tsv").read_text().splitlines()[:80]]
    (tmp_path / "in.txt").write_text("".join(t + "\n" for t in texts))
    for name in ("classifier", "ensemble"):
        rows = [json.loads(r) for r in ok("classify", deploy_models[name], tmp_path / "in.txt", "--format", "jsonl",
                                          "--input-format", "text").stdout.splitlines()]
        model = rnn_cli.load(deploy_models[name])
        got = model.classify_many(texts, batch_size=5)
        assert [p.label for p in got] == [r["label"] for r in rows]
        for p, r in zip(got, rows):
            assert p.probs == pytest.approx(r["probs"], abs=1e-5)
        one = model.classify(texts[3])
        assert one.label == rows[3]["label"] and sum(one.probs.values()) == pytest.approx(1.0)
    explained = rnn_cli.load(deploy_models["classifier"]).classify_many(texts[:3], explain=True)
    assert all(len(p.attention) == len(p.tokens) for p in explained)


def test_score_and_generate_equal_the_commands(deploy_models, tmp_path):
    lines = (SAMPLES / "shakespeare.valid.txt").read_text().splitlines()[:40]
    (tmp_path / "in.txt").write_text("".join(line + "\n" for line in lines))
    rows = [json.loads(r) for r in ok("evaluate", deploy_models["lm"], tmp_path / "in.txt", "--per-line",
                                      "--json").stdout.splitlines()]
    lm = rnn_cli.load(deploy_models["lm"])
    scores = lm.score_many(lines, batch_size=4)
    assert [s.tokens for s in scores] == [r["tokens"] for r in rows]
    assert [s.logprob for s in scores] == pytest.approx([r["logprob"] for r in rows], abs=1e-4)
    assert lm.score(lines[2]) == pytest.approx(rows[2]["logprob"], abs=1e-4)
    for kwargs, args in (({"max_tokens": 15, "seed": 5}, ["-n", "15", "--seed", "5"]),
                         ({"max_tokens": 10, "beam": 3}, ["-n", "10", "--beam", "3"]),
                         ({"max_tokens": 10, "temperature": 0.7, "top_k": 5, "top_p": 0.9, "seed": 2},
                          ["-n", "10", "--temperature", "0.7", "--top-k", "5", "--top-p", "0.9", "--seed", "2"])):
        want = ok("generate", deploy_models["lm"], "-p", "First Citizen:", *args).stdout
        text = lm.generate("First Citizen:", **kwargs)
        assert text + ("" if text.endswith("\n") else "\n") == want  # the command ends its output with a line end
    with pytest.raises(ValueError, match="--greedy"):
        lm.generate("x", greedy=True, beam=2)
    with pytest.raises(ValueError, match="without line breaks"):
        lm.score("two\nlines")


def test_exported_and_int8_models_load_through_the_api(deploy_models, tmp_path):
    ok("export", deploy_models["tagger"], "-o", tmp_path / "t.ts")
    sentence = ["Peter", "met", "Mary", "in", "Berlin"]
    assert rnn_cli.load(tmp_path / "t.ts").tag(sentence) == rnn_cli.load(deploy_models["tagger"]).tag(sentence)
    assert len(rnn_cli.load(deploy_models["tagger"], quantize="int8").tag(sentence)) == 5


def test_wrong_files_raise_the_commands_errors(deploy_models, tmp_path):
    (tmp_path / "notes.txt").write_text("not a model\n")
    state = deploy_models["tagger"].with_name("tagger.state.pt")
    for path in (tmp_path / "missing.pt", tmp_path / "notes.txt", tmp_path, state):
        with pytest.raises(CheckpointError) as caught:
            rnn_cli.load(path)
        res = invoke("tag", path, DEV)
        assert res.exit_code == 2
        assert error_line(res) == f"rnn-cli: error: {caught.value}"


def test_import_rnn_cli_does_not_import_torch():
    code = "import sys, rnn_cli; assert callable(rnn_cli.load); print('torch' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT, timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == b"False", res.stderr.decode()
