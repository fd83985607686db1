"""`rnn-cli train-lm`: train a word- or character-level recurrent language model."""

from __future__ import annotations

from functools import partial
from typing import Optional

import typer

from rnn_cli.cli._console import handle_errors
from rnn_cli.cli._options import (
    PER_PROCESS,
    Amp,
    Cell,
    CheckpointEvery,
    Device,
    Level,
    Optimizer,
    Precision,
    Schedule,
    SkipNonfinite,
    Threads,
    resolve_options,
)

TRAINING = "Training"
MODEL = "Model"


@handle_errors
def command(
    ctx: typer.Context,
    train: str = typer.Argument(..., help="Training text (.gz read transparently; - for stdin)."),
    out: str = typer.Option(..., "--out", "-o", help="Where to write the best model."),
    valid: Optional[str] = typer.Option(None, "--valid", help="Validation text (model selection, lr annealing)."),
    test: Optional[str] = typer.Option(None, "--test", help="Test text, scored with the best model at the end."),
    config: Optional[str] = typer.Option(None, "--config", help="YAML file of options; the command line wins."),
    level: Level = typer.Option("word", help="Tokens: whitespace words (<eos> at line ends) or characters.",
                                rich_help_panel=MODEL),
    cell: Cell = typer.Option("lstm", help="Recurrent cell.", rich_help_panel=MODEL),
    layers: int = typer.Option(2, help="Stacked RNN layers.", rich_help_panel=MODEL),
    hidden_size: int = typer.Option(200, help="Hidden units per layer.", rich_help_panel=MODEL),
    embedding_size: int = typer.Option(200, help="Embedding size.", rich_help_panel=MODEL),
    dropout: float = typer.Option(0.2, help="Dropout on embeddings, between layers and on the output.",
                                  rich_help_panel=MODEL),
    tie_weights: bool = typer.Option(False, "--tie-weights", help="Share input embedding and softmax weights.",
                                     rich_help_panel=MODEL),
    init_range: Optional[float] = typer.Option(None, help="Uniform init range for all weights "
                                               "(default 1/sqrt(hidden) for the RNN, 0.1 elsewhere).",
                                               rich_help_panel=MODEL),
    precision: Precision = typer.Option("fp32", help="Softmax layer in training: fp32, or bf16 mixed "
                                        "precision (about 1.5x faster on CPUs with AVX512-BF16).",
                                        rich_help_panel=MODEL),
    min_freq: int = typer.Option(1, help="Words seen fewer times become <unk>.", rich_help_panel=MODEL),
    max_vocab: int = typer.Option(0, help="Keep at most this many types (0: all).", rich_help_panel=MODEL),
    epochs: int = typer.Option(10, help="Epochs to train.", rich_help_panel=TRAINING),
    batch_size: int = typer.Option(20, help="Parallel streams (columns) per batch." + PER_PROCESS,
                                   rich_help_panel=TRAINING),
    eval_batch_size: int = typer.Option(10, help="Streams for validation and test.", rich_help_panel=TRAINING),
    bptt: int = typer.Option(35, help="Truncated-BPTT window length.", rich_help_panel=TRAINING),
    variable_bptt: bool = typer.Option(False, "--variable-bptt", help="Vary window lengths (AWD-LSTM).",
                                       rich_help_panel=TRAINING),
    optimizer: Optimizer = typer.Option("sgd", help="Optimiser.", rich_help_panel=TRAINING),
    lr: float = typer.Option(20.0, help="Learning rate.", rich_help_panel=TRAINING),
    momentum: float = typer.Option(0.0, help="SGD momentum.", rich_help_panel=TRAINING),
    weight_decay: float = typer.Option(0.0, help="L2 weight decay.", rich_help_panel=TRAINING),
    clip: float = typer.Option(0.25, help="Clip the gradient norm to this (0: off).", rich_help_panel=TRAINING),
    schedule: Schedule = typer.Option("plateau", help="plateau: decay lr when validation stops improving; "
                                      "step: decay every epoch after --decay-start.", rich_help_panel=TRAINING),
    lr_decay: float = typer.Option(0.25, help="Factor the lr is multiplied by when it decays.",
                                   rich_help_panel=TRAINING),
    decay_start: int = typer.Option(1, help="Step schedule: epochs after this one decay the lr.",
                                    rich_help_panel=TRAINING),
    patience: int = typer.Option(3, help="Stop after this many epochs without improvement (0: never).",
                                 rich_help_panel=TRAINING),
    min_lr: float = typer.Option(0.0, help="Never anneal below this lr.", rich_help_panel=TRAINING),
    seed: int = typer.Option(1234, help="Random seed (CPU runs repeat bit for bit).", rich_help_panel=TRAINING),
    checkpoint_every: CheckpointEvery = 0,
    save_every: Optional[int] = typer.Option(None, "--save-every", hidden=True, help="Old name of "
                                             "--checkpoint-every."),
    amp: Amp = False,
    skip_nonfinite: SkipNonfinite = False,
    log_every: int = typer.Option(20, help="Report progress every N steps.", rich_help_panel=TRAINING),
    encoding: str = typer.Option("utf-8", help="Text encoding of the input files."),
    device: Device = typer.Option("auto", help="auto picks CUDA when present."),
    threads: Threads = 0,
    resume: bool = typer.Option(False, "--resume", help="Continue from the training state beside --out."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or logs on stderr."),
) -> None:
    """Train a recurrent language model on a text file.

    Writes the best model by validation perplexity to --out, its training state to
    OUT.state.pt (for --resume) and one JSON line per evaluation to OUT.metrics.jsonl;
    prints a JSON summary on stdout.

    Runs unchanged under torchrun (torchrun --nproc-per-node N -m rnn_cli train-lm ...): each
    process trains its share of every batch; only rank 0 writes files and logs.
    """
    from rnn_cli.cli._progress import run_training
    from rnn_cli.config import from_dict
    from rnn_cli.training.lm import TrainLMConfig, train_lm

    names = [p.name for p in ctx.command.params if p.name not in
             ("train", "out", "valid", "test", "config", "device", "resume", "quiet", "save_every")]
    options = resolve_options(ctx, {n: ctx.params[n] for n in names}, config)
    if "save_every" in options:  # the old name, in a YAML file
        options.setdefault("checkpoint_every", options.pop("save_every"))
    if save_every is not None and "checkpoint_every" not in options:
        options["checkpoint_every"] = save_every
    cfg = from_dict(TrainLMConfig, options, where=config or "options")
    run_training(partial(train_lm, cfg, train, out, valid=valid, test=test, resume=resume), quiet, device.value,
                 threads)
