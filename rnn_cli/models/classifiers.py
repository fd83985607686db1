"""Every classifier of the zoo built from its one config (`ClassifierConfig`): a pair
model (`pair_classifier.py`), a Tree-LSTM classifier (`tree_classifier.py`), a
Dynamic Memory Network answering questions over stories (`story_classifier.py`), or a
(Bi)RNN classifier of texts (`classifier.py`); each alone or as an ensemble
(`config.members > 1`)."""

from __future__ import annotations

from torch import nn

from rnn_cli.models.classifier import Classifier, ClassifierConfig, ClassifierEnsemble
from rnn_cli.models.pair_classifier import PairClassifier
from rnn_cli.models.story_classifier import StoryClassifier
from rnn_cli.models.tree_classifier import TreeClassifier


def build(config: ClassifierConfig) -> nn.Module:
    """The model `config` describes."""
    member = PairClassifier if config.pair else {"tree-lstm": TreeClassifier, "dmn": StoryClassifier}.get(
        config.encoder, Classifier)
    return ClassifierEnsemble(config, member) if config.members > 1 else member(config)
