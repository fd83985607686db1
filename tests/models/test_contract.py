"""The contract every registered model honours, through the one protocol the trainers
and predictors use (`loss(batch) -> Loss`, `predict(batch)`): a finite loss whose
backward reaches every trainable parameter, a model file (`checkpoint.make_payload`
-> file -> `checkpoint.build_model`) that predicts exactly as the model did, and
padding (with junk in it) that changes no sequence's outputs or loss.

A new model needs one `Example` in EXAMPLES (the test below checks that every entry
of `MODELS` has one) and its variants in CASES."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from rnn_cli import checkpoint
from rnn_cli.batches import ClassBatch, LMBatch, TagBatch
from rnn_cli.data.vocab import PAD, UNK
from rnn_cli.models import CELLS, DECODERS, MODELS, POOLINGS, Loss

IGNORE = -100
LENGTHS = [5, 3, 1, 4]
PAD_TO = 7  # beyond the longest sequence


@dataclass
class Example:
    """How to exercise one task's model."""

    config: Callable[..., Any]  # (**overrides) -> a small config
    batch: Callable[[Any, list[int], int, int], Any]  # (config, lengths, pad_to, seed) -> batch, junk at padding
    alone: Callable[[Any, int, int], Any]  # (batch, row, length) -> that row as a batch of one, unpadded
    rows: Callable[[Any, list[int]], list[Any]]  # (predict's output, lengths) -> each sequence's outputs
    items: Callable[[list[int]], int]  # lengths -> what the mean loss is over
    target: str  # the batch field holding the targets
    vocab: Callable[[Any], dict[str, list[str]]]  # config -> vocabularies a model file of the task must have


def _names(prefix: str, n: int, specials: list[str]) -> list[str]:
    return specials + [f"{prefix}{i}" for i in range(n - len(specials))]


def _mask(lengths: list[int], pad_to: int) -> torch.Tensor:
    return torch.arange(pad_to) < torch.tensor(lengths).unsqueeze(1)  # (B, L)


# The language model: B streams side by side, time-major; a stream ends early with
# IGNORE targets (the padded evaluation layout) and junk inputs.
def lm_batch(config: Any, lengths: list[int], pad_to: int, seed: int) -> LMBatch:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, config.vocab_size, (pad_to, len(lengths)), generator=g)  # (T, B)
    y = torch.randint(0, config.vocab_size, (pad_to, len(lengths)), generator=g)
    return LMBatch(x, y.masked_fill(~_mask(lengths, pad_to).t(), IGNORE))


LM = Example(
    config=lambda **kw: MODELS["lm"][0](**{**dict(vocab_size=13, embedding_size=6, hidden_size=6, layers=2,
                                                 dropout=0.2), **kw}),
    batch=lm_batch,
    alone=lambda b, i, n: LMBatch(b.x[:n, i : i + 1], b.y[:n, i : i + 1]),
    rows=lambda out, lengths: [out[0][:n, i] for i, n in enumerate(lengths)],  # logits (T, B, V)
    items=sum,
    target="y",
    vocab=lambda c: {"tokens": _names("t", c.vocab_size, [UNK])},
)


# The tagger, with BIO constraints (I-X only after B-X or I-X, never first) so that the
# decoders' -inf paths are exercised too.
TAGS = ["O", "B-X", "I-X", "B-Y", "I-Y"]
ALLOWED = [[not b.startswith("I-") or a[2:] == b[2:] and a != "O" for b in TAGS] for a in TAGS]


def tag_batch(config: Any, lengths: list[int], pad_to: int, seed: int, width: int = 4) -> TagBatch:
    g = torch.Generator().manual_seed(seed)
    b, mask = len(lengths), _mask(lengths, pad_to)
    words = torch.randint(1, config.word_vocab_size, (b, pad_to), generator=g)  # junk at padding too
    n_chars = torch.randint(1, width + 1, (b, pad_to, 1), generator=g)
    chars = torch.randint(1, config.char_vocab_size, (b, pad_to, width), generator=g)
    # A real word's characters are left-aligned, 0 after them; padding words are junk.
    chars = torch.where(mask.unsqueeze(2), chars * (torch.arange(width) < n_chars), chars)
    tags = torch.randint(0, len(TAGS), (b, pad_to), generator=g)
    for row in tags:  # an I-X that may not stand here becomes B-X: every gold sequence is allowed
        for t in range(pad_to):
            if TAGS[row[t]].startswith("I-") and (t == 0 or not ALLOWED[row[t - 1]][row[t]]):
                row[t] -= 1
    return TagBatch(words, chars, mask, tags.masked_fill(~mask, IGNORE), torch.tensor(lengths), list(range(b)))


def tag_alone(batch: TagBatch, i: int, n: int) -> TagBatch:
    c = int((batch.chars[i, :n] != 0).sum(1).max())  # as narrow as this sentence allows
    assert batch.tags is not None
    return TagBatch(batch.words[i : i + 1, :n], batch.chars[i : i + 1, :n, :c], batch.mask[i : i + 1, :n],
                    batch.tags[i : i + 1, :n], torch.tensor([n]), [0])


TAGGER = Example(
    config=lambda **kw: MODELS["tagger"][0](**{**dict(
        word_vocab_size=20, char_vocab_size=12, num_tags=len(TAGS), word_embedding_size=6, char_embedding_size=4,
        char_filters=5, hidden_size=7, layers=2, dropout=0.3, allowed=ALLOWED,
        allowed_start=[not t.startswith("I-") for t in TAGS], allowed_end=[True] * len(TAGS)), **kw}),
    batch=tag_batch,
    alone=tag_alone,
    rows=lambda tags, lengths: [tags[i, :n] for i, n in enumerate(lengths)],  # best tags (B, L)
    items=len,
    target="tags",
    vocab=lambda c: {"words": _names("w", c.word_vocab_size, [PAD, UNK]),
                     "chars": _names("c", c.char_vocab_size, [PAD, UNK]), "tags": list(TAGS)},
)


def class_batch(config: Any, lengths: list[int], pad_to: int, seed: int) -> ClassBatch:
    g = torch.Generator().manual_seed(seed)
    b = len(lengths)
    words = torch.randint(2, config.vocab_size, (b, pad_to), generator=g)  # junk at padding too
    if config.multi_label:
        labels = (torch.rand(b, config.num_labels, generator=g) < 0.4).float()
    else:
        labels = torch.randint(0, config.num_labels, (b,), generator=g)
    return ClassBatch(words, torch.tensor(lengths), labels, list(range(b)))


def class_alone(batch: ClassBatch, i: int, n: int) -> ClassBatch:
    assert batch.labels is not None
    return ClassBatch(batch.words[i : i + 1, :n], batch.lengths[i : i + 1], batch.labels[i : i + 1], [0])


def class_rows(out: tuple[torch.Tensor, torch.Tensor | None], lengths: list[int]) -> list[Any]:
    probs, attention = out  # (B, C), (B, L) or None
    return [(probs[i], attention[i, :n] if attention is not None else None) for i, n in enumerate(lengths)]


CLASSIFIER = Example(
    config=lambda **kw: MODELS["classifier"][0](**{**dict(
        vocab_size=30, num_labels=4, embedding_size=8, hidden_size=6, layers=2, attention_size=5, dropout=0.3),
        **kw}),
    batch=class_batch,
    alone=class_alone,
    rows=class_rows,
    items=len,
    target="labels",
    vocab=lambda c: {"words": _names("w", c.vocab_size, [PAD, UNK]), "labels": _names("l", c.num_labels, [])},
)

EXAMPLES = {"lm": LM, "tagger": TAGGER, "classifier": CLASSIFIER}

CASES = [
    *(("lm", dict(cell=cell)) for cell in sorted(CELLS)),
    ("lm", dict(tie_weights=True, hidden_size=7)),  # tied, through a projection
    *(("tagger", dict(decoder=decoder)) for decoder in sorted(DECODERS)),
    ("tagger", dict(char_encoder="lstm", cell="gru")),
    ("tagger", dict(char_encoder="none", decoder="softmax", cell="rnn-tanh")),
    ("tagger", dict(char_encoder="cnn", cell="sru", layers=2)),  # bidirectional SRU, padding invariance
    *(("classifier", dict(pooling=pooling)) for pooling in POOLINGS),
    ("classifier", dict(pooling="last", cell="gru", bidirectional=False)),
    ("classifier", dict(pooling="last", cell="sru-plain")),
    ("classifier", dict(pooling="attention", members=3)),  # an ensemble
    ("classifier", dict(pooling="mean", multi_label=True, members=2)),
]
IDS = ["-".join([task, *map(str, kw.values())]) for task, kw in CASES]


def build(task: str, overrides: dict[str, Any]) -> tuple[Example, Any, Any]:
    example = EXAMPLES[task]
    config = example.config(**overrides)
    torch.manual_seed(0)
    return example, config, MODELS[task][1](config)


def assert_same(a: Any, b: Any, exact: bool = True) -> None:
    """Equal outputs: tensors (exactly, or to float rounding), None, or tuples/lists of them."""
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y, exact)
    elif a is None:
        assert b is None
    elif exact:
        assert torch.equal(a, b)
    else:
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_every_registered_model_has_an_example():
    assert set(EXAMPLES) == set(MODELS) == {task for task, _ in CASES}


@pytest.mark.parametrize("task, overrides", CASES, ids=IDS)
def test_loss_is_finite_and_reaches_every_parameter(task, overrides):
    example, config, model = build(task, overrides)
    batch = example.batch(config, LENGTHS, PAD_TO, 0)
    out = model.train().loss(batch)
    assert isinstance(out, Loss) and out.value.dim() == 0 and torch.isfinite(out.value)
    assert out.items == example.items(LENGTHS)
    assert (out.state is not None) == (task == "lm")  # only the LM carries a state
    out.value.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("task, overrides", CASES, ids=IDS)
def test_a_batch_without_targets_has_no_loss_but_predicts(task, overrides):
    example, config, model = build(task, overrides)
    batch = dataclasses.replace(example.batch(config, LENGTHS, PAD_TO, 0), **{example.target: None})
    with pytest.raises(ValueError, match="no loss"):
        model.loss(batch)
    with torch.no_grad():
        assert len(example.rows(model.eval().predict(batch), LENGTHS)) == len(LENGTHS)


@pytest.mark.parametrize("task, overrides", CASES, ids=IDS)
def test_a_model_file_predicts_exactly_as_the_model(task, overrides, tmp_path):
    example, config, model = build(task, overrides)
    batch = example.batch(config, LENGTHS, PAD_TO, 1)
    model.train().loss(batch).value.backward()  # a used model, not a fresh one
    path = tmp_path / "model.pt"
    checkpoint.save(path, checkpoint.make_payload(task, dataclasses.asdict(config), {}, example.vocab(config),
                                                  model.state_dict(), {}))
    rebuilt, rebuilt_config = checkpoint.build_model(checkpoint.load(path, task=task), str(path))
    assert rebuilt_config == config and not rebuilt.training
    model.eval()
    assert model.state_dict().keys() == rebuilt.state_dict().keys()
    with torch.no_grad():
        assert_same(model.predict(batch), rebuilt.predict(batch))
        assert torch.equal(model.loss(batch).value, rebuilt.loss(batch).value)


@pytest.mark.parametrize("task, overrides", CASES, ids=IDS)
def test_padding_never_changes_a_sequence(task, overrides):
    example, config, model = build(task, overrides)
    model.eval()
    batch = example.batch(config, LENGTHS, PAD_TO, 2)
    with torch.no_grad():
        together = example.rows(model.predict(batch), LENGTHS)
        total = model.loss(batch)
        weighted = 0.0
        for i, n in enumerate(LENGTHS):
            one = example.alone(batch, i, n)
            assert_same(example.rows(model.predict(one), [n])[0], together[i], exact=False)
            alone = model.loss(one)
            weighted += float(alone.value) * alone.items
    assert float(total.value) == pytest.approx(weighted / total.items, rel=1e-5)
