"""`rnn-cli train-classifier`: train a text classifier ((Bi)RNN encoder + pooling)."""

from __future__ import annotations

from functools import partial
from typing import Optional

import typer

from rnn_cli.cli._console import handle_errors
from rnn_cli.cli._options import (
    DATA,
    MODEL,
    PER_PROCESS,
    TRAINING,
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
    Pooling,
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
    train: str = typer.Argument(..., help="Training file: TSV (label<TAB>text), fastText (__label__x text) "
                                "or JSONL ({\"text\", \"label\"/\"labels\"}); .gz read transparently."),
    dev: DevFile = ...,  # type: ignore[assignment]
    out: OutFile = ...,  # type: ignore[assignment]
    test: TestFile = None,
    config: ConfigFile = None,
    format: str = typer.Option("auto", help="auto, tsv, fasttext or jsonl.", rich_help_panel=DATA),
    text_column: Optional[str] = typer.Option(None, help="TSV with a header row: the text column's name.",
                                              rich_help_panel=DATA),
    label_column: Optional[str] = typer.Option(None, help="TSV with a header row: the label column's name.",
                                               rich_help_panel=DATA),
    tokenizer: str = typer.Option("whitespace", help="whitespace, or simple (words and punctuation apart).",
                                  rich_help_panel=DATA),
    lowercase: bool = typer.Option(False, "--lowercase", help="Lowercase the text.", rich_help_panel=DATA),
    max_length: int = typer.Option(400, help="Keep at most this many tokens per item (0: all).",
                                   rich_help_panel=DATA),
    min_freq: MinFreq = 1,
    embeddings: Embeddings = None,
    embeddings_format: EmbeddingsFormat = "auto",
    freeze_embeddings: FreezeEmbeddings = False,
    embedding_size: EmbeddingSize = 100,
    cell: Cell = typer.Option("lstm", help="Recurrent cell.", rich_help_panel=MODEL),
    layers: Layers = 1,
    hidden_size: HiddenSize = 150,
    bidirectional: bool = typer.Option(True, "--bidirectional/--unidirectional", help="Read both ways.",
                                       rich_help_panel=MODEL),
    pooling: Pooling = typer.Option("max", help="last, mean, max or attention.", rich_help_panel=MODEL),
    dropout: float = typer.Option(0.5, help="Dropout on embeddings and the pooled vector.", rich_help_panel=MODEL),
    ensemble: int = typer.Option(
        1, help="Train this many classifiers side by side (own initialisation and dropout each) and average their "
        "probabilities: steadier and usually more accurate on small data, N times the cost.", rich_help_panel=MODEL),
    word_dropout: float = typer.Option(
        0.0, help="Training: each token becomes <unk> with this probability (a regulariser; the <unk> vector, "
        "what unseen words get, is learned).", rich_help_panel=MODEL),
    multi_label: str = typer.Option("auto", help="auto (several labels on any training item), yes or no.",
                                    rich_help_panel=MODEL),
    class_weights: str = typer.Option("none", help="none, or auto (inverse class frequency).",
                                      rich_help_panel=TRAINING),
    metric: str = typer.Option("auto", help="Dev metric for early stopping: auto (accuracy; micro-f1 for "
                               "multi-label), accuracy, macro-f1 or micro-f1.", rich_help_panel=TRAINING),
    epochs: Epochs = 20,
    batch_size: int = typer.Option(32, help="Items per batch." + PER_PROCESS, rich_help_panel=TRAINING),
    optimizer: OptimizerOpt = "adam",  # type: ignore[assignment]
    lr: LearningRate = 0.001,
    momentum: Momentum = 0.9,
    lr_decay: LRDecay = 0.0,
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
    """Train a sentence or document classifier (topic, question type, sentiment).

    Writes the best model by the dev metric to --out, OUT.state.pt and
    OUT.metrics.jsonl beside it, and a JSON summary on stdout.

    Runs unchanged under torchrun (torchrun --nproc-per-node N -m rnn_cli train-classifier ...): each
    process trains its share of every batch; only rank 0 writes files and logs.
    """
    from rnn_cli.cli._progress import run_training
    from rnn_cli.config import from_dict
    from rnn_cli.training.classifier import TrainClassifierConfig, train_classifier

    cfg = from_dict(TrainClassifierConfig, training_options(ctx, config), where=config or "options")
    run_training(partial(train_classifier, cfg, train, dev, out, test=test, resume=resume), quiet, device.value,
                 threads)
