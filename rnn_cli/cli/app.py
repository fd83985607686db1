"""The `rnn-cli` Typer application: one module per command, registered here."""

from __future__ import annotations

import os
import sys

import typer

from rnn_cli import __version__
from rnn_cli.cli import classify, convert, evaluate, generate, info, tag, train_classifier, train_lm, train_tagger

app = typer.Typer(
    name="rnn-cli",
    help="Recurrent neural networks for NLP from the shell: language models, taggers, classifiers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rnn-cli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """rnn-cli: results go to stdout; progress, logs and errors to stderr."""
    if debug:
        os.environ["RNN_CLI_DEBUG"] = "1"


app.command("train-lm")(train_lm.command)
app.command("generate")(generate.command)
app.command("train-tagger")(train_tagger.command)
app.command("tag")(tag.command)
app.command("train-classifier")(train_classifier.command)
app.command("classify")(classify.command)
app.command("evaluate")(evaluate.command)
app.command("convert")(convert.command)
app.command("info")(info.command)


def main(argv: list[str] | None = None) -> None:
    """Run the app; usage errors become one line on stderr and exit status 2."""
    try:
        code = app(args=argv, prog_name="rnn-cli", standalone_mode=False)
    except typer.Abort:
        raise SystemExit(130) from None
    except typer.TyperException as exc:
        # Typer's (vendored click) usage errors: one line instead of a box.
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            print(ctx.get_help(), file=sys.stderr)
            raise SystemExit(2) from None
        where = ctx.command_path if ctx is not None else "rnn-cli"
        fmt = getattr(exc, "format_message", None)
        message = " ".join((fmt() if fmt else str(exc)).split())
        print(f"{where}: error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(getattr(exc, "exit_code", 2)) from None
    raise SystemExit(code if isinstance(code, int) else 0)
