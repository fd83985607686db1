"""`rnn-cli evaluate`: score a model on a file (perplexity / bits per character)."""

from __future__ import annotations

import json

import typer

from rnn_cli.cli._console import handle_errors
from rnn_cli.cli._options import Device


@handle_errors
def command(
    model: str = typer.Argument(..., help="A model file."),
    data: str = typer.Argument(..., help="The file to score (.gz read transparently; - for stdin)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    batch_size: int = typer.Option(10, help="Parallel streams while scoring."),
    bptt: int = typer.Option(35, help="Window length while scoring."),
    encoding: str = typer.Option("utf-8", help="Text encoding of the file."),
    device: Device = typer.Option("auto", help="auto picks CUDA when present."),
) -> None:
    """Score a model on a file: perplexity for word-level language models, bits per
    character for character-level ones, with the token count."""
    from rnn_cli.errors import ConfigError
    from rnn_cli.lm_task import evaluate_lm_file, load_lm
    from rnn_cli.seed import select_device

    if batch_size < 1 or bptt < 1:
        raise ConfigError("--batch-size and --bptt must be >= 1")
    dev = select_device(device.value)
    lm = load_lm(model, dev)
    result = evaluate_lm_file(lm, data, dev, batch_size, bptt, encoding)
    if as_json:
        typer.echo(json.dumps(result))
        return
    if lm.level == "char":
        typer.echo(f"bits per character\t{result['bpc']:.4f}")
    typer.echo(f"perplexity\t{result['ppl']:.2f}")
    typer.echo(f"loss (nats/token)\t{result['loss']:.4f}")
    typer.echo(f"tokens\t{result['tokens']}")
    typer.echo(f"out-of-vocabulary\t{result['oov_tokens']}")
