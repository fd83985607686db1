"""`rnn-cli train-tagger`: train a sequence tagger (BiLSTM + char CNN + CRF by default)."""

from __future__ import annotations

from functools import partial
from typing import Optional

import typer

from rnn_cli.cli._console import handle_errors
from rnn_cli.cli._options import Cell, Device, Optimizer, resolve_options

MODEL = "Model"
TRAINING = "Training"
DATA = "Data"


@handle_errors
def command(
    ctx: typer.Context,
    train: str = typer.Argument(..., help="Training file: CoNLL columns or CoNLL-U (.gz read transparently)."),
    dev: str = typer.Option(..., "--dev", help="Development file (model selection, early stopping)."),
    out: str = typer.Option(..., "--out", "-o", help="Where to write the best model."),
    test: Optional[str] = typer.Option(None, "--test", help="Test file, scored with the best model at the end."),
    config: Optional[str] = typer.Option(None, "--config", help="YAML file of options; the command line wins."),
    format: str = typer.Option("auto", help="auto, conll or conllu.", rich_help_panel=DATA),
    word_column: int = typer.Option(0, help="CoNLL word column (0-based).", rich_help_panel=DATA),
    tag_column: int = typer.Option(-1, help="CoNLL tag column (negative counts from the end).",
                                   rich_help_panel=DATA),
    tag_field: str = typer.Option("upos", help="CoNLL-U tag field: upos or xpos.", rich_help_panel=DATA),
    scheme: str = typer.Option("auto", help="Input tag scheme: auto, iob1, bio, bioes or plain.",
                               rich_help_panel=DATA),
    min_freq: int = typer.Option(1, help="Training words seen fewer times become <unk>.", rich_help_panel=DATA),
    embeddings: Optional[str] = typer.Option(None, help="Pretrained vectors (GloVe or word2vec, via gensim).",
                                             rich_help_panel=MODEL),
    embeddings_format: str = typer.Option("auto", help="auto, glove, word2vec or word2vec-binary.",
                                          rich_help_panel=MODEL),
    freeze_embeddings: bool = typer.Option(False, "--freeze-embeddings", help="Keep word vectors fixed.",
                                           rich_help_panel=MODEL),
    embedding_size: int = typer.Option(100, "--embedding-size", help="Word embedding size (without --embeddings).",
                                       rich_help_panel=MODEL),
    char_encoder: str = typer.Option("cnn", help="cnn (Ma & Hovy), lstm (Lample et al.) or none.",
                                     rich_help_panel=MODEL),
    char_embedding_size: int = typer.Option(30, help="Character embedding size.", rich_help_panel=MODEL),
    char_filters: int = typer.Option(30, help="CNN filters (or LSTM units per direction) of the char encoder.",
                                     rich_help_panel=MODEL),
    cell: Cell = typer.Option("lstm", help="Word-level recurrent cell (bidirectional).", rich_help_panel=MODEL),
    layers: int = typer.Option(1, help="Stacked BiRNN layers.", rich_help_panel=MODEL),
    hidden_size: int = typer.Option(200, help="Hidden units per direction.", rich_help_panel=MODEL),
    dropout: float = typer.Option(0.5, help="Dropout on embeddings and encoder outputs.", rich_help_panel=MODEL),
    decoder: str = typer.Option("crf", help="crf or softmax.", rich_help_panel=MODEL),
    epochs: int = typer.Option(50, help="Epochs to train.", rich_help_panel=TRAINING),
    batch_size: int = typer.Option(10, help="Sentences per batch.", rich_help_panel=TRAINING),
    optimizer: Optimizer = typer.Option("sgd", help="Optimiser.", rich_help_panel=TRAINING),
    lr: float = typer.Option(0.015, help="Learning rate.", rich_help_panel=TRAINING),
    momentum: float = typer.Option(0.9, help="SGD momentum.", rich_help_panel=TRAINING),
    lr_decay: float = typer.Option(0.05, help="SGD: lr / (1 + decay * epoch).", rich_help_panel=TRAINING),
    clip: float = typer.Option(5.0, help="Clip the gradient norm to this (0: off).", rich_help_panel=TRAINING),
    patience: int = typer.Option(5, help="Stop after this many epochs without improvement (0: never).",
                                 rich_help_panel=TRAINING),
    seed: int = typer.Option(1234, help="Random seed.", rich_help_panel=TRAINING),
    encoding: str = typer.Option("utf-8", help="Text encoding of the input files."),
    device: Device = typer.Option("auto", help="auto picks CUDA when present."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the training state beside --out."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or logs on stderr."),
) -> None:
    """Train a sequence tagger (POS, chunks, named entities) on CoNLL files.

    Writes the best model by dev entity F1 (token accuracy for tag sets without
    B-/I- prefixes) to --out, OUT.state.pt and OUT.metrics.jsonl beside it, and a
    JSON summary on stdout.
    """
    from rnn_cli.cli._progress import run_training
    from rnn_cli.config import from_dict
    from rnn_cli.seed import select_device
    from rnn_cli.training.tagger import TrainTaggerConfig, train_tagger

    names = [p.name for p in ctx.command.params if p.name not in
             ("train", "dev", "test", "out", "config", "device", "resume", "quiet")]
    options = resolve_options(ctx, {n: ctx.params[n] for n in names}, config)
    if "embedding_size" in options:
        options["word_embedding_size"] = options.pop("embedding_size")
    cfg = from_dict(TrainTaggerConfig, options, where=config or "options")
    where = select_device(device.value)
    run_training(partial(train_tagger, cfg, train, dev, out, test=test, device=where, resume=resume), quiet)
