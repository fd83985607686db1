"""The `rnn-cli` Typer application: one module per command, registered here."""

from __future__ import annotations

import os
import sys

import typer

from rnn_cli import __version__
from rnn_cli.cli import (
    classify,
    convert,
    evaluate,
    export,
    generate,
    info,
    recipes,
    tag,
    train_classifier,
    train_lm,
    train_tagger,
)


def _flags_without_type() -> None:
    """Typer's help shows a `<bool>` type after every flag, which takes no value: show
    nothing there instead (guarded: typer versions without the hook keep their look)."""
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None:
        return

    def display_type_rich(self: TyperOption, ctx: typer.Context) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
    _arguments_without_str()


def _arguments_without_str() -> None:
    """Nor a `<str>` after an argument (MODEL, FILE): its name and help say more."""
    from typer.core import TyperArgument

    shown = getattr(TyperArgument, "display_type_rich", None)
    if shown is None:
        return

    def display_type_rich(self: TyperArgument, ctx: typer.Context) -> str | None:
        label = shown(self, ctx)
        return None if label == "<str>" else label

    TyperArgument.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_without_type()

app = typer.Typer(
    name="rnn-cli",
    help="Recurrent neural networks for NLP from the shell: language models, taggers, classifiers.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rnn-cli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors (any command, before or after "
                               "its name)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or notes on stderr, only warnings and "
                               "errors (any command, before or after its name)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """rnn-cli: results go to stdout; progress, logs and errors to stderr."""
    if debug:
        os.environ["RNN_CLI_DEBUG"] = "1"
    if quiet:
        os.environ["RNN_CLI_QUIET"] = "1"


# Flags every command takes, before or after its name: they set the environment the
# commands read (see `_console`), so no command has to declare them.
GLOBAL_FLAGS = {"--debug": "RNN_CLI_DEBUG", "--quiet": "RNN_CLI_QUIET", "-q": "RNN_CLI_QUIET"}


def _lift_global_flags(args: list[str]) -> list[str]:
    """Take the global flags out of a command's arguments (not after `--`)."""
    kept: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return kept + args[i:]
        if arg in GLOBAL_FLAGS:
            os.environ[GLOBAL_FLAGS[arg]] = "1"
        else:
            kept.append(arg)
    return kept


app.command("train-lm")(train_lm.command)
app.command("generate")(generate.command)
app.command("train-tagger")(train_tagger.command)
app.command("tag")(tag.command)
app.command("train-classifier")(train_classifier.command)
app.command("classify")(classify.command)
app.command("evaluate")(evaluate.command)
app.command("convert")(convert.command)
app.command("info")(info.command)
app.command("export")(export.command)
app.command("recipes")(recipes.command)


def main(argv: list[str] | None = None) -> None:
    """Run the app; usage errors become one line on stderr and exit status 2."""
    args = _lift_global_flags(list(sys.argv[1:] if argv is None else argv))
    try:
        code = app(args=args, prog_name="rnn-cli", standalone_mode=False)
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
