"""The tagger and its char encoders beyond the shared contract (`test_contract.py`):
`decode` (marginals, k-best) blind to padding and computing the emissions once,
constrained decoding, gradients against finite differences, a learnable toy task,
and embedding handling."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.func import functional_call

from rnn_cli.batches import TagBatch
from rnn_cli.models.char import CHAR_ENCODERS, CharCNN, CharLSTM, build_char_encoder
from rnn_cli.models.tagger import DECODERS, Tagger, TaggerConfig

# A BIO tag set and its constraints, written out: I-X only after B-X or I-X, never first.
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
ALLOWED = [
    # to: O      B-PER  I-PER  B-LOC  I-LOC
    [True, True, False, True, False],  # from O
    [True, True, True, True, False],  # from B-PER
    [True, True, True, True, False],  # from I-PER
    [True, True, False, True, True],  # from B-LOC
    [True, True, False, True, True],  # from I-LOC
]
ALLOWED_START = [True, True, False, True, False]
ALLOWED_END = [True, True, True, True, True]
WORDS, CHARS = 20, 12


def make_batch(lengths=(5, 3, 1, 4), width=4, seed=0, pad_to=None) -> TagBatch:
    """words (B, L), chars (B, L, C), mask (B, L), allowed tags (B, L) with -100 at padding.
    Words have 1..width real chars, left-aligned; padding words are all zeros."""
    g = torch.Generator().manual_seed(seed)
    b, n = len(lengths), pad_to or max(lengths)
    mask = torch.arange(n) < torch.tensor(lengths).unsqueeze(1)  # (B, L)
    words = torch.randint(1, WORDS, (b, n), generator=g) * mask
    n_chars = torch.randint(1, width + 1, (b, n, 1), generator=g)
    chars = torch.randint(1, CHARS, (b, n, width), generator=g) * (torch.arange(width) < n_chars) * mask.unsqueeze(2)
    tags = torch.randint(0, len(TAGS), (b, n), generator=g)
    for row in tags:  # an I-X that may not stand here becomes B-X, so every gold sequence is allowed
        for t in range(n):
            if TAGS[row[t]].startswith("I-") and (t == 0 or not ALLOWED[row[t - 1]][row[t]]):
                row[t] -= 1
    return TagBatch(words, chars, mask, tags.masked_fill(~mask, -100), mask.sum(1), list(range(b)))


def sentence(batch: TagBatch, i: int) -> TagBatch:
    """Row i alone, unpadded (its chars as narrow as the sentence allows)."""
    n = int(batch.lengths[i])
    c = int((batch.chars[i, :n] != 0).sum(1).max())
    return TagBatch(batch.words[i : i + 1, :n], batch.chars[i : i + 1, :n, :c], batch.mask[i : i + 1, :n],
                    batch.tags[i : i + 1, :n] if batch.tags is not None else None, batch.lengths[i : i + 1], [0])


def make_tagger(decoder="crf", char_encoder="cnn", cell="lstm", **kw) -> Tagger:
    torch.manual_seed(0)
    options = dict(word_vocab_size=WORDS, char_vocab_size=CHARS, num_tags=len(TAGS), word_embedding_size=6,
                   char_embedding_size=4, char_filters=5, hidden_size=7, dropout=0.3, decoder=decoder,
                   char_encoder=char_encoder, cell=cell, allowed=ALLOWED, allowed_start=ALLOWED_START,
                   allowed_end=ALLOWED_END)
    return Tagger(TaggerConfig(**{**options, **kw}))


def is_allowed(seq: list[int]) -> bool:
    return ALLOWED_START[seq[0]] and ALLOWED_END[seq[-1]] and all(ALLOWED[a][b] for a, b in zip(seq, seq[1:]))


@pytest.mark.parametrize("char_encoder", sorted(CHAR_ENCODERS))
@pytest.mark.parametrize("decoder", sorted(DECODERS))
def test_decode_never_depends_on_padding(decoder, char_encoder):
    model = make_tagger(decoder, char_encoder).eval()
    # Batched: padded to L = 7 (beyond the longest sentence) and C = 6 chars per word.
    batch = make_batch(width=6, pad_to=7, seed=1)
    with torch.no_grad():
        together = model.decode(batch, marginals=True, nbest=3)
        emissions = model.emissions(batch)
        for i, n in enumerate(batch.lengths.tolist()):
            one = sentence(batch, i)
            alone = model.decode(one, marginals=True, nbest=3)
            assert torch.allclose(model.emissions(one)[0], emissions[i, :n], atol=1e-5)
            assert torch.equal(alone.best[0], together.best[i, :n])
            assert torch.allclose(alone.marginals[0], together.marginals[i, :n], atol=1e-5)
            assert torch.equal(alone.nbest[0], together.nbest[i, :, :n])
            assert torch.allclose(alone.nbest_probs[0], together.nbest_probs[i], atol=1e-5)
    mask = batch.mask
    assert torch.allclose(together.marginals.sum(2)[mask], torch.ones(int(mask.sum())), atol=1e-5)
    assert (together.marginals[~mask] == 0).all() and (together.best[~mask] == 0).all()


def test_decode_computes_the_emissions_once():
    model = make_tagger().eval()
    calls = []
    model.projection.register_forward_hook(lambda *_: calls.append(1))
    with torch.no_grad():
        out = model.decode(make_batch(), marginals=True, nbest=2)
        plain = model.decode(make_batch())
    assert len(calls) == 2 and out.nbest.shape == (4, 2, 5) and out.marginals.shape == (4, 5, len(TAGS))
    assert plain.marginals is None and plain.nbest is None and plain.nbest_probs is None
    assert torch.equal(plain.best, out.best) and torch.equal(model.predict(make_batch()), out.best)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="invalid nbest"):
            model.decode(make_batch(), nbest=bad)


@pytest.mark.parametrize("decoder", sorted(DECODERS))
def test_constrained_decoding_never_produces_a_forbidden_transition(decoder):
    model = make_tagger(decoder).eval()
    with torch.no_grad():
        # Emissions that strongly prefer the I- tags, which would break BIO if unconstrained.
        model.projection.bias.copy_(torch.tensor([0.0, 0.0, 4.0, 0.0, 4.0]))
        if decoder == "crf":
            model.head.crf.transitions.normal_(0, 3)
    broken = 0
    for seed in range(10):
        batch = make_batch(lengths=(6, 4, 1, 2, 5), seed=seed)
        lengths = batch.lengths.tolist()
        with torch.no_grad():
            emissions = model.emissions(batch)
            out = model.decode(batch, nbest=3)
        pred, nbest, probs = out.best, out.nbest, out.nbest_probs
        broken += sum(not is_allowed(row[:n]) for row, n in zip(emissions.argmax(2).tolist(), lengths))
        for i, n in enumerate(lengths):
            assert is_allowed(pred[i, :n].tolist())
            assert torch.equal(nbest[i, 0], pred[i])
            for j in range(3):
                if probs[i, j] > 0:
                    assert is_allowed(nbest[i, j, :n].tolist())
        assert (probs[:, :-1] >= probs[:, 1:] - 1e-6).all() and (probs.sum(1) <= 1 + 1e-5).all()
    assert broken > 0  # the constraints did have work to do


@pytest.mark.parametrize("decoder", sorted(DECODERS))
def test_nbest_probabilities_sum_to_one_over_every_allowed_sequence(decoder):
    model = make_tagger(decoder).eval()
    batch = make_batch(lengths=(3, 2))
    n_allowed = sum(is_allowed(list(s)) for s in itertools.product(range(len(TAGS)), repeat=3))
    with torch.no_grad():
        probs = model.decode(batch, nbest=n_allowed + 2).nbest_probs
    assert torch.allclose(probs.sum(1), torch.ones(2, dtype=probs.dtype), atol=1e-5)
    assert (probs[0, n_allowed:] == 0).all()


def test_unconstrained_softmax_head_is_argmax_and_softmax():
    model = make_tagger("softmax", allowed=None, allowed_start=None, allowed_end=None).eval()
    batch = make_batch()
    mask = batch.mask
    with torch.no_grad():
        emissions = model.emissions(batch)
        out = model.decode(batch, marginals=True)
    assert torch.equal(out.best, emissions.argmax(2).masked_fill(~mask, 0))
    assert torch.allclose(out.marginals, emissions.softmax(2) * mask.unsqueeze(2), atol=1e-5)
    assert not any(p.requires_grad for p in model.head.parameters())


@pytest.mark.parametrize("kernel", [3, 2])
def test_char_cnn_ignores_padding_characters(kernel):
    torch.manual_seed(0)
    cnn = CharCNN(CHARS, 4, 5, kernel).eval()
    word = torch.tensor([[3, 4, 5]])
    padded = torch.tensor([[3, 4, 5, 0, 0, 0], [0, 0, 0, 0, 0, 0]])  # a word, then a padding word
    out = cnn(padded)
    assert out.shape == (2, 5) and torch.allclose(cnn(word)[0], out[0], atol=1e-6)
    assert torch.equal(out[1], torch.zeros(5))


def test_char_lstm_ignores_padding_and_concatenates_both_directions():
    torch.manual_seed(0)
    lstm = CharLSTM(CHARS, 4, 3).eval()
    out = lstm(torch.tensor([[3, 4, 5, 0, 0], [0, 0, 0, 0, 0]]))
    assert out.shape == (2, 6) and torch.allclose(lstm(torch.tensor([[3, 4, 5]]))[0], out[0], atol=1e-6)
    assert torch.equal(out[1], torch.zeros(6))
    assert build_char_encoder("none", CHARS)(torch.ones(4, 3, dtype=torch.long)).shape == (4, 0)
    with pytest.raises(ValueError, match="'gru'"):
        build_char_encoder("gru", CHARS)


@pytest.mark.parametrize("char_encoder", ["cnn", "lstm"])
def test_padding_words_give_finite_gradients(char_encoder):
    model = make_tagger("crf", char_encoder)
    model.loss(make_batch(pad_to=6)).value.backward()  # every sentence ends in padding words
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_crf_loss_gradient_matches_finite_differences():
    model = make_tagger("crf", "cnn", dropout=0.0, hidden_size=3).double()
    batch = make_batch(lengths=(3, 2, 1))

    class Loss(torch.nn.Module):
        def __init__(self, tagger: Tagger) -> None:
            super().__init__()
            self.tagger = tagger

        def forward(self, batch: TagBatch) -> torch.Tensor:
            return self.tagger.loss(batch).value

    wrapper = Loss(model)

    def loss_of(weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        params = {"tagger.projection.weight": weight, "tagger.projection.bias": bias}
        return functional_call(wrapper, params, (batch,))

    inputs = (model.projection.weight.detach().clone().requires_grad_(),
              model.projection.bias.detach().clone().requires_grad_())
    assert torch.autograd.gradcheck(loss_of, inputs, eps=1e-6, atol=1e-6)


def toy_batch(g: torch.Generator, b: int, n: int = 8, width: int = 3):
    """Word ids and spellings drawn independently; the tag is (first char of this word
    + previous word id) mod 3, the previous word id being 0 at the sentence start. So
    the tagger must read characters and look one word back."""
    lengths = torch.randint(2, n + 1, (b,), generator=g)
    mask = torch.arange(n) < lengths.unsqueeze(1)
    words = torch.randint(2, 8, (b, n), generator=g) * mask
    chars = torch.randint(1, 7, (b, n, width), generator=g) * mask.unsqueeze(2)
    previous = torch.cat([torch.zeros(b, 1, dtype=torch.long), words[:, :-1]], dim=1)
    tags = ((chars[:, :, 0] + previous) % 3).masked_fill(~mask, 0)
    return TagBatch(words, chars, mask, tags, lengths, list(range(b)))


@pytest.mark.parametrize("decoder", sorted(DECODERS))
def test_learns_a_toy_task_far_above_the_majority_baseline(decoder):
    torch.manual_seed(0)
    model = Tagger(TaggerConfig(word_vocab_size=8, char_vocab_size=7, num_tags=3, word_embedding_size=8,
                                char_embedding_size=8, char_filters=32, hidden_size=32, dropout=0.0, decoder=decoder))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    g = torch.Generator().manual_seed(0)
    for _ in range(120):
        optimizer.zero_grad()
        model.loss(toy_batch(g, b=32)).value.backward()
        optimizer.step()
    batch = toy_batch(torch.Generator().manual_seed(99), b=64)  # held out
    mask, tags = batch.mask, batch.tags
    with torch.no_grad():
        pred = model.eval().predict(batch)
    accuracy = (pred[mask] == tags[mask]).double().mean().item()
    majority = tags[mask].bincount().max().item() / int(mask.sum())
    assert majority < 0.45 and accuracy > 0.95


def test_frozen_pretrained_embeddings_stay_unchanged():
    model = make_tagger(freeze_embeddings=True)
    weights = torch.randn(WORDS, 6)
    model.set_pretrained_embeddings(weights)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    model.loss(make_batch()).value.backward()
    optimizer.step()
    assert torch.equal(model.embedding.weight, weights) and not model.embedding.weight.requires_grad
    trainable = make_tagger(freeze_embeddings=False)
    trainable.set_pretrained_embeddings(weights)
    assert torch.equal(trainable.embedding.weight, weights) and trainable.embedding.weight.requires_grad


def test_set_pretrained_embeddings_rejects_a_wrong_shape():
    model = make_tagger()
    for bad in (torch.randn(WORDS - 1, 6), torch.randn(WORDS, 7), torch.randn(WORDS * 6)):
        with pytest.raises(ValueError, match=r"shape .* expected \(20, 6\)"):
            model.set_pretrained_embeddings(bad)


@pytest.mark.parametrize("field, value", [
    ("num_tags", 0), ("hidden_size", 1.5), ("layers", True), ("char_encoder", "gru"), ("cell", "transformer"),
    ("decoder", "beam"), ("dropout", 1.0), ("freeze_embeddings", "yes"), ("allowed", [[True] * 5] * 4),
    ("allowed_start", [False] * 5), ("allowed_end", [True] * 3),
])
def test_config_rejects_bad_values_by_name(field, value):
    options = dict(word_vocab_size=WORDS, char_vocab_size=CHARS, num_tags=len(TAGS))
    with pytest.raises(ValueError, match=f"invalid {field}"):
        TaggerConfig(**{**options, field: value})
