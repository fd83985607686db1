"""Question answering over a story as classification (Kumar et al. 2016: "NLP as
question answering"): the Dynamic Memory Network of `dmn.py`, configured from the
classifier's one config (`ClassifierConfig`, `encoder="dmn"`), so that the classifier
commands train, apply and score it like any other classifier of the zoo. Answers are
the labels; `predict` also gives the attention gates over the facts of each pass
(`classify --explain`)."""

from __future__ import annotations

import torch
from torch import nn

from rnn_cli.batches import StoryBatch
from rnn_cli.models.base import Loss
from rnn_cli.models.classifier import Classifier, ClassifierConfig
from rnn_cli.models.dmn import DMN, DMNConfig


class StoryClassifier(nn.Module):
    """A `StoryBatch` -> answer probabilities (B, C), and the gates (B, passes, F)."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        self.dmn = DMN(DMNConfig(
            vocab_size=config.vocab_size, num_labels=config.num_labels, embedding_size=config.embedding_size,
            hidden_size=config.hidden_size, passes=config.passes, fact_encoder=config.fact_encoder,
            memory_update=config.memory_update, dropout=config.dropout, supervise_facts=config.supervise_facts,
            fact_weight=config.fact_weight, freeze_embeddings=config.freeze_embeddings))
        self.register_buffer("threshold", torch.tensor(0.5))

    def set_pretrained_embeddings(self, weights: torch.Tensor) -> None:
        self.dmn.set_pretrained_embeddings(weights)

    def loss(self, batch: StoryBatch) -> Loss:
        return self.dmn.loss(batch)

    def predict(self, batch: StoryBatch) -> tuple[torch.Tensor, torch.Tensor]:
        return self.dmn.predict(batch)

    decide = Classifier.decide
