"""`rnn-cli train-classifier`: train a sentence/document classifier."""

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
from rnn_cli.training.configs import TrainClassifierConfig


@config_options(TrainClassifierConfig)
@handle_errors
def command(
    ctx: typer.Context,
    train: list[str] = typer.Argument(..., help="Training file(s): TSV (label<TAB>text, or a header naming the "
                                      "columns), fastText (__label__x text), JSONL, `label text`, trees, CoNLL-U or "
                                      "bAbI (.gz read transparently); several files or a quoted glob pattern "
                                      "('qa*_train.txt') are read as one training set.", metavar="FILE..."),
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
    """Train a classifier of texts, parse trees, sentence pairs or questions over stories.

    Sentences and documents (topic, question type, sentiment) with a (Bi)RNN; parse
    trees with --encoder tree-lstm; sentence pairs with --pair, real scores with
    --regression; bAbI questions over their story with --encoder dmn.

    Writes the best model by the dev metric to --out, OUT.state.pt and
    OUT.metrics.jsonl beside it, and a JSON summary on stdout.

    Runs unchanged under torchrun (torchrun --nproc-per-node N -m rnn_cli train-classifier ...): each
    process trains its share of every batch; only rank 0 writes files and logs.
    """
    from rnn_cli.cli._progress import run_training
    from rnn_cli.training.classifier import train_classifier

    cfg = build_config(ctx, TrainClassifierConfig, options, config, recipe)
    run_training(partial(train_classifier, cfg, train, dev, out, test=test, resume=resume), quiet, device.value,
                 threads)
