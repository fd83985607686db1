"""Optimisers and the learning-rate schedules shared by the trainers."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from rnn_cli.training.options import OPTIMIZERS, TrainOptions


def build_optimizer(
    name: str, params: Iterable[torch.nn.Parameter], lr: float, momentum: float = 0.0, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    params = list(params)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, foreach=True)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, foreach=True)
    if name == "nt-asgd":  # plain SGD; the engine averages the weights once triggered (`averaging.py`)
        return torch.optim.SGD(params, lr=lr, momentum=0.0, weight_decay=weight_decay, foreach=True)
    raise ValueError(f"invalid optimizer: {name!r} (choose from {', '.join(OPTIMIZERS)})")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def epoch_lr(opts: TrainOptions, epoch: int, lr: float) -> float:
    """The lr of 0-based epoch `epoch`, where `lr` is the current one (which the
    plateau schedule carries from epoch to epoch, see `after_bad_epoch`)."""
    if opts.schedule == "constant":
        lr = opts.lr
    elif opts.schedule == "inverse-time":  # Ma & Hovy 2016
        lr = opts.lr / (1 + opts.decay_rate * epoch)
    elif opts.schedule == "step":  # Zaremba et al. 2014: epoch e > decay_start runs at lr * decay^(e - decay_start)
        lr = opts.lr * opts.lr_decay ** max(0, epoch + 1 - opts.decay_start)
    return max(lr, opts.min_lr)


def after_bad_epoch(opts: TrainOptions, lr: float, bad_epochs: int) -> float:
    """The lr after an epoch that did not improve the dev metric, the `bad_epochs`-th in
    a row: the plateau schedule decays it after each `lr_patience` of them."""
    if opts.schedule != "plateau" or bad_epochs % opts.lr_patience:
        return lr
    return max(lr * opts.lr_decay, opts.min_lr)
