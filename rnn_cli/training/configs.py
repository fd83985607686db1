"""The options of each trainer that shape its result, stored in the model file
(`train_config`) and rebuilt with `from_dict(Config, ...)`. Every field is described
in `options.OPTIONS`; the fields of `TrainOptions` are shared by all three."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rnn_cli.config import Option
from rnn_cli.errors import ConfigError
from rnn_cli.training.options import CLASS_FORMATS, TAG_FORMATS, TrainOptions, override

# The cells whose fused layer has hidden-to-hidden weights: what the LM's weight drop and
# locked dropout between layers need (`models/regularisers.py`, LAYERED_OPS).
WEIGHT_HH_CELLS = ("lstm", "gru", "rnn-tanh", "rnn-relu")


@dataclass
class TrainLMConfig(TrainOptions):
    """`train-lm`: defaults of Zaremba et al.'s small model, without dropout on the recurrence."""

    level: str = "word"
    min_freq: int = 1
    max_vocab: int = 0
    cell: str = "lstm"
    layers: int = 2
    hidden_size: int = 200
    embedding_size: int = 200
    dropout: float = 0.2
    locked_dropout: bool = False
    input_dropout: float | None = None
    hidden_dropout: float | None = None
    embedding_dropout: float = 0.0
    weight_drop: float = 0.0
    ar: float = 0.0
    tar: float = 0.0
    tie_weights: bool = False
    init_range: float | None = None
    precision: str = "fp32"
    eval_batch_size: int = 10
    bptt: int = 35
    variable_bptt: bool = False
    batch_size: int = 20
    optimizer: str | None = None  # resolved: sgd for words, adam for characters
    clip: float = 0.25
    schedule: str = "plateau"
    lr_decay: float = 0.25
    patience: int = 3

    OVERRIDES: ClassVar[dict[str, Option]] = {
        "dropout": override("dropout", help="Dropout on the RNN's output, and on the embeddings and between layers "
                                            "unless --input-dropout / --hidden-dropout say otherwise."),
        "optimizer": override("optimizer", help="Optimiser (default: sgd for --level word, adam for --level char)."),
    }
    LR: ClassVar[dict[str, float]] = {"sgd": 20.0, "adam": 0.002}

    def __post_init__(self) -> None:
        # The defaults study (bench/bench_defaults.py, README): SGD at lr 20 is the better
        # start for words (PTB dev perplexity after 3 epochs 144.5 against Adam's 168.4), Adam
        # for characters (tiny-shakespeare dev 2.53 bits/char after 1 epoch against SGD's
        # 4.96; they meet by epoch 10). The lr then follows the optimiser (`LR`).
        if self.optimizer is None:
            self.optimizer = "adam" if self.level == "char" else "sgd"
        super().__post_init__()
        # The SRU has no hidden-to-hidden matrix to drop, and its fused layers take no
        # mask between them: checked here, so that the command fails before reading data.
        hidden = self.dropout if self.hidden_dropout is None else self.hidden_dropout
        if self.cell not in WEIGHT_HH_CELLS:
            if self.weight_drop > 0:
                raise ConfigError(f"--weight-drop needs a cell with hidden-to-hidden weights "
                                  f"({', '.join(WEIGHT_HH_CELLS)}), not {self.cell}")
            if self.locked_dropout and self.layers > 1 and hidden > 0:
                raise ConfigError(f"--locked-dropout between layers needs --cell {', '.join(WEIGHT_HH_CELLS)}, not "
                                  f"{self.cell} (or --hidden-dropout 0, or --layers 1)")


@dataclass
class TrainTaggerConfig(TrainOptions):
    """`train-tagger`: Ma & Hovy 2016's BiLSTM-CNN-CRF, trained with Adam in batches of 32,
    halving the lr after an epoch without progress and stopping after 4: the defaults study
    (`bench/bench_defaults.py`) chose these to reach a good model in few epochs on any
    corpus; `--recipe ma-hovy` is the paper's own optimiser (SGD, batch 10, 50 epochs)."""

    input_format: str = "auto"
    word_column: int = 0
    tag_column: int = -1
    tag_field: str = "upos"
    scheme: str = "auto"  # of the input; resolved on the training file
    min_freq: int = 1
    embeddings: str | None = None
    embeddings_format: str = "auto"
    keep_all_vectors: bool = False
    freeze_embeddings: bool = False
    embedding_size: int = 100
    char_encoder: str = "cnn"
    char_embedding_size: int = 30
    char_filters: int = 30
    cell: str = "lstm"
    layers: int = 1
    hidden_size: int = 200
    dropout: float = 0.5
    singleton_dropout: float = 0.0
    word_dropout: float = 0.1
    decoder: str = "crf"
    epochs: int = 30
    batch_size: int = 32
    optimizer: str = "adam"
    momentum: float = 0.9  # for --optimizer sgd
    schedule: str = "plateau"
    decay_rate: float = 0.05  # for --schedule inverse-time
    patience: int = 4

    LR: ClassVar[dict[str, float]] = {"sgd": 0.015, "adam": 0.004}  # sgd: Ma & Hovy's
    OVERRIDES: ClassVar[dict[str, Option]] = {
        "input_format": override("input_format", choices=TAG_FORMATS,
                                 help="CoNLL columns, CoNLL-U or tokenized text (auto: by the first line)."),
        "dropout": override("dropout", help="Dropout on the char embeddings, the word representation and the "
                                            "BiRNN output (Ma & Hovy 2016)."),
        "cell": override("cell", help="Word-level recurrent cell (bidirectional)."),
    }


@dataclass
class TrainClassifierConfig(TrainOptions):
    """`train-classifier`: a BiLSTM with max pooling, trained with Adam."""

    input_format: str = "auto"
    text_column: str | None = None
    label_column: str | None = None
    pair_column: str | None = None
    binary: bool = False
    tokenizer: str = "whitespace"
    lowercase: bool = False
    max_length: int = 400
    min_freq: int = 1
    embeddings: str | None = None
    embeddings_format: str = "auto"
    keep_all_vectors: bool = False
    freeze_embeddings: bool = False
    embedding_size: int = 100
    cell: str = "lstm"
    layers: int = 1
    hidden_size: int = 150
    bidirectional: bool = True
    pooling: str = "max"
    attention_size: int = 100
    dropout: float = 0.5
    word_dropout: float = 0.0
    ensemble: int = 1
    multi_label: str = "auto"  # resolved on the training file
    encoder: str = "rnn"
    tree_cell: str = "auto"  # resolved on the training trees
    phrases: bool = True
    pair: bool = False
    pair_hidden_size: int = 50
    regression: bool = False
    passes: int = 3
    fact_encoder: str = "pe-bigru"
    memory_update: str = "relu"
    supervise_facts: bool = False
    fact_weight: float = 1.0
    fact_dropout: float = 0.0
    max_facts: int = 0
    class_weights: str = "none"
    metric: str = "auto"  # resolved: accuracy (single-label) or micro-f1 (multi-label)
    epochs: int = 20
    optimizer: str = "adam"
    momentum: float = 0.9

    LR: ClassVar[dict[str, float]] = {"sgd": 0.1, "adam": 0.001}
    OVERRIDES: ClassVar[dict[str, Option]] = {
        "input_format": override("input_format", choices=CLASS_FORMATS,
                                 help="TSV, fastText, JSONL, `label text`, PTB-bracketed trees (one per line, "
                                 "labels on the nodes) or CoNLL-U (dependency trees; the label in a `# label = X` "
                                 "comment) (auto: judged on the first lines)."),
        "dropout": override("dropout", help="Dropout on the embeddings, between layers and on the pooled vector."),
    }
