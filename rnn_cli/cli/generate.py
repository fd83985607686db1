"""`rnn-cli generate`: sample text from a language model, streamed to stdout."""

from __future__ import annotations

import json
import math
import sys
from typing import Optional

import typer

from rnn_cli.cli._console import handle_errors
from rnn_cli.cli._options import Device, OutputFormat, Threads


@handle_errors
def command(
    model: str = typer.Argument(..., help="A language model from train-lm."),
    prompt: Optional[str] = typer.Option(None, "--prompt", "-p",
                                         help="Text to continue (default: stdin when it is not a terminal)."),
    max_tokens: int = typer.Option(100, "--max-tokens", "-n", help="Tokens (words or characters) to generate."),
    temperature: float = typer.Option(1.0, help="Softmax temperature (< 1: safer, > 1: wilder)."),
    top_k: int = typer.Option(0, "--top-k", help="Sample from the K most likely tokens only (0: all)."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling: the smallest set with mass P."),
    greedy: bool = typer.Option(False, "--greedy", help="Always take the most likely token."),
    beam: int = typer.Option(0, "--beam", help="Beam search of this width: the most likely continuation "
                             "(width 1 is greedy; 0: off)."),
    num_samples: int = typer.Option(1, "--num-samples", help="Samples to draw (separated by a blank line)."),
    seed: int = typer.Option(1234, help="Random seed: same seed, same text."),
    output_format: OutputFormat = typer.Option("text", "--format", help="text, or jsonl: one object per sample."),
    encoding: str = typer.Option("utf-8", help="Encoding of a prompt read from stdin."),
    device: Device = typer.Option("auto", help="auto picks CUDA when present."),
    threads: Threads = 0,
) -> None:
    """Generate text from a language model; prints only the continuation."""
    import torch

    from rnn_cli.cli._console import warn
    from rnn_cli.decoding import SamplingConfig
    from rnn_cli.errors import ConfigError
    from rnn_cli.predict.lm import encode_prompt, generate, load_lm, stream_text
    from rnn_cli.seed import select_device, set_threads

    if not (math.isfinite(temperature) and math.isfinite(top_p)):
        raise ConfigError("--temperature and --top-p must be finite numbers")
    try:
        config = SamplingConfig(max_tokens, temperature, top_k, top_p, greedy)
    except ValueError as exc:
        raise ConfigError(str(exc).replace("_", "-")) from None
    if beam < 0 or num_samples < 1:
        raise ConfigError("--beam must be >= 0 and --num-samples >= 1")
    set_threads(threads)
    dev = select_device(device.value)
    lm = load_lm(model, dev)
    if prompt is None and sys.stdin is not None and not sys.stdin.isatty():
        from rnn_cli.data.text import read_text

        prompt = read_text("-", encoding).removesuffix("\n")
    ids, unknown = encode_prompt(lm, prompt or "")
    if unknown:
        shown = ", ".join(repr(t) for t in list(dict.fromkeys(unknown))[:5])
        warn(f"{len(unknown)} prompt token(s) not in the vocabulary, read as <unk>: {shown}")
    generator = torch.Generator().manual_seed(seed)
    out = sys.stdout
    after_newline = not prompt or prompt.endswith("\n")
    for i in range(num_samples):
        pieces = stream_text(lm, generate(lm, ids, config, beam, generator, dev), after_newline)
        if output_format == OutputFormat.jsonl:
            out.write(json.dumps({"sample": i + 1, "prompt": prompt or "", "text": "".join(pieces)}) + "\n")
            out.flush()
            continue
        if i > 0:
            out.write("\n")
        text_ended_line = True
        for piece in pieces:
            out.write(piece)
            out.flush()
            text_ended_line = piece.endswith("\n")
        if not text_ended_line:
            out.write("\n")
        out.flush()
