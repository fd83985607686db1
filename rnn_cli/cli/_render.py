"""Rendering results on stdout: a rich table on a terminal, tab-separated lines
when piped, one JSON object with --json."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(result: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(result) + "\n")


def print_tagging(result: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str, str, str]] = []
    for name, entry in sorted(result.get("types", {}).items()):
        rows.append((name, f"{100 * entry['precision']:.2f}", f"{100 * entry['recall']:.2f}",
                     f"{100 * entry['f1']:.2f}", str(entry["support"])))
    for avg in ("micro", "macro"):
        if avg in result:
            e = result[avg]
            rows.append((f"{avg} avg", f"{100 * e['precision']:.2f}", f"{100 * e['recall']:.2f}",
                         f"{100 * e['f1']:.2f}", str(e["support"])))
    footer = f"token accuracy {100 * result['accuracy']:.2f} ({result['tokens']} tokens, " \
             f"{result['sentences']} sentences, scheme {result['scheme']})"
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table("type", "precision", "recall", "F1", "support", caption=footer)
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    if rows:
        sys.stdout.write("type\tprecision\trecall\tf1\tsupport\n")
        for row in rows:
            sys.stdout.write("\t".join(row) + "\n")
    sys.stdout.write(f"accuracy\t{100 * result['accuracy']:.2f}\n")


def print_classification(result: dict[str, Any]) -> None:
    """Per-label P/R/F1, the averages and the confusion matrix: a rich table on a
    terminal, tab-separated lines when piped."""
    multi = result.get("multi_label", False)
    rows = [(name, f"{100 * e['precision']:.2f}", f"{100 * e['recall']:.2f}", f"{100 * e['f1']:.2f}",
             str(e["support"])) for name, e in sorted(result["labels"].items())]
    for avg in ("micro", "macro"):
        e = result[avg]
        rows.append((f"{avg} avg", f"{100 * e['precision']:.2f}", f"{100 * e['recall']:.2f}",
                     f"{100 * e['f1']:.2f}", str(e["support"])))
    what = "subset accuracy" if multi else "accuracy"
    footer = f"{what} {100 * result['accuracy']:.2f}, macro-F1 {100 * result['macro_f1']:.2f} ({result['items']} items)"
    confusion = result.get("confusion")
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        console = Console()
        table = Table("label", "precision", "recall", "F1", "support", caption=footer)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        if confusion:
            matrix = Table("gold \\ predicted", *confusion["labels"], title="confusion matrix")
            for name, counts in zip(confusion["labels"], confusion["matrix"]):
                matrix.add_row(name, *(str(c) for c in counts))
            console.print(matrix)
        return
    sys.stdout.write("label\tprecision\trecall\tf1\tsupport\n")
    for row in rows:
        sys.stdout.write("\t".join(row) + "\n")
    sys.stdout.write(f"{'subset_accuracy' if multi else 'accuracy'}\t{100 * result['accuracy']:.2f}\n")
    sys.stdout.write(f"macro_f1\t{100 * result['macro_f1']:.2f}\n")
    if confusion:
        sys.stdout.write("confusion\t" + "\t".join(confusion["labels"]) + "\n")
        for name, counts in zip(confusion["labels"], confusion["matrix"]):
            sys.stdout.write(name + "\t" + "\t".join(str(c) for c in counts) + "\n")
