"""Applying a trained classifier: load it, and classify a stream of texts (with label
probabilities, the k most probable labels and, for attention pooling, the per-token
weights). The library side of `classify` and of scoring during training."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rnn_cli.data.classification import Example, tokenize
from rnn_cli.data.cls_batching import ClassVocabs, prediction_batches
from rnn_cli.models.classifier import Classifier, ClassifierEnsemble
from rnn_cli.training import checkpoint


@dataclass
class LoadedClassifier:
    model: Classifier | ClassifierEnsemble
    vocabs: ClassVocabs
    config: dict[str, Any]  # the training options (tokenizer, lowercase, max_length, ...)
    payload: dict[str, Any]
    truncated: int = 0  # texts cut at max_length so far

    def tokens(self, text: str) -> list[str]:
        """Tokenise as in training, cut at the training `max_length` (0: no limit)."""
        toks = tokenize(text, self.config["tokenizer"], self.config["lowercase"])
        limit = self.config["max_length"]
        if limit and len(toks) > limit:
            self.truncated += 1
            return toks[:limit]
        return toks


def load_classifier(path: str, device: torch.device, payload: dict[str, Any] | None = None) -> LoadedClassifier:
    payload = payload if payload is not None else checkpoint.load(path, task="classifier")
    model, _ = checkpoint.build_model(payload, path)
    return LoadedClassifier(model.to(device), ClassVocabs.from_dict(payload["vocab"]), payload["train_config"],
                            payload)


@dataclass
class ClassPrediction:
    example: Example
    tokens: list[str]
    labels: list[str]  # the chosen label(s), most probable first
    probs: dict[str, float]  # every label's probability
    attention: list[float] | None = None  # per token (attention pooling, when asked for)

    def top(self, k: int) -> list[tuple[str, float]]:
        return sorted(self.probs.items(), key=lambda kv: -kv[1])[:k]


@torch.inference_mode()
def probabilities(loaded: LoadedClassifier, items: Sequence[Sequence[str]], batch_size: int,
                  device: torch.device) -> torch.Tensor:
    """(N, C) label probabilities of tokenised items, in order."""
    model = loaded.model
    model.eval()
    out = torch.zeros(len(items), len(loaded.vocabs.labels))
    start = 0
    for window, batches in prediction_batches(((None, t) for t in items), loaded.vocabs, batch_size):
        for batch in batches:
            b = batch.to(device)
            probs, _ = model.probabilities(b.words, b.lengths)
            out[[start + i for i in b.indices]] = probs.float().cpu()
        start += len(window)
    return out


@torch.inference_mode()
def predict(loaded: LoadedClassifier, examples: Iterable[Example], batch_size: int, device: torch.device,
            explain: bool = False) -> Iterator[ClassPrediction]:
    """Yield a `ClassPrediction` per example in input order, a window at a time."""
    model, labels = loaded.model, loaded.vocabs.labels.itos
    model.eval()
    pairs = ((e, loaded.tokens(e.text)) for e in examples)
    for window, batches in prediction_batches(pairs, loaded.vocabs, batch_size):
        results: list[ClassPrediction | None] = [None] * len(window)
        for batch in batches:
            b = batch.to(device)
            probs, attention = model.probabilities(b.words, b.lengths)
            chosen = model.decide(probs).cpu().tolist()
            probs_list = probs.float().cpu().tolist()
            att = attention.float().cpu().tolist() if (explain and attention is not None) else None
            for j, i in enumerate(b.indices):
                example, tokens = window[i]
                row = probs_list[j]
                picked = sorted((c for c, on in enumerate(chosen[j]) if on), key=lambda c: -row[c])
                results[i] = ClassPrediction(
                    example, list(tokens), [labels[c] for c in picked], dict(zip(labels, row)),
                    att[j][: len(tokens)] if att is not None else None)
        for result in results:
            assert result is not None
            yield result
