"""`rnn-cli train-tagger`: train a sequence tagger (BiLSTM + char CNN + CRF by default)."""

from __future__ import annotations

from functools import partial

import typer

from rnn_cli.cli._console import handle_errors
from rnn_cli.cli._options import (
    DATA,
    MODEL,
    PER_PROCESS,
    Amp,
    Cell,
    CheckpointEvery,
    Clip,
    ConfigFile,
    DevFile,
    DeviceOpt,
    Embeddings,
    EmbeddingsFormat,
    EmbeddingSize,
    Encoding,
    Epochs,
    FreezeEmbeddings,
    HiddenSize,
    Layers,
    LearningRate,
    LRDecay,
    MinFreq,
    Momentum,
    OptimizerOpt,
    OutFile,
    Patience,
    Quiet,
    Resume,
    Seed,
    SkipNonfinite,
    TestFile,
    Threads,
    training_options,
)


@handle_errors
def command(
    ctx: typer.Context,
    train: str = typer.Argument(..., help="Training file: CoNLL columns or CoNLL-U (.gz read transparently)."),
    dev: DevFile = ...,  # type: ignore[assignment]
    out: OutFile = ...,  # type: ignore[assignment]
    test: TestFile = None,
    config: ConfigFile = None,
    format: str = typer.Option("auto", help="auto, conll or conllu.", rich_help_panel=DATA),
    word_column: int = typer.Option(0, help="CoNLL word column (0-based).", rich_help_panel=DATA),
    tag_column: int = typer.Option(-1, help="CoNLL tag column (negative counts from the end).",
                                   rich_help_panel=DATA),
    tag_field: str = typer.Option("upos", help="CoNLL-U tag field: upos or xpos.", rich_help_panel=DATA),
    scheme: str = typer.Option("auto", help="Input tag scheme: auto, iob1, bio, bioes or plain.",
                               rich_help_panel=DATA),
    min_freq: MinFreq = 1,
    embeddings: Embeddings = None,
    embeddings_format: EmbeddingsFormat = "auto",
    freeze_embeddings: FreezeEmbeddings = False,
    embedding_size: EmbeddingSize = 100,
    char_encoder: str = typer.Option("cnn", help="cnn (Ma & Hovy), lstm (Lample et al.) or none.",
                                     rich_help_panel=MODEL),
    char_embedding_size: int = typer.Option(30, help="Character embedding size.", rich_help_panel=MODEL),
    char_filters: int = typer.Option(30, help="CNN filters (or LSTM units per direction) of the char encoder.",
                                     rich_help_panel=MODEL),
    cell: Cell = typer.Option("lstm", help="Word-level recurrent cell (bidirectional).", rich_help_panel=MODEL),
    layers: Layers = 1,
    hidden_size: HiddenSize = 200,
    dropout: float = typer.Option(0.5, help="Dropout on embeddings and encoder outputs.", rich_help_panel=MODEL),
    word_dropout: float = typer.Option(
        0.0, help="Training: a word seen once becomes <unk> with this probability, so the vector of unseen "
        "words is learned (Lample et al. 2016 use 0.5; helps most without pretrained vectors).",
        rich_help_panel=MODEL),
    decoder: str = typer.Option("crf", help="crf or softmax.", rich_help_panel=MODEL),
    epochs: Epochs = 50,
    batch_size: int = typer.Option(10, help="Sentences per batch." + PER_PROCESS, rich_help_panel="Training"),
    optimizer: OptimizerOpt = "sgd",  # type: ignore[assignment]
    lr: LearningRate = 0.015,
    momentum: Momentum = 0.9,
    lr_decay: LRDecay = 0.05,
    clip: Clip = 5.0,
    patience: Patience = 5,
    seed: Seed = 1234,
    checkpoint_every: CheckpointEvery = 0,
    amp: Amp = False,
    skip_nonfinite: SkipNonfinite = False,
    encoding: Encoding = "utf-8",
    device: DeviceOpt = "auto",  # type: ignore[assignment]
    threads: Threads = 0,
    resume: Resume = False,
    quiet: Quiet = False,
) -> None:
    """Train a sequence tagger (POS, chunks, named entities) on CoNLL files.

    Writes the best model by dev entity F1 (token accuracy for tag sets without
    B-/I- prefixes) to --out, OUT.state.pt and OUT.metrics.jsonl beside it, and a
    JSON summary on stdout.

    Runs unchanged under torchrun (torchrun --nproc-per-node N -m rnn_cli train-tagger ...): each
    process trains its share of every batch; only rank 0 writes files and logs.
    """
    from rnn_cli.cli._progress import run_training
    from rnn_cli.config import from_dict
    from rnn_cli.training.tagger import TrainTaggerConfig, train_tagger

    options = training_options(ctx, config)
    if "embedding_size" in options:
        options["word_embedding_size"] = options.pop("embedding_size")
    cfg = from_dict(TrainTaggerConfig, options, where=config or "options")
    run_training(partial(train_tagger, cfg, train, dev, out, test=test, resume=resume), quiet, device.value, threads)
