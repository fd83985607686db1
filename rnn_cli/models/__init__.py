"""The model zoo: pure `nn.Module`s beside their config dataclasses. Nothing here
reads files, prints, or knows about the command line."""

from rnn_cli.models.classifier import Classifier, ClassifierConfig, ClassifierEnsemble, build_classifier
from rnn_cli.models.lm import RNNLM, LMConfig
from rnn_cli.models.rnn import CELLS, EncoderConfig, RNNEncoder
from rnn_cli.models.tagger import Tagger, TaggerConfig

# task name -> (config class, model class); checkpoints rebuild models through it.
MODELS = {
    "lm": (LMConfig, RNNLM),
    "tagger": (TaggerConfig, Tagger),
    "classifier": (ClassifierConfig, build_classifier),
}

__all__ = ["CELLS", "MODELS", "Classifier", "ClassifierConfig", "ClassifierEnsemble",
           "build_classifier", "EncoderConfig", "LMConfig", "RNNEncoder", "RNNLM",
           "Tagger", "TaggerConfig"]
