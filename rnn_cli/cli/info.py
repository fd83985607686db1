"""`rnn-cli info`: what a model file holds."""

from __future__ import annotations

import json

import typer

from rnn_cli.cli._console import handle_errors


@handle_errors
def command(
    model: str = typer.Argument(..., help="A model file."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    config_only: bool = typer.Option(False, "--config", help="Print only the training options as YAML "
                                     "(reusable with --config)."),
) -> None:
    """Show a model's task, format version, config, vocabulary sizes and metrics."""
    from rnn_cli import checkpoint
    from rnn_cli.config import to_yaml

    payload = checkpoint.load(model)
    if config_only:
        typer.echo(to_yaml(payload["train_config"]), nl=False)
        return
    n_params = sum(t.numel() for t in payload["state_dict"].values())
    summary = {
        "file": model,
        "task": payload["task"],
        "format_version": payload["format_version"],
        "rnn_cli_version": payload.get("rnn_cli_version"),
        "created": payload.get("created"),
        "parameters": n_params,
        "vocab_sizes": {k: len(v) for k, v in payload["vocab"].items()},
        "config": payload["config"],
        "train_config": payload["train_config"],
        "metrics": payload["metrics"],
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    for key in ("file", "task", "format_version", "rnn_cli_version", "created"):
        typer.echo(f"{key}: {summary[key]}")
    typer.echo(f"parameters: {n_params:,}")
    for name, size in summary["vocab_sizes"].items():
        typer.echo(f"vocabulary {name}: {size:,}")
    typer.echo("model config:")
    typer.echo("  " + to_yaml(payload["config"]).rstrip().replace("\n", "\n  "))
    typer.echo("metrics:")
    for key, value in payload["metrics"].items():
        typer.echo(f"  {key}: {value:.6g}" if isinstance(value, float) else f"  {key}: {value}")
