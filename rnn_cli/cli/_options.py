"""Option types and helpers shared by the commands. Torch-free, so that `--help`
stays fast: the enum values mirror the registries in `rnn_cli.models`."""

from __future__ import annotations

from enum import Enum
from typing import Any

import typer


class Cell(str, Enum):
    lstm = "lstm"
    gru = "gru"
    rnn_tanh = "rnn-tanh"
    rnn_relu = "rnn-relu"


class Optimizer(str, Enum):
    sgd = "sgd"
    adam = "adam"


class Level(str, Enum):
    word = "word"
    char = "char"


class Schedule(str, Enum):
    plateau = "plateau"
    step = "step"


class Precision(str, Enum):
    fp32 = "fp32"
    bf16 = "bf16"


class Scheme(str, Enum):
    iob1 = "iob1"
    bio = "bio"
    bioes = "bioes"


class SourceScheme(str, Enum):
    auto = "auto"
    iob1 = "iob1"
    bio = "bio"
    bioes = "bioes"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class OutputFormat(str, Enum):
    text = "text"
    jsonl = "jsonl"


def resolve_options(ctx: typer.Context, options: dict[str, Any], config_path: str | None) -> dict[str, Any]:
    """Merge: dataclass defaults < YAML file (`--config`) < options given on the
    command line. Returns only the keys that the file or the command line set."""
    from rnn_cli.config import load_yaml

    resolved: dict[str, Any] = load_yaml(config_path) if config_path else {}
    for name, value in options.items():
        source = ctx.get_parameter_source(name)
        if source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
            resolved[name] = value.value if isinstance(value, Enum) else value
    return resolved
