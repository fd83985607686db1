"""A linear-chain conditional random field over tag sequences (Lafferty et al. 2001),
the output layer of a BiLSTM-CRF tagger (Lample et al. 2016; Ma & Hovy 2016).

Batch-first shapes: B sentences, L time steps, T tags. A tag sequence y of length n
given emissions e (B, L, T) scores

    s(y) = start[y_0] + sum_t e[t, y_t] + sum_t trans[y_{t-1}, y_t] + end[y_{n-1}]

and p(y | e) = exp(s(y)) / Z with Z = sum over all sequences of exp(s). `log_partition`
runs the forward algorithm, `decode` Viterbi, `marginals` forward-backward and `nbest`
k-best Viterbi, each looping over time only, with the whole batch in every step. On
the CPU, log Z and its gradient (the training loss's share) run as one compiled loop
(`crf_kernel.py`).

Masks are (B, L) bool and left-aligned: row b is True for its first n_b >= 1 positions.
Emissions and tags at padded positions are ignored (even NaN or -100).

Constraints (e.g. no I-X after O in BIO) add a fixed 0 / -inf buffer to the learned
scores, so forbidden sequences have probability exactly 0, are never decoded and give
their parameters no gradient. A sentence for which no allowed sequence exists gets
log_partition -inf, nll +inf, decode score -inf and all-zero marginals, never NaN."""

from __future__ import annotations

import torch
from torch import nn

from rnn_cli.models import crf_kernel, kernels

NEG_INF = float("-inf")


def _logsumexp(x: torch.Tensor, dim: int) -> torch.Tensor:
    """`torch.logsumexp` that stays NaN-free when every term is -inf.

    torch's version returns -inf there but its backward computes exp(-inf - -inf) = NaN,
    which reaches the parameters through a 0 * NaN product. Here such slices give -inf
    with a zero gradient (the `where`s route their gradient to the unused branch)."""
    m = x.amax(dim, keepdim=True).detach()
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    s = (x - m).exp().sum(dim)
    some = s > 0
    out = torch.log(torch.where(some, s, torch.ones_like(s))) + m.squeeze(dim)
    return torch.where(some, out, torch.full_like(out, NEG_INF))


def _additive_mask(allowed: torch.Tensor | None, shape: tuple[int, ...], name: str) -> torch.Tensor:
    """Bool `allowed` -> float 0 (allowed) / -inf (forbidden); all zeros for None."""
    if allowed is None:
        return torch.zeros(shape)
    if not isinstance(allowed, torch.Tensor) or allowed.dtype != torch.bool:
        raise ValueError(f"{name} must be a bool tensor, got {getattr(allowed, 'dtype', type(allowed).__name__)}")
    if tuple(allowed.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(allowed.shape)}")
    if allowed.dim() == 1 and not allowed.any():
        raise ValueError(f"{name} forbids every tag, so no tag sequence is possible")
    return torch.zeros(shape).masked_fill(~allowed.cpu(), NEG_INF)


class CRF(nn.Module):
    """Linear-chain CRF over `num_tags` tags; see the module docstring for the model.

    `allowed[i, j]` is True if tag j may follow tag i; `allowed_start` / `allowed_end`
    say which tags may begin / end a sentence. None allows everything. The constraint
    buffers are saved in the state_dict, so a checkpoint carries its constraints."""

    transition_mask: torch.Tensor
    start_mask: torch.Tensor
    end_mask: torch.Tensor

    def __init__(
        self,
        num_tags: int,
        allowed: torch.Tensor | None = None,
        allowed_start: torch.Tensor | None = None,
        allowed_end: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if isinstance(num_tags, bool) or not isinstance(num_tags, int) or num_tags < 1:
            raise ValueError(f"invalid number of tags: {num_tags}")
        self.num_tags = num_tags
        t = num_tags
        self.transitions = nn.Parameter(torch.empty(t, t))  # (T, T): from tag i to tag j
        self.start_transitions = nn.Parameter(torch.empty(t))  # (T,)
        self.end_transitions = nn.Parameter(torch.empty(t))  # (T,)
        self.register_buffer("transition_mask", _additive_mask(allowed, (t, t), "allowed"))
        self.register_buffer("start_mask", _additive_mask(allowed_start, (t,), "allowed_start"))
        self.register_buffer("end_mask", _additive_mask(allowed_end, (t,), "allowed_end"))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for p in (self.transitions, self.start_transitions, self.end_transitions):
            nn.init.uniform_(p, -0.1, 0.1)

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}"

    def _scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Learned scores plus the constraint masks: (T, T), (T,), (T,)."""
        return (
            self.transitions + self.transition_mask,
            self.start_transitions + self.start_mask,
            self.end_transitions + self.end_mask,
        )

    def _check(self, emissions: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Validate shapes; return emissions with padding zeroed and a bool mask."""
        if emissions.dim() != 3 or emissions.size(2) != self.num_tags or emissions.size(1) < 1:
            raise ValueError(
                f"emissions must have shape (B, L >= 1, num_tags={self.num_tags}), got {tuple(emissions.shape)}"
            )
        if mask is None:
            mask = torch.ones(emissions.shape[:2], dtype=torch.bool, device=emissions.device)
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool tensor, got {mask.dtype}")
        if mask.shape != emissions.shape[:2]:
            raise ValueError(f"mask must have shape {tuple(emissions.shape[:2])}, got {tuple(mask.shape)}")
        # One host sync per call: every row must be True, ..., True, False, ..., False.
        if bool((~mask[:, 0]).any() | (mask[:, 1:] & ~mask[:, :-1]).any()):
            raise ValueError("mask must be left-aligned with at least one True per row")
        # Zero the padding so that garbage there (NaN, inf) cannot leak into results or gradients.
        return emissions.masked_fill(~mask.unsqueeze(2), 0.0), mask

    def _forward(self, emissions: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward algorithm: alphas (B, L, T), the log-sum of the scores of all prefixes
        ending in each tag at each step (carried unchanged through padding), and log Z (B,)."""
        trans, start, end = self._scores()
        alpha = start + emissions[:, 0]  # (B, T)
        alphas = [alpha]
        for t in range(1, emissions.size(1)):
            # (B, T_prev, 1) + (T_prev, T_next) -> reduce over T_prev -> (B, T_next)
            nxt = _logsumexp(alpha.unsqueeze(2) + trans, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
            alphas.append(alpha)
        return torch.stack(alphas, dim=1), _logsumexp(alpha + end, dim=1)

    def _backward(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Backward algorithm: betas (B, L, T), the log-sum of the scores of all suffixes
        after each tag at each step, excluding that step's emission. At the last real step
        (and at padding) beta is the end score."""
        trans, _, end = self._scores()
        beta = end.expand(emissions.size(0), -1)  # (B, T)
        betas = [beta]
        for t in range(emissions.size(1) - 2, -1, -1):
            # (T_cur, T_next) + (B, 1, T_next) -> reduce over T_next -> (B, T_cur)
            nxt = _logsumexp(trans + (emissions[:, t + 1] + beta).unsqueeze(1), dim=2)
            beta = torch.where(mask[:, t + 1].unsqueeze(1), nxt, end)
            betas.append(beta)
        return torch.stack(betas[::-1], dim=1)

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """log Z (B,) from emissions (B, L, T) and a left-aligned bool mask (B, L)."""
        emissions, mask = self._check(emissions, mask)
        return self._log_z(emissions, mask)

    def _log_z(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log Z (B,): in training on the CPU through the compiled loop of `crf_kernel.py`
        (the same numbers and gradients, without a handful of operations per step), else
        by `_forward` (so tagging never waits for the loop's first build)."""
        if torch.is_grad_enabled() and crf_kernel.usable(emissions):
            return crf_kernel.log_partition(emissions, mask, *self._scores())
        return self._forward(emissions, mask)[1]

    def score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Unnormalised score s(y) (B,) of tag sequences `tags` (B, L) long; -inf if forbidden."""
        emissions, mask = self._check(emissions, mask)
        return self._score(emissions, self._check_tags(tags, mask), mask)

    def _check_tags(self, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if tags.dtype != torch.long or tags.shape != mask.shape:
            raise ValueError(
                f"tags must be a long tensor of shape {tuple(mask.shape)}, got {tags.dtype} {tuple(tags.shape)}"
            )
        return tags.masked_fill(~mask, 0)  # padding may hold -100 or any other filler

    def _score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        trans, start, end = self._scores()
        emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, L), 0 at padding
        pair = trans[tags[:, :-1], tags[:, 1:]].masked_fill(~mask[:, 1:], 0.0)  # (B, L - 1)
        last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)  # (B,)
        return start[tags[:, 0]] + emit.sum(1) + pair.sum(1) + end[last]

    def nll(
        self,
        emissions: torch.Tensor,
        tags: torch.Tensor,
        mask: torch.Tensor | None = None,
        reduction: str = "mean",
    ) -> torch.Tensor:
        """Negative log-likelihood log Z - s(y): per sentence (B,) for reduction "none",
        else summed or averaged over sentences. +inf for a forbidden gold sequence."""
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"invalid reduction: {reduction!r} (choose from mean, sum, none)")
        emissions, mask = self._check(emissions, mask)
        gold = self._score(emissions, self._check_tags(tags, mask), mask)  # (B,)
        log_z = self._log_z(emissions, mask)  # (B,)
        # log Z = -inf only when no allowed sequence exists; then s(y) = -inf too and the
        # difference would be NaN. The `where` gives +inf, with no gradient through that row.
        nll = torch.where(torch.isneginf(log_z), torch.full_like(log_z, float("inf")), log_z - gold)
        if reduction == "none":
            return nll
        return nll.sum() if reduction == "sum" else nll.mean()

    def forward(
        self,
        emissions: torch.Tensor,
        tags: torch.Tensor,
        mask: torch.Tensor | None = None,
        reduction: str = "mean",
    ) -> torch.Tensor:
        """The training loss: `nll`."""
        return self.nll(emissions, tags, mask, reduction)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Viterbi: the best tags (B, L) long, 0 at padding, and their scores (B,)."""
        emissions, mask = self._check(emissions, mask)
        trans, start, end = self._scores()
        b, length, t = emissions.shape
        identity = torch.arange(t, device=emissions.device).expand(b, t)  # padding points to itself
        best = start + emissions[:, 0]  # (B, T): best prefix score ending in each tag
        pointers = []  # per step t >= 1, (B, T): the best previous tag for each tag
        for i in range(1, length):
            # (B, T_prev, 1) + (T_prev, T_next) -> max over T_prev -> (B, T_next)
            top, arg = (best.unsqueeze(2) + trans).max(dim=1)
            step = mask[:, i].unsqueeze(1)
            best = torch.where(step, top + emissions[:, i], best)
            pointers.append(torch.where(step, arg, identity))
        scores, tag = (best + end).max(dim=1)  # (B,), (B,): the last real tag
        path = [tag]
        for arg in reversed(pointers):
            tag = arg.gather(1, tag.unsqueeze(1)).squeeze(1)  # (B,)
            path.append(tag)
        return torch.stack(path[::-1], dim=1).masked_fill(~mask, 0), scores

    def nbest(
        self, emissions: torch.Tensor, mask: torch.Tensor | None = None, k: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """k-best Viterbi: the k highest-scoring allowed sequences (B, k, L) long, 0 at
        padding, and their scores (B, k), best first. If a sentence has fewer than k
        allowed sequences, the missing ones have score -inf and all-zero tags.

        Each step keeps, for every tag, the k best prefixes ending in it, ranked; a
        state is (tag, rank), flattened as tag * k + rank."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"invalid k: {k}")
        emissions, mask = self._check(emissions, mask)
        trans, start, end = self._scores()
        b, length, t = emissions.shape
        first = (start + emissions[:, 0]).unsqueeze(2)  # (B, T, 1)
        best = torch.cat([first, first.new_full((b, t, k - 1), NEG_INF)], dim=2)  # (B, T, k)
        identity = torch.arange(t * k, device=emissions.device).view(t, k).expand(b, t, k)
        pointers = []  # per step t >= 1, (B, T, k): the previous state, as tag * k + rank
        for i in range(1, length):
            # (B, T_prev, k, 1) + (T_prev, 1, T_next) -> (B, T_next, T_prev * k)
            cand = (best.unsqueeze(3) + trans.unsqueeze(1)).permute(0, 3, 1, 2).reshape(b, t, t * k)
            top, arg = cand.topk(k, dim=2)  # (B, T, k), sorted best first
            step = mask[:, i].view(b, 1, 1)
            best = torch.where(step, top + emissions[:, i].unsqueeze(2), best)
            pointers.append(torch.where(step, arg, identity))
        scores, state = (best + end.unsqueeze(1)).reshape(b, t * k).topk(k, dim=1)  # (B, k), (B, k)
        path = [state // k]
        for arg in reversed(pointers):
            state = arg.reshape(b, t * k).gather(1, state)  # (B, k)
            path.append(state // k)
        tags = torch.stack(path[::-1], dim=2)  # (B, k, L)
        missing = torch.isneginf(scores).unsqueeze(2)  # (B, k, 1)
        return tags.masked_fill(missing | ~mask.unsqueeze(1), 0), scores

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Posterior p(y_t = j | e) (B, L, T) by forward-backward; rows sum to 1 at real
        positions and are 0 at padding (and for sentences with no allowed sequence)."""
        emissions, mask = self._check(emissions, mask)
        alphas, _ = self._forward(emissions, mask)  # (B, L, T)
        betas = self._backward(emissions, mask)  # (B, L, T)
        # Every position's alpha + beta sums to Z; normalising by each position's own sum
        # rather than by log Z keeps the float32 rounding of long sentences (log Z in the
        # hundreds) from pushing a probability above 1. With no allowed sequence,
        # alpha + beta = -inf everywhere and _logsumexp's -inf is replaced by a finite
        # stand-in, so the probabilities are exp(-inf) = 0 instead of NaN.
        log_joint = alphas + betas
        norm = _logsumexp(log_joint, 2).unsqueeze(2)  # (B, L, 1)
        norm = torch.where(torch.isfinite(norm), norm, torch.zeros_like(norm))
        log_p = (log_joint - norm).masked_fill(~mask.unsqueeze(2), NEG_INF)
        return log_p.exp()


def _trains_a_crf(module: nn.Module) -> bool:
    """A CRF whose scores learn (the softmax head's frozen CRF only decodes)."""
    return isinstance(module, CRF) and any(p.requires_grad for p in module.parameters())


kernels.LOOPS.append(kernels.Loop(crf_kernel.NAME, "the CRF", _trains_a_crf, crf_kernel.compiled))
