"""`rnn-cli generate`: sample text from a language model, streamed to stdout."""

from __future__ import annotations

import json
import math
import sys
from typing import Optional

import typer

from rnn_cli.cli._console import handle_errors
from rnn_cli.cli._options import Device, OutputFormat, Quantize, QuantizeOpt, Threads, given_options


@handle_errors
def command(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="A language model from train-lm."),
    prompt: Optional[str] = typer.Option(None, "--prompt", "-p", metavar="TEXT",
                                         help="Text to continue (default: stdin when it "
                                         "is not a terminal, its last line end dropped, so that `echo TEXT |` "
                                         "continues TEXT's line)."),
    echo: bool = typer.Option(False, "--echo", help="Write the prompt before the continuation (text format; jsonl "
                              "has it as the \"prompt\" field)."),
    max_tokens: int = typer.Option(100, "--max-tokens", "-n", help="Tokens (words or characters) to generate."),
    temperature: float = typer.Option(1.0, help="Softmax temperature (< 1: safer, > 1: wilder; 0: greedy, the same "
                                      "as --greedy)."),
    top_k: int = typer.Option(0, "--top-k", help="Sample from the K most likely tokens only (0: all)."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling: the smallest set with mass P."),
    greedy: bool = typer.Option(False, "--greedy", help="Always take the most likely token (as --temperature 0). "
                                "--temperature, --top-k, --top-p, --seed: no effect (warning); --beam: error."),
    beam: int = typer.Option(0, "--beam", help="Beam search of this width: the most likely continuation "
                             "(width 1 is greedy; 0: off). --temperature, --top-k, --top-p, --seed: no effect "
                             "(warning)."),
    num_samples: int = typer.Option(1, "--num-samples", help="Samples to draw (separated by a blank line). Above 1 "
                                    "with --greedy, --beam, --temperature 0 or --top-k 1: error (all the same)."),
    seed: int = typer.Option(1234, help="Random seed: same seed, same text."),
    output_format: OutputFormat = typer.Option("text", "--format", help="text, or jsonl: one object per sample "
                                               "(prompt + text is the whole text)."),
    encoding: str = typer.Option("utf-8", metavar="ENCODING", help="Encoding of a prompt read from stdin."),
    device: Device = typer.Option("auto", help="auto picks CUDA when present."),
    threads: Threads = 0,
    quantize: QuantizeOpt = Quantize.none,
) -> None:
    """Generate text from a language model: the continuation of the prompt (with --echo,
    the prompt and its continuation).

    Without --echo the text stands alone: it starts with the first generated word, and a
    line end that only closes the prompt's unfinished line is not written (no blank first
    line).

    Decoders: sampling (--temperature, --top-k, --top-p, --seed), --greedy
    (= --temperature 0) or --beam N. Sampling options with --greedy or --beam change
    nothing: a warning says so. Errors (exit 2): --greedy with --beam, and --num-samples
    above 1 with a deterministic decoder (--greedy, --beam, --temperature 0, --top-k 1),
    whose samples would all be the same.
    """
    import torch

    from rnn_cli.cli._console import warn
    from rnn_cli.decoding import SamplingConfig, decoding_conflicts
    from rnn_cli.errors import ConfigError
    from rnn_cli.predict.lm import encode_prompt, generate, load_lm, stream_text
    from rnn_cli.seed import select_device, set_threads

    if not (math.isfinite(temperature) and math.isfinite(top_p)):
        raise ConfigError("--temperature and --top-p must be finite numbers")
    if temperature < 0:
        raise ConfigError(f"--temperature must be >= 0 (0: greedy), got {temperature:g}")
    try:
        config = SamplingConfig(max_tokens, temperature, top_k, top_p, greedy)
    except ValueError as exc:
        raise ConfigError(str(exc).replace("_", "-")) from None
    if beam < 0 or num_samples < 1:
        raise ConfigError("--beam must be >= 0 and --num-samples >= 1")
    given = given_options(ctx, ("temperature", "top_k", "top_p", "seed"))
    errors, warnings = decoding_conflicts(config, beam, num_samples, given)
    if errors:
        raise ConfigError(errors[0])
    if echo and output_format == OutputFormat.jsonl:
        warnings.append("--echo has no effect with --format jsonl (the prompt is the \"prompt\" field)")
    for message in warnings:
        warn(message)
    set_threads(threads)
    dev = select_device(device.value)
    lm = load_lm(model, dev, quantize=None if quantize == Quantize.none else quantize.value)
    if prompt is None and sys.stdin is not None and not sys.stdin.isatty():
        from rnn_cli.data.text import read_text

        prompt = read_text("-", encoding).removesuffix("\n")
    prompt = prompt or ""
    ids, unknown = encode_prompt(lm, prompt)
    if unknown:
        shown = ", ".join(repr(t) for t in list(dict.fromkeys(unknown))[:5])
        warn(f"{len(unknown)} prompt token(s) not in the vocabulary, read as <unk>: {shown}")
    generator = torch.Generator().manual_seed(seed)
    out = sys.stdout
    for i in range(num_samples):
        tokens = generate(lm, ids, config, beam, generator, dev)
        if output_format == OutputFormat.jsonl:
            text = "".join(stream_text(lm, tokens, prompt))
            out.write(json.dumps({"sample": i + 1, "prompt": prompt, "text": text}) + "\n")
            out.flush()
            continue
        if i > 0:
            out.write("\n")
        last = "\n"
        if echo and prompt:
            out.write(prompt)
            last = prompt
        for piece in stream_text(lm, tokens, prompt, standalone=not echo):
            out.write(piece)
            out.flush()
            last = piece
        if not last.endswith("\n"):
            out.write("\n")
        out.flush()
