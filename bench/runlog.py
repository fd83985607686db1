"""The results file of a benchmark that runs many trainings: OUT/results.jsonl, one
JSON line per finished run, appended as each run ends, so that `--resume` goes on
where a stopped benchmark left off and `--table-only` re-prints its table. A long
benchmark can keep the file elsewhere (`--results FILE`), e.g. under version control,
so that its finished runs outlive the scratch folder that holds the models."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path


class RunLog:
    def __init__(self, out_dir: Path, path: Path | None = None) -> None:
        self.path = path or out_dir / "results.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        self.results: list[dict] = [json.loads(line) for line in lines if line.strip()]

    def add(self, result: dict) -> None:
        """Record a finished run (also echoed on stderr)."""
        print(json.dumps(result), file=sys.stderr, flush=True)
        self.results.append(result)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(result) + "\n")


def train_seconds(model: Path) -> float:
    """The training epochs' own seconds over every part of a run (a resumed run's
    earlier epochs too), from the metrics file beside `model`; an epoch written twice
    counts once."""
    epochs = {}
    for line in model.with_suffix(".metrics.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            epochs[record["epoch"]] = record["epoch_seconds"]
    return round(sum(epochs.values()), 1)


def config_overrides(items: list[str], config_class: type) -> dict:
    """`--set KEY=VALUE` options as overrides of a training config's fields, each value
    converted to its field's type; an unknown key ends the benchmark with a message."""
    fields = {f.name: str(f.type) for f in dataclasses.fields(config_class)}
    convert = {"int": int, "float": float, "bool": lambda v: v.lower() in ("1", "true", "yes")}
    overrides = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in fields:
            sys.exit(f"--set {item}: no training option '{key}'")
        kind = fields[key].removesuffix(" | None")  # an optional field (`lr`) takes its type's values
        overrides[key] = None if value == "none" and kind != fields[key] else convert.get(kind, str)(value)
    return overrides
