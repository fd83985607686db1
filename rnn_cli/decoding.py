"""Text generation from a language model: sampling with temperature, top-k and
top-p (nucleus, Holtzman et al. 2020), greedy decoding and beam search."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

import torch

from rnn_cli.models.lm import RNNLM
from rnn_cli.models.rnn import Hidden, select_hidden


@dataclass
class SamplingConfig:
    max_tokens: int = 100
    temperature: float = 1.0  # 0: greedy (the limit of sampling as the temperature falls)
    top_k: int = 0  # 0: off
    top_p: float = 1.0  # 1.0: off
    greedy: bool = False

    def __post_init__(self) -> None:
        if self.max_tokens < 0:
            raise ValueError(f"invalid max_tokens: {self.max_tokens}")
        if self.temperature < 0:
            raise ValueError(f"invalid temperature: {self.temperature} (must be >= 0; 0 is greedy)")
        if self.top_k < 0:
            raise ValueError(f"invalid top_k: {self.top_k}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"invalid top_p: {self.top_p} (must be in (0, 1])")

    @property
    def is_greedy(self) -> bool:
        return self.greedy or self.temperature == 0


def decoding_conflicts(config: SamplingConfig, beam: int, num_samples: int,
                       given: Collection[str]) -> tuple[list[str], list[str]]:
    """The errors and the warnings of a combination of `generate`'s options, as messages
    that name the options. `given` holds the options set by the user (field names:
    "temperature", "top_k", "top_p", "seed"), so that a default is never warned about.

    Errors, where the output could only mislead: two decoders at once (`--greedy` and
    `--beam`), and several samples from a deterministic decoder (`--beam`, `--greedy`,
    `--temperature 0`, `--top-k 1`), which would print the same text N times.
    Warnings, where the output is well defined but an option changes nothing: the
    sampling options (`--temperature`, `--top-k`, `--top-p`, `--seed`) with a greedy
    decoder or a beam."""
    decoder = (f"--beam {beam}" if beam >= 1 else "--greedy" if config.greedy
               else "--temperature 0" if config.temperature == 0 else None)  # None: sampling
    errors: list[str] = []
    if config.greedy and beam >= 1:
        errors.append(f"--greedy and --beam {beam} are two decoders: give one (--beam 1 is greedy)")
    fixed = decoder or ("--top-k 1" if config.top_k == 1 else None)
    if num_samples > 1 and fixed:
        errors.append(f"--num-samples {num_samples} with {fixed}: that decoding is deterministic, every sample "
                      "would be the same text (drop --num-samples, or sample)")
    warnings: list[str] = []
    # --temperature 0 is itself the greedy decoder (beside --greedy it agrees with it).
    ignored = [f"--{name.replace('_', '-')}" for name in ("temperature", "top_k", "top_p", "seed")
               if decoder and name in given and not (name == "temperature" and config.temperature == 0 and beam < 1)]
    if ignored:
        names = ", ".join(ignored[:-1]) + " and " + ignored[-1] if len(ignored) > 1 else ignored[0]
        warnings.append(f"{names} {'have' if len(ignored) > 1 else 'has'} no effect with {decoder}")
    return errors, warnings


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Scale `(..., V)` logits by 1/temperature and set those outside the top-k
    and outside the smallest set whose probability reaches top_p to -inf.

    The largest logit is subtracted first (the softmax is unchanged), so that a tiny
    temperature gives 0 and -inf, never inf - inf = nan."""
    logits = (logits - logits.max(dim=-1, keepdim=True).values) / temperature
    if top_k > 0 and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        # Drop a token when the mass before it already reaches top_p; the first stays.
        drop_sorted = (cum - sorted_logits.softmax(-1)) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


PRIME_CHUNK = 1024  # prompt tokens per forward pass: memory stays bounded for any prompt


@torch.inference_mode()
def prime(model: RNNLM, prompt: list[int], device: torch.device) -> tuple[torch.Tensor, Hidden]:
    """Run the prompt through the model a chunk at a time (the state carries over, so the
    result equals one pass): last-step logits `(V,)` and the state."""
    if not prompt:
        raise ValueError("empty prompt")
    logits, hidden = None, None
    for start in range(0, len(prompt), PRIME_CHUNK):
        x = torch.tensor(prompt[start:start + PRIME_CHUNK], dtype=torch.long, device=device).view(-1, 1)  # (T, 1)
        logits, hidden = model(x, hidden)
    assert logits is not None
    return logits[-1, 0], hidden


@torch.inference_mode()
def sample(
    model: RNNLM,
    prompt: list[int],
    config: SamplingConfig,
    generator: torch.Generator | None = None,
    device: torch.device | None = None,
) -> Iterator[int]:
    """Yield token ids one at a time (so that callers can stream them)."""
    device = device or torch.device("cpu")
    model.eval()
    logits, hidden = prime(model, prompt, device)
    for _ in range(config.max_tokens):
        if config.is_greedy:
            token = int(logits.argmax())
        else:
            probs = filter_logits(logits.float(), config.temperature, config.top_k, config.top_p).softmax(-1)
            token = int(torch.multinomial(probs.cpu(), 1, generator=generator))
        yield token
        x = torch.tensor([[token]], dtype=torch.long, device=device)
        out, hidden = model(x, hidden)
        logits = out[0, 0]


@torch.inference_mode()
def beam_search(
    model: RNNLM,
    prompt: list[int],
    beam: int,
    max_tokens: int,
    device: torch.device | None = None,
) -> tuple[list[int], float]:
    """The most probable continuation of exactly `max_tokens` tokens found by a
    beam of width `beam`, and its log-probability. Width 1 is greedy decoding."""
    if beam < 1:
        raise ValueError(f"invalid beam width: {beam}")
    device = device or torch.device("cpu")
    model.eval()
    logits, hidden = prime(model, prompt, device)
    logprobs = logits.float().log_softmax(-1).unsqueeze(0)  # (1, V)
    scores = torch.zeros(1, device=device)  # (K,)
    history = torch.empty(1, 0, dtype=torch.long, device=device)  # (K, t)
    vocab = logprobs.size(-1)
    for step in range(max_tokens):
        total = (scores.unsqueeze(1) + logprobs).view(-1)  # (K * V,)
        k = min(beam, total.numel())
        scores, flat = torch.topk(total, k)
        origin, token = flat // vocab, flat % vocab
        history = torch.cat([history[origin], token.unsqueeze(1)], dim=1)
        if step == max_tokens - 1:
            break
        hidden = select_hidden(hidden, origin)  # (L, K, H): each beam's parent state
        out, hidden = model(token.view(1, -1), hidden)
        logprobs = out[0].float().log_softmax(-1)  # (K, V)
    if max_tokens == 0:
        return [], 0.0
    return history[0].tolist(), float(scores[0])
