"""Training language models with truncated BPTT, on the shared epoch loop.

The training text is laid out as `batch_size` parallel streams (see
`data/batching.py`); an epoch's steps are its BPTT windows, and the hidden state is
carried from window to window (detached: truncated BPTT) and reset at each epoch. The
best model by dev loss (the training loss without a dev file) goes to `out`; the state
beside it (`<out>.state.pt`) also holds the carried hidden state, so `--resume`
continues exactly where the last save left off."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from rnn_cli.batches import LMBatch
from rnn_cli.config import to_dict
from rnn_cli.data.batching import lay_out_streams, window_lengths
from rnn_cli.data.lm_corpus import build_vocab, encode_corpus, iter_tokens, read_tokens
from rnn_cli.data.vocab import Vocab
from rnn_cli.errors import ConfigError
from rnn_cli.models.lm import RNNLM, LMConfig
from rnn_cli.models.rnn import Hidden, detach_hidden
from rnn_cli.predict.lm import score_lm
from rnn_cli.seed import seed_everything
from rnn_cli.training.configs import TrainLMConfig
from rnn_cli.training.distributed import Dist
from rnn_cli.training.events import Info
from rnn_cli.training.loop import Event, Task, resume_or_start, run_epochs


class _Data:
    """The encoded corpora of one run. Under DDP the training text is laid out in
    `batch_size * world_size` streams and each rank trains its own `batch_size`
    adjacent columns: a contiguous slice of the text."""

    def __init__(self, cfg: TrainLMConfig, vocab: Vocab, train: str, dev: str | None, test: str | None,
                 train_tokens: list[str] | None = None, dist: Dist | None = None) -> None:
        dist = dist or Dist()
        tokens = train_tokens if train_tokens is not None else read_tokens(train, cfg.level, cfg.encoding)
        self.vocab = vocab
        ids = encode_corpus(tokens, vocab, cfg.level)
        streams = cfg.batch_size * dist.world_size
        if ids.numel() - 1 < streams * 2:
            raise ConfigError(
                f"{train}: {ids.numel() - 1} tokens are too few for --batch-size {cfg.batch_size}"
                + (f" x {dist.world_size} processes" if dist.enabled else "")
            )
        x, y = lay_out_streams(ids, streams)  # (N, B * world)
        cols = slice(dist.rank * cfg.batch_size, (dist.rank + 1) * cfg.batch_size)
        self.train_x, self.train_y = x[:, cols].contiguous(), y[:, cols].contiguous()  # (N, B)
        self.n_tokens = len(tokens)
        self.dev = encode_corpus(iter_tokens(dev, cfg.level, cfg.encoding), vocab, cfg.level) if dev else None
        self.test = encode_corpus(iter_tokens(test, cfg.level, cfg.encoding), vocab, cfg.level) if test else None


def model_config(cfg: TrainLMConfig, vocab_size: int) -> LMConfig:
    return LMConfig(vocab_size=vocab_size, cell=cfg.cell, embedding_size=cfg.embedding_size,
                    hidden_size=cfg.hidden_size, layers=cfg.layers, dropout=cfg.dropout, tie_weights=cfg.tie_weights,
                    init_range=cfg.init_range, softmax_precision=cfg.precision, locked_dropout=cfg.locked_dropout,
                    input_dropout=cfg.input_dropout, hidden_dropout=cfg.hidden_dropout,
                    embedding_dropout=cfg.embedding_dropout, weight_drop=cfg.weight_drop, ar=cfg.ar, tar=cfg.tar)


class _Run:
    """The model and the hidden state it carries from window to window."""

    def __init__(self, model: RNNLM, data: _Data, device: torch.device, dist: Dist) -> None:
        self.model, self.data, self.device, self.dist = model, data, device, dist
        self.hidden: Hidden | None = None

    def _loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, int, torch.Tensor | None]:
        """The window's mean token loss, carrying the hidden state from the previous
        window (detached: truncated BPTT), and the AR/TAR penalty (None without)."""
        x, y = batch
        out = self.model.loss(LMBatch(x, y, detach_hidden(self.hidden)))
        self.hidden = out.state
        return out.value, out.items, out.penalty

    def window(self, step: tuple[int, int]) -> tuple[tuple[torch.Tensor, torch.Tensor], float]:
        row, length = step
        x = self.data.train_x[row : row + length].to(self.device, non_blocking=True)  # (length, B)
        y = self.data.train_y[row : row + length].to(self.device, non_blocking=True)
        return (x, y), 1.0

    def reset(self) -> None:
        self.hidden = None

    def state(self) -> dict[str, Any]:
        """Every rank's carried state (a collective call); None at an epoch's end."""
        h = self.hidden
        if h is not None:
            h = detach_hidden(h)
            h = tuple(t.cpu() for t in h) if isinstance(h, tuple) else h.cpu()
        return {"hidden": self.dist.gather(h)}

    def restore(self, state: dict[str, Any]) -> None:
        saved = state["hidden"]
        mine = saved[self.dist.rank] if len(saved) == self.dist.world_size else saved[0]
        if mine is None:
            self.hidden = None
        elif isinstance(mine, (tuple, list)):
            self.hidden = tuple(h.to(self.device) for h in mine)
        else:
            self.hidden = mine.to(self.device)


def train_lm(
    cfg: TrainLMConfig,
    train: str,
    out: str | Path,
    dev: str | None = None,
    test: str | None = None,
    device: torch.device | None = None,
    resume: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    dist: Dist | None = None,
) -> Iterator[Event]:
    """Train a language model, yielding events; see the module docstring."""
    device, dist = device or torch.device("cpu"), dist or Dist()
    cfg, state, notes = resume_or_start(TrainLMConfig, cfg, out, "lm", resume)
    yield from notes
    seed_everything(cfg.seed)
    if state is not None:
        vocab = Vocab(state["vocab"]["tokens"])
        data = _Data(cfg, vocab, train, dev, test, dist=dist)
    else:
        tokens = read_tokens(train, cfg.level, cfg.encoding)
        vocab = build_vocab(tokens, cfg.level, cfg.min_freq, cfg.max_vocab)
        data = _Data(cfg, vocab, train, dev, test, train_tokens=tokens, dist=dist)
        yield Info(f"{train}: {data.n_tokens:,} tokens, vocabulary {len(vocab):,}")
    if device.type == "cuda":  # the laid-out token ids (8 bytes a token) fit: no copy per step
        data.train_x, data.train_y = data.train_x.to(device), data.train_y.to(device)
    model_cfg = model_config(cfg, len(vocab))
    run = _Run(RNNLM(model_cfg).to(device), data, device, dist)

    def scores(ids: torch.Tensor | None, prefix: str) -> Callable[[], dict[str, Any]] | None:
        if ids is None:
            return None
        return lambda: {f"{prefix}_{k}": v for k, v in score_lm(run.model, ids, cfg.eval_batch_size, cfg.bptt,
                                                                  device).items()}

    n_rows = data.train_x.size(0)
    task = Task(
        task="lm", model=run.model, model_config=to_dict(model_cfg), train_config=to_dict(cfg),
        vocab={"tokens": vocab.to_list()},
        order=lambda g: list(window_lengths(n_rows, cfg.bptt, 0, cfg.variable_bptt, g)),
        make_batch=run.window, loss=run._loss, evaluate=scores(data.dev, "dev"),
        metric="dev_loss" if data.dev is not None else "train_loss", minimize=True, unit="tok",
        rate_key="tokens_per_s", perplexity=True, test=scores(data.test, "test"),
        summary={"vocab_size": len(vocab)}, end_epoch=run.reset, extra_state=run.state,
        restore_extra=run.restore)
    yield from run_epochs(task, cfg, out, state, should_stop, device, dist)
