"""Rendering results on stdout: a rich table on a terminal, tab-separated lines
when piped, one JSON object with --json."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(result: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(result) + "\n")


def print_tagging(result: dict[str, Any]) -> None:
    """Entity scores per type (chunk/entity tag sets) or scores per tag and the most
    frequent confusions (plain tag sets, such as POS), with token accuracy: a rich table
    on a terminal, tab-separated lines when piped."""
    plain = "tags" in result
    rows: list[tuple[str, str, str, str, str]] = []
    for name, entry in sorted(result.get("tags" if plain else "types", {}).items()):
        rows.append((name, f"{100 * entry['precision']:.2f}", f"{100 * entry['recall']:.2f}",
                     f"{100 * entry['f1']:.2f}", str(entry["support"])))
    for avg in ("micro", "macro"):
        if avg in result:
            e = result[avg]
            rows.append((f"{avg} avg", f"{100 * e['precision']:.2f}", f"{100 * e['recall']:.2f}",
                         f"{100 * e['f1']:.2f}", str(e["support"])))
    confusions = [(c["gold"], c["pred"], str(c["count"])) for c in result.get("confusions", [])]
    footer = f"token accuracy {100 * result['accuracy']:.2f} ({result['tokens']} tokens, " \
             f"{result['sentences']} sentences, scheme {result['scheme']})"
    first = "tag" if plain else "type"
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        console = Console()
        table = Table(first, "precision", "recall", "F1", "support", caption=footer)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        if confusions:
            matrix = Table("gold", "predicted", "count", title="most frequent confusions")
            for row in confusions:
                matrix.add_row(*row)
            console.print(matrix)
        return
    if rows:
        sys.stdout.write(f"{first}\tprecision\trecall\tf1\tsupport\n")
        for row in rows:
            sys.stdout.write("\t".join(row) + "\n")
    sys.stdout.write(f"accuracy\t{100 * result['accuracy']:.2f}\n")
    for row in confusions:
        sys.stdout.write("confusion\t" + "\t".join(row) + "\n")


def print_conlleval(counts: dict[str, Any]) -> None:
    """The report of the conlleval script, formatted as it formats it, from the counts of
    `metrics.ConllevalCounter`: scripts that parse conlleval's output can read it."""
    tokens, gold, found, correct = counts["tokens"], counts["gold"], counts["found"], counts["correct"]
    out = [f"processed {tokens} tokens with {gold} phrases; found: {found} phrases; correct: {correct}.\n"]
    if tokens > 0:
        precision = 100 * correct / found if found > 0 else 0.0
        recall = 100 * correct / gold if gold > 0 else 0.0
        fb1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        accuracy = 100 * counts["correct_tags"] / tokens
        # The script's printf formats: %6.2f%% for the percentages, %6.2f for FB1, %17s and %d.
        out.append(f"accuracy: {accuracy:6.2f}%; precision: {precision:6.2f}%; recall: {recall:6.2f}%; "
                   f"FB1: {fb1:6.2f}\n")
    for name, c in counts["types"].items():
        precision = 100 * c["correct"] / c["found"] if c["found"] else 0.0
        recall = 100 * c["correct"] / c["gold"] if c["gold"] else 0.0
        fb1 = 0.0 if precision + recall == 0.0 else 2 * precision * recall / (precision + recall)
        line = f"{name:>17}: precision: {precision:6.2f}%; recall: {recall:6.2f}%; FB1: {fb1:6.2f}  {c['found']:d}\n"
        # The script lists the empty type (tags without a hyphen) twice when both sides have it.
        out.append(line * (2 if name == "" and c["gold"] and c["found"] else 1))
    sys.stdout.write("".join(out))


def print_classification(result: dict[str, Any]) -> None:
    """Per-label P/R/F1, the averages and the confusion matrix: a rich table on a
    terminal, tab-separated lines when piped. Regression: Pearson, Spearman, MSE."""
    if result.get("regression"):
        for key in ("pearson", "spearman", "mse"):
            sys.stdout.write(f"{key}\t{result[key]:.4f}\n")
        sys.stdout.write(f"items\t{result['items']}\n")
        return
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


def print_file_scores(results: list[dict[str, Any]], as_json: bool) -> None:
    """A classifier's scores on several files (bAbI's tasks): a row per file and their
    mean (the main figure: accuracy, or Pearson's r for regression)."""
    key = "pearson" if results[0].get("regression") else "accuracy"
    mean = sum(r[key] for r in results) / len(results)
    if as_json:
        print_json({"files": results, f"mean_{key}": mean})
        return
    scale, digits = (1, 4) if key == "pearson" else (100, 2)
    sys.stdout.write(f"file\t{key}\titems\n")
    for r in results:
        sys.stdout.write(f"{r['file']}\t{scale * r[key]:.{digits}f}\t{r['items']}\n")
    sys.stdout.write(f"mean\t{scale * mean:.{digits}f}\t{sum(r['items'] for r in results)}\n")
