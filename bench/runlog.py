"""The results file of a benchmark that runs many trainings: OUT/results.jsonl, one
JSON line per finished run, appended as each run ends, so that `--resume` goes on
where a stopped benchmark left off and `--table-only` re-prints its table."""

from __future__ import annotations

import json
import sys
from pathlib import Path


class RunLog:
    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / "results.jsonl"
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
