"""Option types and helpers shared by the commands. Torch-free, so that `--help`
stays fast.

A trainer's options are not written out here: `config_options(Config)` derives the
command's flags from its config dataclass and the option catalogue
(`training/options.py`), so every config field has a flag with the same name, help,
choices and default as the YAML key and the stored model config."""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Iterable
from enum import Enum
from functools import cache
from typing import Annotated, Any, Optional, TypeVar

import typer

from rnn_cli.config import flag

F = TypeVar("F", bound=Callable[..., Any])


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


class Quantize(str, Enum):
    none = "none"
    int8 = "int8"


class ExportFormat(str, Enum):
    torchscript = "torchscript"
    onnx = "onnx"


class OutputFormat(str, Enum):
    text = "text"
    jsonl = "jsonl"


@cache
def _choices(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A str Enum of `values` (typer shows an Enum's values as the option's choices)."""
    return Enum(name.title().replace("_", ""), {v: v for v in values}, type=str)  # type: ignore[return-value]


def _plain(annotation: Any) -> Any:
    """`X | None` as `Optional[X]`, the spelling typer reads."""
    if isinstance(annotation, types.UnionType):
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return Optional[inner]  # noqa: UP045
    return annotation


def config_parameters(cls: type) -> list[inspect.Parameter]:
    """One keyword parameter with a typer Option per field of config dataclass `cls`."""
    from rnn_cli.training.options import options_of

    catalogue, hints = options_of(cls), typing.get_type_hints(cls)
    params = []
    for f in dataclasses.fields(cls):
        spec = catalogue[f.name]
        annotation, default = _plain(hints[f.name]), f.default
        if spec.choices is not None:
            annotation = _choices(f.name, spec.choices)
            if default is None:  # chosen by the config from the other options
                annotation = Optional[annotation]  # noqa: UP045
            else:
                default = annotation(default)
        option = typer.Option(default, *(spec.flags or (flag(f.name),)), help=spec.help, rich_help_panel=spec.panel,
                              metavar=spec.metavar)
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                        annotation=annotation))
    return params


def config_options(cls: type) -> Callable[[F], F]:
    """Give a command (which takes `**options`) a flag for every field of `cls`."""
    def decorate(fn: F) -> F:
        sig = inspect.signature(fn, eval_str=True)
        own = [p for p in sig.parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
        fn.__signature__ = sig.replace(parameters=own + config_parameters(cls))  # type: ignore[attr-defined]
        return fn

    return decorate


def given_options(ctx: typer.Context, names: Iterable[str]) -> set[str]:
    """The parameters among `names` that the user set, rather than left at their defaults."""
    given = set()
    for name in names:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
            given.add(name)
    return given


def build_config(ctx: typer.Context, cls: type, options: dict[str, Any], config_path: str | None,
                 recipe: str | None = None) -> Any:
    """The config: dataclass defaults < the recipe (`--recipe`) < YAML file (`--config`)
    < options given on the command line."""
    from rnn_cli.cli._console import log
    from rnn_cli.config import from_dict, load_yaml
    from rnn_cli.recipes import get_recipe

    resolved: dict[str, Any] = {}
    where = "options"  # named in errors: the last source that gave options
    if recipe:
        chosen = get_recipe(recipe, ctx.info_name)
        resolved.update(chosen.options())
        log(f"recipe {recipe}: {chosen.about} (options given here win over it)")
        where = f"recipe {recipe} ({chosen.path})"
    if config_path:
        resolved.update(load_yaml(config_path))
        where = config_path
    given = given_options(ctx, options)
    for name, value in options.items():
        if name in given:
            resolved[name] = value.value if isinstance(value, Enum) else value
    return from_dict(cls, resolved, where=where)


# The parameters of a training command that are not training options.
DevFile = Annotated[Optional[str], typer.Option("--dev", help="Development file (model selection, early "
                                                "stopping). Without it, one in 10 training items (at random, "
                                                "the same every run) is held out as dev.", metavar="FILE")]
OutFile = Annotated[str, typer.Option("--out", "-o", help="Where to write the best model.", metavar="FILE")]
TestFile = Annotated[Optional[str], typer.Option("--test", help="Test file, scored with the best model at the end.",
                                                 metavar="FILE")]
ConfigFile = Annotated[Optional[str], typer.Option("--config", help="YAML file of options (keys as in `rnn-cli "
                                                   "info MODEL --config`); the command line wins.", metavar="FILE")]


def _recipe_names(ctx: typer.Context, incomplete: str) -> list[str]:
    from rnn_cli.recipes import recipes

    return [r.name for r in recipes().values() if r.command == ctx.info_name and r.name.startswith(incomplete)]


RecipeOpt = Annotated[Optional[str], typer.Option("--recipe", help="A named set of options that reproduces a "
                                                  "published setup (`rnn-cli recipes` lists them); --config and "
                                                  "the command line win over it.", metavar="NAME",
                                                  autocompletion=_recipe_names)]
DeviceOpt = Annotated[Device, typer.Option("--device", help="auto picks CUDA when present (under torchrun: the "
                                           "GPU of LOCAL_RANK).")]
Threads = Annotated[int, typer.Option("--threads", help="CPU threads (0: torch's default, one per core; 1 is "
                                      "best beside other runs). Under torchrun: per process.")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue exactly from the training state OUT.state.pt "
                                      "(the stored options apply; --epochs may be raised).")]
QuantizeOpt = Annotated[Quantize, typer.Option("--quantize", help="int8: run an int8 copy of the model (dynamic "
                                               "quantization of the RNN, linear and embedding weights; CPU only; "
                                               "a little faster and less exact).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or logs on stderr.")]
