"""Training and applying sequence taggers (BiLSTM + char encoder + CRF/softmax).

Tags in chunk/entity schemes (IOB1, BIO, BIOES) are detected on the training
file, checked, and rewritten as BIOES for training; predictions are written back
in the scheme the user asks for. Like `train_lm`, `train_tagger` is a generator
of events; the best model by dev entity F1 (token accuracy for tag sets without
B-/I- prefixes) is kept, and `<out>.state.pt` allows `--resume` at an epoch
boundary."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from rnn_cli.config import from_dict, to_dict
from rnn_cli.data.atomic import atomic_write_text
from rnn_cli.data.conll import Sentence, check_tags
from rnn_cli.data.schemes import PLAIN, allowed_transitions, convert, detect_scheme
from rnn_cli.data.tagging import TaggingVocabs, build_vocabs, training_batches
from rnn_cli.data.text import display_name
from rnn_cli.errors import ConfigError, DataFormatError
from rnn_cli.metrics import tagging_scores
from rnn_cli.models.rnn import CELLS
from rnn_cli.models.tagger import Tagger, TaggerConfig
from rnn_cli.seed import seed_everything
from rnn_cli.tag_predict import LoadedTagger, predict
from rnn_cli.tagging_io import FORMATS, read_sentences
from rnn_cli.training import checkpoint
from rnn_cli.training.events import Done, Evaluated, Info, Step
from rnn_cli.training.optim import OPTIMIZERS, build_optimizer, set_lr


@dataclass
class TrainTaggerConfig:
    """Every option of `train-tagger` that shapes the result; stored in the model file."""

    format: str = "auto"
    word_column: int = 0
    tag_column: int = -1
    tag_field: str = "upos"
    scheme: str = "auto"  # of the input; resolved on the training file
    encoding: str = "utf-8"
    min_freq: int = 1
    embeddings: str | None = None
    embeddings_format: str = "auto"
    freeze_embeddings: bool = False
    word_embedding_size: int = 100
    char_encoder: str = "cnn"
    char_embedding_size: int = 30
    char_filters: int = 30
    cell: str = "lstm"
    layers: int = 1
    hidden_size: int = 200
    dropout: float = 0.5
    decoder: str = "crf"
    epochs: int = 50
    batch_size: int = 10
    optimizer: str = "sgd"
    lr: float = 0.015
    momentum: float = 0.9
    lr_decay: float = 0.05  # SGD: lr / (1 + decay * epoch) (Ma & Hovy 2016)
    weight_decay: float = 0.0
    clip: float = 5.0
    patience: int = 5
    seed: int = 1234
    log_every: int = 20

    def __post_init__(self) -> None:
        checks = [
            (self.format in FORMATS, "format", f"choose from {', '.join(FORMATS)}"),
            (self.scheme in ("auto", "iob1", "bio", "bioes", PLAIN), "scheme", "choose auto, iob1, bio, bioes, plain"),
            (self.tag_field in ("upos", "xpos"), "tag_field", "choose upos or xpos"),
            (self.char_encoder in ("cnn", "lstm", "none"), "char_encoder", "choose cnn, lstm or none"),
            (self.cell in CELLS, "cell", f"choose from {', '.join(CELLS)}"),
            (self.decoder in ("crf", "softmax"), "decoder", "choose crf or softmax"),
            (self.optimizer in OPTIMIZERS, "optimizer", f"choose from {', '.join(OPTIMIZERS)}"),
            (self.layers >= 1 and self.hidden_size >= 1, "hidden_size", "layers and sizes must be >= 1"),
            (self.word_embedding_size >= 1, "word_embedding_size", "must be >= 1"),
            (0.0 <= self.dropout < 1.0, "dropout", "must be in [0, 1)"),
            (self.epochs >= 0, "epochs", "must be >= 0"),
            (self.batch_size >= 1, "batch_size", "must be >= 1"),
            (self.lr > 0, "lr", "must be > 0"),
            (self.clip >= 0, "clip", "must be >= 0"),
            (self.lr_decay >= 0, "lr_decay", "must be >= 0"),
            (self.min_freq >= 1, "min_freq", "must be >= 1"),
            (self.patience >= 0, "patience", "must be >= 0"),
            (self.log_every >= 1, "log_every", "must be >= 1"),
        ]
        for ok, name, why in checks:
            if not ok:
                raise ConfigError(f"invalid --{name.replace('_', '-')} {getattr(self, name)!r}: {why}")


def state_path(out: str | Path) -> Path:
    return Path(out).with_suffix(".state.pt")


def metrics_path(out: str | Path) -> Path:
    return Path(out).with_suffix(".metrics.jsonl")


def read_tagged(path: str, cfg: TrainTaggerConfig) -> list[Sentence]:
    sentences = [s for s in read_sentences(path, cfg.format, cfg.word_column, cfg.tag_column, cfg.tag_field,
                                           cfg.encoding) if len(s) > 0]
    if not sentences:
        raise DataFormatError(display_name(path), None, "file is empty (no sentences)")
    if any(s.tags is None for s in sentences):
        raise DataFormatError(display_name(path), None, "has no tag column")
    return sentences


def _to_training_scheme(sentences: list[Sentence], scheme: str, path: str) -> list[Sentence]:
    """Check every sentence in `scheme` and rewrite its tags as BIOES (plain: as they are)."""
    out = []
    for s in sentences:
        check_tags(s, scheme, path)
        tags = s.tags if scheme == PLAIN else convert(s.tags or [], scheme, "bioes")
        out.append(replace(s, tags=tags))
    return out


def score_tagger(tagger: LoadedTagger, sentences: list[Sentence], batch_size: int,
                 device: torch.device) -> dict[str, Any]:
    """Predict `sentences` and score against their gold tags (in the model's scheme)."""
    gold, pred = [], []
    for p in predict(tagger, sentences, batch_size, device):
        gold.append(p.sentence.tags or [])
        pred.append(p.tags)
    return tagging_scores(gold, pred, tagger.scheme)


@dataclass
class _Progress:
    epoch: int = 0
    global_step: int = 0
    best: float = -math.inf
    bad_epochs: int = 0
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    best_metrics: dict[str, Any] = field(default_factory=dict)


def _prepare(cfg: TrainTaggerConfig, train: str, dev: str, test: str | None,
             vocab_dict: dict[str, list[str]] | None) -> tuple[Any, ...]:
    """Read the data, resolve the scheme, build the vocabularies and the embedding matrix."""
    train_s, dev_s = read_tagged(train, cfg), read_tagged(dev, cfg)
    test_s = read_tagged(test, cfg) if test else None
    scheme = cfg.scheme if cfg.scheme != "auto" else detect_scheme(s.tags or [] for s in train_s)
    cfg = replace(cfg, scheme=scheme)
    for sents, path in ((dev_s, dev), (test_s, test)):
        for s in sents or []:
            check_tags(s, scheme, path or "")
    train_t = _to_training_scheme(train_s, scheme, train)
    vectors, matrix, found = None, None, 0
    # A resumed run restores its vocabulary and embedding weights from the state file.
    if cfg.embeddings and vocab_dict is None:
        from rnn_cli.data.embeddings import extend_vocab_with_pretrained, load_vectors

        vectors = load_vectors(cfg.embeddings, cfg.embeddings_format)
    if vocab_dict is not None:
        vocabs = TaggingVocabs.from_dict(vocab_dict)
    else:
        extra: list[str] = []
        if vectors is not None:
            counts = Counter(w for s in train_s for w in s.tokens)
            others = (w for sents in (dev_s, test_s or []) for s in sents for w in s.tokens)
            extra = extend_vocab_with_pretrained(counts, others, vectors)
        vocabs = build_vocabs(train_t, cfg.min_freq, extra_words=extra)
    if vectors is not None:
        from rnn_cli.data.embeddings import build_embedding_matrix

        matrix, found = build_embedding_matrix(vocabs.words.itos, vectors, vectors.vector_size, cfg.seed)
        cfg = replace(cfg, word_embedding_size=vectors.vector_size)
    return cfg, scheme, train_t, dev_s, test_s, vocabs, matrix, found


def _model_config(cfg: TrainTaggerConfig, vocabs: TaggingVocabs, scheme: str) -> TaggerConfig:
    allowed, start, end = allowed_transitions(vocabs.tags.itos, PLAIN if scheme == PLAIN else "bioes")
    return TaggerConfig(
        word_vocab_size=len(vocabs.words), char_vocab_size=len(vocabs.chars), num_tags=len(vocabs.tags),
        word_embedding_size=cfg.word_embedding_size, char_encoder=cfg.char_encoder,
        char_embedding_size=cfg.char_embedding_size, char_filters=cfg.char_filters, cell=cfg.cell,
        layers=cfg.layers, hidden_size=cfg.hidden_size, dropout=cfg.dropout, decoder=cfg.decoder,
        freeze_embeddings=cfg.freeze_embeddings, allowed=allowed, allowed_start=start, allowed_end=end,
    )


def train_tagger(
    cfg: TrainTaggerConfig,
    train: str,
    dev: str,
    out: str | Path,
    test: str | None = None,
    device: torch.device | None = None,
    resume: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[Step | Evaluated | Info | Done]:
    device = device or torch.device("cpu")
    out = Path(out)
    spath, mpath = state_path(out), metrics_path(out)
    state = None
    if resume and spath.exists():
        state = checkpoint.load(spath, task="tagger", kind="train-state")
        cfg = replace(from_dict(TrainTaggerConfig, state["train_config"], where=f"{spath}: config"),
                      epochs=cfg.epochs)
        yield Info(f"resuming from {spath} after epoch {state['progress']['epoch']}")
    elif resume:
        yield Info(f"nothing to resume ({spath} does not exist); starting a new run")

    seed_everything(cfg.seed)
    cfg, scheme, train_s, dev_s, test_s, vocabs, matrix, found = _prepare(
        cfg, train, dev, test, state["vocab"] if state else None)
    if state is None:
        yield Info(f"{train}: {len(train_s):,} sentences, {sum(len(s) for s in train_s):,} tokens, "
                   f"{len(vocabs.tags)} tags (scheme {scheme}), vocabulary {len(vocabs.words):,}")
        if matrix is not None:
            yield Info(f"{cfg.embeddings}: {found:,} of {len(vocabs.words):,} words found "
                       f"({100 * found / max(len(vocabs.words), 1):.1f}%)")
    model_cfg = _model_config(cfg, vocabs, scheme)
    model = Tagger(model_cfg).to(device)
    if matrix is not None and state is None:
        model.set_pretrained_embeddings(matrix.to(device))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = build_optimizer(cfg.optimizer, params, cfg.lr, cfg.momentum, cfg.weight_decay)
    batch_gen = torch.Generator().manual_seed(cfg.seed)
    p = _Progress()
    if state is not None:
        model.load_state_dict(state["model_state"])
        optimizer.load_state_dict(state["optimizer_state"])
        torch.set_rng_state(state["rng_cpu"])
        batch_gen.set_state(state["rng_batches"])
        p = _Progress(**state["progress"])
    train_config, vocab_dict = to_dict(cfg), vocabs.to_dict()
    loaded = LoadedTagger(model, vocabs, scheme, PLAIN if scheme == PLAIN else "bioes", train_config, {})
    metric = "accuracy" if scheme == PLAIN else "f1"

    def save_model(metrics: dict[str, Any]) -> None:
        checkpoint.save(out, checkpoint.make_payload("tagger", to_dict(model_cfg), train_config, vocab_dict,
                                                     model.state_dict(), metrics))

    def save_state() -> None:
        checkpoint.save(spath, {
            "format_version": checkpoint.FORMAT_VERSION, "kind": "train-state", "task": "tagger",
            "train_config": train_config, "vocab": vocab_dict, "model_state": model.state_dict(),
            "optimizer_state": optimizer.state_dict(), "rng_cpu": torch.get_rng_state(),
            "rng_batches": batch_gen.get_state(), "progress": asdict(p),
        })

    steps = math.ceil(len(train_s) / cfg.batch_size)
    while p.epoch < cfg.epochs and not p.stopped_early:
        lr = cfg.lr / (1 + cfg.lr_decay * p.epoch) if cfg.optimizer == "sgd" else cfg.lr
        set_lr(optimizer, lr)
        model.train()
        started, loss_sum, n_sent, step = time.perf_counter(), 0.0, 0, 0
        for batch in training_batches(train_s, vocabs, cfg.batch_size, batch_gen):
            b = batch.to(device)
            loss = model.loss(b.words, b.chars, b.mask, b.tags)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.clip, foreach=True)
            optimizer.step()
            step, p.global_step = step + 1, p.global_step + 1
            loss_sum += float(loss.detach()) * b.words.size(0)
            n_sent += b.words.size(0)
            if step % cfg.log_every == 0 or step == steps:
                yield Step(p.epoch + 1, step, steps, loss_sum / n_sent, lr,
                           n_sent / max(time.perf_counter() - started, 1e-9), unit="sent")
            if should_stop():
                yield Info(f"interrupted: the last finished epoch is saved in {spath}; continue with --resume")
                yield Done({"interrupted": True, "state": str(spath)}, interrupted=True)
                return
        elapsed = time.perf_counter() - started
        scores = score_tagger(loaded, dev_s, 64, device)
        record: dict[str, Any] = {"epoch": p.epoch + 1, "step": p.global_step, "lr": lr,
                                  "train_loss": loss_sum / max(n_sent, 1), "dev_accuracy": scores["accuracy"],
                                  "sentences_per_s": round(n_sent / max(elapsed, 1e-9), 1),
                                  "epoch_seconds": round(elapsed, 2)}
        if "f1" in scores:
            record["dev_f1"] = scores["f1"]
        current = scores[metric]
        improved = current > p.best
        if improved:
            p.best, p.bad_epochs, p.best_metrics = current, 0, dict(record)
            save_model(p.best_metrics)
        else:
            p.bad_epochs += 1
            p.stopped_early = bool(cfg.patience and p.bad_epochs >= cfg.patience)
        p.history.append(record)
        atomic_write_text(mpath, "".join(json.dumps(r) + "\n" for r in p.history))
        p.epoch += 1
        save_state()
        yield Evaluated(record, improved)
        if p.stopped_early:
            yield Info(f"early stop: no improvement for {p.bad_epochs} epoch(s)")

    if not out.exists():
        save_model(p.best_metrics)
    summary: dict[str, Any] = {"model": str(out), "epochs": p.epoch, "scheme": scheme}
    summary.update({k: v for k, v in p.best_metrics.items() if k.startswith("dev_") or k == "epoch"})
    if test_s is not None:
        payload = checkpoint.load(out, task="tagger")
        model.load_state_dict(payload["state_dict"])
        scores = score_tagger(loaded, test_s, 64, device)
        test = {f"test_{k}": scores[k] for k in ("accuracy", "f1") if k in scores}
        summary.update(test)
        payload["metrics"] = {**payload["metrics"], **test}
        checkpoint.save(out, payload)
    yield Done(summary)


def evaluate_tagger_file(tagger: LoadedTagger, path: str, device: torch.device, batch_size: int = 64,
                         encoding: str | None = None) -> dict[str, Any]:
    """Tag a gold file (read with the training options) and score it."""
    cfg = from_dict(TrainTaggerConfig, tagger.config, where="model config")
    if encoding is not None:
        cfg = replace(cfg, encoding=encoding)
    sentences = read_tagged(path, cfg)
    for s in sentences:
        check_tags(s, tagger.scheme, path)
    return {"file": path, **score_tagger(tagger, sentences, batch_size, device)}
