"""Using a trained language model: load it, encode a prompt, turn ids back into
text, generate, and score a file. The library side of `generate` and `evaluate`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from rnn_cli import checkpoint
from rnn_cli.batches import LMBatch
from rnn_cli.data.batching import lay_out_streams, window_lengths
from rnn_cli.data.lm_corpus import CHAR_EOS, encode_corpus, iter_tokens, start_token, tokenize_line
from rnn_cli.data.vocab import EOS, Vocab
from rnn_cli.decoding import SamplingConfig, beam_search, sample
from rnn_cli.metrics import lm_scores
from rnn_cli.models.lm import RNNLM
from rnn_cli.models.rnn import Hidden
from rnn_cli.predict import model_from_payload


@dataclass
class LoadedLM:
    model: RNNLM
    vocab: Vocab
    level: str
    payload: dict[str, Any]  # the model file's plain data less its weights (config, vocab, metrics, ...)


def load_lm(path: str, device: torch.device, payload: dict[str, Any] | None = None) -> LoadedLM:
    """Rebuild a language model from `path` (or from its already loaded `payload`)."""
    payload = payload if payload is not None else checkpoint.load(path, task="lm")
    model = model_from_payload(payload, path)
    level = payload["train_config"].get("level", "word")
    return LoadedLM(model.to(device), Vocab(payload["vocab"]["tokens"]), level, payload)


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


def stream_text(lm: LoadedLM, ids: Iterator[int] | list[int], after_newline: bool = True) -> Iterator[str]:
    first = after_newline
    for token_id in ids:
        piece = token_text(lm, token_id, first)
        first = piece == "\n" or piece == CHAR_EOS
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
