"""Sentence-pair model (Tai et al. 2015, Sec. 4.2): one encoder reads both texts (a
(Bi)RNN with pooling, or a Tree-LSTM's root state), and a hidden layer over their
product and absolute difference (`pair.PairHead`) gives label logits. For regression
(`config.regression`, e.g. SICK relatedness) the labels are the integer scores and
the prediction is the expected score of the predicted distribution.

Dropout (`config.dropout`) is one mask drawn per pair and applied to both sentence
vectors, and the encoder itself drops nothing: with masks of their own (on each side's
words), two equal sentences would look apart in training and the difference features
would mean something else at test time (SICK dev Pearson r at dropout 0.5: 0.60 with
a mask per side and per word, 0.83 with this, 0.85 without dropout)."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from rnn_cli.batches import PairBatch
from rnn_cli.models.base import Loss
from rnn_cli.models.classifier import Classifier, ClassifierConfig, output_loss
from rnn_cli.models.dropout import Dropout, mask_like
from rnn_cli.models.pair import PairHead
from rnn_cli.models.tree_classifier import TreeClassifier


class PairClassifier(nn.Module):
    """A `PairBatch` -> label logits (B, C); `loss` and `predict` as every model."""


    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        if config.multi_label:
            raise ValueError("a pair model is single-label")
        self.config = config
        encoder = TreeClassifier if config.encoder == "tree-lstm" else Classifier
        self.sentence = encoder(replace(config, dropout=0.0), head=False)  # dropout: `forward`
        self.dropout = Dropout(config.dropout)
        self.head = PairHead(self.sentence.output_size, config.pair_hidden_size, config.num_labels)
        self.register_buffer("threshold", torch.tensor(0.5))

    def set_pretrained_embeddings(self, weights: torch.Tensor) -> None:
        self.sentence.set_pretrained_embeddings(weights)

    def forward(self, batch: PairBatch) -> torch.Tensor:
        left = self.sentence.sentence_vectors(batch.first)  # (B, D)
        right = self.sentence.sentence_vectors(batch.second)
        if self.training and self.dropout.p > 0:
            mask = mask_like(left, list(left.size()), self.dropout.p)  # one mask for both sides
            left, right = left * mask, right * mask
        return self.head(left, right)

    def loss(self, batch: PairBatch) -> Loss:
        if batch.labels is None:
            raise ValueError("a pair batch without labels has no loss")
        return Loss(output_loss(self(batch), batch.labels, self.config), batch.size)

    def predict(self, batch: PairBatch) -> tuple[torch.Tensor, None]:
        return self(batch).softmax(-1), None

    decide = Classifier.decide
