"""`rnn-cli info`: what a model file holds."""

from __future__ import annotations

import json
import math
from typing import Any

import typer

from rnn_cli.cli._console import handle_errors

# The vocabulary whose entries a user wants to see: a tagger's tags, a classifier's labels.
SHOWN = {"tagger": "tags", "classifier": "labels"}


@handle_errors
def command(
    model: str = typer.Argument(..., help="A model file.", metavar="MODEL"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    config_only: bool = typer.Option(False, "--config", help="Print only the training options as YAML "
                                     "(reusable with --config)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also print a CRF tagger's transition scores."),
) -> None:
    """Show a model's task, tag or label set, vocabulary sizes, options and metrics.

    MODEL may be an export (rnn-cli export): its JSON is shown the same way."""
    from rnn_cli.config import to_yaml
    from rnn_cli.predict import read_payload

    payload = read_payload(model)
    if config_only:
        typer.echo(to_yaml(payload["train_config"]), nl=False)
        return
    summary = _summary(model, payload, verbose)
    if as_json:
        if "transitions" in summary:  # JSON has no -inf: a forbidden transition is null
            summary["transitions"] = [[v if math.isfinite(v) else None for v in row] for row in summary["transitions"]]
        typer.echo(json.dumps(summary))
        return
    for key in ("file", "task", "exported", "format_version", "rnn_cli_version", "created"):
        if key in summary:
            typer.echo(f"{key}: {summary[key]}")
    if summary["parameters"] is not None:
        typer.echo(f"parameters: {summary['parameters']:,}")
    for name, size in summary["vocab_sizes"].items():
        typer.echo(f"vocabulary {name}: {size:,}")
    shown = SHOWN.get(payload["task"])
    if shown is not None:
        typer.echo(f"{shown}: {' '.join(summary[shown])}")
    typer.echo("model config:")
    typer.echo("  " + to_yaml(payload["config"]).rstrip().replace("\n", "\n  "))
    typer.echo("metrics:")
    for key, value in payload["metrics"].items():
        typer.echo(f"  {key}: {value:.6g}" if isinstance(value, float) else f"  {key}: {value}")
    if "transitions" in summary:
        tags, rows = summary["tags"], summary["transitions"]
        typer.echo("transitions (row: from, column: to; -inf: forbidden by the tag scheme):")
        typer.echo("\t" + "\t".join(tags))
        for tag, row in zip(tags, rows):
            typer.echo(tag + "\t" + "\t".join(f"{v:.3f}" for v in row))


def _summary(path: str, payload: dict[str, Any], verbose: bool) -> dict[str, Any]:
    exported = payload.get("exported")
    if exported is not None:  # an export: its JSON, the weights inside the network
        return _export_summary(path, exported, verbose)
    state = payload["state_dict"]
    summary: dict[str, Any] = {
        "file": path,
        "task": payload["task"],
        "format_version": payload["format_version"],
        "rnn_cli_version": payload.get("rnn_cli_version"),
        "created": payload.get("created"),
        "parameters": sum(t.numel() for t in state.values()),
        "vocab_sizes": _vocab_sizes(payload["vocab"]),
    }
    shown = SHOWN.get(payload["task"])
    if shown is not None:
        summary[shown] = payload["vocab"][shown]
    summary.update(config=payload["config"], train_config=payload["train_config"], metrics=payload["metrics"])
    crf = [k for k in state if k.endswith("crf.transitions")]
    if verbose and payload["task"] == "tagger" and payload["config"].get("decoder") == "crf" and crf:
        prefix = crf[0][: -len("transitions")]
        scores = state[crf[0]] + state[prefix + "transition_mask"]  # -inf where the scheme forbids a move
        summary["transitions"] = scores.tolist()
    return summary


def _export_summary(path: str, meta: dict[str, Any], verbose: bool) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "file": path, "task": meta["task"],
        "exported": meta["runtime"] + (f" {meta['quantize']}" if meta.get("quantize") else "") + f" (from "
                    f"{meta.get('source')})",
        "format_version": meta["format_version"], "rnn_cli_version": meta.get("rnn_cli_version"),
        "parameters": None, "vocab_sizes": _vocab_sizes(meta["vocab"]),
    }
    shown = SHOWN.get(meta["task"])
    if shown is not None:
        summary[shown] = meta["vocab"][shown]
    summary.update(config=meta["config"], train_config=meta["train_config"], metrics=meta.get("metrics", {}))
    decoding = meta["decoding"]
    if verbose and meta["task"] == "tagger" and decoding.get("decoder") == "crf":
        allowed = decoding.get("allowed")
        summary["transitions"] = [[v if allowed is None or allowed[i][j] else -math.inf for j, v in enumerate(row)]
                                  for i, row in enumerate(decoding["transitions"])]
    return summary


def _vocab_sizes(vocab: dict[str, list[str]]) -> dict[str, int]:
    """The vocabularies' sizes (a classifier's `train_format` entry names its training
    data's format, it is no vocabulary)."""
    return {k: len(v) for k, v in vocab.items() if k != "train_format"}
