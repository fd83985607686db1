"""Exported models: a trained model's network written as TorchScript or ONNX, to run
without rnn-cli, with a JSON file beside it (`OUT.json`) that holds what the network
does not: the vocabularies, the model's and the training's configs, and the decoding
rules (a tagger's CRF transition scores and tag constraints, a classifier's activation
and threshold, a language model's state and start/end tokens).

`tag`, `classify`, `generate` and `evaluate` read an exported TorchScript file as they
read a model file (`load_exported`). A TorchScript file is a program, run by torch's
interpreter: load only exports you trust. rnn-cli's own model files hold plain data."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from typing import Any

import torch

from rnn_cli import __version__, checkpoint
from rnn_cli.config import from_dict
from rnn_cli.data.atomic import atomic_open
from rnn_cli.data.vocab import folds
from rnn_cli.errors import CheckpointError, ConfigError
from rnn_cli.models import MODELS
from rnn_cli.models.portable import portable
from rnn_cli.models.quantize import QUANTIZATIONS, int8
from rnn_cli.models.rnn import SRU_CELLS
from rnn_cli.models.scored import ScoredClassifier, ScoredLM, ScoredTagger, crf_scores, decoder_head

EXPORT_FORMAT = "rnn-cli-export"
EXPORT_VERSION = 1
RUNTIMES = ("torchscript", "onnx")
ONNX_OPSET = 17

# What goes in and comes out of each task's network (names, axes), for the JSON and ONNX.
SIGNATURES: dict[str, dict[str, Any]] = {
    "tagger": {
        "inputs": {"words": ["batch", "length"], "chars": ["batch", "length", "word_length"],
                   "lengths": ["batch"]},
        "outputs": {"emissions": ["batch", "length", "tags"]},
    },
    "classifier": {
        "inputs": {"words": ["batch", "length"], "lengths": ["batch"]},
        "outputs": {"scores": ["batch", "labels"]},
    },
    "lm": {
        "inputs": {"ids": ["steps", "batch"], "h0": ["layers", "batch", "hidden"], "c0": ["layers", "batch", "hidden"]},
        "outputs": {"logits": ["steps", "batch", "vocab"], "h": ["layers", "batch", "hidden"],
                    "c": ["layers", "batch", "hidden"]},
    },
}
FIXED_AXES = {"layers", "hidden", "tags", "labels", "vocab"}


def sidecar(path: str | os.PathLike[str]) -> str:
    """The JSON file beside an exported network."""
    return f"{path}.json"


def is_exported(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a TorchScript archive (it holds code, where a model file holds data)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in name for name in archive.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def onnx_export(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is an ONNX export of rnn-cli's (its JSON beside it says so)."""
    try:
        with open(sidecar(path), encoding="utf-8") as fh:
            meta = json.load(fh)
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == EXPORT_FORMAT and meta.get("runtime") == "onnx"


def export_model(path: str, out: str, runtime: str = "torchscript", quantize: str | None = None) -> dict[str, Any]:
    """Export the model file `path` to `out` (and `out.json`); what was written."""
    if runtime not in RUNTIMES:
        raise ConfigError(f"--to: unknown format '{runtime}' ({' or '.join(RUNTIMES)})")
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ConfigError(f"--quantize: unknown quantization '{quantize}' ({', '.join(QUANTIZATIONS)})")
    if quantize is not None and runtime == "onnx":
        raise ConfigError("--quantize int8 exports TorchScript (--to torchscript): torch's dynamic int8 layers "
                          "have no ONNX form")
    if is_exported(path) or onnx_export(path):
        raise ConfigError(f"{path}: is an exported network; export from the model file that train-* wrote")
    payload = checkpoint.load(path)
    check_portable(payload, path, "export")
    model, _ = checkpoint.build_model(payload, path)
    task = payload["task"]
    if runtime == "onnx" and payload["config"].get("cell") in SRU_CELLS:
        raise ConfigError(f"{path}: an SRU model exports to TorchScript only (--to torchscript): traced for ONNX, "
                          "its time loop would be fixed at one sentence length")
    net = portable(model)
    if quantize == "int8":
        net = int8(net)
    if runtime == "torchscript":
        with warnings.catch_warnings(), atomic_open(out, "wb") as fh:
            warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is what the export promises
            torch.jit.save(torch.jit.script(net), fh)
    else:
        _write_onnx(net, task, model, out)
    meta = {
        "format": EXPORT_FORMAT, "format_version": EXPORT_VERSION, "task": task, "runtime": runtime,
        "quantize": quantize, "rnn_cli_version": __version__, "source": os.path.basename(path),
        "inputs": _axes(task, "inputs"), "outputs": _axes(task, "outputs"),
        "decoding": _decoding(task, model, payload),
        "config": payload["config"], "train_config": payload["train_config"], "vocab": payload["vocab"],
        "metrics": payload["metrics"],
    }
    with atomic_open(sidecar(out), "w", encoding="utf-8") as fh:
        json.dump(meta, fh, ensure_ascii=False)
        fh.write("\n")
    return {"task": task, "runtime": runtime, "quantize": quantize, "file": out, "json": sidecar(out),
            "bytes": os.path.getsize(out), "source_bytes": os.path.getsize(path)}


def _axes(task: str, side: str) -> list[dict[str, Any]]:
    dtype = {"words": "int64", "chars": "int64", "lengths": "int64", "ids": "int64"}
    return [{"name": name, "shape": shape, "dtype": dtype.get(name, "float32")}
            for name, shape in SIGNATURES[task][side].items()]


def _decoding(task: str, model: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """The rules that turn the network's outputs into answers, as plain data."""
    cfg, train = payload["config"], payload["train_config"]
    if task == "tagger":
        return {
            "decoder": cfg["decoder"], "scheme": train["scheme"], **crf_scores(model.head),
            "allowed": cfg["allowed"], "allowed_start": cfg["allowed_start"], "allowed_end": cfg["allowed_end"],
            "words": "vocab.words index (where vocab.fold is ['words'], a word not there is looked up lowercased, "
                     "then lowercased with digits as 0), 1 (<unk>) for unknown words, 0 for padding; chars: "
                     "vocab.chars index of "
                     "each of a word's first max_word_length characters, 1 unknown, 0 padding",
            "rules": "best tags = Viterbi over emissions (crf) or log_softmax(emissions) (softmax, transition "
                     "scores all 0), adding transitions[i][j] from tag i to tag j, start_transitions and "
                     "end_transitions; a transition whose allowed entry is false is forbidden (-inf); tags are "
                     "vocab.tags, in BIOES for entity and chunk models (scheme: the training data's).",
        }
    if task == "classifier":
        ensemble = cfg.get("members", 1) > 1
        return {
            "output": "probabilities" if ensemble else "logits",
            "activation": "sigmoid" if cfg["multi_label"] else "softmax",
            "multi_label": cfg["multi_label"], "threshold": float(model.threshold),
            "tokenizer": train["tokenizer"], "lowercase": train["lowercase"], "max_length": train["max_length"],
            "words": "vocab.words index (where vocab.fold is ['words'], a word not there is looked up lowercased, "
                     "then lowercased with digits as 0), 1 (<unk>) for unknown words, 0 for padding",
            "rules": "scores: logits (apply the activation) or an ensemble's mean probabilities; single-label: "
                     "the most probable of vocab.labels; multi-label: every label with probability >= threshold "
                     "(the most probable one when none is).",
        }
    return {
        "level": train.get("level", "word"), "cell": cfg["cell"],
        "rules": "start each text from zero h0/c0 with the start token (<eos> for words, a line end for "
                 "characters); feed the returned h/c back to continue; c is unused for GRU and Elman models.",
    }


def _write_onnx(net: torch.nn.Module, task: str, model: Any, out: str) -> None:
    import importlib.util

    if importlib.util.find_spec("onnx") is None:
        raise ConfigError("--to onnx needs the onnx package: pip install 'rnn-cli[export]' (onnx and onnxruntime)")
    signature = SIGNATURES[task]
    example = _example_inputs(task, model)
    dynamic = {name: {i: axis for i, axis in enumerate(shape) if axis not in FIXED_AXES}
               for side in ("inputs", "outputs") for name, shape in signature[side].items()}
    with warnings.catch_warnings(), atomic_open(out, "wb") as fh:
        warnings.simplefilter("ignore")  # the exporter's notes on RNN batch sizes: h0/c0 are built per batch
        torch.onnx.export(net, example, fh, input_names=list(signature["inputs"]),
                          output_names=list(signature["outputs"]), dynamic_axes=dynamic,
                          opset_version=ONNX_OPSET, dynamo=False)


def _example_inputs(task: str, model: Any) -> tuple[torch.Tensor, ...]:
    lengths = torch.tensor([3, 2])
    if task == "tagger":
        return torch.tensor([[2, 3, 4], [5, 6, 0]]), torch.ones(2, 3, 4, dtype=torch.long), lengths
    if task == "classifier":
        return torch.tensor([[2, 3, 4], [5, 6, 0]]), lengths
    cfg = model.config
    zeros = torch.zeros(cfg.layers, 2, cfg.hidden_size)
    return torch.zeros(3, 2, dtype=torch.long), zeros, zeros


def read_export_meta(path: str) -> dict[str, Any]:
    """The JSON beside an exported network, checked."""
    meta_path = sidecar(path)
    try:
        with open(meta_path, encoding="utf-8") as fh:
            meta = json.load(fh)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: an exported network without its {meta_path} (rnn-cli export writes "
                              "both; keep them side by side)") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{meta_path}: not a valid rnn-cli export description ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != EXPORT_FORMAT:
        raise CheckpointError(f"{meta_path}: not an rnn-cli export description")
    if not isinstance(meta.get("format_version"), int) or meta["format_version"] > EXPORT_VERSION:
        raise CheckpointError(f"{meta_path}: export format version {meta.get('format_version')} is newer than "
                              f"this rnn-cli supports ({EXPORT_VERSION}); upgrade rnn-cli")
    if meta.get("task") not in SIGNATURES or meta.get("runtime") != "torchscript":
        raise CheckpointError(f"{meta_path}: rnn-cli runs exported TorchScript models of a tagger, classifier or "
                              f"language model (this is {meta.get('runtime')} / {meta.get('task')})")
    for key in ("config", "train_config", "vocab", "decoding"):
        if not isinstance(meta.get(key), dict):
            raise CheckpointError(f"{meta_path}: damaged export description: '{key}' is missing")
    try:
        folds(meta["vocab"])
    except ValueError as exc:
        raise CheckpointError(f"{meta_path}: damaged export description: {exc}") from None
    return meta


def load_exported(path: str, device: torch.device, meta: dict[str, Any]) -> torch.nn.Module:
    """An exported TorchScript model as a model of the zoo's protocol (see
    `models/scored.py`), given its JSON `meta` (`read_export_meta`)."""
    try:
        with _native_notices_dropped(bool(meta.get("quantize"))), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            net = torch.jit.load(path, map_location=device)
    except Exception as exc:  # noqa: BLE001 - torch reports a damaged archive in many ways
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a valid exported model ({msg[:120]})") from None
    net.eval()
    config_cls, _ = MODELS[meta["task"]]
    config = from_dict(config_cls, meta["config"], where=f"{sidecar(path)}: model config")
    decoding = meta["decoding"]
    try:
        if meta["task"] == "tagger":
            model: torch.nn.Module = ScoredTagger(net, config, decoder_head(config, decoding))
        elif meta["task"] == "classifier":
            model = ScoredClassifier(net, config, decoding["output"], decoding["threshold"])
        else:
            model = ScoredLM(net, config)
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{sidecar(path)}: damaged export description ({exc})") from None
    return model.to(device)


@contextlib.contextmanager
def _native_notices_dropped(active: bool) -> Iterator[None]:
    """Drop torch's native (C++) deprecation notice for quantized tensors, printed on the
    process's stderr while an int8 network loads; any other native output is passed on."""
    if not active:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True):
                if "are deprecated" not in line or "quantize" not in line:
                    sys.stderr.write(line)


def check_portable(payload: dict[str, Any], path: str, what: str) -> None:
    """Tree-LSTM, DMN and pair classifiers have no portable network (yet): refuse `what`."""
    config = payload.get("config", {})
    if payload.get("task") == "classifier" and (config.get("encoder", "rnn") != "rnn" or config.get("pair")):
        kind = "a sentence-pair model" if config.get("pair") else \
            {"dmn": "a Dynamic Memory Network"}.get(config.get("encoder"), "a Tree-LSTM classifier")
        raise ConfigError(f"{path}: {what} takes language models, taggers and (Bi)RNN classifiers of single texts, "
                          f"not {kind}; run it from its model file")


def quantized(model: torch.nn.Module, payload: dict[str, Any], path: str = "model") -> torch.nn.Module:
    """An int8 copy of a trained model (on the CPU), wrapped in the zoo's protocol."""
    check_portable(payload, path, "--quantize int8")
    net = int8(portable(model))
    task = payload["task"]
    if task == "tagger":
        return ScoredTagger(net, model.config, model.head)
    if task == "classifier":
        output = "probabilities" if model.config.members > 1 else "logits"
        return ScoredClassifier(net, model.config, output, float(model.threshold))
    return ScoredLM(net, model.config)
