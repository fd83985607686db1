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
