"""The zoo's model protocol on top of a portable network (`portable.py`): an exported
TorchScript file, or an int8 copy. Each wrapper answers what the predictors ask of a
trained model (a tagger's `decode`, a classifier's `predict`/`decide`, a language
model's `forward`/`features`/`loss`), so that `tag`, `classify`, `generate` and
`evaluate` run exported and quantized models through the same code as the originals.

The network computes the scores; what is not in it (a tagger's CRF, a classifier's
activation and threshold) is rebuilt here from the plain data saved beside it."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from rnn_cli.batches import ClassBatch, LMBatch, TagBatch
from rnn_cli.models.base import Loss
from rnn_cli.models.classifier import Classifier, ClassifierConfig
from rnn_cli.models.lm import IGNORE_INDEX, LMConfig
from rnn_cli.models.rnn import Hidden
from rnn_cli.models.tagger import DECODERS, DecoderHead, Tagger, TaggerConfig, _bools

CRF_SCORES = ("transitions", "start_transitions", "end_transitions")


def decoder_head(config: TaggerConfig, scores: dict[str, Any]) -> DecoderHead:
    """The tagger's decoder with its learned transition scores (`CRF_SCORES`, nested lists
    or tensors) and the constraints of `config`."""
    head = DECODERS[config.decoder](config.num_tags, _bools(config.allowed), _bools(config.allowed_start),
                                    _bools(config.allowed_end))
    with torch.no_grad():
        for name in CRF_SCORES:
            target = getattr(head.crf, name)
            value = torch.as_tensor(scores[name], dtype=target.dtype)
            if value.shape != target.shape:
                raise ValueError(f"{name} has shape {tuple(value.shape)}, expected {tuple(target.shape)}")
            target.copy_(value)
    return head.eval()


def crf_scores(head: DecoderHead) -> dict[str, list]:
    """The learned transition scores of a tagger's decoder, as nested lists."""
    return {name: getattr(head.crf, name).detach().cpu().tolist() for name in CRF_SCORES}


class ScoredTagger(nn.Module):
    """`net(words, chars, lengths)` -> emissions, decoded by `head` as `Tagger` does."""

    def __init__(self, net: nn.Module, config: TaggerConfig, head: DecoderHead) -> None:
        super().__init__()
        self.net, self.config, self.head = net, config, head

    def emissions(self, batch: TagBatch) -> torch.Tensor:
        return self.net(batch.words, batch.chars, batch.lengths.to(batch.words.device))

    forward = emissions
    decode = Tagger.decode
    predict = Tagger.predict

    def loss(self, batch: TagBatch) -> Loss:
        if batch.tags is None:
            raise ValueError("a tagging batch without tags has no loss")
        return Loss(self.head.loss(self.emissions(batch), batch.tags, batch.mask), batch.words.size(0))


class ScoredClassifier(nn.Module):
    """`net(words, lengths)` -> logits (`output` "logits") or probabilities
    ("probabilities", an ensemble's mean); `predict` and `decide` as `Classifier`'s."""

    explains = False  # the network gives no attention weights (`classify --explain`)

    def __init__(self, net: nn.Module, config: ClassifierConfig, output: str, threshold: float) -> None:
        super().__init__()
        if output not in ("logits", "probabilities"):
            raise ValueError(f"invalid output: {output!r}")
        self.net, self.config, self.output = net, config, output
        self.register_buffer("threshold", torch.tensor(float(threshold)))

    def probabilities(self, batch: ClassBatch) -> torch.Tensor:
        out = self.net(batch.words, batch.lengths.to(batch.words.device))
        if self.output == "probabilities":
            return out
        return out.sigmoid() if self.config.multi_label else out.softmax(1)

    def predict(self, batch: ClassBatch) -> tuple[torch.Tensor, None]:
        """Label probabilities (B, C); no attention weights (the network has none to give)."""
        return self.probabilities(batch), None

    forward = probabilities
    decide = Classifier.decide


class ScoredLM(nn.Module):
    """`net(ids, h0, c0)` -> logits, h, c as an `RNNLM`: `forward(x, hidden)`, and
    `features` + `decoder` where `features` already are the logits."""

    def __init__(self, net: nn.Module, config: LMConfig) -> None:
        super().__init__()
        self.net, self.config = net, config
        self.decoder = nn.Identity()

    def forward(self, x: torch.Tensor, hidden: Hidden | None = None) -> tuple[torch.Tensor, Hidden]:
        if hidden is None:
            zeros = torch.zeros(self.config.layers, x.size(1), self.config.hidden_size, device=x.device)
            h0, c0 = zeros, zeros
        elif isinstance(hidden, tuple):
            h0, c0 = hidden
        else:
            h0, c0 = hidden, torch.zeros_like(hidden)
        logits, h, c = self.net(x, h0, c0)
        return logits, ((h, c) if self.config.cell == "lstm" else h)

    features = forward

    def loss(self, batch: LMBatch) -> Loss:
        if batch.y is None:
            raise ValueError("an LM batch without targets has no loss")
        logits, hidden = self(batch.x, batch.hidden)
        items = int((batch.y != IGNORE_INDEX).sum())
        value = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), batch.y.reshape(-1),
                                ignore_index=IGNORE_INDEX)
        return Loss(value, items, hidden)
