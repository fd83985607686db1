"""Using trained models: load a model file, apply it to a stream of inputs, score a
file. One module per task; none of them trains or renders anything.

This package's own module imports torch only when a model is loaded, so that scoring
tagged files (`conll_eval`, `evaluate --conlleval`) starts without it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def model_from_payload(payload: dict[str, Any], path: str) -> Any:
    """The model rebuilt from a loaded checkpoint, in eval mode. Its weights are moved,
    not copied: `state_dict` is taken out of `payload` (the caller's dict too), so
    that a loaded model holds one copy of them, whatever keeps the payload."""
    from rnn_cli import checkpoint

    model, _ = checkpoint.build_model(payload, path)
    del payload["state_dict"]
    return model


def read_payload(path: str, task: str | None = None) -> dict[str, Any]:
    """The plain data of a model file, or of an exported TorchScript model (its JSON,
    with an "exported" entry and no weights)."""
    from rnn_cli import checkpoint
    from rnn_cli.errors import CheckpointError
    from rnn_cli.predict.export import is_exported, onnx_export, read_export_meta

    if onnx_export(path):
        raise CheckpointError(f"{path}: an ONNX export runs in onnxruntime (see {path}.json); rnn-cli reads model "
                              "files and TorchScript exports")
    if is_exported(path):
        meta = read_export_meta(path)
        if task is not None:
            checkpoint.check_task(path, meta["task"], task)
        return {key: meta[key] for key in ("task", "config", "train_config", "vocab")} | {
            "metrics": meta.get("metrics", {}), "exported": meta}
    return checkpoint.load(path, task=task)


def open_model(path: str, task: str, device: torch.device, payload: dict[str, Any] | None = None,
               quantize: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The model of `path` for `task` on `device`, in eval mode, and its payload (the
    file's plain data less its weights). `path` is a model file or an exported
    TorchScript model; `payload`, when given, is what `read_payload` read from it;
    `quantize` ("int8") makes an int8 copy of a model file's network (CPU only)."""
    from rnn_cli.predict.export import load_exported, quantized

    if payload is None:
        payload = read_payload(path, task)
    if "exported" in payload:
        if quantize is not None:
            from rnn_cli.errors import ConfigError

            raise ConfigError(f"--quantize: {path} is an exported network; quantize when exporting "
                              "(rnn-cli export MODEL --quantize int8)")
        return load_exported(path, device, payload["exported"]), payload
    model = model_from_payload(payload, path)
    if quantize is not None:
        if device.type != "cpu":
            from rnn_cli.errors import ConfigError

            raise ConfigError(f"--quantize {quantize} runs on the CPU (add --device cpu)")
        model = quantized(model, payload, path)
    return model.to(device), payload
