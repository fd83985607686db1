"""`rnn-cli export`: write a trained model's network as TorchScript or ONNX (optionally
int8), with a JSON beside it, to run without rnn-cli."""

from __future__ import annotations

import typer

from rnn_cli.cli._console import handle_errors
from rnn_cli.cli._options import ExportFormat, Quantize


@handle_errors
def command(
    model: str = typer.Argument(..., help="A model file from train-lm, train-tagger or train-classifier."),
    output: str = typer.Option(..., "--output", "-o", help="The exported network (OUT.json is written beside it).",
                               metavar="OUT"),
    to: ExportFormat = typer.Option("torchscript", "--to", help="torchscript (runs in torch without rnn-cli; "
                                    "tag, classify, generate and evaluate read it too) or onnx (onnxruntime; needs "
                                    "the \\[export] extra)."),
    quantize: Quantize = typer.Option("none", "--quantize", help="int8: store the RNN, linear and embedding "
                                      "weights as int8 (TorchScript only; CPU)."),
) -> None:
    """Export a model's network up to its scores, and a JSON of what it needs beside it.

    The network: a tagger's emissions (words, chars, lengths -> emissions), a
    classifier's logits (words, lengths -> scores), a language model's next-token
    logits and state (ids, h0, c0 -> logits, h, c); batch and length axes are dynamic.
    OUT.json holds the vocabularies, the configs, and the decoding rules (a tagger's
    CRF transition scores and constraints, a classifier's activation and threshold).
    A summary line goes to stdout: task, format, files and sizes.
    """
    from rnn_cli.predict.export import export_model

    result = export_model(model, output, to.value, None if quantize == Quantize.none else quantize.value)
    typer.echo(f"{result['task']}\t{result['runtime']}{'+' + result['quantize'] if result['quantize'] else ''}\t"
               f"{result['file']}\t{result['bytes']} bytes\t{result['json']}\t"
               f"(model file {result['source_bytes']} bytes)")
