"""Recipes: named option sets, shipped as YAML files beside this module, that
reproduce a published setup (`train-tagger --recipe ma-hovy`). Torch-free.

A recipe file is an ordinary `--config` file, so `rnn-cli recipes NAME > my.yaml`
gives a copy to edit and pass back with `--config my.yaml`. Its first comment lines
say which command it is for and what it reproduces:

    # command: train-tagger
    # about: one line shown by `rnn-cli recipes`
    # (any further comment lines: the reference, its figures, ours)

Precedence when a trainer resolves its options: the config's defaults < the recipe
< `--config FILE` < options given on the command line."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from rnn_cli.errors import ConfigError

RECIPE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Recipe:
    name: str
    command: str
    about: str
    path: Path

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def options(self) -> dict[str, Any]:
        from rnn_cli.config import load_yaml

        return load_yaml(str(self.path))


def _header(path: Path) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].strip().partition(":")
        if sep and key in ("command", "about") and key not in fields:
            fields[key] = value.strip()
    return fields


@cache
def recipes() -> dict[str, Recipe]:
    """Every shipped recipe by name, sorted by command, then name."""
    found = []
    for path in RECIPE_DIR.glob("*.yaml"):
        head = _header(path)
        if "command" not in head:
            raise ConfigError(f"{path}: a recipe must start with a '# command: ...' line")
        found.append(Recipe(path.stem, head["command"], head.get("about", ""), path))
    return {r.name: r for r in sorted(found, key=lambda r: (r.command, r.name))}


def get_recipe(name: str, command: str | None = None) -> Recipe:
    """The recipe `name`; an error naming the choices when there is none of that name
    (for `command`, when given)."""
    known = recipes()
    mine = [r.name for r in known.values() if command is None or r.command == command]
    recipe = known.get(name)
    if recipe is None:
        raise ConfigError(f"unknown recipe {name!r}: choose from {', '.join(mine)} (rnn-cli recipes lists them)")
    if command is not None and recipe.command != command:
        raise ConfigError(f"recipe {name!r} is for {recipe.command}, not {command}: choose from {', '.join(mine)}")
    return recipe


def recipe_config(cls: type, name: str, **changes: Any) -> Any:
    """Config dataclass `cls` with recipe `name`'s options and then `changes` (for the
    benchmarks and the Python API: the same precedence as the command line's)."""
    from rnn_cli.config import from_dict

    return from_dict(cls, {**get_recipe(name).options(), **changes}, where=f"recipe {name}")
