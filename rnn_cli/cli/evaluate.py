"""`rnn-cli evaluate`: score a model on a file, or two tagged files against each other."""

from __future__ import annotations

from typing import Optional

import typer

from rnn_cli.cli._console import handle_errors
from rnn_cli.cli._options import Device, Quantize, QuantizeOpt, Threads, given_options


@handle_errors
def command(
    ctx: typer.Context,
    model: Optional[str] = typer.Argument(None, help="A model file (omit with --gold/--pred)."),
    files: Optional[list[str]] = typer.Argument(None, help="The file to score (.gz read transparently; - for "
                                                "stdin); a classifier scores several files (or a quoted glob "
                                                "pattern) one by one, with their mean.", metavar="FILE..."),
    gold: Optional[str] = typer.Option(None, "--gold", metavar="FILE",
                                       help="Gold CoNLL or CoNLL-U file, scored against --pred "
                                       "(no model)."),
    pred: Optional[str] = typer.Option(None, "--pred", metavar="FILE", help="Predicted CoNLL or CoNLL-U file."),
    conlleval: bool = typer.Option(False, "--conlleval", help="Score one file in conlleval's layout (FILE in MODEL's "
                                   "place; stdin without it): whitespace-separated columns, the last two gold and "
                                   "predicted tags, blank or -X- lines between sentences."),
    gold_column: Optional[str] = typer.Option(None, "--gold-column", metavar="COLUMN|FIELD",
                                              help="The gold tags' column (negative counts "
                                              "from the end; default -1, -2 with --conlleval) or CoNLL-U field "
                                              "(upos, xpos, misc: Tag=...; default upos). With MODEL: instead of "
                                              "the model's training column."),
    pred_column: Optional[str] = typer.Option(None, "--pred-column", metavar="COLUMN|FIELD",
                                              help="The predicted tags' column or CoNLL-U "
                                              "field (default: as --gold-column; -1 with --conlleval)."),
    scheme: str = typer.Option("auto", metavar="auto|iob1|bio|bioes|plain",
                               help="Tag scheme of tagged files and of a tagger's gold file: auto (detected on the "
                               "gold tags; with MODEL, the model's when the tags are valid in it), iob1, bio, bioes "
                               "or plain (tags that are labels of their own, such as POS). A gold file in another "
                               "scheme than the model's is scored by its entities."),
    input_format: str = typer.Option("auto", "--input-format", metavar="FORMAT",
                                     help="auto, conll, conllu, text; for classifiers: "
                                     "auto, tsv, fasttext, jsonl, label-text, text, ptb-trees, conllu"),
    text_column: Optional[str] = typer.Option(None, "--text-column", metavar="COLUMN", help="Classifiers, TSV: the "
                                              "text column, by header name or 0-based index; JSON lines: its key "
                                              "(default: as in training)."),
    label_column: Optional[str] = typer.Option(None, "--label-column", metavar="COLUMN", help="Classifiers, TSV: "
                                               "the gold label column, by header name or 0-based index; JSON lines: "
                                               "its key."),
    output_format: str = typer.Option("text", "--format", metavar="text|json|conlleval",
                                      help="text (a table on a terminal, tab-separated lines "
                                      "in a pipe), json, or conlleval (taggers: the conlleval script's report)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (as --format json)."),
    per_line: bool = typer.Option(False, "--per-line", help="Language models: score each line on its own and "
                                  "write one line per input line, streaming (TSV with a header, or JSON lines with "
                                  "--format json): line, logprob (ln) and log10prob of the line with its end of line, "
                                  "tokens, oov, ppl and ppl_no_oov, as KenLM's query (--bptt does not apply)."),
    batch_size: int = typer.Option(10, help="Parallel streams while scoring a language model (lines per batch "
                                   "with --per-line)."),
    bptt: int = typer.Option(35, help="Window length while scoring a language model."),
    encoding: str = typer.Option("utf-8", metavar="ENCODING", help="Text encoding of the files."),
    device: Device = typer.Option("auto", help="auto picks CUDA when present."),
    threads: Threads = 0,
    quantize: QuantizeOpt = Quantize.none,
) -> None:
    """Score a model on a file, or a tagged file against a gold one.

    Language models: perplexity (word level) or bits per character, with the token
    count. Taggers and tagged files (--gold/--pred, --conlleval): entity precision,
    recall and F1 per type with micro and macro averages (seqeval, strict BIOES) and
    token accuracy; for plain tag sets (POS), precision, recall and F1 per tag and the
    most frequent confusions; --format conlleval prints the conlleval script's report.
    Classifiers: accuracy, macro-F1, per-label precision / recall / F1 and the
    confusion matrix (multi-label: micro / macro F1 and subset accuracy).
    """
    from rnn_cli.cli._render import print_json
    from rnn_cli.errors import ConfigError

    if per_line and (conlleval or gold is not None or pred is not None):
        raise ConfigError("--per-line scores a language model's FILE, not tagged files (--gold/--pred, --conlleval)")
    from rnn_cli.cli._tag_eval import check_scheme, report, resolve_format, score_tagged_files

    output_format = resolve_format(output_format, as_json)
    as_json = output_format == "json"
    data = files[0] if files else None
    if files is not None and len(files) > 1 and (conlleval or gold is not None or pred is not None):
        raise ConfigError("score one tagged file at a time")
    if conlleval or gold is not None or pred is not None:
        score_tagged_files(model, data, gold, pred, conlleval, scheme, gold_column, pred_column, output_format,
                           input_format, encoding)
        return
    if model is None or data is None:
        raise ConfigError("give MODEL and FILE, or --gold and --pred")
    if batch_size < 1 or bptt < 1:
        raise ConfigError("--batch-size and --bptt must be >= 1")
    from rnn_cli.predict import read_payload
    from rnn_cli.predict.lm import evaluate_lm_file, load_lm
    from rnn_cli.seed import select_device, set_threads

    set_threads(threads)
    dev = select_device(device.value)
    quant = None if quantize == Quantize.none else quantize.value
    payload = read_payload(model)  # read once; its task (lm, tagger or classifier) picks the scorer
    if per_line and payload["task"] != "lm":
        raise ConfigError(f"--per-line needs a language model; {model} is a {payload['task']} model")
    if output_format == "conlleval" and payload["task"] != "tagger":
        raise ConfigError(f"--format conlleval is for taggers; {model} is a {payload['task']} model")
    if given_options(ctx, ["scheme"]) and payload["task"] != "tagger":
        raise ConfigError(f"--scheme reads tagged files; {model} is a {payload['task']} model")
    if payload["task"] == "classifier":
        from rnn_cli.cli._console import warn
        from rnn_cli.cli._render import print_classification, print_file_scores
        from rnn_cli.data.classification import expand_paths
        from rnn_cli.predict.classifier import evaluate_classifier_file, load_classifier

        loaded = load_classifier(model, dev, payload, quant)
        paths = expand_paths(files or [])
        results = [evaluate_classifier_file(loaded, path, dev, encoding=encoding, input_format=input_format,
                                            text_column=text_column, label_column=label_column, on_note=warn)
                   for path in paths]
        if len(results) > 1:
            print_file_scores(results, as_json)
            return
        print_json(results[0]) if as_json else print_classification(results[0])
        return
    if files is not None and len(files) > 1:
        raise ConfigError(f"several files are scored one by one for classifiers; {model} is a {payload['task']} "
                          "model: score one file at a time")
    if payload["task"] == "tagger":
        from rnn_cli.cli._console import warn
        from rnn_cli.cli._tag_eval import column
        from rnn_cli.predict.tagger import evaluate_tagger_file, load_tagger

        check_scheme(scheme)
        result = evaluate_tagger_file(load_tagger(model, dev, payload, quant), data, dev, encoding=encoding,
                                      input_format=input_format, column=column("--gold-column", gold_column),
                                      scheme=scheme, on_note=warn)
        report(result, output_format)
        return
    lm = load_lm(model, dev, payload, quant)
    if per_line:
        import sys

        from rnn_cli.cli._console import warn
        from rnn_cli.cli._lm_format import write_line_scores

        if given_options(ctx, ["bptt"]):
            warn("--bptt has no effect with --per-line: each line is scored whole, from a fresh state")
        from rnn_cli.predict.lm import score_file_lines

        write_line_scores(score_file_lines(lm, data, dev, batch_size, encoding), as_json, sys.stdout)
        return
    result = evaluate_lm_file(lm, data, dev, batch_size, bptt, encoding)
    if as_json:
        print_json(result)
        return
    if lm.level == "char":
        typer.echo(f"bits per character\t{result['bpc']:.4f}")
    typer.echo(f"perplexity\t{result['ppl']:.2f}")
    typer.echo(f"loss (nats/token)\t{result['loss']:.4f}")
    typer.echo(f"tokens\t{result['tokens']}")
    typer.echo(f"out-of-vocabulary\t{result['oov_tokens']}")
