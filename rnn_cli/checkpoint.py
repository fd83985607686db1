"""Model files: one `torch.save`d dict of plain data (format version, task, config,
vocabularies, weights, metrics), written atomically and loaded with
`weights_only=True`, so that loading never runs code from the file."""

from __future__ import annotations

import datetime
import os
import pickle
import warnings
import zipfile
from typing import Any

import torch

from rnn_cli import __version__
from rnn_cli.data.atomic import atomic_open
from rnn_cli.data.vocab import PAD, UNK, folds
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
    """Read and validate a checkpoint. `task` (if given) must match the file's task.

    The file must be a zip archive (as `torch.save` writes) whose every member matches
    its CRC-32, so a truncated or bit-flipped file is refused instead of loaded with
    damaged weights; unpickling allows plain data only (`weights_only=True`)."""
    name = str(path)
    _check_archive(name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's warnings about pickle protocols: the error says it all
            payload = torch.load(name, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{name}: refused to load: not a plain-data rnn-cli model ({_unsafe(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - a damaged archive can fail in many ways inside torch
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{name}: not a valid rnn-cli model file (truncated or corrupt: {msg[:120]})") from None
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
    if task is not None:
        check_task(name, payload["task"], task)
    if kind == "model":
        _check_model(name, payload)
    return payload


def check_task(name: str, have: str, want: str) -> None:
    """Refuse a model of task `have` where one of task `want` is needed."""
    if have != want:
        raise CheckpointError(f"{name}: is a {TASK_NAMES.get(have, have)} model, this command needs a "
                              f"{TASK_NAMES.get(want, want)} model")


# The vocabularies each task's model file holds, and the entries each must start with.
VOCABS: dict[str, dict[str, tuple[str, ...]]] = {
    "lm": {"tokens": (UNK,)},
    "tagger": {"words": (PAD, UNK), "chars": (PAD, UNK), "tags": ()},
    "classifier": {"words": (PAD, UNK), "labels": ()},
}


def _check_model(name: str, payload: dict[str, Any]) -> None:
    """The plain-data layout every model file has, so that a damaged or hand-made file is
    refused here, in one line, rather than failing somewhere inside the command."""
    def damaged(what: str) -> CheckpointError:
        return CheckpointError(f"{name}: damaged rnn-cli model file: {what}")

    if payload["task"] not in VOCABS:
        raise damaged(f"unknown task {payload['task']!r}")
    for key in ("config", "train_config", "vocab", "state_dict", "metrics"):
        if not isinstance(payload.get(key), dict):
            raise damaged(f"'{key}' is missing or not a mapping")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in payload["state_dict"].items()):
        raise damaged("'state_dict' holds something other than named tensors")
    vocab = payload["vocab"]
    for key, starts in VOCABS[payload["task"]].items():
        entries = vocab.get(key)
        if not isinstance(entries, list) or not entries or not all(isinstance(e, str) for e in entries):
            raise damaged(f"vocabulary '{key}' is missing, empty or not a list of strings")
        if tuple(entries[: len(starts)]) != starts:
            raise damaged(f"vocabulary '{key}' does not start with {', '.join(starts)}")
    try:
        folds(vocab)
    except ValueError as exc:
        raise damaged(str(exc)) from None


ZIP_MAGIC = b"PK\x03\x04"


def _check_archive(name: str) -> None:
    """Refuse what is not a complete, undamaged zip archive, before torch reads it."""
    if os.path.isdir(name):
        raise CheckpointError(f"{name}: is a directory, expected a model file")
    if not os.path.exists(name):
        raise CheckpointError(f"{name}: no such model file")
    try:
        with open(name, "rb") as fh:
            head = fh.read(len(ZIP_MAGIC))
        if not head:
            raise CheckpointError(f"{name}: not an rnn-cli model file (the file is empty)")
        if head != ZIP_MAGIC:
            raise CheckpointError(f"{name}: not an rnn-cli model file (not a zip archive as torch.save writes)")
        with zipfile.ZipFile(name) as archive:
            bad = archive.testzip()
    except PermissionError:
        raise CheckpointError(f"{name}: permission denied") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise CheckpointError(f"{name}: not a valid rnn-cli model file (truncated or corrupt: {exc})") from None
    except OSError as exc:
        raise CheckpointError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if bad is not None:
        raise CheckpointError(f"{name}: not a valid rnn-cli model file (corrupt: checksum mismatch in {bad})")


def _unsafe(exc: pickle.UnpicklingError) -> str:
    """The line of torch's long refusal that names what was refused."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    named = [line for line in lines if "GLOBAL" in line or "Unsupported" in line]
    return (named or lines or ["unsafe content"])[0].rstrip(".")[:160]


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
