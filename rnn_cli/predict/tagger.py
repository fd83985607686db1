"""Applying a trained tagger: load it and tag a stream of sentences, optionally with
each token's marginal probability and the k best tag sequences. The library side of
`tag` (and of scoring during training)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import torch

from rnn_cli.data.conll import Sentence, check_tags
from rnn_cli.data.schemes import OUTSIDE, PLAIN, SchemeError, convert, detect_scheme, split_tag
from rnn_cli.data.sentences import read_tagged_file
from rnn_cli.data.tagging import TaggingVocabs, decode_tags, prediction_batches
from rnn_cli.data.text import display_name, quoted
from rnn_cli.errors import ConfigError, DataFormatError
from rnn_cli.metrics import tagging_scores
from rnn_cli.models.scored import ScoredTagger
from rnn_cli.models.tagger import Tagger
from rnn_cli.predict import open_model


@dataclass
class LoadedTagger:
    model: Tagger | ScoredTagger
    vocabs: TaggingVocabs
    scheme: str  # the scheme of the training data (and default output scheme)
    train_scheme: str  # "bioes" or "plain": the model's own tags
    config: dict[str, Any]
    payload: dict[str, Any]  # the model file's plain data less its weights (config, vocab, metrics, ...)
    device: torch.device = torch.device("cpu")

    # The Python API (`rnn_cli.load`): plain lists in, plain results out.

    def tag(self, tokens: Sequence[str] | str, scheme: str | None = None) -> list[str]:
        """The tags of one tokenised sentence (a string is split on whitespace)."""
        return self.tag_many([tokens], scheme=scheme)[0].tags

    def tag_many(self, sentences: Iterable[Sequence[str] | str], probs: bool = False, nbest: int = 0,
                 scheme: str | None = None, batch_size: int = 64, max_length: int = 1000) -> list[Prediction]:
        """A `Prediction` per sentence (`.tokens`, `.tags`, and `.probs` / `.nbest` when
        asked for), with the options of `rnn-cli tag` (`scheme`: iob1, bio or bioes)."""
        items = []
        for i, tokens in enumerate(sentences):
            words = tokens.split() if isinstance(tokens, str) else list(tokens)
            if not words or not all(isinstance(w, str) and w for w in words):
                raise ValueError(f"sentence {i + 1}: expected a non-empty list of non-empty strings, got {tokens!r}")
            items.append(Sentence(words, None, [[w] for w in words], i + 1))
        if scheme is not None and scheme not in ("iob1", "bio", "bioes"):
            raise ValueError(f"invalid scheme: {scheme!r} (iob1, bio or bioes)")
        if scheme is not None and self.train_scheme == PLAIN:
            raise ValueError("this model tags a plain tag set, which has no scheme")
        return list(predict(self, items, batch_size, self.device, scheme, probs, nbest, max_length))

    def knows_tag(self, tag: str) -> bool:
        """Whether `tag` is one of this model's tags in any scheme (O, or a B-/I-/E-/S-
        prefix on an entity type it was trained on; a plain tag set: the tag itself)."""
        key = _tag_key(tag, self.train_scheme == PLAIN)
        if key is None:
            return tag == OUTSIDE
        return key in self._known_keys

    @cached_property
    def _known_keys(self) -> frozenset[str]:
        return frozenset(tag_types(self.vocabs.tags.to_list(), self.train_scheme == PLAIN))


def load_tagger(path: str, device: torch.device, payload: dict[str, Any] | None = None,
                quantize: str | None = None) -> LoadedTagger:
    """Rebuild a tagger from `path` (or from its already loaded `payload`); `path` may be
    an exported TorchScript tagger; `quantize` "int8" makes an int8 copy."""
    model, payload = open_model(path, "tagger", device, payload, quantize)
    cfg = payload["train_config"]
    return LoadedTagger(model, TaggingVocabs.from_dict(payload["vocab"]), cfg["scheme"],
                        PLAIN if cfg["scheme"] == PLAIN else "bioes", cfg, payload, device)


def _tag_key(tag: str, plain: bool) -> str | None:
    """What a model must have seen to predict `tag`: a plain tag itself, else its entity
    type (None for O, and for a tag that is no entity tag)."""
    if plain:
        return tag
    parsed = split_tag(tag)
    return None if parsed is None or parsed[0] == OUTSIDE else parsed[1]


def tag_types(tags: Sequence[str], plain: bool) -> list[str]:
    """The entity types (plain tags) of a tag sequence, one per entity tag."""
    return [k for tag in tags if (k := _tag_key(tag, plain)) is not None]


def unknown_tags_note(known: Collection[str], plain: bool, sentences: Sequence[Sentence], path: str) -> str | None:
    """Gold tags a model cannot predict (an entity type, or a plain tag, absent from the
    `known` tags of its training data) are scored as wrong (missed), not refused: the note
    counts their sentences (None when there are none). Only a file none of whose entity
    types (plain tags) the model knows is refused, at the first one's line: another
    column, or another task's file."""
    types = set(tag_types(list(known), plain))
    unseen: dict[str, int | None] = {}  # type or tag -> its first line
    hit, any_known = 0, False
    for s in sentences:
        found = False
        for i, tag in enumerate(s.tags or []):
            key = _tag_key(tag, plain)
            if key is None:
                continue
            if key in types:
                any_known = True
            else:
                unseen.setdefault(key, s.line_of(i))
                found = True
        hit += found
    if not unseen:
        return None
    what = "tag" if plain else "entity type"
    name = display_name(path)
    first, line = next(iter(unseen.items()))
    if not any_known:
        raise DataFormatError(name, line, f"none of the gold {what}s occurs in the model's training data (the first: "
                              f"'{first}'): another tag column, or another task's file?")
    fate = "scored as wrong" if plain else "its entities are scored as missed"
    return (f"{name}: {hit:,} of {len(sentences):,} sentences with a gold {what} the model was not trained on "
            f"({quoted(list(unseen))}, first at line {line}): {fate}")


@dataclass
class Prediction:
    sentence: Sentence
    tags: list[str]  # the best sequence, in the output scheme
    probs: list[float] | None = None  # each token's marginal probability of its tag
    nbest: list[tuple[list[str], float]] | None = None  # k best (tags, probability), best first

    @property
    def tokens(self) -> list[str]:
        return self.sentence.tokens


def _probability_groups(tags: list[str], target: str) -> torch.Tensor:
    """(T, G) 0/1 matrix that sums the model's tag marginals into the output scheme's
    labels. A BIO tag is a function of the BIOES tag at the same position (B/S -> B,
    I/E -> I), so its marginal is exact; an IOB1 B- depends on the previous token too,
    so for IOB1 output the group is the entity type (p(token is in an X entity))."""
    def key(tag: str) -> str:
        parsed = split_tag(tag)
        if target in (PLAIN, "bioes") or parsed is None or parsed[0] == OUTSIDE:
            return tag
        prefix, kind = parsed
        if target == "iob1":
            return kind
        return ("B-" if prefix in "BS" else "I-") + kind

    keys = [key(t) for t in tags]
    index = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    groups = torch.zeros(len(tags), len(index))
    for t, k in enumerate(keys):
        groups[t, index[k]] = 1.0
    return groups


def _pieces(sentences: Iterable[Sentence], max_length: int, owners: deque[tuple[Sentence, int]],
            on_split: Callable[[Sentence, int], None] | None) -> Iterator[Sentence]:
    """Each sentence, or its pieces of at most `max_length` tokens; `owners` gets
    `(sentence, number of pieces)` before the first piece is given out."""
    for s in sentences:
        if max_length <= 0 or len(s) <= max_length:
            owners.append((s, 1))
            yield s
            continue
        starts = range(0, len(s), max_length)
        owners.append((s, len(starts)))
        if on_split is not None:
            on_split(s, len(starts))
        for a in starts:
            yield Sentence(s.tokens[a: a + max_length], None, s.rows[a: a + max_length], s.line_of(a))


@torch.inference_mode()
def predict(tagger: LoadedTagger, sentences: Iterable[Sentence], batch_size: int, device: torch.device,
            scheme: str | None = None, probs: bool = False, nbest: int = 0, max_length: int = 0,
            on_split: Callable[[Sentence, int], None] | None = None) -> Iterator[Prediction]:
    """Yield a `Prediction` per sentence in input order, streaming: sentences are read,
    tagged and given back a window at a time. Tags are in `scheme` (default: the
    training data's); `probs` adds marginals (forward-backward), `nbest` > 0 the k best
    sequences with their probabilities (k-best Viterbi, normalised by the partition).

    A sentence longer than `max_length` tokens (> 0) is tagged in pieces of at most
    `max_length`, each on its own, and the pieces' tags are joined (`on_split` is told
    first): memory and time stay bounded however long a line is. The model's constrained
    decoding makes each piece's BIOES tags valid alone, so the joined sequence is valid
    too, though an entity that crosses a cut comes out as two. A split sentence's n-best
    list holds one sequence: the joined best, with the product of the pieces' probabilities."""
    owners: deque[tuple[Sentence, int]] = deque()
    pending: list[Prediction] = []
    for piece in _predict_pieces(tagger, _pieces(sentences, max_length, owners, on_split), batch_size, device,
                                 scheme, probs, nbest):
        pending.append(piece)
        owner, count = owners[0]
        if len(pending) < count:
            continue
        owners.popleft()
        yield _joined(tagger, owner, pending, scheme or tagger.scheme)
        pending = []


def _joined(tagger: LoadedTagger, sentence: Sentence, pieces: list[Prediction], target: str) -> Prediction:
    """One sentence's prediction from its pieces' (model-scheme) predictions, in `target`."""
    def to_target(seq: list[str]) -> list[str]:
        return seq if tagger.train_scheme == PLAIN else convert(seq, "bioes", target)

    if len(pieces) == 1:
        p = pieces[0]
        k_best = [(to_target(t), q) for t, q in p.nbest] if p.nbest is not None else None
        return Prediction(sentence, to_target(p.tags), p.probs, k_best)
    tags = [t for p in pieces for t in p.tags]
    token_probs = [x for p in pieces for x in p.probs] if pieces[0].probs is not None else None
    k_best = None
    if pieces[0].nbest is not None:
        joint = math.prod(p.nbest[0][1] for p in pieces if p.nbest)
        k_best = [(to_target(tags), joint)]
    return Prediction(sentence, to_target(tags), token_probs, k_best)


@torch.inference_mode()
def _predict_pieces(tagger: LoadedTagger, sentences: Iterable[Sentence], batch_size: int, device: torch.device,
                    scheme: str | None, probs: bool, nbest: int) -> Iterator[Prediction]:
    """`predict` without the joining: tags in the model's own scheme (BIOES or plain)."""
    model, vocabs = tagger.model, tagger.vocabs
    model.eval()
    target = scheme or tagger.scheme
    groups = _probability_groups(vocabs.tags.itos, target).to(device) if probs else None
    for window, batches in prediction_batches(sentences, vocabs, batch_size):
        results: list[Prediction | None] = [None] * len(window)
        for batch in batches:
            b = batch.to(device)
            out = model.decode(b, marginals=groups is not None, nbest=nbest)
            best = decode_tags(out.best.cpu(), batch.lengths, vocabs)
            token_probs: list[list[float]] | None = None
            if groups is not None and out.marginals is not None:
                grouped = out.marginals @ groups  # (B, L, G)
                chosen = groups[out.best].argmax(-1, keepdim=True)  # (B, L, 1): each best tag's group
                rows = grouped.gather(2, chosen).squeeze(2).cpu().tolist()
                token_probs = [row[: int(n)] for row, n in zip(rows, batch.lengths)]
            k_best: list[list[tuple[list[str], float]]] | None = None
            if out.nbest is not None and out.nbest_probs is not None:
                k_best = []
                for row_seqs, row_probs, n in zip(out.nbest.cpu(), out.nbest_probs.cpu().tolist(),
                                                  batch.lengths.tolist()):
                    decoded = decode_tags(row_seqs, [n] * len(row_probs), vocabs)
                    # Fewer than k allowed sequences: the rest have probability 0 (score -inf).
                    k_best.append([(s, p) for s, p in zip(decoded, row_probs) if p > 0.0] or
                                  [(decoded[0], row_probs[0])])
            for j, i in enumerate(batch.indices):
                results[i] = Prediction(window[i], best[j], token_probs[j] if token_probs is not None else None,
                                        k_best[j] if k_best is not None else None)
        for result in results:
            assert result is not None
            yield result


def score_tagger(tagger: LoadedTagger, sentences: list[Sentence], batch_size: int,
                 device: torch.device) -> dict[str, Any]:
    """Predict `sentences` and score against their gold tags (in the model's scheme)."""
    gold, pred = [], []
    for p in predict(tagger, sentences, batch_size, device):
        gold.append(p.sentence.tags or [])
        pred.append(p.tags)
    return tagging_scores(gold, pred, tagger.scheme)


def gold_scheme(tagger: LoadedTagger, sentences: Sequence[Sentence], requested: str = "auto") -> str:
    """The scheme a gold file's tags are read in: `requested` (iob1, bio, bioes, plain),
    or with "auto" the model's when every sentence is valid in it, else the scheme
    detected on the gold tags (a CoNLL-2003 file in IOB1 scored by a model trained on
    BIO data). A plain tag set and a chunk scheme do not mix: ConfigError."""
    if requested != "auto":
        if (requested == PLAIN) != (tagger.scheme == PLAIN):
            what = "plain tags (such as POS)" if tagger.scheme == PLAIN else f"chunk tags in {tagger.scheme}"
            raise ConfigError(f"--scheme {requested}: the model tags {what}; its gold file cannot be read in "
                              f"{requested}")
        return requested
    if tagger.scheme == PLAIN:
        return PLAIN
    # Tags valid in the model's scheme are detected as it (their entity starts all vote
    # for it; with no entity, the default is it), so detection alone decides.
    try:
        found = detect_scheme((s.tags for s in sentences if s.tags is not None), default=tagger.scheme)
    except SchemeError:
        return tagger.scheme  # mixed tags: `check_tags` names the line
    return tagger.scheme if found == PLAIN else found


def evaluate_tagger_file(tagger: LoadedTagger, path: str, device: torch.device, batch_size: int = 64,
                         encoding: str | None = None, input_format: str = "auto",
                         column: int | str | None = None, scheme: str = "auto",
                         on_note: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Tag a gold file and score it. The file is read with the training options unless
    `input_format` (other than "auto") or the gold tags' `column` (a CoNLL column, or a
    CoNLL-U field name) say otherwise. Its tags are read in `scheme` (`gold_scheme`:
    auto, iob1, bio, bioes or plain) and re-encoded in the model's when that differs
    (entities are the same spans in every scheme); `on_note` hears of a scheme found
    by detection, and of gold tags the model was not trained on (`unknown_tags_note`)."""
    c = tagger.config
    fmt = c["input_format"] if input_format == "auto" else input_format
    tag_column = column if isinstance(column, int) else c["tag_column"]
    tag_field = column if isinstance(column, str) else c["tag_field"]
    sentences = read_tagged_file(path, fmt, c["word_column"], tag_column, tag_field, encoding or c["encoding"])
    read_in = gold_scheme(tagger, sentences, scheme)
    if scheme == "auto" and read_in != tagger.scheme and on_note is not None:
        on_note(f"{display_name(path)}: gold tags read as {read_in} (the model's are {tagger.scheme}); "
                f"entities are scored as spans")
    for k, s in enumerate(sentences):
        check_tags(s, read_in, path)
        if read_in != tagger.scheme and s.tags is not None:
            s = sentences[k] = replace(s, tags=convert(s.tags, read_in, tagger.scheme))
    note = unknown_tags_note(tagger.vocabs.tags.itos, tagger.train_scheme == PLAIN, sentences, path)
    if note and on_note is not None:
        on_note(note)
    return {"file": path, **score_tagger(tagger, sentences, batch_size, device)}
