"""Tree-LSTM classifier (Tai, Socher & Manning 2015): word embeddings at the nodes
that have a word -> a Tree-LSTM from `tree_lstm.py` over each tree, computed level by
level over the whole batch -> dropout -> a linear layer at every node.

Trained on every labelled node (SST labels each phrase; `TreeBatch.labels` is -1 at
the nodes without a label, e.g. neutral phrases of binary SST or every node but the
root when training on sentences only), it predicts the label of each tree's root;
`predict_nodes` gives every node's distribution (`classify --all-nodes`)."""

from __future__ import annotations

import torch
from torch import nn

from rnn_cli.batches import TreeBatch
from rnn_cli.models.base import Loss
from rnn_cli.models.classifier import Classifier, ClassifierConfig, output_loss
from rnn_cli.models.dropout import Dropout
from rnn_cli.models.tree_lstm import TREE_CELLS


class TreeClassifier(nn.Module):
    """A `TreeBatch` -> root label logits (B, C); `loss` and `predict` as every model."""


    def __init__(self, config: ClassifierConfig, head: bool = True) -> None:
        super().__init__()
        if config.multi_label:
            raise ValueError("a Tree-LSTM classifier is single-label")
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=0)
        bound = (3.0 / config.embedding_size) ** 0.5
        nn.init.uniform_(self.embedding.weight, -bound, bound)
        with torch.no_grad():
            self.embedding.weight[0].zero_()  # nodes without a word read a zero vector
        self.embedding.weight.requires_grad_(not config.freeze_embeddings)
        self.dropout = Dropout(config.dropout)
        self.tree = TREE_CELLS[config.tree_cell](config.embedding_size, config.hidden_size)
        self.output_size = config.hidden_size
        if head:
            self.output = nn.Linear(config.hidden_size, config.num_labels)
            self.register_buffer("threshold", torch.tensor(0.5))

    set_pretrained_embeddings = Classifier.set_pretrained_embeddings

    def node_states(self, batch: TreeBatch) -> torch.Tensor:
        """The hidden state of every node (N, H)."""
        x = self.dropout(self.embedding(batch.words))  # (N, E), zeros at inner nodes (up to dropout's scaling)
        h, _ = self.tree(x, batch.levels)
        return h

    def sentence_vectors(self, batch: TreeBatch) -> torch.Tensor:
        """Each tree's root state (B, H), for a pair model."""
        return self.node_states(batch)[batch.roots]

    def forward(self, batch: TreeBatch) -> torch.Tensor:
        """Label logits of every node (N, C)."""
        return self.output(self.dropout(self.node_states(batch)))

    def loss(self, batch: TreeBatch) -> Loss:
        """Cross-entropy summed over the labelled nodes of a tree, averaged over trees
        (so that a long sentence weighs more than a short one, as its phrases do)."""
        if batch.labels is None:
            raise ValueError("a tree batch without labels has no loss")
        logits = self(batch)
        labelled = batch.labels >= 0
        if not bool(labelled.any()):
            return Loss(logits.sum() * 0.0, batch.size)
        value = output_loss(logits[labelled], batch.labels[labelled], self.config)
        return Loss(value * labelled.sum() / batch.size, batch.size)

    def predict(self, batch: TreeBatch) -> tuple[torch.Tensor, None]:
        """The root label probabilities (B, C), and no attention."""
        return self(batch)[batch.roots].softmax(-1), None

    def predict_nodes(self, batch: TreeBatch) -> torch.Tensor:
        """Every node's label probabilities (N, C)."""
        return self(batch).softmax(-1)

    decide = Classifier.decide
