"""Every option of the trainers, described once (torch-free, so `--help` stays fast).

`OPTIONS` holds each option's help text, choices and check; the config dataclasses
of the trainers (`configs.py`) say which options they have and their defaults, and
the command line, YAML files, validation and `info --config` all derive from those
two. `TrainOptions` holds the options every trainer shares, with the same name and
meaning everywhere; each trainer's config extends it and may change its defaults.

Choice lists name registries that live beside torch code (cells, pooling modes, ...);
tests check that the lists here equal those registries."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from rnn_cli.config import Option, validate

MODEL, TRAINING, DATA = "Model", "Training", "Data"

CELLS = ("lstm", "gru", "rnn-tanh", "rnn-relu", "sru", "sru-plain")
OPTIMIZERS = ("sgd", "adam", "nt-asgd")
SCHEDULES = ("constant", "inverse-time", "step", "plateau")
LEVELS = ("word", "char")
PRECISIONS = ("fp32", "bf16")
POOLINGS = ("last", "mean", "max", "attention")
TAG_FORMATS = ("auto", "conll", "conllu", "text")
CLASS_FORMATS = ("auto", "tsv", "fasttext", "jsonl", "label-text", "ptb-trees", "conllu", "babi")
ENCODERS = ("rnn", "tree-lstm", "dmn")
FACT_ENCODERS = ("pe-bigru", "gru")
MEMORY_UPDATES = ("relu", "gru")
TREE_CELLS = ("auto", "child-sum", "binary")
TOKENIZERS = ("whitespace", "simple")
VECTOR_FORMATS = ("auto", "glove", "word2vec", "word2vec-binary")
METRICS = ("auto", "accuracy", "macro-f1", "micro-f1", "pearson")


def _at_least(n: int) -> tuple[object, str]:
    return (lambda v: v >= n), f"must be >= {n}"


def _probability() -> tuple[object, str]:
    return (lambda v: 0.0 <= v < 1.0), "must be in [0, 1)"


def _opt(help: str, panel: str = TRAINING, check: tuple[object, str] | None = None, **kw: object) -> Option:
    fn, why = check if check is not None else (None, "")
    return Option(help=help, panel=panel, check=fn, why=why, **kw)  # type: ignore[arg-type]


PER_PROCESS = " Per process: under torchrun with N processes the global batch is N times this."

OPTIONS: dict[str, Option] = {
    # The loop, shared by every trainer (TrainOptions).
    "epochs": _opt("Epochs to train (at most: early stopping may end sooner).", check=_at_least(0)),
    "batch_size": _opt("Items per batch: sentences (tagger), items (classifier), parallel streams (language "
                       "model)." + PER_PROCESS, check=_at_least(1)),
    "optimizer": _opt("Optimiser.", choices=OPTIMIZERS),
    "lr": _opt("Learning rate.", check=((lambda v: v > 0), "must be > 0")),
    "momentum": _opt("SGD momentum.", check=_at_least(0)),
    "weight_decay": _opt("L2 weight decay.", check=_at_least(0)),
    "clip": _opt("Clip the gradient norm to this (0: off).", check=_at_least(0)),
    "schedule": _opt("Learning-rate schedule: constant; inverse-time: lr / (1 + decay-rate * epoch) (Ma & Hovy "
                     "2016); step: lr * lr-decay^(epoch - decay-start) after epoch decay-start (Zaremba et al. "
                     "2014); plateau: lr * lr-decay after each epoch (each lr-patience epochs) without improvement.",
                     choices=SCHEDULES),
    "lr_decay": _opt("step and plateau schedules: the factor the lr is multiplied by when it decays.",
                     check=((lambda v: 0.0 < v <= 1.0), "must be in (0, 1]")),
    "decay_rate": _opt("inverse-time schedule: lr / (1 + rate * epoch).", check=_at_least(0)),
    "decay_start": _opt("step schedule: epochs after this one decay the lr.", check=_at_least(0)),
    "min_lr": _opt("Never anneal below this lr.", check=_at_least(0)),
    "lr_patience": _opt("plateau schedule: decay the lr after this many epochs in a row without improvement "
                        "(counted again after each decay).", check=_at_least(1)),
    "patience": _opt("Stop after this many epochs without improvement on dev (0: never).", check=_at_least(0)),
    "seed": _opt("Random seed (CPU runs repeat bit for bit)."),
    "log_every": _opt("Report progress every N steps.", check=_at_least(1)),
    "checkpoint_every": _opt("Also save the full training state every N steps (0: at each epoch end only).",
                             check=_at_least(0)),
    "amp": _opt("Mixed precision: bf16 autocast where supported (CPU, Ampere+ GPUs), else fp16 with a gradient "
                "scaler.", flags=("--amp",)),
    "skip_nonfinite": _opt("Skip batches whose loss is NaN/inf (counted in the log) instead of stopping with "
                           "status 3.", flags=("--skip-nonfinite",)),
    "encoding": _opt("Text encoding of the input files.", DATA, metavar="ENCODING"),
    # Data.
    "min_freq": _opt("Training words seen fewer times become <unk>.", DATA, _at_least(1)),
    "max_vocab": _opt("Keep at most this many types (0: all).", DATA, _at_least(0)),
    "level": _opt("Tokens: whitespace words (<eos> at line ends) or characters.", DATA, choices=LEVELS),
    "input_format": _opt("Input format (auto: decided on the first line).", DATA),
    "word_column": _opt("CoNLL word column (0-based).", DATA),
    "tag_column": _opt("CoNLL tag column (negative counts from the end).", DATA),
    "tag_field": _opt("CoNLL-U tag field.", DATA, choices=("upos", "xpos")),
    "scheme": _opt("Input tag scheme (auto: detected on the training file).", DATA,
                   choices=("auto", "iob1", "bio", "bioes", "plain")),
    "text_column": _opt("TSV: the text column, by header name or 0-based index (then no header row); JSON "
                        "lines: the text's key (default: text).", DATA,
                        metavar="COLUMN"),
    "label_column": _opt("TSV: the label column, by header name or 0-based index (then no header row); JSON "
                         "lines: the label's key (default: label, or labels for a list).", DATA,
                         metavar="COLUMN"),
    "tokenizer": _opt("whitespace, or simple (words and punctuation apart).", DATA, choices=TOKENIZERS),
    "lowercase": _opt("Lowercase the text.", DATA, flags=("--lowercase",)),
    "max_length": _opt("Keep at most this many tokens per item (0: all).", DATA, _at_least(0)),
    # Model.
    "embeddings": _opt("Pretrained vectors (GloVe or word2vec, via gensim).", MODEL, metavar="FILE"),
    "embeddings_format": _opt("Format of --embeddings.", MODEL, choices=VECTOR_FORMATS),
    "keep_all_vectors": _opt("Keep every word of --embeddings in the model, not only the words of the training, "
                             "dev and test files, so that a word first met when tagging or classifying still has "
                             "its vector (looked up as it is, lowercased, then with digits as 0). The model file "
                             "grows by words x size x 4 bytes (for each member of an --ensemble); training does "
                             "not slow down: they join the model when it is saved.", MODEL,
                             flags=("--keep-all-vectors",)),
    "freeze_embeddings": _opt("Keep word vectors fixed.", MODEL, flags=("--freeze-embeddings",)),
    "embedding_size": _opt("Word embedding size (with --embeddings: the vectors' size).", MODEL, _at_least(1)),
    "cell": _opt("Recurrent cell (sru: Lei et al. 2018's Simple Recurrent Unit; sru-plain: without the vector "
                 "recurrence in its gates).", MODEL, choices=CELLS),
    "layers": _opt("Stacked RNN layers.", MODEL, _at_least(1)),
    "hidden_size": _opt("Hidden units per layer and direction.", MODEL, _at_least(1)),
    "dropout": _opt("Dropout on embeddings, between layers and on the encoder's output (never along time).",
                    MODEL, _probability()),
    "tie_weights": _opt("Share input embedding and softmax weights (Press & Wolf 2017).", MODEL,
                        flags=("--tie-weights",)),
    "init_range": _opt("Uniform init range for all weights (default 1/sqrt(hidden) for the RNN, 0.1 elsewhere).",
                       MODEL, ((lambda v: v > 0), "must be > 0")),
    "precision": _opt("Softmax layer in training: fp32, or bf16 mixed precision (about 1.5x faster on CPUs "
                      "with AVX512-BF16).", MODEL, choices=PRECISIONS),
    "eval_batch_size": _opt("Parallel streams for dev and test.", TRAINING, _at_least(1)),
    "bptt": _opt("Truncated-BPTT window length.", TRAINING, _at_least(1)),
    "variable_bptt": _opt("Vary window lengths (AWD-LSTM).", TRAINING, flags=("--variable-bptt",)),
    "char_encoder": _opt("cnn (Ma & Hovy), lstm (Lample et al.) or none.", MODEL, choices=("cnn", "lstm", "none")),
    "char_embedding_size": _opt("Character embedding size.", MODEL, _at_least(1)),
    "char_filters": _opt("CNN filters (or LSTM units per direction) of the char encoder.", MODEL, _at_least(1)),
    "singleton_dropout": _opt("Training: a word seen once becomes <unk> with this probability, so the vector of "
                              "unseen words is learned (Lample et al. 2016 use 0.5; helps most without pretrained "
                              "vectors).", MODEL, _probability()),
    "word_dropout": _opt("Training: each token becomes <unk> with this probability (a regulariser; the <unk> "
                         "vector, what unseen words get, is learned).", MODEL, _probability()),
    "decoder": _opt("crf or softmax.", MODEL, choices=("crf", "softmax")),
    "bidirectional": _opt("Read both ways.", MODEL, flags=("--bidirectional/--unidirectional",)),
    "pooling": _opt("How the encoder's states become one vector.", MODEL, choices=POOLINGS),
    "attention_size": _opt("Attention pooling: size of the scoring layer.", MODEL, _at_least(1)),
    "ensemble": _opt("Train this many classifiers side by side (own initialisation and dropout each) and average "
                     "their probabilities (and attention or DMN gates; regression: their scores): steadier and "
                     "usually more accurate on small data, N times the cost. Every --encoder, --pair too.",
                     MODEL, ((lambda v: 1 <= v <= 64), "must be from 1 to 64")),
    "multi_label": _opt("auto (several labels on any training item), yes or no.", MODEL,
                        choices=("auto", "yes", "no")),
    "class_weights": _opt("none, or auto (inverse class frequency).", TRAINING, choices=("none", "auto")),
    "metric": _opt("Dev metric for early stopping: auto (accuracy; micro-f1 for multi-label; pearson for "
                   "--regression).", TRAINING, choices=METRICS),
    "encoder": _opt("rnn: the (Bi)RNN with pooling; tree-lstm: a Tree-LSTM over each item's parse tree (Tai et al. "
                    "2015; needs trees: --input-format ptb-trees, conllu, or JSONL with \"heads\"); dmn: a Dynamic "
                    "Memory Network answering each question over its story (Kumar et al. 2016; --input-format "
                    "babi).", MODEL, choices=ENCODERS),
    "passes": _opt("dmn: episodic memory passes over the facts.", MODEL, _at_least(1)),
    "fact_encoder": _opt("dmn: pe-bigru (DMN+: positional encoding of each sentence's words, then a bidirectional "
                         "GRU over the facts; Xiong et al. 2016) or gru (DMN: one GRU over the story's words, a fact "
                         "at each sentence end).", MODEL, choices=FACT_ENCODERS),
    "memory_update": _opt("dmn: relu (DMN+: a ReLU layer of its own per pass) or gru (DMN: one GRU).", MODEL,
                          choices=MEMORY_UPDATES),
    "supervise_facts": _opt("dmn: also train the attention gates on the supporting facts (pass t on fact t; the "
                            "strongly supervised setting of Kumar et al.'s table).", TRAINING,
                            flags=("--supervise-facts",)),
    "fact_weight": _opt("dmn with --supervise-facts: the weight of the gates' cross-entropy against the "
                        "supporting facts in the loss, beside the answer's (weight 1).", TRAINING,
                        ((lambda v: v >= 0), "must be >= 0")),
    "fact_dropout": _opt("dmn with --supervise-facts, training: leave each fact that is not a supporting fact out "
                         "of its story with this probability (a new draw each batch): the stories vary, so the "
                         "network cannot learn them by heart.", TRAINING,
                         ((lambda v: 0 <= v < 1), "must be in [0, 1)")),
    "max_facts": _opt("dmn: keep the last N facts of a story (0: all).", DATA, _at_least(0)),
    "tree_cell": _opt("Tree-LSTM: binary (the N-ary Tree-LSTM for binarised constituency trees, a forget gate per "
                      "child) or child-sum (any number of children: dependency trees); auto: binary when no "
                      "training tree has a node with more than two children.", MODEL, choices=TREE_CELLS),
    "phrases": _opt("ptb-trees: train on every labelled phrase (node) of the training trees, not only on the "
                    "sentences (roots); dev and test are always scored on the roots.", TRAINING,
                    flags=("--phrases/--roots-only",)),
    "binary": _opt("ptb-trees with labels 0-4 (SST): binary sentiment as the published SST-2 split: labels 0-1 "
                   "become 0, 3-4 become 1, neutral (2) phrases are unlabelled and trees with a neutral root are "
                   "dropped.", DATA, flags=("--binary",)),
    "pair": _opt("Items are sentence pairs (TSV: --text-column and --pair-column; JSONL: \"text\" and "
                 "\"text_pair\"), encoded by one shared encoder and compared as Tai et al. 2015 do (product and "
                 "absolute difference, then a hidden layer).", MODEL, flags=("--pair",)),
    "pair_column": _opt("--pair: the TSV column of the second text, by header name or 0-based index; JSON "
                        "lines: its key (default: text_pair).", DATA,
                        metavar="COLUMN"),
    "pair_hidden_size": _opt("--pair: units of the hidden layer over the pair's features.", MODEL, _at_least(1)),
    "regression": _opt("Labels are real scores (e.g. relatedness 1-5): predicted as the expectation of a "
                       "distribution over the integer scores, trained with KL divergence to the sparse target "
                       "distribution (Tai et al. 2015); classify prints the score, evaluate Pearson, Spearman "
                       "and MSE.", MODEL, flags=("--regression",)),
    # AWD-LSTM regularisers (language model).
    "locked_dropout": _opt("Variational dropout (Gal & Ghahramani 2016; AWD-LSTM, Merity et al. 2018): one mask per "
                           "sequence, the same at every time step, on the embeddings, between layers and on the "
                           "output.", MODEL, flags=("--locked-dropout",)),
    "input_dropout": _opt("Dropout on the embeddings (AWD's dropouti; default: --dropout).", MODEL, _probability()),
    "hidden_dropout": _opt("Dropout between RNN layers (AWD's dropouth; default: --dropout).", MODEL,
                           _probability()),
    "embedding_dropout": _opt("Training: drop whole words from the embedding matrix, the same words at every "
                              "position of a batch (AWD's dropoute, e.g. 0.1).", MODEL, _probability()),
    "weight_drop": _opt("DropConnect on the hidden-to-hidden weights (AWD's wdrop, e.g. 0.5): a new mask per batch "
                        "in training; lstm, gru and rnn-* cells.", MODEL, _probability()),
    "ar": _opt("Activation regularisation: add ar * mean(h^2) of the dropped last-layer outputs to the training "
               "loss (AWD's alpha, e.g. 2; the reported loss leaves it out).", TRAINING, _at_least(0)),
    "tar": _opt("Temporal activation regularisation: add tar * mean((h_t - h_t-1)^2) of the last layer's outputs "
                "to the training loss (AWD's beta, e.g. 1; the reported loss leaves it out).", TRAINING,
                _at_least(0)),
    "nonmono": _opt("--optimizer nt-asgd (non-monotonically triggered averaged SGD, Merity et al. 2018: SGD without "
                    "momentum that starts averaging the weights once the dev metric is worse than the best of all "
                    "but the last N evaluations; dev, the saved model and test use the averaged weights): N.",
                    check=_at_least(1)),
}


def options_of(cls: type) -> dict[str, Option]:
    """The catalogue as config class `cls` sees it: `OPTIONS` with the class's `OVERRIDES`
    (another help text or choice list for the same meaning)."""
    catalogue = {**OPTIONS, **getattr(cls, "OVERRIDES", {})}
    if lrs := getattr(cls, "LR", None):  # the lr's default follows the optimiser
        said = ", ".join(f"{value:g} with {'sgd and nt-asgd' if name == 'sgd' else name}"
                         for name, value in lrs.items())
        catalogue["lr"] = replace(catalogue["lr"], help=f"Learning rate (default: {said}).")
    return catalogue


def override(name: str, **changes: Any) -> Option:
    return replace(OPTIONS[name], **changes)


@dataclass
class TrainOptions:
    """The options every trainer has; a trainer's config extends this class and may
    give other defaults (redeclaring a field changes its default, not its meaning)."""

    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "sgd"
    lr: float | None = None  # resolved: LR[optimizer] (nt-asgd: sgd's)
    momentum: float = 0.0
    weight_decay: float = 0.0
    clip: float = 5.0
    schedule: str = "constant"
    lr_decay: float = 0.5
    decay_rate: float = 0.0
    decay_start: int = 1
    min_lr: float = 0.0
    lr_patience: int = 1
    patience: int = 5
    seed: int = 1234
    log_every: int = 20
    checkpoint_every: int = 0
    amp: bool = False
    skip_nonfinite: bool = False
    encoding: str = "utf-8"
    nonmono: int = 5

    OVERRIDES: ClassVar[dict[str, Option]] = {}
    # The lr's default for each optimiser: a trainer's defaults for one optimiser are no
    # use for the other (Adam at SGD's lr diverges, SGD at Adam's barely moves).
    LR: ClassVar[dict[str, float]] = {"sgd": 0.1, "adam": 0.001}

    def __post_init__(self) -> None:
        if self.lr is None:
            self.lr = self.LR.get("sgd" if self.optimizer == "nt-asgd" else self.optimizer)
        validate(self, options_of(type(self)))
