"""rnn-cli: a command-line NLP toolkit built on recurrent neural networks."""

__version__ = "0.1.0"
