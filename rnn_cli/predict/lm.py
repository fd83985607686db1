"""Using a trained language model: load it, encode a prompt, turn ids back into
text, generate, and score a file (as a whole, or line by line). The library side of
`generate` and `evaluate`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from rnn_cli.batches import LMBatch
from rnn_cli.data.batching import lay_out_streams, window_lengths
from rnn_cli.data.buckets import sorted_windows
from rnn_cli.data.lm_corpus import encode_corpus, iter_tokens, line_ids, start_token, tokenize_line
from rnn_cli.data.text import STDIN, display_name, iter_lines
from rnn_cli.data.vocab import EOS, Vocab
from rnn_cli.decoding import SamplingConfig, beam_search, decoding_conflicts, sample
from rnn_cli.errors import DataFormatError
from rnn_cli.metrics import lm_scores
from rnn_cli.models.lm import RNNLM
from rnn_cli.models.rnn import Hidden
from rnn_cli.models.scored import ScoredLM
from rnn_cli.predict import open_model


@dataclass
class LoadedLM:
    model: RNNLM | ScoredLM
    vocab: Vocab
    level: str
    payload: dict[str, Any]  # the model file's plain data less its weights (config, vocab, metrics, ...)
    device: torch.device = torch.device("cpu")

    # The Python API (`rnn_cli.load`): plain strings in, plain results out.

    def score(self, text: str) -> float:
        """The natural log of the probability of one line (its end of line included),
        from a fresh state: `evaluate --per-line`'s logprob."""
        return self.score_many([text])[0].logprob

    def score_many(self, lines: Iterable[str], batch_size: int = 32) -> list[LineScore]:
        """A `LineScore` per line (logprob, log10prob, tokens, oov, ppl, ppl_no_oov)."""
        checked = []
        for i, line in enumerate(lines):
            if not isinstance(line, str) or "\n" in line:
                raise ValueError(f"line {i + 1}: expected a string without line breaks, got {line!r}")
            checked.append(line)
        return list(score_lines(self, checked, self.device, batch_size))

    def generate(self, prompt: str = "", max_tokens: int = 100, temperature: float = 1.0, top_k: int = 0,
                 top_p: float = 1.0, greedy: bool = False, beam: int = 0, seed: int = 1234) -> str:
        """The continuation of `prompt`, as `rnn-cli generate` writes it (without
        --echo): sampling with `temperature` (0: greedy), `top_k`, `top_p`, or
        `greedy`, or beam search of width `beam`; the same `seed`, the same text."""
        config = SamplingConfig(max_tokens, temperature, top_k, top_p, greedy)
        errors, _ = decoding_conflicts(config, beam, 1, set())
        if errors:
            raise ValueError(errors[0])
        ids, _ = encode_prompt(self, prompt)
        tokens = generate(self, ids, config, beam, torch.Generator().manual_seed(seed), self.device)
        return "".join(stream_text(self, tokens, prompt, standalone=True))


def load_lm(path: str, device: torch.device, payload: dict[str, Any] | None = None,
            quantize: str | None = None) -> LoadedLM:
    """Rebuild a language model from `path` (or from its already loaded `payload`);
    `path` may be an exported TorchScript model; `quantize` "int8" makes an int8 copy."""
    model, payload = open_model(path, "lm", device, payload, quantize)
    level = payload["train_config"].get("level", "word")
    return LoadedLM(model, Vocab(payload["vocab"]["tokens"]), level, payload, device)


def encode_prompt(lm: LoadedLM, text: str) -> tuple[list[int], list[str]]:
    """Prompt ids, starting from the start-of-text token, and the unknown tokens.

    A word-level prompt's last line is left open (no `<eos>`), so generation
    continues the sentence; a character prompt is taken as it is."""
    ids = [lm.vocab.index(start_token(lm.level))]
    if lm.level == "word":
        lines = text.split("\n")
        tokens: list[str] = []
        for i, line in enumerate(lines):
            words = tokenize_line(line, "word")
            tokens.extend(words if i < len(lines) - 1 else words[:-1])
    else:
        tokens = list(text)
    unknown = [t for t in tokens if t not in lm.vocab]
    ids.extend(lm.vocab.encode(tokens))
    return ids, unknown


def token_text(lm: LoadedLM, token_id: int, first: bool) -> str:
    """How one generated token is written: characters as they are; words joined
    by spaces, with `<eos>` written as a line break."""
    token = lm.vocab.itos[token_id]
    if lm.level == "char":
        return token
    if token == EOS:
        return "\n"
    return token if first else " " + token


def stream_text(lm: LoadedLM, ids: Iterable[int], prompt: str = "", standalone: bool = False) -> Iterator[str]:
    """The generated text, a piece per token.

    By default the pieces follow `prompt` (prompt + text is the whole text): a word
    continuing an unfinished prompt line is joined to it by a space. `standalone` text
    is read without the prompt (`generate` without `--echo`): it starts with its first
    word, and a line end that only closes the prompt's unfinished last line is left
    out, since it would show as a blank first line."""
    first = standalone or not prompt or prompt[-1].isspace()  # no space before the next word
    closing = standalone and prompt != "" and not prompt.endswith("\n")
    for token_id in ids:
        piece = token_text(lm, token_id, first)
        first = piece == "\n"
        if closing and first:
            closing = False
            continue
        closing = False
        yield piece


def generate(lm: LoadedLM, prompt_ids: list[int], config: SamplingConfig, beam: int,
             generator: torch.Generator, device: torch.device) -> Iterator[int]:
    if beam >= 1:
        ids, _ = beam_search(lm.model, prompt_ids, beam, config.max_tokens, device)
        yield from ids
    else:
        yield from sample(lm.model, prompt_ids, config, generator, device)


@torch.inference_mode()
def score_lm(model: RNNLM, ids: torch.Tensor, batch_size: int, bptt: int, device: torch.device) -> dict[str, float]:
    """Loss, perplexity and bits per token of `ids` (every token scored once)."""
    model.eval()
    streams = max(1, min(batch_size, ids.numel() - 1))
    x, y = lay_out_streams(ids, streams, pad=True)
    x, y = x.to(device), y.to(device)
    total = torch.zeros((), dtype=torch.float64, device=device)
    hidden: Hidden | None = None
    tokens = 0
    for row, length in window_lengths(x.size(0), bptt):
        out = model.loss(LMBatch(x[row : row + length], y[row : row + length], hidden))
        total += out.value.double() * out.items  # the window's summed loss
        tokens, hidden = tokens + out.items, out.state
    return lm_scores(float(total), tokens)


def evaluate_lm_file(lm: LoadedLM, path: str, device: torch.device, batch_size: int = 10,
                     bptt: int = 35, encoding: str = "utf-8") -> dict[str, Any]:
    ids = encode_corpus(iter_tokens(path, lm.level, encoding), lm.vocab, lm.level)
    scores = score_lm(lm.model, ids, batch_size, bptt, device)
    unk = lm.vocab.unk_index
    return {
        "file": path, "level": lm.level, **scores,
        "oov_tokens": int((ids[1:] == unk).sum()) if unk >= 0 else 0,
    }


LINE_WINDOW_BATCHES = 20  # lines read ahead, in batches, while the input has them ready
LOGITS_PER_STEP = 1 << 24  # logits computed at once while scoring lines (64 MB in fp32)
ROWS_PER_STEP = 1 << 16  # positions run through the RNN at once


@dataclass
class LineScore:
    """One line scored on its own, as KenLM's `query` scores a sentence: each token and
    the end of line predicted from the start-of-text token and the tokens before it."""

    line: int  # 1-based line number in the input
    logprob: float  # natural log of the probability of the line, its end of line included
    tokens: int  # words (characters for a character model) + 1 for the end of line
    oov: int  # tokens not in the vocabulary (scored as <unk>)
    oov_logprob: float  # the OOV tokens' share of `logprob`

    @property
    def log10prob(self) -> float:
        return self.logprob / math.log(10.0)

    @property
    def ppl(self) -> float:
        """10^(-log10prob / tokens), the end of line counted (KenLM's definition)."""
        return _perplexity(self.logprob, self.tokens)

    @property
    def ppl_no_oov(self) -> float:
        """The perplexity of the in-vocabulary tokens: the OOV tokens' probabilities and counts left out."""
        return _perplexity(self.logprob - self.oov_logprob, self.tokens - self.oov)

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "logprob": self.logprob, "log10prob": self.log10prob, "tokens": self.tokens,
                "oov": self.oov, "ppl": self.ppl, "ppl_no_oov": self.ppl_no_oov}


def _perplexity(logprob: float, tokens: int) -> float:
    assert tokens > 0, "the end of line is always in the vocabulary"
    return math.exp(min(-logprob / tokens, 700.0))


@torch.inference_mode()
def score_lines(lm: LoadedLM, lines: Iterable[str], device: torch.device, batch_size: int = 32) -> Iterator[LineScore]:
    """Score each line on its own from a fresh state (the start-of-text token as the
    context, as `generate` primes), yielding the scores in input order.

    `lines` (without their line ends) are read ahead in windows of what the input has
    ready (`sorted_windows`): a file is scored in batches of `batch_size` lines of
    similar length, while a line arriving now and then through a pipe is scored (and
    yielded) as soon as it comes."""
    if batch_size < 1:
        raise ValueError(f"invalid batch_size: {batch_size}")
    lm.model.eval()
    encoded = (line_ids(text, lm.vocab, lm.level) for text in lines)
    number = 0
    for window, batches in sorted_windows(encoded, LINE_WINDOW_BATCHES * batch_size, batch_size, len):
        sums: list[tuple[float, int, int, float]] = [(0.0, 0, 0, 0.0)] * len(window)
        for batch in batches:
            for i, row in zip(batch, _score_batch(lm.model, [window[i] for i in batch], lm.vocab.unk_index, device)):
                sums[i] = row
        for logprob, tokens, oov, oov_logprob in sums:
            number += 1
            yield LineScore(number, logprob, tokens, oov, oov_logprob)


def score_file_lines(lm: LoadedLM, path: str, device: torch.device, batch_size: int = 32,
                     encoding: str = "utf-8") -> Iterator[LineScore]:
    """`score_lines` over the lines of a file (`-`: stdin, where no line is no error)."""
    empty = True
    for score in score_lines(lm, (text for _, text in iter_lines(path, encoding)), device, batch_size):
        empty = False
        yield score
    if empty and path != STDIN:
        raise DataFormatError(display_name(path), None, "file is empty (no lines)")


def _score_batch(model: RNNLM, seqs: list[list[int]], unk: int,
                 device: torch.device) -> list[tuple[float, int, int, float]]:
    """(log-probability, tokens, OOV tokens, their log-probability) of each id sequence,
    its first id (the start token) being the context of the others."""
    ids = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], padding_value=-1).to(device)  # (T+1, B)
    x, y = ids[:-1].clamp(min=0), ids[1:]  # (T, B): a padded position has y = -1
    scored = y >= 0
    logp = torch.zeros(y.shape, dtype=torch.float64, device=device)  # (T, B)
    # A window of time steps at a time, the state carried over: the logits of a long
    # line never all exist at once. Padding comes after a line's tokens, so it cannot
    # change their scores, and its positions go through the RNN but not the softmax.
    steps = max(1, min(ROWS_PER_STEP, LOGITS_PER_STEP // model.config.vocab_size) // y.size(1))
    hidden = None
    for t in range(0, y.size(0), steps):
        feats, hidden = model.features(x[t : t + steps], hidden)  # (t, B, D)
        mask, target = scored[t : t + steps], y[t : t + steps]
        rows = model.decoder(feats[mask]).float().log_softmax(-1)  # (N, V)
        logp[t : t + steps][mask] = rows.gather(1, target[mask].unsqueeze(1)).squeeze(1).double()
    oov = scored & (y == unk) if unk >= 0 else torch.zeros_like(scored)
    columns = (logp.sum(0), scored.sum(0), oov.sum(0), (logp * oov).sum(0))
    return list(zip(*(c.tolist() for c in columns)))
