"""Rendering a trainer's events: a rich progress bar on a terminal, log lines
otherwise; the final summary is returned for the command to print."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rnn_cli.cli._console import err, graceful_interrupt, log, quiet_requested, show_progress

RATES = {"tokens_per_s": "tok/s", "sentences_per_s": "sent/s", "items_per_s": "items/s"}


def _format_record(record: dict[str, Any]) -> str:
    """One compact line per evaluation: perplexities for language models, percentages
    (F1, accuracy) for taggers and classifiers, e.g.
    `epoch 3 | train loss 0.2113 | dev f1 88.10 | lr 0.01 | 412 sent/s | 31.2 s`."""
    parts = [f"epoch {record['epoch']}"]
    if "train_ppl" in record:
        parts.append(f"train ppl {record['train_ppl']:.2f}")
        if "dev_ppl" in record:
            parts.append(f"dev ppl {record['dev_ppl']:.2f} ({record['dev_bpc']:.3f} bits/token)")
    else:
        parts.append(f"train loss {record['train_loss']:.4f}")
        for key in ("dev_f1", "dev_accuracy", "dev_macro_f1", "dev_micro_f1"):
            if key in record:
                parts.append(f"{key.replace('_', ' ')} {100 * record[key]:.2f}")
        for key in ("dev_pearson", "dev_spearman", "dev_mse"):
            if key in record:
                parts.append(f"{key.replace('_', ' ')} {record[key]:.4f}")
        if "dev_threshold" in record:
            parts.append(f"threshold {record['dev_threshold']:.2f}")
    parts.append(f"lr {record['lr']:.4g}")
    parts.extend(f"{record[key]:,.0f} {unit}" for key, unit in RATES.items() if key in record)
    parts.append(f"{record['epoch_seconds']:.1f} s")
    return " | ".join(parts)


def render_training(events: Iterable[Any], quiet: bool) -> dict[str, Any]:
    from rnn_cli.training.events import Done, Evaluated, Info, Step

    progress = None
    task = None
    if show_progress(quiet):
        progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[losses]}"),
            TextColumn("{task.fields[speed]:,.0f} {task.fields[unit]}/s lr {task.fields[lr]:.3g}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
        progress.start()
    summary: dict[str, Any] = {}
    try:
        for event in events:
            if isinstance(event, Step) and progress is not None:
                losses = f"loss {event.loss:.3f}" + (f" ppl {event.ppl:.1f}" if event.ppl is not None else "")
                fields = dict(epoch=event.epoch, losses=losses, speed=event.rate, lr=event.lr, unit=event.unit)
                if task is None or progress.tasks[0].fields["epoch"] != event.epoch:
                    if task is not None:
                        progress.remove_task(task)
                    task = progress.add_task("train", total=event.steps, **fields)
                progress.update(task, completed=min(event.step, event.steps), **fields)
            elif isinstance(event, Evaluated):
                marker = " *" if event.improved else ""
                if not quiet:
                    console = progress.console if progress else err
                    console.print(_format_record(event.record) + marker, markup=False, soft_wrap=True)
            elif isinstance(event, Info):
                log(event.message, quiet)
            elif isinstance(event, Done):
                summary = dict(event.summary)
                summary["interrupted"] = event.interrupted
    finally:
        if progress is not None:
            progress.stop()
    return summary


def run_training(start: Callable[..., Iterable[Any]], quiet: bool, device: str = "auto", threads: int = 0) -> None:
    """Run a trainer (`start(device=..., dist=..., should_stop=...)` -> events) on
    `device`, under torchrun as one rank of a distributed run, with Ctrl-C or SIGTERM
    asking it to save and stop; print its JSON summary on stdout (rank 0 only; the
    other ranks stay quiet); exit 130 if it was interrupted."""
    from rnn_cli.errors import EXIT_INTERRUPTED
    from rnn_cli.seed import set_threads
    from rnn_cli.training.distributed import Dist, device_for
    from rnn_cli.training.memory import limit_heap_growth

    set_threads(threads)
    limit_heap_growth()
    where = device_for(device)
    with Dist.from_env(where) as dist, graceful_interrupt(announce=dist.is_main) as should_stop:
        summary = render_training(start(device=where, dist=dist, should_stop=should_stop),
                                  quiet or quiet_requested() or not dist.is_main)
    if dist.is_main:
        sys.stdout.write(json.dumps(summary) + "\n")
    if summary.get("interrupted"):
        raise SystemExit(EXIT_INTERRUPTED)
