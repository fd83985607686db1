"""Every option a trainer advertises is accepted and reaches its config, and every
config field has a flag: the options are derived from one catalogue, so a flag that
`--help` shows but the trainer refuses (as `train-lm --threads 1` once was) cannot
come back."""

from __future__ import annotations

import dataclasses
import typing
from enum import Enum

import pytest
import typer
from typer.testing import CliRunner

from rnn_cli.cli.app import app
from rnn_cli.training.configs import TrainClassifierConfig, TrainLMConfig, TrainTaggerConfig
from rnn_cli.training.options import (
    CELLS,
    CLASS_FORMATS,
    LEVELS,
    OPTIMIZERS,
    OPTIONS,
    POOLINGS,
    PRECISIONS,
    TAG_FORMATS,
    TOKENIZERS,
    TrainOptions,
    options_of,
)

TRAINERS = {"train-lm": TrainLMConfig, "train-tagger": TrainTaggerConfig, "train-classifier": TrainClassifierConfig}
RUN_PARAMS = {"train", "dev", "out", "test", "config", "recipe", "device", "threads", "resume", "quiet"}


def command(name: str):
    return typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]


def is_flag(param) -> bool:
    return bool(getattr(param, "is_flag", False))


def other_value(param, cls: type, default: object) -> list[str]:
    """Command-line words that set `param` (the command's parameter for a field of config
    `cls`) to a valid value other than the field's default."""
    if is_flag(param):
        return [param.secondary_opts[0] if default and param.secondary_opts else param.opts[0]]
    flag, kind = param.opts[0], typing.get_type_hints(cls)[param.name]
    choices = options_of(cls)[param.name].choices
    if choices is not None:
        return [flag, next(c for c in choices if c != default)]
    if kind is int:
        return [flag, str(int(default) + 1)]
    if kind is float or kind == typing.Optional[float]:
        return [flag, str(default / 2 if default else 0.1)]
    return [flag, "text" if default is None else f"{default}x"]


def run(name: str, words: list[str], monkeypatch) -> tuple[object, dict]:
    """Invoke trainer `name` with the required arguments and `words`; return the config it
    would train with and run_training's keyword arguments (training itself is skipped)."""
    import rnn_cli.cli._progress as progress

    seen: dict = {}

    def fake_run(start, quiet, device="auto", threads=0):
        seen.update(cfg=start.args[0], quiet=quiet, device=device, threads=threads, kwargs=start.keywords)

    monkeypatch.setattr(progress, "run_training", fake_run)
    required = ["train.txt", "-o", "m.pt"] + ([] if name == "train-lm" else ["--dev", "dev.txt"])
    res = CliRunner().invoke(app, [name, *required, *words])
    assert res.exit_code == 0, (words, res.output)
    return seen["cfg"], seen


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_every_config_field_has_a_flag_and_every_flag_is_a_field_or_a_run_option(name):
    params = {p.name for p in command(name).params} - {"help"}
    fields = {f.name for f in dataclasses.fields(TRAINERS[name])}
    assert fields <= params, fields - params
    assert params - fields == RUN_PARAMS


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_every_advertised_option_is_accepted_and_reaches_the_config(name, monkeypatch):
    cls = TRAINERS[name]
    defaults = cls()
    for param in command(name).params:
        if param.name in RUN_PARAMS or param.name == "help":
            continue
        default = getattr(defaults, param.name)
        words = other_value(param, cls, default)
        cfg, _ = run(name, words, monkeypatch)
        value = getattr(cfg, param.name)
        assert value != default, (words, value)
        if not is_flag(param):
            assert str(value) == words[1] or value == type(value)(words[1]), (words, value)


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_run_options_reach_the_runner(name, monkeypatch):
    _, seen = run(name, ["--threads", "1", "--device", "cpu", "--quiet", "--resume", "--test", "t.txt"], monkeypatch)
    assert (seen["threads"], seen["device"], seen["quiet"]) == (1, "cpu", True)
    assert seen["kwargs"]["resume"] is True and seen["kwargs"]["test"] == "t.txt"


def test_train_lm_takes_dev_and_its_alias_valid(monkeypatch):
    for flag in ("--dev", "--valid"):
        _, seen = run("train-lm", [flag, "v.txt"], monkeypatch)
        assert seen["kwargs"]["dev"] == "v.txt"


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_shared_options_have_one_meaning(name):
    """The shared fields keep their type and catalogue entry in every trainer; only the
    default may differ (None: a default the config resolves from the other options, as
    train-lm's optimiser from --level)."""
    shared = {f.name: f for f in dataclasses.fields(TrainOptions)}
    hints, base = typing.get_type_hints(TRAINERS[name]), typing.get_type_hints(TrainOptions)
    for field in dataclasses.fields(TRAINERS[name]):
        if field.name in shared:
            assert hints[field.name] in (base[field.name], base[field.name] | None)
        assert field.name in OPTIONS


def test_choice_lists_match_the_registries():
    from rnn_cli.data.classification import FORMATS as CLASSIFICATION_FORMATS
    from rnn_cli.data.classification import TOKENIZERS as TOKENIZER_NAMES
    from rnn_cli.data.lm_corpus import LEVELS as LEVEL_NAMES
    from rnn_cli.data.sentences import FORMATS as SENTENCE_FORMATS
    from rnn_cli.models.lm import PRECISIONS as PRECISION_NAMES
    from rnn_cli.models.pooling import POOLINGS as POOLING_NAMES
    from rnn_cli.models.rnn import CELLS as CELL_NAMES
    from rnn_cli.training.optim import build_optimizer

    assert CELLS == tuple(CELL_NAMES) and POOLINGS == tuple(POOLING_NAMES) and LEVELS == tuple(LEVEL_NAMES)
    assert PRECISIONS == tuple(PRECISION_NAMES) and TOKENIZERS == tuple(TOKENIZER_NAMES)
    assert TAG_FORMATS == tuple(SENTENCE_FORMATS)
    assert set(CLASS_FORMATS) == set(CLASSIFICATION_FORMATS) - {"text"}  # text: prediction input only
    import torch

    for name in OPTIMIZERS:
        build_optimizer(name, [torch.nn.Parameter(torch.ones(1))], 0.1)


def test_bad_values_name_the_flag(monkeypatch):
    res = CliRunner().invoke(app, ["train-tagger", "t", "--dev", "d", "-o", "m.pt", "--dropout", "1.5"])
    assert res.exit_code == 2 and "--dropout" in res.output
    res = CliRunner().invoke(app, ["train-lm", "t", "-o", "m.pt", "--lr-decay", "0"])
    assert res.exit_code == 2 and "invalid --lr-decay 0.0: must be in (0, 1]" in res.output


def test_enum_choices_hold_plain_strings():
    cfg = TrainLMConfig()
    assert not any(isinstance(getattr(cfg, f.name), Enum) for f in dataclasses.fields(cfg))


@pytest.mark.parametrize("given, optimizer, lr", [
    ({}, "sgd", 20.0),
    ({"level": "char"}, "adam", 0.002),
    ({"optimizer": "adam"}, "adam", 0.002),  # not Adam at SGD's lr 20
    ({"optimizer": "nt-asgd"}, "nt-asgd", 20.0),
    ({"level": "char", "optimizer": "sgd"}, "sgd", 20.0),
    ({"level": "char", "lr": 0.01}, "adam", 0.01),
    ({"optimizer": "sgd", "lr": 1.0}, "sgd", 1.0),
])
def test_train_lm_optimiser_follows_the_level_and_its_lr_the_optimiser(given, optimizer, lr):
    cfg = TrainLMConfig(**given)
    assert (cfg.optimizer, cfg.lr) == (optimizer, lr)


def test_train_lm_defaults_resolved_from_the_command_line(monkeypatch):
    cfg, _ = run("train-lm", ["--level", "char"], monkeypatch)
    assert (cfg.optimizer, cfg.lr) == ("adam", 0.002)
    cfg, _ = run("train-lm", ["--level", "char", "--optimizer", "sgd"], monkeypatch)
    assert (cfg.optimizer, cfg.lr) == ("sgd", 20.0)


@pytest.mark.parametrize("cls, lrs", [(TrainTaggerConfig, {"adam": 0.004, "sgd": 0.015}),
                                       (TrainClassifierConfig, {"adam": 0.001, "sgd": 0.1})])
def test_every_trainer_takes_the_lr_of_the_optimiser_given(cls, lrs):
    for optimizer, lr in lrs.items():
        assert cls(optimizer=optimizer).lr == lr
    assert cls(optimizer="nt-asgd").lr == lrs["sgd"]
    assert cls(optimizer="sgd", lr=0.5).lr == 0.5
    assert f"{lrs['sgd']:g} with sgd" in options_of(cls)["lr"].help
