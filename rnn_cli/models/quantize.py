"""int8 on the CPU: dynamic quantization of a portable network (`portable.py`).

The weights of the LSTM/GRU layers and of every linear layer are stored as int8 (one
scale per tensor) and the activations are quantized on the fly at each product
(`torch.ao.quantization.quantize_dynamic`); word and character embeddings are stored
as uint8 with a scale and offset per row, so that the vocabulary, most of a model's
size, shrinks fourfold too. Convolutions, Elman (`rnn-tanh`/`rnn-relu`) layers and the
SRU's own weights stay in float32: torch has no dynamic int8 kernel for them."""

from __future__ import annotations

import warnings

import torch
from torch import nn

QUANTIZATIONS = ("int8",)


def int8(net: nn.Module) -> nn.Module:
    """An int8 copy of `net` (left as it is), in eval mode, for the CPU."""
    from torch.ao.quantization import default_dynamic_qconfig, float_qparams_weight_only_qconfig, quantize_dynamic

    spec = {nn.Embedding: float_qparams_weight_only_qconfig, nn.LSTM: default_dynamic_qconfig,
            nn.GRU: default_dynamic_qconfig, nn.Linear: default_dynamic_qconfig}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notice that eager-mode quantization is moving to torchao
        quantized = quantize_dynamic(net.cpu().eval(), spec, dtype=torch.qint8, inplace=False)  # type: ignore[arg-type]
    return quantized.eval()
