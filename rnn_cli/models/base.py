"""What every model of the zoo answers, whatever its task, so that the training loop
and the contract tests need no `if task == ...`:

    model.loss(batch) -> Loss       the training objective on a batch (`rnn_cli.batches`)
    model.predict(batch) -> ...     the task's outputs (LM: logits and the new state;
                                    tagger: the best tags; classifier: probabilities
                                    and attention weights)

A new model is one module with its config dataclass and these two methods, plus one
line in `MODELS` (`models/__init__.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch

from rnn_cli.batches import Hidden


@dataclass
class Loss:
    value: torch.Tensor  # () the mean loss, what backward starts from
    items: int  # what the mean is over: tokens (LM), sentences (tagger), items (classifier)
    state: Hidden | None = None  # the LM's new hidden state (still in the graph); None for the others
    # () a regulariser trained on beside `value` but not reported with it (the LM's AR/TAR); None: none
    penalty: torch.Tensor | None = None


class Model(Protocol):
    def loss(self, batch: Any) -> Loss: ...

    def predict(self, batch: Any) -> Any: ...
