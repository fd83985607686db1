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
    from rnn_cli.data.vocab import folds
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
    if folds(payload["vocab"]):  # checked when the file was read
        typer.echo("word lookup: as written, else lowercased, else with digits as 0 (--keep-all-vectors)")
    shown = SHOWN.get(payload["task"])
    if shown is not None:
        typer.echo(f"{shown}: {' '.join(summary[shown])}")
    config = payload["config"]
    if payload["task"] == "classifier":  # only what this kind of classifier reads
        from rnn_cli.models.classifier import unused_fields

        config = {k: v for k, v in config.items() if k not in unused_fields(config)}
    typer.echo("model config:")
    typer.echo("  " + to_yaml(config).rstrip().replace("\n", "\n  "))
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
    """What `info` shows. An export's payload (`read_payload`) has no weights: its JSON
    says where it came from and holds the CRF scores."""
    exported = payload.get("exported")
    summary: dict[str, Any] = {"file": path, "task": payload["task"]}
    if exported is not None:
        quantize = f" {exported['quantize']}" if exported.get("quantize") else ""
        summary.update(exported=f"{exported['runtime']}{quantize} (from {exported.get('source')})",
                       format_version=exported["format_version"], rnn_cli_version=exported.get("rnn_cli_version"),
                       parameters=None)
    else:
        state = payload["state_dict"]
        summary.update(format_version=payload["format_version"], rnn_cli_version=payload.get("rnn_cli_version"),
                       created=payload.get("created"), parameters=sum(t.numel() for t in state.values()))
    summary["vocab_sizes"] = _vocab_sizes(payload["vocab"])
    shown = SHOWN.get(payload["task"])
    if shown is not None:
        summary[shown] = payload["vocab"][shown]
    summary.update(config=payload["config"], train_config=payload["train_config"], metrics=payload["metrics"])
    if verbose and payload["task"] == "tagger" and payload["config"].get("decoder") == "crf":
        transitions = _export_transitions(exported) if exported is not None else _transitions(payload["state_dict"])
        if transitions is not None:
            summary["transitions"] = transitions
    return summary


def _transitions(state: dict[str, Any]) -> list[list[float]] | None:
    """A CRF's transition scores, -inf where the scheme forbids a move."""
    crf = [k for k in state if k.endswith("crf.transitions")]
    if not crf:
        return None
    prefix = crf[0][: -len("transitions")]
    return (state[crf[0]] + state[prefix + "transition_mask"]).tolist()


def _export_transitions(meta: dict[str, Any]) -> list[list[float]]:
    """The same from an export's JSON (learned scores and the allowed matrix)."""
    decoding = meta["decoding"]
    allowed = decoding.get("allowed")
    return [[v if allowed is None or allowed[i][j] else -math.inf for j, v in enumerate(row)]
            for i, row in enumerate(decoding["transitions"])]


def _vocab_sizes(vocab: dict[str, list[str]]) -> dict[str, int]:
    """The vocabularies' sizes (a classifier's `train_format` entry names its training
    data's format, and `fold` says how words are looked up: they are no vocabularies)."""
    from rnn_cli.data.vocab import FOLD_KEY

    return {k: len(v) for k, v in vocab.items() if k not in ("train_format", FOLD_KEY)}
