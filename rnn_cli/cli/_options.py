"""Option types and helpers shared by the commands. Torch-free, so that `--help`
stays fast: the enum values mirror the registries in `rnn_cli.models`."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Optional

import typer


class Cell(str, Enum):
    lstm = "lstm"
    gru = "gru"
    rnn_tanh = "rnn-tanh"
    rnn_relu = "rnn-relu"


class Optimizer(str, Enum):
    sgd = "sgd"
    adam = "adam"


class Level(str, Enum):
    word = "word"
    char = "char"


class Schedule(str, Enum):
    plateau = "plateau"
    step = "step"


class Precision(str, Enum):
    fp32 = "fp32"
    bf16 = "bf16"


class Scheme(str, Enum):
    iob1 = "iob1"
    bio = "bio"
    bioes = "bioes"


class SourceScheme(str, Enum):
    auto = "auto"
    iob1 = "iob1"
    bio = "bio"
    bioes = "bioes"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class OutputFormat(str, Enum):
    text = "text"
    jsonl = "jsonl"


def resolve_options(ctx: typer.Context, options: dict[str, Any], config_path: str | None) -> dict[str, Any]:
    """Merge: dataclass defaults < YAML file (`--config`) < options given on the
    command line. Returns only the keys that the file or the command line set."""
    from rnn_cli.config import load_yaml

    resolved: dict[str, Any] = load_yaml(config_path) if config_path else {}
    for name, value in options.items():
        source = ctx.get_parameter_source(name)
        if source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP"):
            resolved[name] = value.value if isinstance(value, Enum) else value
    return resolved


class Pooling(str, Enum):
    last = "last"
    mean = "mean"
    max = "max"
    attention = "attention"


# Options that several training commands share, declared once. Each command gives
# its own default value in its signature.
MODEL = "Model"
TRAINING = "Training"
DATA = "Data"
DevFile = Annotated[str, typer.Option("--dev", help="Development file (model selection, early stopping).")]
OutFile = Annotated[str, typer.Option("--out", "-o", help="Where to write the best model.")]
TestFile = Annotated[Optional[str], typer.Option("--test", help="Test file, scored with the best model at the end.")]
ConfigFile = Annotated[Optional[str], typer.Option("--config", help="YAML file of options; the command line wins.")]
MinFreq = Annotated[int, typer.Option(help="Training words seen fewer times become <unk>.", rich_help_panel=DATA)]
Embeddings = Annotated[Optional[str], typer.Option(help="Pretrained vectors (GloVe or word2vec, via gensim).",
                                                   rich_help_panel=MODEL)]
EmbeddingsFormat = Annotated[str, typer.Option(help="auto, glove, word2vec or word2vec-binary.",
                                               rich_help_panel=MODEL)]
FreezeEmbeddings = Annotated[bool, typer.Option("--freeze-embeddings", help="Keep word vectors fixed.",
                                                rich_help_panel=MODEL)]
EmbeddingSize = Annotated[int, typer.Option("--embedding-size", help="Word embedding size (without --embeddings).",
                                            rich_help_panel=MODEL)]
Layers = Annotated[int, typer.Option(help="Stacked RNN layers.", rich_help_panel=MODEL)]
HiddenSize = Annotated[int, typer.Option(help="Hidden units per direction.", rich_help_panel=MODEL)]
Epochs = Annotated[int, typer.Option(help="Epochs to train.", rich_help_panel=TRAINING)]
OptimizerOpt = Annotated[Optimizer, typer.Option("--optimizer", help="Optimiser.", rich_help_panel=TRAINING)]
LearningRate = Annotated[float, typer.Option("--lr", help="Learning rate.", rich_help_panel=TRAINING)]
Momentum = Annotated[float, typer.Option(help="SGD momentum.", rich_help_panel=TRAINING)]
LRDecay = Annotated[float, typer.Option(help="SGD: lr / (1 + decay * epoch).", rich_help_panel=TRAINING)]
Clip = Annotated[float, typer.Option(help="Clip the gradient norm to this (0: off).", rich_help_panel=TRAINING)]
Patience = Annotated[int, typer.Option(help="Stop after this many epochs without improvement (0: never).",
                                       rich_help_panel=TRAINING)]
Seed = Annotated[int, typer.Option(help="Random seed.", rich_help_panel=TRAINING)]
Encoding = Annotated[str, typer.Option(help="Text encoding of the input files.")]
DeviceOpt = Annotated[Device, typer.Option("--device", help="auto picks CUDA when present (under torchrun: the "
                                            "GPU of LOCAL_RANK).")]
Threads = Annotated[int, typer.Option("--threads", help="CPU threads (0: torch's default, one per core; 1 is "
                                      "best beside other runs). Under torchrun: per process.")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue exactly from the training state OUT.state.pt "
                                      "(the stored options apply; --epochs may be raised).")]
CheckpointEvery = Annotated[int, typer.Option(help="Also save the full training state every N steps (0: at each "
                                              "epoch end only).", rich_help_panel=TRAINING)]
Amp = Annotated[bool, typer.Option("--amp", help="Mixed precision: bf16 autocast where supported (CPU, Ampere+ "
                                   "GPUs), else fp16 with a gradient scaler.", rich_help_panel=TRAINING)]
SkipNonfinite = Annotated[bool, typer.Option("--skip-nonfinite", help="Skip batches whose loss is NaN/inf "
                                             "(counted in the log) instead of stopping with status 3.",
                                             rich_help_panel=TRAINING)]
PER_PROCESS = " Per process: under torchrun with N processes the global batch is N times this."
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or logs on stderr.")]
# Parameters of a training command that are not training options.
RUN_PARAMS = ("train", "dev", "test", "out", "config", "device", "threads", "resume", "quiet")


def training_options(ctx: typer.Context, config: str | None) -> dict[str, Any]:
    """The training options set on the command line or in the YAML file."""
    names = [p.name for p in ctx.command.params if p.name and p.name not in RUN_PARAMS]
    return resolve_options(ctx, {n: ctx.params[n] for n in names}, config)
