"""`--config FILE.yaml` for every trainer: the file's options take effect (in the stored
options and in the model built from them), keys may use dashes or underscores, the
command line wins over the file, an unknown key or a value of the wrong type is an
error (exit status 2, one line naming the key); and the round trip
`rnn-cli info MODEL --config > opts.yaml; train-... --config opts.yaml` trains with the
same options (the same `info --config`, and with the same seed the same weights).

Options used: --config and -o/--device/-q on every trainer; train-lm --valid
--hidden-size; train-tagger/train-classifier --dev --hidden-size; train-classifier
--bidirectional; info --config. In the YAML files: level, layers, hidden-size,
embedding_size, cell, epochs, batch-size, bptt, dropout (train-lm); hidden-size,
embedding_size, char-encoder, char_filters, char-embedding-size, decoder, epochs,
batch-size (train-tagger); hidden-size, embedding_size, cell, pooling, attention_size,
bidirectional, epochs, batch-size (train-classifier)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import yaml

from rnn_cli import checkpoint
from tests.conftest import SAMPLES
from tests.inprocess import error_line, invoke, metrics, ok, write_lm_pair

# trainer -> (YAML options, expected stored training options, expected model config)
CASES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "train-lm": (
        "level: char\nlayers: 1\nhidden-size: 12\nembedding_size: 6\ncell: gru\nepochs: 1\nbatch-size: 4\n"
        "bptt: 10\ndropout: 0.1\n",
        {"level": "char", "layers": 1, "hidden_size": 10, "embedding_size": 6, "cell": "gru", "epochs": 1,
         "batch_size": 4, "bptt": 10, "dropout": 0.1},
        {"layers": 1, "hidden_size": 10, "embedding_size": 6, "cell": "gru", "dropout": 0.1},
    ),
    "train-tagger": (
        "hidden-size: 12\nembedding_size: 6\nchar-encoder: lstm\nchar_filters: 4\nchar-embedding-size: 5\n"
        "decoder: softmax\nepochs: 1\nbatch-size: 20\n",
        {"hidden_size": 10, "embedding_size": 6, "char_encoder": "lstm", "char_filters": 4,
         "char_embedding_size": 5, "decoder": "softmax", "epochs": 1, "batch_size": 20},
        {"hidden_size": 10, "word_embedding_size": 6, "char_encoder": "lstm", "char_filters": 4,
         "char_embedding_size": 5, "decoder": "softmax"},
    ),
    "train-classifier": (
        "hidden-size: 12\nembedding_size: 6\ncell: gru\npooling: attention\nattention_size: 7\n"
        "bidirectional: false\nepochs: 1\nbatch-size: 16\n",
        {"hidden_size": 10, "embedding_size": 6, "cell": "gru", "pooling": "attention", "attention_size": 7,
         "bidirectional": True, "epochs": 1, "batch_size": 16},
        {"hidden_size": 10, "embedding_size": 6, "cell": "gru", "pooling": "attention", "attention_size": 7,
         "bidirectional": True},
    ),
}
# What the command line sets over the file (the file says hidden-size 12, and for the
# classifier bidirectional: false).
COMMAND_LINE = {"train-lm": ["--hidden-size", "10"], "train-tagger": ["--hidden-size", "10"],
                "train-classifier": ["--hidden-size", "10", "--bidirectional"]}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, list[Any]]:
    """trainer -> its data arguments (tiny files)."""
    d = tmp_path_factory.mktemp("config-data")
    lm = write_lm_pair(d, 600)
    sents = (SAMPLES / "names.train.conll").read_text().strip().split("\n\n")
    (d / "train.conll").write_text("\n\n".join(sents[:40]) + "\n")
    (d / "dev.conll").write_text("\n\n".join(sents[40:60]) + "\n")
    lines = (SAMPLES / "ewt.genre.train.tsv").read_text().splitlines()
    (d / "train.tsv").write_text("\n".join(lines[:100]) + "\n")
    (d / "dev.tsv").write_text("\n".join(lines[100:140]) + "\n")
    return {"train-lm": ["train-lm", lm["train"], "--dev", lm["valid"]],
            "train-tagger": ["train-tagger", d / "train.conll", "--dev", d / "dev.conll"],
            "train-classifier": ["train-classifier", d / "train.tsv", "--dev", d / "dev.tsv"]}


RUN = ["--device", "cpu", "-q"]


@pytest.mark.parametrize("trainer", list(CASES))
def test_file_options_take_effect_the_command_line_wins_and_info_round_trips(trainer, data, tmp_path):
    text, stored, model = CASES[trainer]
    cfg = tmp_path / "opts.yaml"
    cfg.write_text(text)
    out = tmp_path / "m.pt"
    ok(*data[trainer], "--config", cfg, *COMMAND_LINE[trainer], *RUN, "-o", out)
    payload = checkpoint.load(out)
    assert {k: payload["train_config"][k] for k in stored} == stored
    assert {k: payload["config"][k] for k in model} == model
    checkpoint.build_model(payload, str(out))  # the weights have the shapes of that config
    assert len(metrics(out)) == 1  # epochs: 1

    # info --config, fed back: the same options, and (same seed, CPU) the same weights.
    exported = ok("info", out, "--config").stdout
    assert yaml.safe_load(exported) == payload["train_config"]
    (tmp_path / "again.yaml").write_text(exported)
    again = tmp_path / "again.pt"
    ok(*data[trainer], "--config", tmp_path / "again.yaml", *RUN, "-o", again)
    assert ok("info", again, "--config").stdout == exported
    a, b = payload["state_dict"], checkpoint.load(again)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("trainer", list(CASES))
@pytest.mark.parametrize("text, key", [("epochs: 1\nhiden_size: 3\n", "hiden_size"),
                                       ("epochs: many\n", "epochs"),
                                       ("hidden-size: [1, 2]\n", "hidden_size")],
                         ids=["unknown-key", "wrong-type", "list-for-int"])
def test_unknown_keys_and_wrong_types_are_one_line_errors(trainer, data, tmp_path, text, key):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    res = invoke(*data[trainer], "--config", cfg, *RUN, "-o", tmp_path / "m.pt")
    assert res.exit_code == 2, (res.exception, res.stdout, res.stderr)
    line = error_line(res)
    assert key in line and str(cfg) in line, line
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.parametrize("trainer", ["train-lm", "train-tagger", "train-classifier"])
def test_threads_is_taken_beside_a_config_file_and_not_stored(trainer, data, tmp_path):
    """README: every command that runs a model takes --threads N; it says how to run, not
    what to train, so it is not among the stored options that `info --config` exports."""
    cfg = tmp_path / "opts.yaml"
    cfg.write_text(CASES[trainer][0])
    out = tmp_path / "m.pt"
    before = torch.get_num_threads()
    try:
        ok(*data[trainer], "--config", cfg, "--threads", "1", *RUN, "-o", out)
    finally:
        torch.set_num_threads(before)
    assert "threads" not in checkpoint.load(out)["train_config"]
