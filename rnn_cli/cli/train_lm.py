"""`rnn-cli train-lm`: train a word- or character-level recurrent language model."""

from __future__ import annotations

from functools import partial
from typing import Any, Optional

import typer

from rnn_cli.cli._console import handle_errors
from rnn_cli.cli._options import (
    ConfigFile,
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
from rnn_cli.training.configs import TrainLMConfig


@config_options(TrainLMConfig)
@handle_errors
def command(
    ctx: typer.Context,
    train: str = typer.Argument(..., help="Training text (.gz read transparently; - for stdin).", metavar="FILE"),
    out: OutFile = ...,  # type: ignore[assignment]
    dev: Optional[str] = typer.Option(None, "--dev", "--valid", metavar="FILE",
                                      help="Development text (model selection, lr annealing, early stopping)."),
    test: TestFile = None,
    config: ConfigFile = None,
    recipe: RecipeOpt = None,
    device: DeviceOpt = "auto",  # type: ignore[assignment]
    threads: Threads = 0,
    resume: Resume = False,
    quiet: Quiet = False,
    **options: Any,
) -> None:
    """Train a recurrent language model on a text file.

    Writes the best model by dev perplexity to --out, its training state to
    OUT.state.pt (for --resume) and one JSON line per evaluation to OUT.metrics.jsonl;
    prints a JSON summary on stdout.

    Runs unchanged under torchrun (torchrun --nproc-per-node N -m rnn_cli train-lm ...): each
    process trains its share of every batch; only rank 0 writes files and logs.
    """
    from rnn_cli.cli._progress import run_training
    from rnn_cli.training.lm import train_lm

    cfg = build_config(ctx, TrainLMConfig, options, config, recipe)
    run_training(partial(train_lm, cfg, train, out, dev=dev, test=test, resume=resume), quiet, device.value,
                 threads)
