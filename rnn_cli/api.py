"""The Python API: `rnn_cli.load(path)` gives a trained model as an object with plain
methods, the same objects the commands use:

- a tagger (`LoadedTagger`): `tag(tokens)` -> tags, `tag_many(sentences, probs=, nbest=, scheme=)`;
- a classifier (`LoadedClassifier`): `classify(text)` -> `.label`, `.probs`, `classify_many(texts)`
  (a pair model takes `(text, text_pair)`, a Tree-LSTM a bracketed tree, a DMN `(story, question)`);
- a language model (`LoadedLM`): `generate(prompt, ...)` -> text, `score(line)` -> log-probability,
  `score_many(lines)`.

Batching happens inside; `device` and `threads` are chosen once, at loading."""

from __future__ import annotations

from rnn_cli.predict import read_payload
from rnn_cli.predict.classifier import LoadedClassifier, load_classifier
from rnn_cli.predict.lm import LoadedLM, load_lm
from rnn_cli.predict.tagger import LoadedTagger, load_tagger
from rnn_cli.seed import select_device, set_threads

LOADERS = {"tagger": load_tagger, "classifier": load_classifier, "lm": load_lm}


def load(path: str, device: str = "cpu", threads: int = 0,
         quantize: str | None = None) -> LoadedTagger | LoadedClassifier | LoadedLM:
    """The model in `path` (a model file from a train- command, or an exported
    TorchScript model), on `device` ("cpu", "cuda", "auto"), computing with `threads`
    torch threads (0: torch's default); `quantize="int8"` makes an int8 copy (CPU).

    A file that is not a model raises `rnn_cli.errors.CheckpointError` with the message
    the commands print."""
    set_threads(threads)
    dev = select_device(device)
    payload = read_payload(str(path))
    return LOADERS[payload["task"]](str(path), dev, payload, quantize)  # type: ignore[operator]
