"""The tagging side of `rnn-cli evaluate`: tagged files scored without a model
(`--gold/--pred`, `--conlleval`), and a tagging report in the chosen `--format`."""

from __future__ import annotations

from typing import Any

from rnn_cli.cli._console import warn
from rnn_cli.cli._render import print_conlleval, print_json, print_tagging
from rnn_cli.errors import ConfigError

OUTPUT_FORMATS = ("text", "json", "conlleval")
TAG_SCHEMES = ("auto", "iob1", "bio", "bioes", "plain")
CONLLU_FIELDS = ("upos", "xpos", "misc")


def resolve_format(fmt: str, as_json: bool) -> str:
    """`--format`, with `--json` as a synonym of `--format json`."""
    if fmt not in OUTPUT_FORMATS:
        raise ConfigError(f"--format: unknown format '{fmt}' (text, json or conlleval)")
    return "json" if as_json else fmt


def column(option: str, value: str | None) -> int | str | None:
    """A column number (negative: from the end) or a CoNLL-U field name."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        if value.lower() in CONLLU_FIELDS:
            return value.lower()
    raise ConfigError(f"{option}: '{value}' is neither a column number nor a CoNLL-U field (upos, xpos, misc)")


def check_scheme(scheme: str) -> None:
    if scheme not in TAG_SCHEMES:
        raise ConfigError(f"--scheme: unknown tag scheme '{scheme}' (auto, iob1, bio, bioes or plain)")


def score_tagged_files(model: str | None, data: str | None, gold: str | None, pred: str | None, conlleval: bool,
                       scheme: str, gold_column: str | None, pred_column: str | None, fmt: str, input_format: str,
                       encoding: str) -> None:
    """`--conlleval [FILE]` (FILE in MODEL's place; stdin without it) or `--gold G --pred P`."""
    check_scheme(scheme)
    if conlleval:
        if gold is not None or pred is not None or data is not None:
            raise ConfigError("--conlleval scores one file (or stdin) whose columns hold gold and predicted tags: "
                              "no MODEL, --gold or --pred")
        from rnn_cli.predict.conll_eval import score_conlleval

        g, p = column("--gold-column", gold_column), column("--pred-column", pred_column)
        if isinstance(g, str) or isinstance(p, str):
            raise ConfigError("--conlleval reads columns: give --gold-column and --pred-column as numbers")
        report(score_conlleval(model or "-", -2 if g is None else g, -1 if p is None else p, scheme, encoding), fmt)
        return
    if gold is None or pred is None or model is not None:
        raise ConfigError("--gold and --pred go together, without a model")
    if gold == pred == "-":
        raise ConfigError("--gold and --pred cannot both be stdin (-)")
    from rnn_cli.predict.conll_eval import score_files

    result = score_files(gold, pred, scheme, column("--gold-column", gold_column), column("--pred-column", pred_column),
                         encoding, input_format)
    report(result, fmt)


def report(result: dict[str, Any], fmt: str) -> None:
    """Warnings (`notes`) on stderr, then the scores on stdout in `fmt`."""
    for note in result.pop("notes", []):
        warn(note)
    if fmt == "json":
        print_json(result)
    elif fmt == "conlleval":
        print_conlleval(result["conlleval"])
    else:
        print_tagging(result)
