"""Model files: one `torch.save`d dict of plain data (format version, task, config,
vocabularies, weights, metrics), written atomically and loaded with
`weights_only=True`, so that loading never runs code from the file."""

from __future__ import annotations

import datetime
import os
import pickle
import zipfile
from typing import Any

import torch

from rnn_cli import __version__
from rnn_cli.data.atomic import atomic_open
from rnn_cli.errors import CheckpointError

FORMAT_VERSION = 1
TASK_NAMES = {"lm": "language", "tagger": "tagger", "classifier": "classifier"}


def save(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Write `payload` (plain types and tensors only) atomically to `path`."""
    with atomic_open(path, "wb") as fh:
        torch.save(payload, fh)


def make_payload(
    task: str,
    config: dict[str, Any],
    train_config: dict[str, Any],
    vocab: dict[str, list[str]],
    state_dict: dict[str, torch.Tensor],
    metrics: dict[str, Any],
) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "kind": "model",
        "task": task,
        "rnn_cli_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": config,
        "train_config": train_config,
        "vocab": vocab,
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
        "metrics": metrics,
    }


def load(path: str | os.PathLike[str], task: str | None = None, kind: str = "model") -> dict[str, Any]:
    """Read and validate a checkpoint. `task` (if given) must match the file's task."""
    name = str(path)
    if os.path.isdir(name):
        raise CheckpointError(f"{name}: is a directory, expected a model file")
    if not os.path.exists(name):
        raise CheckpointError(f"{name}: no such model file")
    try:
        payload = torch.load(name, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsafe content"
        raise CheckpointError(f"{name}: refused to load: not a plain-data rnn-cli model ({first})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{name}: not a valid rnn-cli model file (truncated or corrupt: {msg})") from None
    if not isinstance(payload, dict) or "format_version" not in payload or "task" not in payload:
        raise CheckpointError(f"{name}: not an rnn-cli model file")
    version = payload["format_version"]
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{name}: model format version {version} is newer than this rnn-cli supports "
            f"({FORMAT_VERSION}); upgrade rnn-cli"
        )
    if payload.get("kind", "model") != kind:
        what = "a training-state file" if payload.get("kind") == "train-state" else "a model file"
        raise CheckpointError(f"{name}: is {what}, not a {kind} file")
    if task is not None and payload["task"] != task:
        have = TASK_NAMES.get(payload["task"], payload["task"])
        want = TASK_NAMES.get(task, task)
        raise CheckpointError(f"{name}: is a {have} model, this command needs a {want} model")
    return payload


def build_model(payload: dict[str, Any], path: str = "model") -> tuple[Any, Any]:
    """Rebuild `(model, config)` from a loaded payload through the zoo's registry."""
    from rnn_cli.config import from_dict
    from rnn_cli.models import MODELS

    task = payload["task"]
    if task not in MODELS:
        raise CheckpointError(f"{path}: unknown model task '{task}'")
    config_cls, model_cls = MODELS[task]
    try:
        config = from_dict(config_cls, payload["config"], where=f"{path}: model config")
        model = model_cls(config)
        model.load_state_dict(payload["state_dict"])
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        msg = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"{path}: model weights do not match its config ({msg})") from None
    model.eval()
    return model, config
