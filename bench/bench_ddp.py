"""Data-parallel scaling benchmark (not a test): `make bench-ddp DATA=../shared/data`.

Trains the PTB word model of `bench_lm.py` (Zaremba et al.'s non-regularised
"small" 2x200 LSTM, BPTT 20, batch 20 per process, SGD) with rnn-cli's own
trainer for a fixed number of steps, once with 1 process and once with 2 under
`torchrun` (gloo, one thread per process), and prints one JSON line: tokens/s of
each (all processes together, timed after 10 warm-up steps) and the scaling
efficiency tokens/s(2) / (2 x tokens/s(1)). The batch is per process (weak
scaling), as `--batch-size` is under torchrun. Run it on an otherwise idle
machine: other load distorts the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

WARMUP = 10


def worker(args: argparse.Namespace) -> None:
    """One rank: train `args.steps` steps and (rank 0) write the timing."""
    import torch
    from bench_lm import CONFIGS, files

    from rnn_cli.training.distributed import Dist
    from rnn_cli.training.events import Step
    from rnn_cli.training.lm import train_lm

    torch.set_num_threads(1)
    dist = Dist.from_env(torch.device("cpu"))
    cfg = replace(CONFIGS["word"], epochs=1, log_every=1)
    train, _, _ = files("word", Path(args.data_dir), Path(args.out))
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] >= args.steps

    marks: dict[int, float] = {}
    with dist:
        for event in train_lm(cfg, train, Path(args.out) / "ddp.pt", dist=dist, should_stop=stop):
            if isinstance(event, Step):
                marks[event.step] = time.perf_counter()
    if dist.is_main:
        last = max(marks)
        tokens = (last - WARMUP) * cfg.bptt * cfg.batch_size * dist.world_size
        rate = tokens / (marks[last] - marks[WARMUP])
        Path(args.result).write_text(json.dumps({"world": dist.world_size, "steps": last, "tokens_per_s": rate}))


def launch(nproc: int, args: argparse.Namespace, out: Path) -> dict[str, float]:
    result = out / f"result{nproc}.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), str(Path(__file__).parent)])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
           __file__, "--worker", "--steps", str(args.steps), "--data-dir", args.data_dir, "--out", str(out),
           "--result", str(result)]
    subprocess.run(cmd, check=True, env=env, stdin=subprocess.DEVNULL)
    return json.loads(result.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps <= WARMUP:
        parser.error(f"--steps must be more than {WARMUP}")
    if args.worker:
        worker(args)
        return
    with tempfile.TemporaryDirectory(prefix="bench-ddp-") as tmp:
        one, two = launch(1, args, Path(tmp)), launch(2, args, Path(tmp))
    print(json.dumps({
        "model": "ptb word 2x200 LSTM, bptt 20, batch 20 per process", "steps": args.steps,
        "tokens_per_s_1proc": round(one["tokens_per_s"], 1), "tokens_per_s_2proc": round(two["tokens_per_s"], 1),
        "scaling_efficiency": round(two["tokens_per_s"] / (2 * one["tokens_per_s"]), 3),
        "cpus": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
