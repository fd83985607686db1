"""Training and applying sequence taggers (BiLSTM + char encoder + CRF/softmax).

Tags in chunk/entity schemes (IOB1, BIO, BIOES) are detected on the training
file, checked, and rewritten as BIOES for training; predictions are written back
in the scheme the user asks for. Like `train_lm`, `train_tagger` is a generator
of events; the best model by dev entity F1 (token accuracy for tag sets without
B-/I- prefixes) is kept, and `<out>.state.pt` allows an exact `--resume` from
the last checkpoint (see `epochs.py`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from rnn_cli.config import from_dict, to_dict
from rnn_cli.data.atomic import check_target
from rnn_cli.data.buckets import length_buckets
from rnn_cli.data.conll import Sentence, check_tags
from rnn_cli.data.schemes import PLAIN, allowed_transitions, convert, detect_scheme
from rnn_cli.data.sentences import FORMATS, read_tagged_file
from rnn_cli.data.tagging import CHUNK_BATCHES, TagBatch, TaggingVocabs, build_vocabs, encode_batch
from rnn_cli.errors import ConfigError
from rnn_cli.models.rnn import CELLS
from rnn_cli.models.tagger import Tagger, TaggerConfig
from rnn_cli.predict.tagger import LoadedTagger, score_tagger
from rnn_cli.seed import seed_everything
from rnn_cli.training.distributed import Dist
from rnn_cli.training.epochs import LoopOptions, TaskSpec, load_state, resumed_message, run_epochs, state_path
from rnn_cli.training.events import Done, Evaluated, Info, Step
from rnn_cli.training.optim import OPTIMIZERS


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
    word_dropout: float = 0.0  # training: a word seen once becomes <unk> with this probability
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
    checkpoint_every: int = 0  # also save the training state every N steps; 0: at epoch ends only
    amp: bool = False  # autocast (bf16 where supported, else fp16 with a gradient scaler)
    skip_nonfinite: bool = False  # skip batches with a non-finite loss instead of stopping

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
            (0.0 <= self.word_dropout < 1.0, "word_dropout", "must be in [0, 1)"),
            (self.epochs >= 0, "epochs", "must be >= 0"),
            (self.batch_size >= 1, "batch_size", "must be >= 1"),
            (self.lr > 0, "lr", "must be > 0"),
            (self.clip >= 0, "clip", "must be >= 0"),
            (self.lr_decay >= 0, "lr_decay", "must be >= 0"),
            (self.min_freq >= 1, "min_freq", "must be >= 1"),
            (self.patience >= 0, "patience", "must be >= 0"),
            (self.log_every >= 1, "log_every", "must be >= 1"),
            (self.checkpoint_every >= 0, "checkpoint_every", "must be >= 0"),
        ]
        for ok, name, why in checks:
            if not ok:
                raise ConfigError(f"invalid --{name.replace('_', '-')} {getattr(self, name)!r}: {why}")


def read_tagged(path: str, cfg: TrainTaggerConfig) -> list[Sentence]:
    return read_tagged_file(path, cfg.format, cfg.word_column, cfg.tag_column, cfg.tag_field, cfg.encoding)


def _to_training_scheme(sentences: list[Sentence], scheme: str, path: str) -> list[Sentence]:
    """Check every sentence in `scheme` and rewrite its tags as BIOES (plain: as they are)."""
    out = []
    for s in sentences:
        check_tags(s, scheme, path)
        tags = s.tags if scheme == PLAIN else convert(s.tags or [], scheme, "bioes")
        out.append(replace(s, tags=tags))
    return out


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


def _singletons(sentences: list[Sentence], vocabs: TaggingVocabs, device: torch.device) -> torch.Tensor:
    """(V,) bool: the word ids seen exactly once in `sentences`."""
    counts = Counter(w for s in sentences for w in s.tokens)
    ids = [vocabs.words.stoi[w] for w, n in counts.items() if n == 1 and w in vocabs.words.stoi]
    mask = torch.zeros(len(vocabs.words), dtype=torch.bool)
    mask[ids] = True
    return mask.to(device)


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
    dist: Dist | None = None,
) -> Iterator[Step | Evaluated | Info | Done]:
    device = device or torch.device("cpu")
    check_target(out)
    state = None
    if resume and state_path(out).exists():
        state = load_state(out, "tagger")
        cfg = replace(from_dict(TrainTaggerConfig, state["train_config"], where=f"{state_path(out)}: config"),
                      epochs=cfg.epochs)
        yield Info(resumed_message(state_path(out), state))
    elif resume:
        yield Info(f"nothing to resume ({state_path(out)} does not exist); starting a new run")

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
    train_config = to_dict(cfg)
    loaded = LoadedTagger(model, vocabs, scheme, PLAIN if scheme == PLAIN else "bioes", train_config, {})
    metric = "accuracy" if scheme == PLAIN else "f1"

    singletons = _singletons(train_s, vocabs, device) if cfg.word_dropout > 0 else None

    def loss(batch: TagBatch) -> tuple[torch.Tensor, int]:
        b = batch.to(device)
        words = b.words
        if singletons is not None:
            # Lample et al. 2016: words seen once are sometimes <unk> in training, so that
            # the <unk> vector (what unseen words get at test time) is learned.
            drop = singletons[words] & (torch.rand(words.shape, device=device) < cfg.word_dropout)
            words = words.masked_fill(drop, vocabs.words.unk_index)
        return model.loss(words, b.chars, b.mask, b.tags), b.words.size(0)

    def evaluate() -> dict[str, Any]:
        scores = score_tagger(loaded, dev_s, 64, device)
        return {f"dev_{k}": scores[k] for k in ("accuracy", "f1") if k in scores}

    def score_test() -> dict[str, Any]:
        scores = score_tagger(loaded, test_s or [], 64, device)
        return {f"test_{k}": scores[k] for k in ("accuracy", "f1") if k in scores}

    lengths = [len(s) for s in train_s]
    spec = TaskSpec(
        task="tagger", model=model, model_config=to_dict(model_cfg), train_config=train_config,
        vocab=vocabs.to_dict(), order=lambda g, b: length_buckets(lengths, b, g, chunk=CHUNK_BATCHES),
        make_batch=lambda idx: encode_batch([train_s[i] for i in idx], vocabs, idx), batch_size=cfg.batch_size,
        loss=loss, evaluate=evaluate,
        metric=f"dev_{metric}", test=score_test if test_s is not None else None)
    opts = LoopOptions(cfg.epochs, cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.lr_decay, cfg.clip,
                       cfg.patience, cfg.seed, cfg.log_every, cfg.checkpoint_every, cfg.amp, cfg.skip_nonfinite)
    for event in run_epochs(spec, opts, out, state, should_stop, device, dist):
        if isinstance(event, Done) and not event.interrupted:
            event.summary["scheme"] = scheme
        yield event
