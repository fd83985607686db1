"""`rnn-cli train-tagger`: train a sequence tagger (BiLSTM + char CNN + CRF by default)."""

from __future__ import annotations

from functools import partial
from typing import Any

import typer

from rnn_cli.cli._console import handle_errors
from rnn_cli.cli._options import (
    ConfigFile,
    DevFile,
    DeviceOpt,
    OutFile,
    Quiet,
    RecipeOpt,
    Resume,
    TestFile,
    Threads,
    build_config,
    config_options,
)
from rnn_cli.training.configs import TrainTaggerConfig


@config_options(TrainTaggerConfig)
@handle_errors
def command(
    ctx: typer.Context,
    train: str = typer.Argument(..., help="Training file: CoNLL columns or CoNLL-U (.gz read transparently).",
                                metavar="FILE"),
    dev: DevFile = None,
    out: OutFile = ...,  # type: ignore[assignment]
    test: TestFile = None,
    config: ConfigFile = None,
    recipe: RecipeOpt = None,
    device: DeviceOpt = "auto",  # type: ignore[assignment]
    threads: Threads = 0,
    resume: Resume = False,
    quiet: Quiet = False,
    **options: Any,
) -> None:
    """Train a sequence tagger (POS, chunks, named entities) on CoNLL files.

    Writes the best model by dev entity F1 (token accuracy for tag sets without
    B-/I- prefixes) to --out, OUT.state.pt and OUT.metrics.jsonl beside it, and a
    JSON summary on stdout.

    Runs unchanged under torchrun (torchrun --nproc-per-node N -m rnn_cli train-tagger ...): each
    process trains its share of every batch; only rank 0 writes files and logs.
    """
    from rnn_cli.cli._progress import run_training
    from rnn_cli.training.tagger import train_tagger

    cfg = build_config(ctx, TrainTaggerConfig, options, config, recipe)
    run_training(partial(train_tagger, cfg, train, dev, out, test=test, resume=resume), quiet, device.value, threads)
