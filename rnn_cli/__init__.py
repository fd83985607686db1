"""rnn-cli: a command-line NLP toolkit built on recurrent neural networks.

From Python: `model = rnn_cli.load("model.pt")` (see `rnn_cli.api`)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load(path: str, device: str = "cpu", threads: int = 0, quantize: str | None = None) -> Any:
    """A trained model as an object with plain methods: `rnn_cli.api.load`. (Imported
    here on first use, so that `import rnn_cli` and `rnn-cli --help` stay free of torch.)"""
    from rnn_cli.api import load as load_model

    return load_model(path, device=device, threads=threads, quantize=quantize)
