"""The model zoo: pure `nn.Module`s beside their config dataclasses. Nothing here
reads files, prints, or knows about the command line. Every model answers
`loss(batch) -> Loss` and `predict(batch)` (see `base.py`)."""

from rnn_cli.models import classifiers
from rnn_cli.models.base import Loss, Model
from rnn_cli.models.classifier import Classifier, ClassifierConfig, ClassifierEnsemble, build_classifier
from rnn_cli.models.lm import RNNLM, LMConfig
from rnn_cli.models.pooling import POOLINGS
from rnn_cli.models.rnn import CELLS, EncoderConfig, RNNEncoder
from rnn_cli.models.tagger import DECODERS, TagDecoding, Tagger, TaggerConfig

# task name -> (config class, model factory); checkpoints rebuild models through it.
MODELS = {
    "lm": (LMConfig, RNNLM),
    "tagger": (TaggerConfig, Tagger),
    "classifier": (ClassifierConfig, classifiers.build),
}

__all__ = ["CELLS", "DECODERS", "MODELS", "POOLINGS", "Classifier", "ClassifierConfig", "ClassifierEnsemble",
           "build_classifier", "EncoderConfig", "LMConfig", "Loss", "Model", "RNNEncoder", "RNNLM",
           "TagDecoding", "Tagger", "TaggerConfig"]
