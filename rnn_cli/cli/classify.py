"""`rnn-cli classify`: label texts with a trained classifier, streaming."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from rnn_cli.cli._console import handle_errors, warn
from rnn_cli.cli._options import DeviceOpt, Quantize, QuantizeOpt, Threads


@handle_errors
def command(
    model: str = typer.Argument(..., help="A classifier from train-classifier."),
    data: str = typer.Argument("-", help="Texts, one per line: plain, TSV, fastText, JSONL or `label text` "
                               "(- for stdin)."),
    input_format: str = typer.Option("auto", "--input-format",
                                     metavar="auto|text|tsv|fasttext|jsonl|label-text|ptb-trees|conllu",
                                     help="auto, text, tsv, fasttext, jsonl, label-text, ptb-trees or conllu (trees "
                                     "for a Tree-LSTM). auto judges the first lines: bracketed trees, CoNLL-U "
                                     "rows, else plain text unless they hold JSON, __label__ or "
                                     "tabs, or start with the model's labels as its `label text` training data did; "
                                     "tab-separated input is label<TAB>text only if the model was trained on that "
                                     "and the first column holds its labels, else columns (see --text-column)."),
    text_column: Optional[str] = typer.Option(None, "--text-column", metavar="COLUMN", help="Tab-separated input: "
                                              "the column to classify, by header name or 0-based index; every "
                                              "column is written after the prediction (ids survive)."),
    pair_column: Optional[str] = typer.Option(None, "--pair-column", metavar="COLUMN", help="Pair models, "
                                              "tab-separated input: the second text's column, by header name or "
                                              "0-based index (the first is --text-column, default 0). Without "
                                              "it: the columns the model was trained with, or text<TAB>second "
                                              "text for two columns."),
    output_format: str = typer.Option("tsv", "--format", metavar="tsv|jsonl", help="tsv or jsonl."),
    probs: bool = typer.Option(False, "--probs", help="TSV: add the probability after each label."),
    top_k: int = typer.Option(0, "--top-k", metavar="K", help="Write the K most probable labels (0: the "
                              "chosen label(s))."),
    explain: bool = typer.Option(False, "--explain", help="JSONL: add each token's attention weight "
                                 "(models trained with --pooling attention), or a DMN's attention over the "
                                 "story's facts in each pass."),
    all_nodes: bool = typer.Option(False, "--all-nodes", help="Tree-LSTM models: label every node (phrase) of "
                                   "each tree, not only the root: TSV writes the tree in brackets with the "
                                   "predicted labels, JSONL a \"nodes\" list."),
    batch_size: int = typer.Option(64, help="Items per batch."),
    encoding: str = typer.Option("utf-8", metavar="ENCODING", help="Text encoding of the input."),
    device: DeviceOpt = "auto",  # type: ignore[assignment]
    threads: Threads = 0,
    quantize: QuantizeOpt = Quantize.none,
) -> None:
    """Classify each line; output keeps the input's order. Labels are spelled as in the
    training data (__label__x for fastText).

    tsv: label<TAB>text (label<TAB>prob<TAB>text with --probs; several labels of a
    multi-label model joined by commas; --top-k K: K label[<TAB>prob] fields); for
    tab-separated input read as columns, the row's columns instead of the text, under
    a header row when the input has one. A regression model writes its score as the
    label; a pair model writes both texts; trees are written as their words (with
    --all-nodes: as trees with the predicted label on every node).
    jsonl: {"text", "text_pair", "label" or "labels" or "score", "probs": {label: p}, "top_k", "columns"
    (TSV columns, or a JSON line's other keys such as an id), "attention", "nodes"}.
    """
    from rnn_cli.cli._cls_format import FORMATS, write_header, write_prediction
    from rnn_cli.data.babi import QUESTION as BABI_QUESTION
    from rnn_cli.data.cls_detect import FORMATS as INPUTS
    from rnn_cli.data.text import STDIN, display_name
    from rnn_cli.errors import ConfigError, DataFormatError
    from rnn_cli.predict.classifier import detect_input, load_classifier, predict, read_input
    from rnn_cli.seed import select_device, set_threads

    if output_format not in FORMATS:
        raise ConfigError(f"--format: unknown output format '{output_format}' (tsv or jsonl)")
    if input_format not in INPUTS:
        raise ConfigError(f"--input-format: unknown format '{input_format}' ({', '.join(INPUTS)})")
    if batch_size < 1:
        raise ConfigError("--batch-size must be >= 1")
    if top_k < 0:
        raise ConfigError("--top-k must be >= 0 (0: off)")
    if all_nodes and explain:
        raise ConfigError("--all-nodes and --explain: choose one")
    if explain and output_format != "jsonl":
        raise ConfigError("--explain writes attention weights in JSONL; add --format jsonl")
    set_threads(threads)
    dev = select_device(device.value)
    loaded = load_classifier(model, dev, quantize=None if quantize == Quantize.none else quantize.value)
    if explain and not getattr(loaded.model, "explains", True):
        raise ConfigError("--explain needs the model file from train-classifier: an exported or int8 network "
                          "gives no attention weights")
    mcfg = loaded.model.config
    if explain and (mcfg.encoder == "tree-lstm" or mcfg.pair):
        raise ConfigError(f"--explain shows attention over tokens (or a DMN's over facts): {model} is a "
                          f"{'pair model' if mcfg.pair else 'Tree-LSTM'}")
    if explain and mcfg.encoder == "rnn" and mcfg.pooling != "attention":
        raise ConfigError(f"--explain: {model} pools with '{mcfg.pooling}', not attention")
    if all_nodes and (mcfg.encoder != "tree-lstm" or mcfg.pair):
        raise ConfigError(f"--all-nodes labels the nodes of trees: {model} is not a Tree-LSTM classifier of "
                          "single trees")
    if mcfg.regression and (top_k or probs):
        raise ConfigError(f"{model} predicts a score (regression): --top-k and --probs do not apply")
    cfg = loaded.config
    detection = detect_input(loaded, data, input_format, encoding, text_column=text_column, pair_column=pair_column)
    if detection.ambiguous:
        warn(detection.note(display_name(data)))
    examples = read_input(loaded, data, detection, encoding)
    count = 0
    for p in predict(loaded, examples, batch_size, dev, explain=explain, nodes=all_nodes,
                     source=display_name(data)):
        if count == 0:
            write_header(p, output_format, sys.stdout, probs, top_k)
        write_prediction(p, output_format, sys.stdout, probs, top_k, loaded.model.config.multi_label)
        sys.stdout.flush()
        count += 1
    if loaded.truncated:
        warn(f"{display_name(data)}: {loaded.truncated} text(s) longer than the model's max length "
             f"({cfg['max_length']} tokens) were cut to it")
    if count == 0 and detection.format == "babi":
        what = f"no questions: a question is a line {BABI_QUESTION}"
        if data == STDIN:
            warn(f"{display_name(data)}: {what}")
        else:
            raise DataFormatError(display_name(data), None, what)
    if count == 0 and data != STDIN:
        raise DataFormatError(display_name(data), None, "file is empty (no texts)")
