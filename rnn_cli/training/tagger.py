"""Training and applying sequence taggers (BiLSTM + char encoder + CRF/softmax).

Tags in chunk/entity schemes (IOB1, BIO, BIOES) are detected on the training
file, checked, and rewritten as BIOES for training; predictions are written back
in the scheme the user asks for. Like every trainer, `train_tagger` runs on the shared
epoch loop (`loop.py`); the best model by dev entity F1 (token accuracy for tag sets
without B-/I- prefixes) is kept, and `<out>.state.pt` allows an exact `--resume`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from rnn_cli.batches import TagBatch
from rnn_cli.config import to_dict
from rnn_cli.data.buckets import length_buckets
from rnn_cli.data.conll import Sentence, check_tags
from rnn_cli.data.holdout import EVERY, split_keeping_labels
from rnn_cli.data.schemes import PLAIN, allowed_transitions, convert
from rnn_cli.data.sentences import detect_sentence_scheme, read_tagged_file
from rnn_cli.data.tagging import CHUNK_BATCHES, TaggingVocabs, build_vocabs, encode_batch
from rnn_cli.data.text import display_name
from rnn_cli.models.tagger import Tagger, TaggerConfig
from rnn_cli.predict.tagger import LoadedTagger, score_tagger, tag_types, unknown_tags_note
from rnn_cli.seed import seed_everything
from rnn_cli.training.configs import TrainTaggerConfig
from rnn_cli.training.distributed import Dist
from rnn_cli.training.events import Info
from rnn_cli.training.loop import Event, Task, resume_or_start, run_epochs, sharded
from rnn_cli.training.structure import drop_words
from rnn_cli.training.vectors import joining_words, load_for, pretrained

LONG_SENTENCE = 1000  # tokens: a longer training sentence gets a note (a CoNLL file without blank lines?)


def read_tagged(path: str, cfg: TrainTaggerConfig) -> list[Sentence]:
    return read_tagged_file(path, cfg.input_format, cfg.word_column, cfg.tag_column, cfg.tag_field, cfg.encoding)


def _to_training_scheme(sentences: list[Sentence], scheme: str, path: str) -> list[Sentence]:
    """Check every sentence in `scheme` and rewrite its tags as BIOES (plain: as they are)."""
    out = []
    for s in sentences:
        check_tags(s, scheme, path)
        tags = s.tags if scheme == PLAIN else convert(s.tags or [], scheme, "bioes")
        out.append(replace(s, tags=tags))
    return out


def _prepare(cfg: TrainTaggerConfig, train: str, dev: str | None, test: str | None,
             vocab_dict: dict[str, list[str]] | None) -> tuple[Any, ...]:
    """Read the data (no `dev`: one training sentence in 10 is dev), resolve the scheme,
    build the vocabularies and the embedding matrix."""
    train_s = read_tagged(train, cfg)
    scheme = cfg.scheme if cfg.scheme != "auto" else detect_sentence_scheme(train_s, train)
    cfg = replace(cfg, scheme=scheme)
    if dev is None:
        # A sentence with an entity type (a plain tag) no other training sentence has stays in training.
        train_s, dev_s = split_keeping_labels(train_s, lambda s: tag_types(s.tags or [], scheme == PLAIN),
                                              display_name(train), "sentences")
    else:
        dev_s = read_tagged(dev, cfg)
    test_s = read_tagged(test, cfg) if test else None
    for sents, path in ((dev_s, dev or train), (test_s, test)):
        for s in sents or []:
            check_tags(s, scheme, path or "")
    train_t = _to_training_scheme(train_s, scheme, train)
    # A resumed run restores its vocabulary and embedding weights from the state file.
    resuming = vocab_dict is not None
    vectors = load_for(cfg, resuming)
    if vocab_dict is not None:
        vocabs = TaggingVocabs.from_dict(vocab_dict)
    else:
        extra = joining_words(vectors, (w for s in train_s for w in s.tokens),
                              (w for sents in (dev_s, test_s or []) for s in sents for w in s.tokens))
        vocabs = build_vocabs(train_t, cfg.min_freq, extra_words=extra, fold=cfg.keep_all_vectors)
    pre = pretrained(cfg, vectors, vocabs.words.itos, "word_vocab_size", resuming)
    if pre.size:
        cfg = replace(cfg, embedding_size=pre.size)
    return cfg, scheme, train_t, dev_s, test_s, vocabs, pre


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
        word_embedding_size=cfg.embedding_size, char_encoder=cfg.char_encoder,
        char_embedding_size=cfg.char_embedding_size, char_filters=cfg.char_filters, cell=cfg.cell,
        layers=cfg.layers, hidden_size=cfg.hidden_size, dropout=cfg.dropout, decoder=cfg.decoder,
        freeze_embeddings=cfg.freeze_embeddings, allowed=allowed, allowed_start=start, allowed_end=end,
    )


def train_tagger(
    cfg: TrainTaggerConfig,
    train: str,
    dev: str | None,
    out: str | Path,
    test: str | None = None,
    device: torch.device | None = None,
    resume: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    dist: Dist | None = None,
) -> Iterator[Event]:
    device, dist = device or torch.device("cpu"), dist or Dist()
    cfg, state, notes = resume_or_start(TrainTaggerConfig, cfg, out, "tagger", resume)
    yield from notes

    seed_everything(cfg.seed)
    cfg, scheme, train_s, dev_s, test_s, vocabs, pre = _prepare(
        cfg, train, dev, test, state["vocab"] if state else None)
    if state is None:
        yield Info(f"{train}: {len(train_s):,} sentences, {sum(len(s) for s in train_s):,} tokens, "
                   f"{len(vocabs.tags)} tags (scheme {scheme}), vocabulary {len(vocabs.words):,}")
        if dev is None:
            yield Info(f"no --dev: {len(dev_s):,} sentences of {display_name(train)} (one in {EVERY}, drawn with a "
                       "fixed seed) are held out as dev, not trained on")
        for sents, path in ((dev_s, dev or train), (test_s, test)):
            if sents and (note := unknown_tags_note(vocabs.tags.itos, scheme == PLAIN, sents, path or "")):
                yield Info(f"note: {note}")
        longest = max(train_s, key=len)
        if len(longest) > LONG_SENTENCE:
            # Usually a file without the blank lines that end CoNLL sentences: trainable, but slow.
            yield Info(f"{display_name(train)}:{longest.first_line}: a sentence of {len(longest):,} tokens "
                       "(sentences end at a blank line; does the file have them?)")
        if pre.note:
            yield Info(pre.note)
    model_cfg = _model_config(cfg, vocabs, scheme)
    model = Tagger(model_cfg).to(device)
    if pre.matrix is not None and state is None:
        model.set_pretrained_embeddings(pre.matrix.to(device))
    train_config = to_dict(cfg)
    loaded = LoadedTagger(model, vocabs, scheme, PLAIN if scheme == PLAIN else "bioes", train_config, {})
    metric = "accuracy" if scheme == PLAIN else "f1"

    singletons = _singletons(train_s, vocabs, device) if cfg.singleton_dropout > 0 else None

    def loss(batch: TagBatch) -> tuple[torch.Tensor, int]:
        b = batch.to(device)
        if singletons is not None:
            # Lample et al. 2016: words seen once are sometimes <unk> in training, so that
            # the <unk> vector (what unseen words get at test time) is learned.
            drop = singletons[b.words] & (torch.rand(b.words.shape, device=device) < cfg.singleton_dropout)
            b = replace(b, words=b.words.masked_fill(drop, vocabs.words.unk_index))
        if cfg.word_dropout > 0:  # any word; its characters still reach the char encoder
            b = replace(b, words=drop_words(b.words, cfg.word_dropout, vocabs.words.unk_index))
        out = model.loss(b)
        return out.value, out.items

    def evaluate() -> dict[str, Any]:
        scores = score_tagger(loaded, dev_s, 64, device)
        return {f"dev_{k}": scores[k] for k in ("accuracy", "f1") if k in scores}

    def score_test() -> dict[str, Any]:
        scores = score_tagger(loaded, test_s or [], 64, device)
        return {f"test_{k}": scores[k] for k in ("accuracy", "f1") if k in scores}

    lengths = [len(s) for s in train_s]
    global_batch = cfg.batch_size * dist.world_size
    task = Task(
        task="tagger", model=model, model_config=to_dict(model_cfg), train_config=train_config,
        vocab=vocabs.to_dict(), order=lambda g: length_buckets(lengths, global_batch, g, chunk=CHUNK_BATCHES),
        make_batch=sharded(lambda idx: encode_batch([train_s[i] for i in idx], vocabs, idx), dist),
        loss=loss, evaluate=evaluate, metric=f"dev_{metric}", unit="sent", rate_key="sentences_per_s",
        test=score_test if test_s is not None else None, summary={"scheme": scheme})
    if pre.extra is not None:
        task = replace(task, widen=pre.extra.widen, narrow=pre.extra.narrow)
    yield from run_epochs(task, cfg, out, state, should_stop, device, dist)
