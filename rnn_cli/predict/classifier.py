"""Applying a trained classifier: load it, and classify a stream of texts (with label
probabilities, the k most probable labels and, for attention pooling, the per-token
weights). The library side of `classify` and of scoring during training."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rnn_cli.data.classification import (
    Example,
    JsonKeys,
    LabelledSet,
    check_labels,
    item_tokens,
    read_examples,
    read_labelled,
    record_example,
    spell,
)
from rnn_cli.data.cls_batching import ClassVocabs
from rnn_cli.data.cls_detect import LOOKAHEAD, Detection, detect_class_format, json_first
from rnn_cli.data.item_batching import BatchSpec, Item, Side, example_item, item_batches, labelled_items
from rnn_cli.data.text import display_name, head_lines
from rnn_cli.data.trees import parse_ptb
from rnn_cli.errors import CheckpointError, ConfigError
from rnn_cli.metrics import classification_scores, regression_scores
from rnn_cli.models.classifier import Classifier, ClassifierEnsemble
from rnn_cli.models.pair import expected_score
from rnn_cli.models.scored import ScoredClassifier
from rnn_cli.predict import open_model

THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 20)]


@dataclass
class LoadedClassifier:
    model: Classifier | ClassifierEnsemble | ScoredClassifier
    vocabs: ClassVocabs
    config: dict[str, Any]  # the training options (tokenizer, lowercase, max_length, ...)
    payload: dict[str, Any]  # the model file's plain data less its weights (config, vocab, metrics, ...)
    truncated: int = 0  # texts cut at max_length so far
    device: torch.device = torch.device("cpu")

    # The Python API (`rnn_cli.load`): plain strings in, plain results out.

    def json_keys(self) -> JsonKeys:
        """The keys of the model's JSON lines: named with --text-column / --label-column /
        --pair-column in training on JSONL, else the defaults (a model's TSV columns are
        not keys)."""
        if self.vocabs.train_format != "jsonl":
            return JsonKeys()
        cfg = self.config
        return JsonKeys.of(cfg.get("text_column"), cfg.get("label_column"), cfg.get("pair_column"))

    def classify(self, text: str) -> ClassPrediction:
        """The label(s) of one text (`.label`, `.labels`) and every label's probability
        (`.probs`), labels spelled as in the training data."""
        return self.classify_many([text])[0]

    def classify_many(self, texts: Iterable[str | tuple[str, str]], batch_size: int = 64,
                      explain: bool = False) -> list[ClassPrediction]:
        """A `ClassPrediction` per text, in order (`explain`: attention weights per
        token, for models trained with attention pooling). A pair model takes
        `(text, text_pair)` tuples; a Tree-LSTM, PTB-bracketed trees (`.score` holds
        a regression model's prediction); a DMN, `(story, question)` tuples, the story
        a list of statements or one string with a statement per line (`explain`: the
        gates over the facts per pass). Any but a DMN also takes dicts as JSONL lines
        have them: `{"text", "heads", "text_pair", "heads_pair"}`, the way to give a
        dependency Tree-LSTM its trees (heads 1-based, 0 the root, one per token)."""
        examples = []
        spec = self.spec
        for i, item in enumerate(texts):
            if spec.stories:
                examples.append(_story_example(item, i + 1))
                continue
            if isinstance(item, dict):
                examples.append(record_example(item, "<text>", i + 1, keys=self.json_keys()))
                continue
            text, pair = item if spec.pair and isinstance(item, tuple) and len(item) == 2 else (item, None)
            if not isinstance(text, str) or (spec.pair and not isinstance(pair, str)):
                want = "a (text, text_pair) tuple of strings" if spec.pair else "a string"
                raise ValueError(f"text {i + 1}: expected {want}, got {type(item).__name__}")
            tree, tree_pair = None, None
            if spec.trees:
                tree = parse_ptb(text, "<text>", i + 1)
                tree_pair = parse_ptb(pair, "<text_pair>", i + 1) if pair is not None else None
            examples.append(Example(text, None, i + 1, tree=tree, text_pair=pair, tree_pair=tree_pair))
        return list(predict(self, examples, batch_size, self.device, explain=explain, source="<text>"))

    @property
    def spec(self) -> BatchSpec:
        return BatchSpec.of(self.model.config, max_facts=self.config.get("max_facts", 0))

    def item(self, e: Example, source: str = "<input>") -> Item:
        """An example as the model reads it (`item_batching.example_item`), tokenised
        as in training; texts cut at the training max_length are counted."""
        spec = self.spec
        texts = [(e.text, e.tree)] + ([(e.text_pair, e.tree_pair)] if spec.pair and e.text_pair is not None else [])
        tokens = []
        for text, tree in texts:
            toks, cut = item_tokens(text or "", tree if spec.trees else None, self.config, spec.stories)
            self.truncated += cut
            tokens.append(toks)
        return example_item(e, tokens[0], tokens[1] if len(tokens) > 1 else None, spec, source)


def _story_example(item: object, number: int) -> Example:
    """A `(story, question)` tuple as the example the bAbI reader would give."""
    story, question = item if isinstance(item, tuple) and len(item) == 2 else (None, None)
    if isinstance(story, str):
        story = story.splitlines()
    if not isinstance(question, str) or not isinstance(story, list) or not all(isinstance(s, str) for s in story):
        raise ValueError(f"text {number}: expected a (story, question) tuple: the story a list of statements "
                         f"or a string of lines, the question a string; got {type(item).__name__}")
    return Example(question, None, number, story=[s for s in story if s.strip()])


def load_classifier(path: str, device: torch.device, payload: dict[str, Any] | None = None,
                    quantize: str | None = None) -> LoadedClassifier:
    """Rebuild a classifier from `path` (or from its already loaded `payload`); `path`
    may be an exported TorchScript classifier; `quantize` "int8" makes an int8 copy."""
    model, payload = open_model(path, "classifier", device, payload, quantize)
    try:
        vocabs = ClassVocabs.from_dict(payload["vocab"])
    except ValueError as exc:
        raise CheckpointError(f"{path}: damaged rnn-cli model file: {exc}") from None
    return LoadedClassifier(model, vocabs, payload["train_config"], payload, device=device)


def detect_input(loaded: LoadedClassifier, path: str, fmt: str = "auto", encoding: str = "utf-8",
                 labelled: bool = False, text_column: str | None = None,
                 label_column: str | None = None, pair_column: str | None = None) -> Detection:
    """The format of a file the model is to read: `fmt`, or judged on its first lines
    knowing the format of the model's training data and its labels (prediction input
    is plain text unless it looks like the training data, or `text_column` names a
    TSV column). A DMN reads only bAbI stories: its input is read as such
    (`detect_class_format`'s `encoder`).

    A pair model reads its second text from `pair_column` (prediction input), else from
    the column it was trained with; a model trained on JSONL pairs reads unlabelled
    input of two tab-separated columns as text<TAB>second text."""
    cfg = loaded.config
    if pair_column is not None and not loaded.spec.pair:
        raise ConfigError("--pair-column: the model is not a pair model (it reads one text per item)")
    if pair_column is not None and not labelled:
        if fmt not in ("auto", "tsv"):
            raise ConfigError(f"--pair-column picks a column of tab-separated input, not of {fmt}")
        return Detection("tsv", "--pair-column", text_column=text_column or cfg.get("text_column") or "0",
                         pair_column=pair_column)
    detection = detect_class_format(path, fmt, encoding, labelled, loaded.vocabs.train_format,
                                    set(loaded.vocabs.labels.itos), text_column, label_column,
                                    cfg.get("text_column") or "text", cfg.get("encoder"))
    if (loaded.spec.pair and not labelled and detection.format == "tsv" and text_column is None
            and not cfg.get("pair_column")):
        lines = [line for line in head_lines(path, encoding, LOOKAHEAD) if line.strip()]
        if lines and all(line.count("\t") == 1 for line in lines):
            return Detection("tsv", "a pair model: two tab-separated texts a line", text_column="0", pair_column="1")
    return detection


def read_input(loaded: LoadedClassifier, path: str, detection: Detection, encoding: str = "utf-8") -> Iterator[Example]:
    """The texts of prediction input, in the format `detection` chose (see `detect_input`)."""
    if detection.format == "jsonl":  # the keys the options named, else the model's (its label key is not written)
        keys = loaded.json_keys()
        return read_examples(path, text_column=detection.text_column or keys.text, label_column=keys.label,
                             encoding=encoding, labels="ignore", detection=detection,
                             pair_column=detection.pair_column or keys.pair)
    cfg = loaded.config
    text_column = detection.text_column
    if text_column is None and detection.format == "tsv" and cfg.get("text_column"):
        text_column = cfg["text_column"]  # TSV named as in training: read as columns
    pair_column = detection.pair_column or (cfg.get("pair_column") if detection.format == "tsv" else None)
    return read_examples(path, text_column=text_column, encoding=encoding, labels="ignore", detection=detection,
                         pair_column=pair_column)


@dataclass
class ClassPrediction:
    example: Example
    tokens: list[str]
    labels: list[str]  # the chosen label(s), most probable first
    probs: dict[str, float]  # every label's probability
    attention: list[float] | None = None  # per token (attention pooling, when asked for)
    score: float | None = None  # regression: the predicted score (the expectation over `probs`' scores)
    nodes: list[str] | None = None  # trees, when asked for: each node's predicted label (node order)

    @property
    def label(self) -> str:
        """The chosen label (the most probable of a multi-label model's choices)."""
        return self.labels[0]

    def top(self, k: int) -> list[tuple[str, float]]:
        return sorted(self.probs.items(), key=lambda kv: -kv[1])[:k]


@torch.inference_mode()
def probabilities(loaded: LoadedClassifier, items: Sequence[Item], batch_size: int,
                  device: torch.device) -> torch.Tensor:
    """(N, C) label probabilities of items (`LoadedClassifier.item`), in order."""
    model = loaded.model
    model.eval()
    out = torch.zeros(len(items), len(loaded.vocabs.labels))
    start = 0
    for window, batches in item_batches(((None, t) for t in items), loaded.vocabs, batch_size, loaded.spec):
        for batch in batches:
            b = batch.to(device)
            probs, _ = model.predict(b)
            out[[start + i for i in b.indices]] = probs.float().cpu()
        start += len(window)
    return out


def _attention(weights: list[Any], side: Side) -> list[Any]:
    """One item's attention weights cut to its length: per token (attention pooling),
    or per pass a weight per fact of the story (a DMN's gates, over its last facts
    when the story was cut at --max-facts: as many as the weights' rows hold)."""
    if side.story is None:
        return weights[: len(side.tokens)]
    return [w[: len(side.story)] for w in weights]


def _node_labels(model: Any, batch: Any, labels: list[str]) -> list[list[str]]:
    """Each tree's nodes' predicted labels (node order)."""
    best = model.predict_nodes(batch).argmax(-1).cpu().tolist()
    tree = batch.tree.cpu().tolist()
    out: list[list[str]] = [[] for _ in batch.indices]
    for node, row in enumerate(tree):  # nodes are grouped by tree, in order
        out[row].append(labels[best[node]])
    return out


@torch.inference_mode()
def predict(loaded: LoadedClassifier, examples: Iterable[Example], batch_size: int, device: torch.device,
            explain: bool = False, nodes: bool = False, source: str = "<input>") -> Iterator[ClassPrediction]:
    """Yield a `ClassPrediction` per example in input order, a window at a time
    (`nodes`: with every tree node's label; `source`: the input's name, for errors)."""
    model = loaded.model
    labels = [spell(label, loaded.vocabs.train_format) for label in loaded.vocabs.labels.itos]  # as in training
    regression = model.config.regression
    model.eval()
    pairs = ((e, loaded.item(e, source)) for e in examples)
    for window, batches in item_batches(pairs, loaded.vocabs, batch_size, loaded.spec):
        results: list[ClassPrediction | None] = [None] * len(window)
        for batch in batches:
            b = batch.to(device)
            probs, attention = model.predict(b)
            chosen = model.decide(probs).cpu().tolist()
            scores = expected_score(probs, model.config.score_low).tolist() if regression else None
            probs_list = probs.float().cpu().tolist()
            att = attention.float().cpu().tolist() if (explain and attention is not None) else None
            node_labels = _node_labels(model, b, labels) if nodes else None
            for j, i in enumerate(b.indices):
                example, (first, _) = window[i]
                row = probs_list[j]
                picked = sorted((c for c, on in enumerate(chosen[j]) if on), key=lambda c: -row[c])
                results[i] = ClassPrediction(
                    example, list(first.tokens), [labels[c] for c in picked], dict(zip(labels, row)),
                    _attention(att[j], first) if att is not None else None,
                    scores[j] if scores is not None else None, node_labels[j] if node_labels is not None else None)
        for result in results:
            assert result is not None
            yield result


def score_classifier(loaded: LoadedClassifier, data: LabelledSet, batch_size: int, device: torch.device,
                     tune_threshold: bool = False, metric: str = "micro-f1",
                     items: list[Item] | None = None) -> dict[str, Any]:
    """Scores of `data` (whose `items`, when a trainer has built them once for every
    evaluation); with `tune_threshold` (multi-label), first set the model's threshold to
    the grid value that maximises `metric` on `data`."""
    model, labels = loaded.model, loaded.vocabs.labels.itos
    probs = probabilities(loaded, items if items is not None else labelled_items(data, loaded.spec), batch_size,
                          device)
    if model.config.regression:
        gold_scores = [float(g[0]) for g in data.labels]
        return regression_scores(gold_scores, expected_score(probs, model.config.score_low).tolist())
    gold = [set(g) for g in data.labels]
    multi = model.config.multi_label
    # Gold labels the model never saw (a rare class, a DMN's unseen list answer) are scored too: always missed.
    scored = list(labels) + sorted({g for row in gold for g in row} - set(labels))

    def scores_at(threshold: float | None) -> dict[str, Any]:
        chosen = model.decide(probs, threshold).tolist()
        pred = [{labels[c] for c, on in enumerate(row) if on} for row in chosen]
        return classification_scores(gold, pred, scored, multi)

    if multi and tune_threshold:
        best_t, best = None, None
        for t in THRESHOLDS:
            s = scores_at(t)
            if best is None or _metric(s, metric) > _metric(best, metric):
                best_t, best = t, s
        model.threshold.fill_(best_t)
        assert best is not None
        return {**best, "threshold": best_t}
    result = scores_at(None)
    return {**result, "threshold": float(model.threshold)} if multi else result


def _metric(scores: dict[str, Any], metric: str) -> float:
    return {"accuracy": scores["accuracy"], "macro-f1": scores["macro_f1"], "micro-f1": scores["micro"]["f1"]}[metric]


def evaluate_classifier_file(loaded: LoadedClassifier, path: str, device: torch.device, batch_size: int = 64,
                             encoding: str | None = None, input_format: str = "auto", text_column: str | None = None,
                             label_column: str | None = None,
                             on_note: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Classify a labelled file and score it. It is tokenised as in training; its format
    is `input_format`, or judged knowing the training data's format and labels (a guess
    is reported through `on_note`); TSV columns are the training ones unless given."""
    cfg = {**loaded.config, "input_format": input_format}
    if encoding is not None:
        cfg["encoding"] = encoding
    named = text_column is not None or label_column is not None
    if not named and input_format in ("auto", "jsonl") and json_first(path, cfg["encoding"]):
        keys = loaded.json_keys()
        cfg.update(text_column=keys.text, label_column=keys.label, pair_column=keys.pair)
    if text_column is not None:
        cfg["text_column"] = text_column
    if label_column is not None:
        cfg["label_column"] = label_column
    data = read_labelled(path, cfg, loaded.vocabs.train_format, set(loaded.vocabs.labels.itos))
    if on_note is not None and data.detection is not None and data.detection.ambiguous:
        on_note(data.detection.note(display_name(path)))
    if not loaded.model.config.regression:
        note = check_labels(data, loaded.vocabs, loaded.model.config.multi_label)
        if note and on_note is not None:
            on_note(note)
    return {"file": path, **score_classifier(loaded, data, batch_size, device)}
