"""Training and scoring text classifiers.

`train_classifier` reads and tokenises the data, decides single- or multi-label
(multi-label as soon as a training item has several labels), builds the vocabulary
and (optionally) the pretrained embedding matrix, and hands the model to the shared
epoch loop. Dev is scored after every epoch; a multi-label model's decision threshold
is tuned on dev there and saved with its weights."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from rnn_cli.batches import ClassBatch, PairBatch, StoryBatch, TreeBatch
from rnn_cli.config import to_dict
from rnn_cli.data.babi import tokenize_babi
from rnn_cli.data.buckets import length_buckets
from rnn_cli.data.classification import LabelledSet, check_labels, expand_paths, read_many
from rnn_cli.data.cls_batching import ClassVocabs, build_class_vocabs
from rnn_cli.data.holdout import EVERY, split_labelled
from rnn_cli.data.item_batching import BatchSpec, encode_items, item_size, labelled_items
from rnn_cli.data.text import display_name
from rnn_cli.data.tree_items import phrase_items
from rnn_cli.data.vocab import Vocab
from rnn_cli.errors import DataFormatError
from rnn_cli.models.classifier import ClassifierConfig
from rnn_cli.models.classifiers import build
from rnn_cli.predict.classifier import LoadedClassifier, score_classifier
from rnn_cli.seed import seed_everything
from rnn_cli.training.configs import TrainClassifierConfig
from rnn_cli.training.distributed import Dist
from rnn_cli.training.events import Info
from rnn_cli.training.loop import Event, Task, resume_or_start, run_epochs, sharded
from rnn_cli.training.structure import (
    check_reading,
    fact_dropout,
    ignored_options,
    label_rows,
    resolve_structure,
    score_range,
    word_dropout,
)
from rnn_cli.training.vectors import joining_words, load_for, pretrained


def _class_weights(data: LabelledSet, vocabs: ClassVocabs, multi_label: bool) -> torch.Tensor:
    """Inverse-frequency weights: n / (C * count_c) per class, or for multi-label the
    positive weight (negatives / positives) of each label."""
    counts = Counter(label for labels in data.labels for label in labels)
    c = torch.tensor([counts[label] for label in vocabs.labels.itos], dtype=torch.float)
    n = len(data.labels)
    if multi_label:
        return (n - c) / c.clamp(min=1)
    return n / (len(c) * c.clamp(min=1))


def _all_tokens(data: LabelledSet) -> Iterator[list[str]]:
    yield from data.tokens
    yield from data.pair_tokens or []
    # A story's statements, once: each question carries the statements so far, so
    # only those beyond the previous question's (when its story goes on) are new.
    previous: list[str] = []
    for e in data.examples:
        if e.story is None:
            continue
        start = len(previous) if e.story[: len(previous)] == previous else 0
        yield from (tokenize_babi(f) for f in e.story[start:])
        previous = e.story


def _kind(cfg: TrainClassifierConfig) -> str:
    """What the classifier's items are, for messages."""
    return "pairs" if cfg.pair else {"tree-lstm": "trees", "dmn": "questions"}.get(cfg.encoder, "items")


def _prepare(cfg: TrainClassifierConfig, train: Sequence[str], dev: str | None, test: str | None,
             vocab_dict: dict[str, list[str]] | None) -> tuple[Any, ...]:
    """Read the data (no `dev`: one training item in 10 is dev), resolve the model's
    structure, build the vocabularies and the embedding matrix."""
    check_reading(cfg)
    train_d = read_many(train, cfg)
    # Dev and test are judged knowing the training file's format and labels.
    fmt = train_d.detection.format if train_d.detection is not None else None
    known = {label for labels in train_d.labels for label in labels}
    cfg = resolve_structure(cfg, train_d)
    if dev is None:
        train_d, dev_d = split_labelled(train_d, display_name(train[0]), _kind(cfg), labels_matter=not cfg.regression)
    else:
        dev_d = read_many(expand_paths(dev), cfg, fmt, known)
    test_d = read_many(expand_paths(test), cfg, fmt, known) if test else None
    if cfg.phrases and cfg.encoder == "rnn" and not cfg.pair:
        train_d = phrase_items(train_d, cfg.lowercase)
    several = next((e for e, ls in zip(train_d.examples, train_d.labels) if len(ls) > 1), None)
    if cfg.multi_label == "auto":
        cfg = replace(cfg, multi_label="yes" if several and not cfg.regression else "no")
    if cfg.multi_label == "no" and several is not None:
        what = "--regression takes one score an item" if cfg.regression else "--multi-label no was given"
        raise DataFormatError(several.source or display_name(train[0]), several.line, f"several labels, but {what}")
    multi = cfg.multi_label == "yes"
    if cfg.metric == "auto":
        cfg = replace(cfg, metric="pearson" if cfg.regression else "micro-f1" if multi else "accuracy")
    resuming = vocab_dict is not None
    vectors = load_for(cfg, resuming)
    if vocab_dict is not None:
        vocabs = ClassVocabs.from_dict(vocab_dict)
    else:
        extra = joining_words(vectors, (w for toks in _all_tokens(train_d) for w in toks),
                              (w for d in (dev_d, test_d) if d is not None for toks in _all_tokens(d) for w in toks))
        vocabs = build_class_vocabs(_all_tokens(train_d), label_rows(train_d, cfg), cfg.min_freq, extra, fmt,
                                    fold=cfg.keep_all_vectors)
        if cfg.regression:  # the integer scores in numeric order
            vocabs = replace(vocabs, labels=Vocab(score_range(train_d), unk=None))
    pre = pretrained(cfg, vectors, vocabs.words.itos, "vocab_size", resuming)
    if pre.size:
        cfg = replace(cfg, embedding_size=pre.size)
    return cfg, train_d, dev_d, test_d, vocabs, pre


def train_classifier(
    cfg: TrainClassifierConfig,
    train: str | Sequence[str],
    dev: str | None,
    out: str | Path,
    test: str | None = None,
    device: torch.device | None = None,
    resume: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    dist: Dist | None = None,
) -> Iterator[Event]:
    device, dist = device or torch.device("cpu"), dist or Dist()
    cfg, state, notes = resume_or_start(TrainClassifierConfig, cfg, out, "classifier", resume)
    yield from notes

    seed_everything(cfg.seed)
    train = expand_paths(train)  # several files, or a glob pattern: one training set (joint training over tasks)
    cfg, train_d, dev_d, test_d, vocabs, pre = _prepare(
        cfg, train, dev, test, state["vocab"] if state else None)
    multi = cfg.multi_label == "yes"
    detected = [d.detection.note(display_name(d.path)) for d in (train_d, dev_d, test_d)
                if d is not None and d.detection is not None and d.detection.ambiguous]
    for note in dict.fromkeys(detected):  # once a file: a dev set held out of the training file shares its note
        yield Info(note)
    for d in (dev_d, test_d):
        if d is not None and not cfg.regression and (note := check_labels(d, vocabs, multi)):
            yield Info(f"note: {note}")
    if ignored := ignored_options(cfg):
        model = " ".join([f"--encoder {cfg.encoder}"] + ["--pair"] * cfg.pair + ["--regression"] * cfg.regression)
        yield Info(f"note: {', '.join(ignored)}: not read by this model ({model}), ignored")
    if state is None:
        counts = Counter(label for labels in train_d.labels for label in labels)
        if cfg.regression:
            labels_note = f"scores from {vocabs.labels.itos[0]} to {vocabs.labels.itos[-1]} (regression)"
        else:
            top, n = counts.most_common(1)[0]
            labels_note = (f"{len(vocabs.labels)} labels ({'multi-label' if multi else 'single-label'}; most "
                           f"frequent '{top}' {100 * n / len(train_d.labels):.1f}%)")
        kind = _kind(cfg)
        names = display_name(train[0]) + (f" and {len(train) - 1} more file(s)" if len(train) > 1 else "")
        yield Info(f"{names}: {len(train_d.examples):,} {kind} ({vocabs.train_format}), "
                   f"{sum(map(len, _all_tokens(train_d))):,} tokens, {labels_note}, vocabulary {len(vocabs.words):,}")
        if dev is None:
            share = f"those of one story in {EVERY}" if dev_d.examples[0].story is not None else f"one in {EVERY}"
            yield Info(f"no --dev: {len(dev_d.examples):,} of the training {kind} ({share}, drawn with a fixed "
                       "seed) are held out as dev, not trained on")
        for d in (train_d, dev_d, test_d):
            if d is not None and d.truncated:
                yield Info(f"{d.path}: {d.truncated:,} item(s) longer than --max-length {cfg.max_length} "
                           "tokens were cut")
        if pre.note:
            yield Info(pre.note)
    model_cfg = ClassifierConfig(
        vocab_size=len(vocabs.words), num_labels=len(vocabs.labels), embedding_size=cfg.embedding_size,
        cell=cfg.cell, hidden_size=cfg.hidden_size, layers=cfg.layers, bidirectional=cfg.bidirectional,
        pooling=cfg.pooling, attention_size=cfg.attention_size, dropout=cfg.dropout, multi_label=multi,
        freeze_embeddings=cfg.freeze_embeddings, members=cfg.ensemble, encoder=cfg.encoder,
        tree_cell=cfg.tree_cell if cfg.tree_cell != "auto" else "binary", pair=cfg.pair,
        pair_hidden_size=cfg.pair_hidden_size, regression=cfg.regression,
        score_low=int(vocabs.labels.itos[0]) if cfg.regression else 1, passes=cfg.passes,
        fact_encoder=cfg.fact_encoder, memory_update=cfg.memory_update, supervise_facts=cfg.supervise_facts,
        fact_weight=cfg.fact_weight)
    model = build(model_cfg).to(device)
    if pre.matrix is not None and state is None:
        model.set_pretrained_embeddings(pre.matrix.to(device))
    weights = _class_weights(train_d, vocabs, multi).to(device) if cfg.class_weights == "auto" else None
    spec = BatchSpec.of(model_cfg, cfg.phrases, cfg.max_facts)
    items = labelled_items(train_d, spec)
    train_config = to_dict(cfg)
    loaded = LoadedClassifier(model, vocabs, train_config, {})
    # Built once, before training: a dev or test item the model cannot read (a tree too
    # wide for a binary Tree-LSTM, a missing story) is an input error now, not at epoch 1's end.
    dev_items = labelled_items(dev_d, loaded.spec)
    test_items = labelled_items(test_d, loaded.spec) if test_d is not None else None

    def loss(batch: ClassBatch | TreeBatch | PairBatch) -> tuple[torch.Tensor, int]:
        b = batch.to(device)
        if isinstance(b, ClassBatch):
            b = replace(b, weights=weights)
        if cfg.fact_dropout > 0 and isinstance(b, StoryBatch):
            b = fact_dropout(b, cfg.fact_dropout)
        if cfg.word_dropout > 0:
            b = word_dropout(b, cfg.word_dropout, vocabs.words.unk_index)
        out = model.loss(b)
        return out.value, out.items

    def summary(scores: dict[str, Any], prefix: str) -> dict[str, Any]:
        if cfg.regression:
            return {f"{prefix}_{k}": scores[k] for k in ("pearson", "spearman", "mse")}
        out = {f"{prefix}_accuracy": scores["accuracy"], f"{prefix}_macro_f1": scores["macro_f1"]}
        if multi:
            out[f"{prefix}_micro_f1"] = scores["micro"]["f1"]
            out[f"{prefix}_threshold"] = scores["threshold"]
        return out

    def evaluate() -> dict[str, Any]:
        return summary(score_classifier(loaded, dev_d, 64, device, tune_threshold=True, metric=cfg.metric,
                                        items=dev_items), "dev")

    def score_test() -> dict[str, Any]:
        assert test_d is not None
        return summary(score_classifier(loaded, test_d, 64, device, items=test_items), "test")

    lengths = [item_size(item) for item in items]
    global_batch = cfg.batch_size * dist.world_size
    task = Task(
        task="classifier", model=model, model_config=to_dict(model_cfg), train_config=train_config,
        vocab=vocabs.to_dict(), order=lambda g: length_buckets(lengths, global_batch, g),
        make_batch=sharded(lambda idx: encode_items([items[i] for i in idx], vocabs, idx, spec,
                                                    [train_d.labels[i] for i in idx]), dist),
        loss=loss, evaluate=evaluate, metric="dev_" + cfg.metric.replace("-", "_"), unit="item",
        rate_key="items_per_s", test=score_test if test_d is not None else None, summary={"multi_label": multi})
    if pre.extra is not None:
        task = replace(task, widen=pre.extra.widen, narrow=pre.extra.narrow)
    yield from run_epochs(task, cfg, out, state, should_stop, device, dist)
