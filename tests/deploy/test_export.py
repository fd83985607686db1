"""`rnn-cli export`: the exported TorchScript model gives the commands the same outputs
as the model file, it runs in a process where rnn_cli cannot be imported, ONNX exports
run in onnxruntime with other batch and sequence sizes, and wrong uses fail in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import SAMPLES
from tests.inprocess import error_line, invoke, ok

DEV = SAMPLES / "names.dev.conll"
GENRE = SAMPLES / "ewt.genre.dev.tsv"


def export(model: Path, out: Path, *args: str) -> Path:
    res = ok("export", model, "-o", out, *args)
    fields = res.stdout.rstrip("\n").split("\t")
    assert fields[2] == str(out) and int(fields[3].split()[0]) == out.stat().st_size
    assert Path(f"{out}.json").exists()
    return out


@pytest.fixture(scope="module")
def exported(deploy_models, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("exported")
    return {name: export(path, d / f"{name}.ts") for name, path in deploy_models.items()}


@pytest.mark.parametrize("name", ["tagger", "softmax"])
def test_tag_with_the_export_writes_what_the_model_file_writes(name, deploy_models, exported):
    want = ok("tag", deploy_models[name], DEV).stdout
    assert want.count("\n") > 1000
    assert ok("tag", exported[name], DEV).stdout == want


@pytest.mark.parametrize("name", ["tagger", "softmax"])
def test_tag_probabilities_and_nbest_with_the_export(name, deploy_models, exported):
    """The same tags and k-best lists; the probabilities to float rounding (the export
    runs each direction apart, so emissions differ in the last bits)."""
    options = ["--format", "jsonl", "--probs", "--nbest", "2"]
    want = [json.loads(r) for r in ok("tag", deploy_models[name], DEV, *options).stdout.splitlines()]
    got = [json.loads(r) for r in ok("tag", exported[name], DEV, *options).stdout.splitlines()]
    assert len(got) == len(want) > 200
    for g, w in zip(got, want):
        assert g["tags"] == w["tags"] and [n["tags"] for n in g["nbest"]] == [n["tags"] for n in w["nbest"]]
        assert g["probs"] == pytest.approx(w["probs"], abs=1e-4)
        assert [n["prob"] for n in g["nbest"]] == pytest.approx([n["prob"] for n in w["nbest"]], abs=1e-4)


@pytest.mark.parametrize("name", ["classifier", "ensemble"])
def test_classify_with_the_export_writes_what_the_model_file_writes(name, deploy_models, exported):
    """The same labels and texts; the printed probabilities to their last digit (float
    rounding of the export can move a value across a rounding boundary)."""
    want = [r.split("\t") for r in ok("classify", deploy_models[name], GENRE, "--probs", "--input-format",
                                      "tsv").stdout.splitlines()]
    got = [r.split("\t") for r in ok("classify", exported[name], GENRE, "--probs", "--input-format",
                                     "tsv").stdout.splitlines()]
    assert len(want) == len(got) == 500
    for g, w in zip(got, want):
        assert g[0] == w[0] and g[2:] == w[2:]
        assert float(g[1]) == pytest.approx(float(w[1]), abs=1.5e-4)


@pytest.mark.parametrize("name,data", [("tagger", DEV), ("softmax", DEV), ("classifier", GENRE),
                                       ("lm", SAMPLES / "shakespeare.valid.txt")])
def test_evaluate_with_the_export_gives_the_same_scores(name, data, deploy_models, exported):
    want = json.loads(ok("evaluate", deploy_models[name], data, "--json").stdout)
    got = json.loads(ok("evaluate", exported[name], data, "--json").stdout)
    want.pop("file"), got.pop("file")
    if name == "lm":  # the export computes the softmax apart from the loss: the last bits differ
        numbers = {k for k, v in want.items() if isinstance(v, float)}
        assert {k: got[k] for k in numbers} == pytest.approx({k: want[k] for k in numbers}, rel=1e-5)
        want, got = ({k: v for k, v in d.items() if k not in numbers} for d in (want, got))
    assert got == want


def test_generate_and_score_lines_with_the_export(deploy_models, exported):
    for args in (["-p", "First Citizen:", "-n", "20", "--seed", "7"], ["-p", "Hark", "--beam", "3", "-n", "8"]):
        assert ok("generate", exported["lm"], *args).stdout == ok("generate", deploy_models["lm"], *args).stdout
    lines = SAMPLES / "shakespeare.test.txt"
    want = [json.loads(r) for r in ok("evaluate", deploy_models["lm"], lines, "--per-line", "--json")
            .stdout.splitlines()]
    got = [json.loads(r) for r in ok("evaluate", exported["lm"], lines, "--per-line", "--json").stdout.splitlines()]
    assert [r["tokens"] for r in got] == [r["tokens"] for r in want]
    assert [r["logprob"] for r in got] == pytest.approx([r["logprob"] for r in want], abs=1e-3)


PLAIN_TORCH = r'''
import importlib.abc, json, sys

class NoRnnCli(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "rnn_cli" or name.startswith("rnn_cli."):
            raise ImportError("rnn_cli must not be needed to run an export")

sys.meta_path.insert(0, NoRnnCli())
import torch

task, path = sys.argv[1], sys.argv[2]
meta = json.load(open(path + ".json"))
net = torch.jit.load(path)
if task == "tagger":
    words = meta["vocab"]["words"]
    index = {w: i for i, w in enumerate(words)}
    chars = {c: i for i, c in enumerate(meta["vocab"]["chars"])}
    sentences = [["John", "lives", "in", "Paris", "."], ["Hello", "qqzx"]]
    n, c = max(map(len, sentences)), max(len(w) for s in sentences for w in s)
    w = torch.zeros(len(sentences), n, dtype=torch.long)
    ch = torch.zeros(len(sentences), n, c, dtype=torch.long)
    for b, s in enumerate(sentences):
        for t, word in enumerate(s):
            w[b, t] = index.get(word, 1)
            for k, x in enumerate(word):
                ch[b, t, k] = chars.get(x, 1)
    out = net(w, ch, torch.tensor([len(s) for s in sentences]))
    result = {"emissions": out.tolist(), "transitions": meta["decoding"]["transitions"]}
elif task == "classifier":
    index = {w: i for i, w in enumerate(meta["vocab"]["words"])}
    ids = torch.tensor([[index.get(x, 1) for x in "I love this place".split()]])
    result = {"scores": net(ids, torch.tensor([4])).tolist(), "labels": meta["vocab"]["labels"]}
else:
    index = {w: i for i, w in enumerate(meta["vocab"]["tokens"])}
    ids = torch.tensor([[index["<eos>"]] + [index.get(x, index["<unk>"]) for x in "First Citizen :".split()]]).t()
    layers, hidden = meta["config"]["layers"], meta["config"]["hidden_size"]
    zeros = torch.zeros(layers, 1, hidden)
    logits, h, c = net(ids, zeros, zeros)
    result = {"logits": logits.tolist()}
assert not any(m == "rnn_cli" or m.startswith("rnn_cli.") for m in sys.modules)
print(json.dumps(result))
'''


@pytest.mark.parametrize("name", ["tagger", "classifier", "lm"])
def test_an_export_runs_in_plain_torch_and_gives_the_models_scores(name, deploy_models, exported, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run([sys.executable, "-c", PLAIN_TORCH, name, str(exported[name])],
                         capture_output=True, cwd=tmp_path, env=env, timeout=120)
    assert res.returncode == 0, res.stderr.decode()
    result = json.loads(res.stdout)
    import rnn_cli

    model = rnn_cli.load(deploy_models[name])
    with torch.no_grad():
        if name == "tagger":
            from rnn_cli.data.conll import Sentence
            from rnn_cli.data.tagging import encode_batch

            sentences = [Sentence(s.split(), None, [[w] for w in s.split()], 1)
                         for s in ("John lives in Paris .", "Hello qqzx")]
            want = model.model.emissions(encode_batch(sentences, model.vocabs))
            got = torch.tensor([row + [[0.0] * want.size(2)] * (want.size(1) - len(row))
                                for row in result["emissions"]])
            mask = torch.tensor([[True] * 5, [True] * 2 + [False] * 3])
            assert torch.allclose(got[mask], want[mask], atol=1e-5)
            assert result["transitions"] == model.model.head.crf.transitions.tolist()
        elif name == "classifier":
            probs = model.classify("I love this place").probs
            got = torch.tensor(result["scores"][0]).softmax(0).tolist()
            assert got == pytest.approx([probs[label] for label in result["labels"]], abs=1e-5)
        else:
            ids = [model.vocab.index(t) for t in ["<eos>", "First", "Citizen", ":"]]
            want, _ = model.model(torch.tensor(ids).view(-1, 1))
            assert torch.allclose(torch.tensor(result["logits"]), want, atol=1e-5)


def test_int8_export_is_smaller_and_tags_nearly_alike(deploy_models, exported, tmp_path):
    q = export(deploy_models["tagger"], tmp_path / "q.ts", "--quantize", "int8")
    assert q.stat().st_size < 0.6 * exported["tagger"].stat().st_size  # a tiny model: the code is a large share
    assert json.loads(Path(f"{q}.json").read_text())["quantize"] == "int8"
    fp32 = [line.split("\t") for line in ok("tag", deploy_models["tagger"], DEV, "--format", "inline").stdout.split()]
    for model, extra in ((q, []), (deploy_models["tagger"], ["--quantize", "int8"])):
        res = ok("tag", model, DEV, "--format", "inline", *extra)
        assert res.stderr == ""  # torch's native notices about quantized tensors are not passed on
        got = [line.split("\t") for line in res.stdout.split()]
        assert len(got) == len(fp32)
        assert sum(a == b for a, b in zip(got, fp32)) / len(fp32) > 0.95


def test_int8_on_the_fly_for_each_command(deploy_models):
    ok("classify", deploy_models["classifier"], GENRE, "--quantize", "int8", "--input-format", "tsv")
    ok("generate", deploy_models["lm"], "-p", "First", "-n", "5", "--quantize", "int8")
    res = json.loads(ok("evaluate", deploy_models["lm"], SAMPLES / "shakespeare.valid.txt", "--json",
                        "--quantize", "int8").stdout)
    base = json.loads(ok("evaluate", deploy_models["lm"], SAMPLES / "shakespeare.valid.txt", "--json").stdout)
    assert res["ppl"] == pytest.approx(base["ppl"], rel=0.05) and res["ppl"] != base["ppl"]


onnx_test = pytest.mark.skipif(__import__("importlib").util.find_spec("onnxruntime") is None,
                               reason="onnxruntime is not installed (the [export] extra)")


@onnx_test
@pytest.mark.parametrize("name", ["tagger", "softmax", "classifier", "ensemble", "lm"])
def test_onnx_export_runs_in_onnxruntime_with_any_batch_and_length(name, deploy_models, tmp_path):
    import onnxruntime

    from rnn_cli.models.portable import portable
    from rnn_cli.predict import open_model

    out = export(deploy_models[name], tmp_path / f"{name}.onnx", "--to", "onnx")
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    task = json.loads(Path(f"{out}.json").read_text())["task"]
    model, _ = open_model(str(deploy_models[name]), task, torch.device("cpu"))
    net = portable(model)
    g = torch.Generator().manual_seed(0)
    for batch, length in ((1, 1), (5, 9), (3, 31)):
        lengths = torch.randint(1, length + 1, (batch,), generator=g)
        lengths[0] = length
        mask = torch.arange(length)[None] < lengths[:, None]
        if task == "tagger":
            words = torch.randint(1, 50, (batch, length), generator=g) * mask
            chars = torch.randint(1, 20, (batch, length, 7), generator=g) * mask[..., None]
            inputs = {"words": words, "chars": chars, "lengths": lengths}
        elif task == "classifier":
            inputs = {"words": torch.randint(1, 50, (batch, length), generator=g) * mask, "lengths": lengths}
        else:
            cfg = model.config
            h = torch.randn(cfg.layers, batch, cfg.hidden_size, generator=g)
            inputs = {"ids": torch.randint(0, 50, (length, batch), generator=g), "h0": h, "c0": h * 0.5}
        got = session.run(None, {k: v.numpy() for k, v in inputs.items()})
        with torch.no_grad():
            want = net(*inputs.values())
        want = want if isinstance(want, tuple) else (want,)
        for g_out, w_out in zip(got, want):
            g_out = torch.from_numpy(g_out)
            if task == "tagger":
                g_out, w_out = g_out[mask], w_out[mask]
            assert torch.allclose(g_out, w_out, atol=1e-5), (name, batch, length)


def test_wrong_uses_fail_in_one_line(deploy_models, exported, tmp_path):
    res = invoke("export", deploy_models["tagger"], "-o", tmp_path / "x.onnx", "--to", "onnx", "--quantize", "int8")
    assert res.exit_code == 2 and "TorchScript" in error_line(res)
    res = invoke("tag", exported["classifier"], DEV)
    assert res.exit_code == 2 and "is a classifier model, this command needs a tagger model" in error_line(res)
    res = invoke("tag", exported["tagger"], DEV, "--quantize", "int8")
    assert res.exit_code == 2 and "quantize when exporting" in error_line(res)
    res = invoke("classify", exported["classifier"], GENRE, "--explain", "--format", "jsonl")
    assert res.exit_code == 2 and "--explain needs the model file" in error_line(res)
    lone = tmp_path / "lone.ts"
    lone.write_bytes(exported["tagger"].read_bytes())
    res = invoke("tag", lone, DEV)
    assert res.exit_code == 2 and f"{lone}.json" in error_line(res)
    res = invoke("export", DEV, "-o", tmp_path / "y.ts")
    assert res.exit_code == 2 and "not an rnn-cli model file" in error_line(res)
    assert not (tmp_path / "y.ts").exists()
    assert "ts.json" not in " ".join(p.name for p in tmp_path.iterdir() if p.name.startswith("y"))


def test_info_shows_an_export_as_its_model(deploy_models, exported):
    def shown(path):
        skip = ("file:", "exported:", "created:", "parameters:")
        return [line for line in ok("info", path, "--verbose").stdout.splitlines() if not line.startswith(skip)]

    assert shown(exported["tagger"]) == shown(deploy_models["tagger"])
    assert "exported: torchscript (from tagger.pt)" in ok("info", exported["tagger"]).stdout
    assert json.loads(ok("info", exported["classifier"], "--json").stdout)["labels"] == \
        json.loads(ok("info", deploy_models["classifier"], "--json").stdout)["labels"]


def test_onnx_and_exported_files_are_named_as_such(deploy_models, exported, tmp_path):
    onnx = tmp_path / "t.onnx"
    if __import__("importlib").util.find_spec("onnx") is not None:
        export(deploy_models["tagger"], onnx, "--to", "onnx")
        for args in (("tag", onnx, DEV), ("info", onnx)):
            res = invoke(*args)
            assert res.exit_code == 2 and "an ONNX export runs in onnxruntime" in error_line(res)
    res = invoke("export", exported["tagger"], "-o", tmp_path / "again.ts")
    assert res.exit_code == 2 and "is an exported network; export from the model file" in error_line(res)
