"""`rnn-cli evaluate`: score a model on a file, or two tagged files against each other."""

from __future__ import annotations

from typing import Optional

import typer

from rnn_cli.cli._console import handle_errors
from rnn_cli.cli._options import Device, SourceScheme, Threads


@handle_errors
def command(
    model: Optional[str] = typer.Argument(None, help="A model file (omit with --gold/--pred)."),
    data: Optional[str] = typer.Argument(None, help="The file to score (.gz read transparently; - for stdin)."),
    gold: Optional[str] = typer.Option(None, "--gold", help="Gold CoNLL file, scored against --pred (no model)."),
    pred: Optional[str] = typer.Option(None, "--pred", help="Predicted CoNLL file (tags in the last column)."),
    scheme: SourceScheme = typer.Option("auto", help="Tag scheme of the CoNLL files (auto: detect from gold)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    batch_size: int = typer.Option(10, help="Parallel streams while scoring a language model."),
    bptt: int = typer.Option(35, help="Window length while scoring a language model."),
    encoding: str = typer.Option("utf-8", help="Text encoding of the files."),
    device: Device = typer.Option("auto", help="auto picks CUDA when present."),
    threads: Threads = 0,
) -> None:
    """Score a model on a file, or a tagged file against a gold one.

    Language models: perplexity (word level) or bits per character, with the token
    count. Tagged CoNLL files (--gold/--pred): entity precision, recall and F1 per
    type with micro and macro averages (seqeval, strict BIOES), and token accuracy.
    Classifiers: accuracy, macro-F1, per-label precision / recall / F1 and the
    confusion matrix (multi-label: micro / macro F1 and subset accuracy).
    """
    from rnn_cli.cli._render import print_json, print_tagging
    from rnn_cli.errors import ConfigError

    if gold is not None or pred is not None:
        if gold is None or pred is None or model is not None:
            raise ConfigError("--gold and --pred go together, without a model")
        if gold == pred == "-":
            raise ConfigError("--gold and --pred cannot both be stdin (-)")
        from rnn_cli.predict.conll_eval import score_files

        result = score_files(gold, pred, scheme.value, encoding=encoding)
        print_json(result) if as_json else print_tagging(result)
        return
    if model is None or data is None:
        raise ConfigError("give MODEL and FILE, or --gold and --pred")
    if batch_size < 1 or bptt < 1:
        raise ConfigError("--batch-size and --bptt must be >= 1")
    from rnn_cli import checkpoint
    from rnn_cli.predict.lm import evaluate_lm_file, load_lm
    from rnn_cli.seed import select_device, set_threads

    set_threads(threads)
    dev = select_device(device.value)
    payload = checkpoint.load(model)  # read once; its task (lm, tagger or classifier) picks the scorer
    if payload["task"] == "classifier":
        from rnn_cli.cli._render import print_classification
        from rnn_cli.predict.classifier import evaluate_classifier_file, load_classifier

        result = evaluate_classifier_file(load_classifier(model, dev, payload), data, dev, encoding=encoding)
        print_json(result) if as_json else print_classification(result)
        return
    if payload["task"] == "tagger":
        from rnn_cli.predict.tagger import evaluate_tagger_file, load_tagger

        result = evaluate_tagger_file(load_tagger(model, dev, payload), data, dev, encoding=encoding)
        print_json(result) if as_json else print_tagging(result)
        return
    lm = load_lm(model, dev, payload)
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
