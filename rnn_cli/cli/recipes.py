"""`rnn-cli recipes`: list the shipped recipes, or print one as YAML to copy and edit."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from rnn_cli.cli._console import handle_errors


@handle_errors
def command(
    name: Optional[str] = typer.Argument(None, help="Print this recipe (a YAML options file).", metavar="NAME"),
) -> None:
    """List the recipes (name, command, what it reproduces), or print one.

    A recipe is a named set of training options that reproduces a published setup:
    `rnn-cli train-tagger --recipe ma-hovy ...` trains with it (options on the command
    line and in --config win over it); `rnn-cli recipes ma-hovy > my.yaml` gives a copy
    to edit and use with `--config my.yaml`.
    """
    from rnn_cli.recipes import get_recipe, recipes

    if name is not None:
        sys.stdout.write(get_recipe(name).text())
        return
    known = list(recipes().values())
    width = max(len(r.name) for r in known)
    cmd_width = max(len(r.command) for r in known)
    for r in known:
        sys.stdout.write(f"{r.name:<{width}}  {r.command:<{cmd_width}}  {r.about}\n")
