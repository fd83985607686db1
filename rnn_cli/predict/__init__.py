"""Using trained models: load a model file, apply it to a stream of inputs, score a
file. One module per task; none of them trains or renders anything."""

from __future__ import annotations

from typing import Any

from rnn_cli import checkpoint


def model_from_payload(payload: dict[str, Any], path: str) -> Any:
    """The model rebuilt from a loaded checkpoint, in eval mode. Its weights are moved,
    not copied: `state_dict` is taken out of `payload` (the caller's dict too), so
    that a loaded model holds one copy of them, whatever keeps the payload."""
    model, _ = checkpoint.build_model(payload, path)
    del payload["state_dict"]
    return model
