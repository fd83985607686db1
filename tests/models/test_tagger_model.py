"""Contract tests for the tagger over every decoder x char encoder (and cells)."""

import itertools

import pytest
import torch

from rnn_cli.models import MODELS
from rnn_cli.models.char import CharCNN
from rnn_cli.models.tagger import Tagger, TaggerConfig

TAGS = ["B-X", "I-X", "O"]
ALLOWED = [[False, True, False], [False, True, True], [True, False, True]]  # BIO-like: B-X->I-X, I-X->I-X
ALLOWED_START = [True, False, True]  # no sentence starts with I-X


def batch(lengths=(5, 3, 1), c=4, vocab=20, chars=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    b, n = len(lengths), max(lengths)
    mask = torch.arange(n).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    words = torch.randint(2, vocab, (b, n), generator=g) * mask
    ch = torch.randint(1, chars, (b, n, c), generator=g) * mask.unsqueeze(-1)
    tags = torch.randint(0, 3, (b, n), generator=g) * mask
    return words, ch, mask, tags


def make(decoder="crf", char_encoder="cnn", cell="lstm", **kw):
    torch.manual_seed(0)
    cfg = TaggerConfig(word_vocab_size=20, char_vocab_size=12, num_tags=3, word_embedding_size=6,
                       char_embedding_size=4, char_filters=5, hidden_size=7, dropout=0.3, decoder=decoder,
                       char_encoder=char_encoder, cell=cell, allowed=ALLOWED, allowed_start=ALLOWED_START, **kw)
    return Tagger(cfg)


@pytest.mark.parametrize("decoder, char_encoder, cell",
                         [(d, c, "lstm") for d, c in itertools.product(["crf", "softmax"], ["cnn", "lstm", "none"])]
                         + [("crf", "cnn", "gru"), ("crf", "cnn", "rnn-tanh")])
def test_contract(decoder, char_encoder, cell):
    model = make(decoder, char_encoder, cell)
    words, chars, mask, tags = batch()
    loss = model.loss(words, chars, mask, tags)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    model.eval()
    config_cls, model_cls = MODELS["tagger"]
    clone = model_cls(config_cls(**model.config.__dict__))
    clone.load_state_dict(model.state_dict())
    clone.eval()
    assert torch.equal(model.emissions(words, chars, mask), clone.emissions(words, chars, mask))
    assert torch.equal(model.predict(words, chars, mask), clone.predict(words, chars, mask))


@pytest.mark.parametrize("decoder", ["crf", "softmax"])
def test_padding_never_changes_a_sentence(decoder):
    model = make(decoder).eval()
    words, chars, mask, _ = batch()
    together = model.emissions(words, chars, mask)
    for i, n in enumerate(mask.sum(1).tolist()):
        alone = model.emissions(words[i : i + 1, :n], chars[i : i + 1, :n], mask[i : i + 1, :n])
        assert torch.allclose(alone[0], together[i, :n], atol=1e-6)
        assert torch.equal(model.predict(words[i : i + 1, :n], chars[i : i + 1, :n], mask[i : i + 1, :n])[0],
                           model.predict(words, chars, mask)[i, :n])


def test_constrained_crf_decoding_never_breaks_the_scheme():
    model = make("crf").eval()
    for seed in range(20):
        words, chars, mask, _ = batch(seed=seed)
        with torch.no_grad():
            pred = model.predict(words, chars, mask)
        for row, n in zip(pred.tolist(), mask.sum(1).tolist()):
            assert ALLOWED_START[row[0]]
            assert all(ALLOWED[a][b] for a, b in zip(row[: n - 1], row[1:n]))


def test_char_cnn_ignores_padding_characters():
    torch.manual_seed(0)
    cnn = CharCNN(10, 4, 5, 3).eval()
    short = torch.tensor([[3, 4, 5]])
    padded = torch.tensor([[3, 4, 5, 0, 0, 0]])
    assert torch.allclose(cnn(short), cnn(padded))
    assert torch.equal(cnn(torch.zeros(1, 4, dtype=torch.long)), torch.zeros(1, 5))


def test_frozen_and_pretrained_embeddings():
    model = make(freeze_embeddings=True)
    weights = torch.randn(20, 6)
    weights[0] = 0
    model.set_pretrained_embeddings(weights)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1.0)
    model.loss(*batch()).backward()
    opt.step()
    assert torch.equal(model.embedding.weight, weights)
    with pytest.raises(ValueError, match="shape"):
        model.set_pretrained_embeddings(torch.randn(3, 6))


def test_learns_a_toy_task_far_above_majority():
    # Tag 1 iff the word id is even, 0 otherwise; 2 ("O") never: learnable from words alone.
    torch.manual_seed(0)
    model = Tagger(TaggerConfig(word_vocab_size=20, char_vocab_size=12, num_tags=3, word_embedding_size=8,
                                char_encoder="none", hidden_size=16, dropout=0.0))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    words, chars, mask, _ = batch(lengths=(8, 7, 6, 5, 8, 8), seed=3)
    tags = (words % 2 == 0).long() * mask
    for _ in range(60):
        opt.zero_grad()
        model.loss(words, chars, mask, tags).backward()
        opt.step()
    pred = model.eval().predict(words, chars, mask)
    acc = (pred[mask] == tags[mask]).float().mean().item()
    majority = max((tags[mask] == k).float().mean().item() for k in range(3))
    assert acc > 0.95 and acc > majority + 0.2
