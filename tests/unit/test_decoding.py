import itertools

import pytest
import torch

from rnn_cli.decoding import SamplingConfig, beam_search, filter_logits, sample
from rnn_cli.models.lm import RNNLM, LMConfig


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = RNNLM(LMConfig(vocab_size=6, embedding_size=5, hidden_size=7, layers=1, dropout=0.0))
    # Sharpen the distribution a little so decoding choices matter.
    with torch.no_grad():
        m.decoder.weight.mul_(8)
    return m.eval()


def test_top_k_one_equals_greedy(model):
    gen = torch.Generator().manual_seed(5)
    greedy = list(sample(model, [0, 1], SamplingConfig(max_tokens=15, greedy=True)))
    top1 = list(sample(model, [0, 1], SamplingConfig(max_tokens=15, top_k=1), generator=gen))
    assert greedy == top1


def test_beam_width_one_equals_greedy(model):
    greedy = list(sample(model, [2], SamplingConfig(max_tokens=12, greedy=True)))
    ids, _ = beam_search(model, [2], beam=1, max_tokens=12)
    assert ids == greedy


def _log_prob(model, prompt, continuation):
    x = torch.tensor(prompt + continuation[:-1]).view(-1, 1)
    with torch.no_grad():
        logits, _ = model(x)
    logp = logits[len(prompt) - 1 :, 0].log_softmax(-1)
    return sum(logp[i, t].item() for i, t in enumerate(continuation))


def test_wide_beam_finds_the_brute_force_optimum(model):
    prompt, steps = [1, 3], 3
    best = max(itertools.product(range(6), repeat=steps), key=lambda c: _log_prob(model, prompt, list(c)))
    ids, score = beam_search(model, prompt, beam=36, max_tokens=steps)  # 36 = V^(steps-1): exhaustive
    assert ids == list(best)
    assert score == pytest.approx(_log_prob(model, prompt, ids), abs=1e-4)


def test_same_seed_same_sample_and_different_seed_differs(model):
    cfg = SamplingConfig(max_tokens=40, temperature=1.5)
    a = list(sample(model, [0], cfg, torch.Generator().manual_seed(1)))
    b = list(sample(model, [0], cfg, torch.Generator().manual_seed(1)))
    c = list(sample(model, [0], cfg, torch.Generator().manual_seed(2)))
    assert a == b and a != c


def test_filter_logits_top_k_and_top_p():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    k2 = filter_logits(logits, top_k=2)
    assert torch.isinf(k2[2:]).all() and torch.isfinite(k2[:2]).all()
    p = filter_logits(logits, top_p=0.75)  # 0.5 + 0.3 reaches 0.75: keep two
    assert torch.isfinite(p[:2]).all() and torch.isinf(p[2:]).all()
    p = filter_logits(logits, top_p=0.4)  # the top token alone
    assert torch.isfinite(p[0]) and torch.isinf(p[1:]).all()
    t = filter_logits(logits, temperature=0.5)
    assert torch.allclose(t.softmax(-1), (logits / 0.5).softmax(-1))
    tiny = filter_logits(torch.tensor([3.0, 1.0, 2.0]), temperature=1e-30)  # 2 / 1e-30 overflows fp32
    assert tiny.softmax(-1).tolist() == [1.0, 0.0, 0.0]


def test_sampling_config_rejects_bad_values():
    for kwargs in ({"temperature": -0.1}, {"top_p": 0}, {"top_p": 1.5}, {"top_k": -1}, {"max_tokens": -1}):
        with pytest.raises(ValueError):
            SamplingConfig(**kwargs)


def test_temperature_zero_is_greedy(model):
    greedy = list(sample(model, [0, 1], SamplingConfig(max_tokens=15, greedy=True)))
    cold = list(sample(model, [0, 1], SamplingConfig(max_tokens=15, temperature=0), torch.Generator().manual_seed(1)))
    assert cold == greedy


def test_decoding_conflicts():
    from rnn_cli.decoding import decoding_conflicts

    def check(beam=0, num_samples=1, given=(), **kwargs):
        return decoding_conflicts(SamplingConfig(**kwargs), beam, num_samples, set(given))

    assert check(temperature=0.7, top_k=5, top_p=0.9, num_samples=3, given=["temperature", "top_k", "top_p"]) \
        == ([], [])  # sampling: every option counts
    assert check(beam=2, num_samples=2)[0] and check(greedy=True, num_samples=2)[0]
    assert check(temperature=0, num_samples=2)[0] and check(top_k=1, num_samples=2)[0]
    assert check(greedy=True, beam=3)[0]
    assert check(beam=4, temperature=0.5, given=["temperature"]) == (
        [], ["--temperature has no effect with --beam 4"])
    assert check(greedy=True, temperature=0, given=["temperature"]) == ([], [])  # they agree
    assert check(greedy=True, top_k=3) == ([], [])  # a default is never warned about


def test_prime_in_chunks_equals_one_pass(model):
    """A long prompt is run a chunk at a time (bounded memory) with the same result."""
    from rnn_cli.decoding import PRIME_CHUNK, prime

    torch.manual_seed(3)
    prompt = torch.randint(0, model.config.vocab_size, (2 * PRIME_CHUNK + 50,)).tolist()
    with torch.inference_mode():
        logits, hidden = model(torch.tensor(prompt).view(-1, 1))
    last, state = prime(model, prompt, torch.device("cpu"))
    torch.testing.assert_close(last, logits[-1, 0])
    for a, b in zip(torch.utils._pytree.tree_leaves(state), torch.utils._pytree.tree_leaves(hidden)):
        torch.testing.assert_close(a, b)
