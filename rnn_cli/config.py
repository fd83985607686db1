"""Typed configuration dataclasses: build them from plain dicts (YAML files or
checkpoints) with unknown keys and wrong types reported as `ConfigError`.

An option is described once, as an `Option` (help text, choices, the check of its
value) in a catalogue keyed by field name; a config dataclass lists which options it
has and their defaults, and `validate` checks an instance against the catalogue. The
command line derives its flags from the same catalogue (see `cli/_options.py`)."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from rnn_cli.errors import ConfigError

T = TypeVar("T")


def _check_type(name: str, value: Any, annotation: Any, where: str) -> Any:
    """Return `value` coerced to `annotation` (int -> float only), or raise."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(name, value, arg, where)
            except ConfigError:
                pass
        raise ConfigError(f"{where}: option '{name}' has a value of the wrong type: {value!r}")
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float, str, bool):
        if isinstance(value, bool) and annotation is not bool:
            raise ConfigError(f"{where}: option '{name}' must be {annotation.__name__}, got {value!r}")
        if not isinstance(value, annotation):
            raise ConfigError(f"{where}: option '{name}' must be {annotation.__name__}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: option '{name}' must be a list, got {value!r}")
        (item,) = typing.get_args(annotation)
        return [_check_type(name, v, item, where) for v in value]
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build dataclass `cls` from `data`; unknown keys and wrong types are errors."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of option names to values")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown option(s): {', '.join(unknown)}")
    values = {k: _check_type(k, v, hints[k], where) for k, v in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class Option:
    """How one option is offered and checked. `check(value)` must hold (`why` says
    what is expected); `choices` lists the allowed values of a string option."""

    help: str
    panel: str = "Training"
    choices: tuple[str, ...] | None = None
    check: Callable[[Any], bool] | None = None
    why: str = ""
    flags: tuple[str, ...] = ()  # the flag names when not `--field-name` (e.g. "--tie-weights/--no-tie")
    metavar: str | None = None


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def validate(obj: Any, catalogue: Mapping[str, Option]) -> None:
    """Check every field of dataclass `obj` against its catalogue entry."""
    for f in dataclasses.fields(obj):
        spec = catalogue[f.name]
        value = getattr(obj, f.name)
        if spec.choices is not None and value not in spec.choices:
            raise ConfigError(f"invalid {flag(f.name)} {value!r}: choose from {', '.join(spec.choices)}")
        if spec.check is not None and value is not None and not spec.check(value):
            raise ConfigError(f"invalid {flag(f.name)} {value!r}: {spec.why}")


def to_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


def to_yaml(obj: Any) -> str:
    import yaml

    data = obj if isinstance(obj, dict) else to_dict(obj)
    return yaml.safe_dump(data, sort_keys=False)


def load_yaml(path: str) -> dict[str, Any]:
    """Read a YAML options file; keys may use dashes or underscores."""
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of option names to values")
    return {str(k).replace("-", "_"): v for k, v in data.items()}
