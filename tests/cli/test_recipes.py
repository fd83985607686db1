"""Recipes (`--recipe NAME`, `rnn-cli recipes [NAME]`): every shipped recipe is listed,
prints as a YAML file that `--config` accepts with the same result, builds a valid
config of its command, and trains a step on sample data with its own options; the
order of precedence is defaults < recipe < --config < command line; an unknown
recipe, or one for another command, is a one-line error with exit status 2."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from rnn_cli import checkpoint
from rnn_cli.config import from_dict
from rnn_cli.recipes import RECIPE_DIR, recipes
from rnn_cli.training.configs import TrainClassifierConfig, TrainLMConfig, TrainTaggerConfig
from tests.conftest import SAMPLES
from tests.inprocess import error_line, invoke, metrics, ok

CONFIGS = {"train-lm": TrainLMConfig, "train-tagger": TrainTaggerConfig, "train-classifier": TrainClassifierConfig}
NAMES = sorted(path.stem for path in RECIPE_DIR.glob("*.yaml"))


def _head(src: Path, dst: Path, lines: int) -> Path:
    dst.write_text("".join(src.read_text(encoding="utf-8").splitlines(keepends=True)[:lines]), encoding="utf-8")
    return dst


def _data(name: str, d: Path) -> list[str]:
    """A small training and dev file for recipe `name` (its own options untouched)."""
    recipe = recipes()[name]
    opts = recipe.options()
    if recipe.command == "train-lm":
        level = opts.get("level", "word")
        lines = 400 if level == "word" else 60
        train = _head(SAMPLES / "shakespeare.train.txt", d / "train.txt", lines)
        dev = _head(SAMPLES / "shakespeare.valid.txt", d / "dev.txt", 40)
        return [str(train), "--valid", str(dev)]
    if recipe.command == "train-tagger":
        train = _head(SAMPLES / "names.train.conll", d / "train.conll", 600)
        dev = _head(SAMPLES / "names.dev.conll", d / "dev.conll", 200)
        return [str(train), "--dev", str(dev)]
    source = {"ptb-trees": "trees", "babi": "babi"}.get(opts.get("input_format", ""), "pairs")
    if source == "trees":
        train, dev = SAMPLES / "trees.train.txt", SAMPLES / "trees.dev.txt"
        return [str(_head(train, d / "train.txt", 60)), "--dev", str(_head(dev, d / "dev.txt", 30))]
    if source == "babi":
        return [str(_head(SAMPLES / "babi.qa1.train.txt", d / "train.txt", 150)), "--dev",
                str(_head(SAMPLES / "babi.qa1.test.txt", d / "dev.txt", 60))]
    return [str(_head(SAMPLES / "ewt.pairs.train.jsonl", d / "train.jsonl", 40)), "--dev",
            str(_head(SAMPLES / "ewt.pairs.dev.jsonl", d / "dev.jsonl", 20))]


def test_every_file_is_listed_with_its_command() -> None:
    listed = ok("recipes").stdout.splitlines()
    assert sorted(line.split()[0] for line in listed) == NAMES
    for line in listed:
        name, command, *about = line.split()
        assert command in CONFIGS and about, line
        assert recipes()[name].command == command


@pytest.mark.parametrize("name", NAMES)
def test_recipe_prints_as_a_valid_config(name: str) -> None:
    text = ok("recipes", name).stdout
    assert text == (RECIPE_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    options = yaml.safe_load(text)
    recipe = recipes()[name]
    cfg = from_dict(CONFIGS[recipe.command], options, where=name)  # valid keys, types and values
    for key, value in options.items():
        assert getattr(cfg, key) == value, key


def _stored(out: Path) -> dict[str, Any]:
    return checkpoint.load(out)["train_config"]


@pytest.mark.parametrize("name", NAMES)
def test_recipe_trains_a_step_with_its_options(name: str, tmp_path: Path) -> None:
    recipe = recipes()[name]
    out = tmp_path / "model.pt"
    ok(recipe.command, *_data(name, tmp_path), "-o", out, "--recipe", name, "--epochs", "1", "-q")
    stored = _stored(out)
    for key, value in recipe.options().items():
        if key != "epochs":
            assert stored[key] == value, key
    assert stored["epochs"] == 1
    (record,) = metrics(out)
    assert record["step"] >= 1 and math.isfinite(record["train_loss"])


def test_recipe_config_and_command_line_in_that_order(tmp_path: Path) -> None:
    files = _data("ma-hovy", tmp_path)
    (tmp_path / "opts.yaml").write_text("lr: 0.05\nbatch_size: 7\nhidden-size: 16\n")
    out = tmp_path / "m.pt"
    ok("train-tagger", *files, "-o", out, "--recipe", "ma-hovy", "--config", tmp_path / "opts.yaml",
       "--batch-size", "5", "--epochs", "1", "--embedding-size", "8", "-q")
    stored = _stored(out)
    assert stored["momentum"] == 0.9 and stored["schedule"] == "inverse-time"  # the recipe's
    assert stored["lr"] == 0.05 and stored["hidden_size"] == 16  # the file's, over the recipe
    assert stored["batch_size"] == 5 and stored["epochs"] == 1  # the command line's, over both
    assert stored["char_encoder"] == "cnn" and stored["embedding_size"] == 8


def test_printed_recipe_as_config_equals_the_recipe(tmp_path: Path) -> None:
    files = _data("zaremba-small", tmp_path)
    (tmp_path / "z.yaml").write_text(ok("recipes", "zaremba-small").stdout)
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    ok("train-lm", *files, "-o", a, "--recipe", "zaremba-small", "--epochs", "1", "-q")
    ok("train-lm", *files, "-o", b, "--config", tmp_path / "z.yaml", "--epochs", "1", "-q")
    assert _stored(a) == _stored(b)
    assert _stored(a) != {**_stored(a), **TrainLMConfig(epochs=1).__dict__}  # not the defaults


def test_unknown_recipe_or_another_commands_recipe_is_a_usage_error(tmp_path: Path) -> None:
    files = _data("ma-hovy", tmp_path)
    res = invoke("train-tagger", *files, "-o", tmp_path / "m.pt", "--recipe", "no-such")
    assert res.exit_code == 2
    line = error_line(res)
    assert "no-such" in line and "ma-hovy" in line and "zaremba-small" not in line
    res = invoke("train-tagger", *files, "-o", tmp_path / "m.pt", "--recipe", "zaremba-small")
    assert res.exit_code == 2
    assert "train-lm" in error_line(res)
    res = invoke("recipes", "no-such")
    assert res.exit_code == 2 and "zaremba-small" in error_line(res)
    assert not (tmp_path / "m.pt").exists()
