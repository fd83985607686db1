"""The CRF against brute-force enumeration of every tag sequence (float64, tiny sizes).
Every test runs twice: with log Z and its gradient through the compiled loop
(`crf_kernel.py`, the CPU's path) and through the PyTorch loop (everywhere else)."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnn_cli.models import crf_kernel
from rnn_cli.models.crf import CRF

LENGTHS = [5, 3, 1]  # batch of 3 sentences, padded to L = 5
CONSTRAINTS = ["none", "bio", "random"]


@pytest.fixture(autouse=True, params=["compiled", "python"])
def log_z_path(request, monkeypatch):
    if request.param == "python":
        monkeypatch.setattr(crf_kernel, "usable", lambda emissions: False)
    elif crf_kernel.compiled() is None:
        pytest.skip("the CRF's C++ loop could not be built here")
    return request.param


def bio_constraints(t: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Tags O, B-1, I-1, B-2, I-2, ... (t odd): I-x only after B-x or I-x, never first."""
    allowed = torch.ones(t, t, dtype=torch.bool)
    start = torch.ones(t, dtype=torch.bool)
    for i in range(2, t, 2):  # I-x is tag i, B-x is tag i - 1
        allowed[:, i] = False
        allowed[i - 1, i] = allowed[i, i] = True
        start[i] = False
    return allowed, start, torch.ones(t, dtype=torch.bool)


def enumerate_paths(
    crf: CRF, emissions: torch.Tensor, constraints: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every allowed sequence of one sentence (n, T) and its score, from the definition."""
    n, t = emissions.shape
    allowed, allowed_start, allowed_end = constraints
    seqs = torch.tensor(list(itertools.product(range(t), repeat=n)))  # (N, n)
    scores = (
        crf.start_transitions[seqs[:, 0]]
        + emissions[torch.arange(n), seqs].sum(1)
        + crf.transitions[seqs[:, :-1], seqs[:, 1:]].sum(1)
        + crf.end_transitions[seqs[:, -1]]
    )
    ok = allowed_start[seqs[:, 0]] & allowed_end[seqs[:, -1]] & allowed[seqs[:, :-1], seqs[:, 1:]].all(1)
    return seqs[ok], scores[ok].detach()


def make_problem(t: int, kind: str, seed: int):
    """A CRF with random (not small) parameters, emissions (3, 5, T), a left-aligned mask
    and the constraints as bools (all True for "none")."""
    g = torch.Generator().manual_seed(seed)
    every = (torch.ones(t, t, dtype=torch.bool), torch.ones(t, dtype=torch.bool), torch.ones(t, dtype=torch.bool))
    if kind == "none":
        constraints, crf = every, CRF(t)
    else:
        if kind == "bio":
            constraints = bio_constraints(t)
        else:
            while True:  # random constraints that leave at least 2 sequences of every length
                constraints = (torch.rand(t, t, generator=g) < 0.6, torch.rand(t, generator=g) < 0.7,
                               torch.rand(t, generator=g) < 0.7)
                crf = CRF(t, *constraints)
                if all(len(enumerate_paths(crf, torch.zeros(n, t), constraints)[0]) >= 2 for n in LENGTHS):
                    break
        crf = CRF(t, *constraints)
    crf = crf.double()
    with torch.no_grad():
        for p in crf.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.double))
    emissions = torch.randn(len(LENGTHS), max(LENGTHS), t, generator=g, dtype=torch.double)
    mask = torch.arange(max(LENGTHS)) < torch.tensor(LENGTHS).unsqueeze(1)
    return crf, emissions, mask, constraints


def problems():
    return [(t, kind, seed) for t in (3, 4) for kind in CONSTRAINTS for seed in (0, 1)]


@pytest.mark.parametrize("t,kind,seed", problems())
def test_log_partition_and_score_match_brute_force(t, kind, seed):
    crf, emissions, mask, constraints = make_problem(t, kind, seed)
    log_z = crf.log_partition(emissions, mask)
    tags = torch.zeros(mask.shape, dtype=torch.long)
    expected_gold = []
    for b, n in enumerate(LENGTHS):
        seqs, scores = enumerate_paths(crf, emissions[b, :n], constraints)
        assert torch.allclose(log_z[b], torch.logsumexp(scores, 0))
        tags[b, :n] = seqs[b % len(seqs)]  # some allowed sequence
        expected_gold.append(scores[b % len(seqs)])
    assert torch.allclose(crf.score(emissions, tags, mask), torch.stack(expected_gold))
    nll = crf.nll(emissions, tags, mask, reduction="none")
    assert torch.allclose(nll, log_z - torch.stack(expected_gold))
    assert torch.all(nll >= 0)
    assert torch.allclose(crf.nll(emissions, tags, mask, reduction="sum"), nll.sum())
    assert torch.allclose(crf.nll(emissions, tags, mask), nll.mean())
    assert torch.allclose(crf(emissions, tags, mask), nll.mean())


@pytest.mark.parametrize("t,kind,seed", problems())
def test_decode_matches_brute_force_argmax(t, kind, seed):
    crf, emissions, mask, constraints = make_problem(t, kind, seed)
    allowed, allowed_start, allowed_end = constraints
    tags, scores = crf.decode(emissions, mask)
    assert tags.dtype == torch.long and tags.shape == mask.shape
    assert torch.all(tags[~mask] == 0)
    assert torch.allclose(crf.score(emissions, tags, mask), scores)
    for b, n in enumerate(LENGTHS):
        seqs, all_scores = enumerate_paths(crf, emissions[b, :n], constraints)
        best = all_scores.argmax()
        assert tags[b, :n].tolist() == seqs[best].tolist()
        assert torch.allclose(scores[b], all_scores[best])
        path = tags[b, :n]
        assert allowed_start[path[0]] and allowed_end[path[-1]] and allowed[path[:-1], path[1:]].all()


@pytest.mark.parametrize("t,kind,seed", problems())
def test_marginals_match_brute_force(t, kind, seed):
    crf, emissions, mask, constraints = make_problem(t, kind, seed)
    marginals = crf.marginals(emissions, mask)
    assert marginals.shape == emissions.shape
    assert torch.all(marginals[~mask] == 0)
    assert torch.allclose(marginals[mask].sum(-1), torch.ones(int(mask.sum()), dtype=torch.double))
    for b, n in enumerate(LENGTHS):
        seqs, scores = enumerate_paths(crf, emissions[b, :n], constraints)
        probs = scores.softmax(0)  # (N,)
        expected = torch.einsum("s,snt->nt", probs, torch.nn.functional.one_hot(seqs, t).double())
        assert torch.allclose(marginals[b, :n], expected)


@pytest.mark.parametrize("k", [1, 2, 5, 40])
@pytest.mark.parametrize("t,kind,seed", problems()[::2])
def test_nbest_matches_brute_force_top_k(t, kind, seed, k):
    crf, emissions, mask, constraints = make_problem(t, kind, seed)
    tags, scores = crf.nbest(emissions, mask, k)
    assert tags.shape == (len(LENGTHS), k, mask.size(1)) and scores.shape == (len(LENGTHS), k)
    for b, n in enumerate(LENGTHS):
        seqs, all_scores = enumerate_paths(crf, emissions[b, :n], constraints)
        order = all_scores.argsort(descending=True)[:k]
        found = len(order)  # fewer than k when there are fewer allowed sequences
        assert torch.allclose(scores[b, :found], all_scores[order])
        assert tags[b, :found, :n].tolist() == seqs[order].tolist()
        assert torch.all(tags[b, :, n:] == 0)
        assert torch.all(torch.isneginf(scores[b, found:])) and torch.all(tags[b, found:] == 0)
    best_tags, best_scores = crf.decode(emissions, mask)
    assert torch.equal(tags[:, 0], best_tags) and torch.allclose(scores[:, 0], best_scores)


@pytest.mark.parametrize("kind", CONSTRAINTS)
def test_padding_changes_nothing(kind):
    crf, emissions, mask, _ = make_problem(4, kind, 3)
    tags, _ = crf.nbest(emissions, mask, 3)
    tags = tags[:, 2]  # some allowed sequences, not the best ones
    garbage = emissions.masked_fill(~mask.unsqueeze(2), float("nan"))
    garbage[1, 4] = float("inf")
    garbage_tags = tags.masked_fill(~mask, -100)
    batched = {
        "log_partition": crf.log_partition(garbage, mask),
        "score": crf.score(garbage, garbage_tags, mask),
        "nll": crf.nll(garbage, garbage_tags, mask, reduction="none"),
        "decode": crf.decode(garbage, mask),
        "marginals": crf.marginals(garbage, mask),
        "nbest": crf.nbest(garbage, mask, 4),
    }
    for b, n in enumerate(LENGTHS):
        alone, alone_tags = emissions[b : b + 1, :n], tags[b : b + 1, :n]
        assert torch.allclose(batched["log_partition"][b], crf.log_partition(alone)[0])
        assert torch.allclose(batched["score"][b], crf.score(alone, alone_tags)[0])
        assert torch.allclose(batched["nll"][b], crf.nll(alone, alone_tags, reduction="sum"))
        d_tags, d_score = crf.decode(alone)
        assert torch.equal(batched["decode"][0][b, :n], d_tags[0]) and torch.allclose(batched["decode"][1][b], d_score)
        assert torch.allclose(batched["marginals"][b, :n], crf.marginals(alone)[0])
        k_tags, k_scores = crf.nbest(alone, k=4)
        assert torch.equal(batched["nbest"][0][b, :, :n], k_tags[0])
        assert torch.allclose(batched["nbest"][1][b], k_scores[0])
    for value in batched.values():
        for x in value if isinstance(value, tuple) else (value,):
            assert not torch.isnan(x).any()


@pytest.mark.parametrize("kind", CONSTRAINTS)
def test_nll_gradient_matches_finite_differences(kind):
    crf, emissions, mask, _ = make_problem(3, kind, 4)
    emissions, mask = emissions[:, :4], mask[:, :4]
    tags = crf.decode(emissions, mask)[0]
    names = [name for name, _ in crf.named_parameters()]

    def loss(e: torch.Tensor, *ps: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(crf, dict(zip(names, ps)), (e, tags, mask, "sum"))

    params = tuple(p.detach().clone().requires_grad_() for p in crf.parameters())
    inputs = (emissions.clone().requires_grad_(),) + params
    assert torch.autograd.gradcheck(loss, inputs)


def _reference_log_z(crf: CRF, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The forward algorithm as autograd records it step by step (the oracle of the
    hand-written gradient); valid where every sentence has an allowed sequence."""
    trans = crf.transitions + crf.transition_mask
    end = crf.end_transitions + crf.end_mask
    alpha = crf.start_transitions + crf.start_mask + emissions[:, 0]
    for t in range(1, emissions.size(1)):
        nxt = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + emissions[:, t]
        alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
    return torch.logsumexp(alpha + end, dim=1)


@pytest.mark.parametrize("kind", CONSTRAINTS)
def test_hand_written_log_partition_gradient_equals_autograd_of_the_recursion(kind):
    crf, emissions, mask, _ = make_problem(6, kind, 11)
    weights = torch.rand(emissions.size(0), dtype=torch.double)  # a different upstream gradient per sentence
    got, want = [], []
    for fn, out in ((crf.log_partition, got), (lambda e, m: _reference_log_z(crf, e, m), want)):
        e = emissions.clone().requires_grad_()
        value = fn(e, mask)
        crf.zero_grad()
        (value * weights).sum().backward()
        out.extend([value.detach(), e.grad] + [p.grad.clone() for p in crf.parameters()])
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-10)
    assert torch.all(got[1][~mask] == 0)  # padding gets no gradient


def test_forbidden_scores_get_no_gradient_and_gradients_stay_finite():
    crf, emissions, mask, (allowed, allowed_start, allowed_end) = make_problem(5, "bio", 5)
    crf = crf.float()  # the usual training dtype
    emissions = emissions.float().requires_grad_()
    tags = crf.decode(emissions, mask)[0]
    crf.nll(emissions, tags, mask).backward()
    grads = [emissions.grad, crf.transitions.grad, crf.start_transitions.grad, crf.end_transitions.grad]
    assert all(torch.isfinite(g).all() for g in grads)
    assert torch.all(crf.transitions.grad[~allowed] == 0)
    assert torch.all(crf.start_transitions.grad[~allowed_start] == 0)
    assert torch.all(crf.transitions.grad[allowed] != 0)


def test_sentence_with_no_allowed_sequence_gives_inf_not_nan():
    # Sentences must start with tag 0 and end with tag 1, and 0 -> 1 is the only way out
    # of 0: no sequence of length 1 exists, but longer ones do.
    allowed = torch.tensor([[False, True, False], [True, True, True], [True, True, True]])
    start, end = torch.tensor([True, False, False]), torch.tensor([False, True, False])
    crf = CRF(3, allowed, start, end)
    emissions = torch.randn(2, 3, 3, requires_grad=True)
    mask = torch.tensor([[True, True, True], [True, False, False]])
    tags = torch.tensor([[0, 1, 1], [0, 0, 0]])
    nll = crf.nll(emissions, tags, mask, reduction="none")
    assert torch.isfinite(nll[0]) and nll[1] == float("inf")
    nll[0].backward()
    for g in (emissions.grad, crf.transitions.grad, crf.start_transitions.grad, crf.end_transitions.grad):
        assert torch.isfinite(g).all()
    assert torch.isneginf(crf.log_partition(emissions, mask)[1])
    assert torch.isneginf(crf.decode(emissions, mask)[1][1])
    marginals = crf.marginals(emissions, mask)
    assert torch.all(marginals[1] == 0) and torch.allclose(marginals[0].sum(-1), torch.ones(3))
    assert torch.isneginf(crf.nbest(emissions, mask, 2)[1][1]).all()


def test_training_learns_to_reproduce_gold_tags():
    # Word 0 is tagged 2 after tag 1 and 0 elsewhere: emissions from a per-word embedding
    # cannot tell the two apart, the learned transitions must.
    torch.manual_seed(0)
    words = torch.tensor([[0, 1, 0, 1, 0], [0, 1, 1, 2, 0], [2, 0, 1, 0, 0]])
    gold = torch.tensor([[0, 1, 2, 1, 2], [0, 1, 1, 3, 0], [3, 0, 1, 2, 0]])
    mask = torch.tensor([[True] * 5, [True] * 4 + [False], [True] * 4 + [False]])
    crf, embed = CRF(4), torch.nn.Embedding(3, 4)
    opt = torch.optim.Adam(list(crf.parameters()) + list(embed.parameters()), lr=0.1)
    first = None
    for _ in range(100):
        opt.zero_grad()
        loss = crf.nll(embed(words), gold, mask)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < first / 10
    with torch.no_grad():
        assert torch.equal(crf.decode(embed(words), mask)[0], gold.masked_fill(~mask, 0))


def test_constraint_buffers_follow_the_module_and_the_state_dict():
    allowed, start, end = bio_constraints(3)
    crf = CRF(3, allowed, start, end).double()
    assert crf.transition_mask.dtype == torch.double
    assert torch.equal(torch.isneginf(crf.transition_mask), ~allowed)
    assert torch.equal(torch.isneginf(crf.start_mask), ~start) and torch.all(crf.end_mask == 0)
    assert [name for name, _ in crf.named_parameters()] == ["transitions", "start_transitions", "end_transitions"]
    state = crf.state_dict()
    assert {"transition_mask", "start_mask", "end_mask"} <= set(state)
    copy = CRF(3).double()
    copy.load_state_dict(state)  # an unconstrained CRF picks the constraints up from the checkpoint
    e = torch.randn(2, 4, 3, dtype=torch.double)
    assert torch.allclose(copy.log_partition(e), crf.log_partition(e))


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: CRF(0), "invalid number of tags: 0"),
        (lambda: CRF(-2), "invalid number of tags: -2"),
        (lambda: CRF(3, torch.ones(3, 2, dtype=torch.bool)), r"allowed must have shape \(3, 3\)"),
        (lambda: CRF(3, torch.ones(3, 3)), "allowed must be a bool tensor"),
        (lambda: CRF(3, allowed_start=torch.ones(4, dtype=torch.bool)), r"allowed_start must have shape \(3,\)"),
        (lambda: CRF(3, allowed_end=torch.zeros(3, dtype=torch.bool)), "allowed_end forbids every tag"),
    ],
)
def test_constructor_validates(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_calls_validate_their_inputs():
    crf = CRF(3)
    e, mask, tags = torch.randn(2, 4, 3), torch.ones(2, 4, dtype=torch.bool), torch.zeros(2, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="emissions must have shape"):
        crf.log_partition(torch.randn(2, 4, 5))
    with pytest.raises(ValueError, match="emissions must have shape"):
        crf.decode(torch.randn(2, 0, 3))
    with pytest.raises(ValueError, match="mask must have shape"):
        crf.marginals(e, mask[:, :3])
    with pytest.raises(ValueError, match="mask must be a bool tensor"):
        crf.decode(e, mask.long())
    for bad in ([[True, False, True, False]] * 2, [[False, True, True, True]] * 2):
        with pytest.raises(ValueError, match="left-aligned"):
            crf.log_partition(e, torch.tensor(bad))
    with pytest.raises(ValueError, match="tags must be a long tensor"):
        crf.score(e, tags.int(), mask)
    with pytest.raises(ValueError, match="tags must be a long tensor"):
        crf.nll(e, tags[:, :2], mask)
    with pytest.raises(ValueError, match="invalid reduction"):
        crf.nll(e, tags, mask, reduction="token_mean")
    with pytest.raises(ValueError, match="invalid k: 0"):
        crf.nbest(e, mask, 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_log_partition_and_gradients_equal_the_pytorch_loop(log_z_path, dtype):
    if log_z_path == "python":
        pytest.skip("compares the two paths")
    g = torch.Generator().manual_seed(3)
    allowed, start, end = bio_constraints(17)
    crf = CRF(17, allowed, start, end).to(dtype)
    with torch.no_grad():
        for p in crf.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=dtype))
    lengths = torch.tensor([60, 1, 37, 59, 2, 60])
    mask = torch.arange(60) < lengths.unsqueeze(1)
    emissions = 3 * torch.randn(6, 60, 17, generator=g, dtype=dtype)
    weights = torch.rand(6, generator=g, dtype=dtype)
    results = []
    for fn in (crf.log_partition, lambda e, m: crf._forward(*crf._check(e, m))[1]):
        e = emissions.clone().requires_grad_()
        crf.zero_grad()
        value = fn(e, mask)
        (value * weights).sum().backward()
        results.append([value.detach(), e.grad] + [p.grad.clone() for p in crf.parameters()])
    tol = {"rtol": 1e-10, "atol": 1e-10} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-4}
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, **tol)


def test_log_partition_of_bfloat16_emissions_is_float32():
    # A log Z in the hundreds has no digits to spare in bfloat16 (autocast's emissions).
    crf = CRF(4)
    emissions = torch.randn(2, 5, 4).to(torch.bfloat16)
    log_z = crf.log_partition(emissions, torch.ones(2, 5, dtype=torch.bool))
    assert log_z.dtype == torch.float32
    torch.testing.assert_close(log_z.float(), crf.log_partition(emissions.float()), rtol=0.02, atol=0.05)
