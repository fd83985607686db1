"""What every trainer does the same way, whatever the model: one optimisation step
(autocast, backward, gradient scaling, clipping, the non-finite check, the update),
the distributed wrapper, and the training-state checkpoint (weights, optimizer,
gradient scaler and every random generator of every rank, written by rank 0 only,
atomically: the previous file stays until the new one is complete).

A task hands over its model and `loss_fn(batch) -> (mean loss, items)`, or
`(mean loss, items, penalty)` where a regulariser (the LM's AR/TAR) is trained on
beside the loss but not reported with it; the epoch loop (`loop.py`) decides which
batches come when and which task state goes into the checkpoint. With `--optimizer
nt-asgd` the engine also keeps the running average of the weights (`averaging.py`)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnn_cli import checkpoint
from rnn_cli.errors import RnnCliError
from rnn_cli.seed import rng_states, set_rng_states
from rnn_cli.training.averaging import Averager
from rnn_cli.training.distributed import Dist
from rnn_cli.training.optim import build_optimizer
from rnn_cli.training.options import TrainOptions

EXIT_NONFINITE = 3
# loss_fn(batch) -> (mean loss, items) or (mean loss, items, penalty or None)
LossFn = Callable[[Any], tuple[Any, ...]]


class NonFiniteLossError(RnnCliError):
    """Training met a NaN or infinite loss (exit status 3)."""

    exit_code = EXIT_NONFINITE


@dataclass
class StepResult:
    loss_sum: float  # mean loss x items, summed over ranks (0 for a skipped batch)
    items: float  # items of the batch over all ranks (0 for a skipped batch)
    stop: bool  # some rank was asked to stop
    skipped: bool  # a non-finite batch was skipped


class _LossModule(nn.Module):
    """The model with the task's loss as `forward`, which is what DDP wraps: DDP
    hooks the gradient all-reduce onto its forward call."""

    def __init__(self, model: nn.Module, loss_fn: LossFn) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, batch: Any) -> tuple[Any, ...]:
        return self.loss_fn(batch)


def _on_host(loss: torch.Tensor, norm: torch.Tensor | None, penalty: torch.Tensor | None) -> tuple[float, float, float]:
    """The loss, gradient norm (0 without) and penalty (0 without) as floats, in one transfer."""
    parts = [loss.detach()] + [t.detach().float() for t in (norm, penalty) if t is not None]
    values = torch.stack(parts).tolist() if len(parts) > 1 else [float(parts[0])]
    value = values.pop(0)
    norm_value = values.pop(0) if norm is not None else 0.0
    penalty_value = values.pop(0) if penalty is not None else 0.0
    return value, norm_value, penalty_value


def amp_dtype(device: torch.device) -> torch.dtype:
    """bf16 on the CPU and on GPUs that have it (Ampere and later), else fp16."""
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


class Engine:
    """The model, its optimizer and how a step is taken, for one process."""

    def __init__(self, model: nn.Module, loss_fn: LossFn, opts: TrainOptions, device: torch.device,
                 dist: Dist) -> None:
        self.model, self.opts, self.device, self.dist = model, opts, device, dist
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(opts.optimizer, self.params, opts.lr, opts.momentum, opts.weight_decay)
        # NT-ASGD's average, triggered by the loop (identical on every rank: so are the weights).
        self.averager = Averager(self.params) if opts.optimizer == "nt-asgd" else None
        self.net = dist.wrap(_LossModule(model, loss_fn), device)
        self.dtype = amp_dtype(device) if opts.amp else None
        self.scaler = torch.amp.GradScaler(device.type) if self.dtype == torch.float16 else None
        self.skipped = 0
        self.last_checkpoint: tuple[Path, int] | None = None  # (path, global step)
        if dist.enabled:
            # The weights start equal on every rank (DDP also broadcasts rank 0's);
            # dropout masks must differ between ranks.
            torch.manual_seed(opts.seed + dist.rank)

    def train(self) -> None:
        self.net.train()

    def eval(self) -> None:
        self.net.eval()

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def averaged(self) -> contextlib.AbstractContextManager[Any]:
        """The weights to evaluate and save inside the block: NT-ASGD's average once it
        has one, else the trained weights."""
        if self.averager is None:
            return contextlib.nullcontext()
        return self.averager.swapped()

    def step(self, batch: Any, global_step: int, weight: float = 1.0, stop_requested: bool = False) -> StepResult:
        """Forward, backward and update on `batch` (this rank's part of global step
        `global_step`, 1-based; `weight` scales its mean loss, see `Dist.shard`).
        A non-finite loss raises NonFiniteLossError (nothing is updated or saved)
        or, with `skip_nonfinite`, skips the update."""
        with self.autocast():
            loss, n, *rest = self.net(batch)
        loss = loss.float()
        penalty = rest[0].float() if rest and rest[0] is not None else None
        objective = loss if penalty is None else loss + penalty
        self.optimizer.zero_grad(set_to_none=True)
        scaled = objective * weight if weight != 1.0 else objective
        if self.scaler is not None:
            self.scaler.scale(scaled).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            scaled.backward()
        norm = None
        if self.opts.clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.params, self.opts.clip, foreach=True)
        # One host sync a step (as GradScaler makes too): the loss, the gradient norm and
        # the penalty (the objective's other part: a non-finite one fails the step too).
        value, norm_value, penalty_value = _on_host(loss, norm, penalty)
        what = "loss"
        if math.isfinite(value) and not math.isfinite(penalty_value):
            value, what = penalty_value, "penalty"
        real = n if weight > 0 else 0
        bad = weight > 0 and not math.isfinite(value)
        # One all-reduce a step carries the loss, the item count, Ctrl-C and NaN flags.
        loss_sum, items, stop, n_bad = self.dist.sum(
            [value * real if not bad else 0.0, real, float(stop_requested), float(bad)], self.device)
        if n_bad and not bad:
            value = math.nan  # another rank's loss
        # Without a scaler an infinite gradient norm is a failed step too (with one,
        # the scaler skips it and lowers its scale: normal fp16 behaviour).
        if n_bad == 0 and self.scaler is None and not math.isfinite(norm_value):
            n_bad, value, what = 1, norm_value, "gradient norm"
        if n_bad:
            self.optimizer.zero_grad(set_to_none=True)
            if not self.opts.skip_nonfinite:
                raise NonFiniteLossError(self._nonfinite_message(global_step, value, what))
            self.skipped += 1
            if self.scaler is not None:
                self.scaler.update()
            return StepResult(0.0, 0.0, stop > 0, True)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        if self.averager is not None:
            self.averager.update()
        return StepResult(loss_sum, items, stop > 0, False)

    def _nonfinite_message(self, global_step: int, value: float, what: str) -> str:
        kept = "no checkpoint was written yet"
        if self.last_checkpoint is not None:
            path, at = self.last_checkpoint
            kept = f"the last good training state ({path}, after step {at}) is kept"
        return (f"non-finite {what} ({value}) at step {global_step}: training stopped; {kept}. "
                "Train again with a lower --lr or with --clip, or with --skip-nonfinite to skip such batches")

    def state(self) -> dict[str, Any]:
        """Weights, optimizer, scaler and the random generators of every rank (a
        collective call under DDP: every rank must make it)."""
        return {
            "model_state": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer_state": self.optimizer.state_dict(),
            "scaler_state": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": self.dist.gather(rng_states()),
            "skipped_batches": self.skipped,
            "averaging": self.averager.state() if self.averager is not None else None,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model_state"])
        self.optimizer.load_state_dict(state["optimizer_state"])
        if self.scaler is not None and state.get("scaler_state"):
            self.scaler.load_state_dict(state["scaler_state"])
        rngs = state["rng"]
        set_rng_states(rngs[self.dist.rank] if len(rngs) == self.dist.world_size else rngs[0])
        self.skipped = int(state.get("skipped_batches", 0))
        if self.averager is not None and state.get("averaging") is not None:
            self.averager.restore(state["averaging"])

    def world_note(self, state: dict[str, Any]) -> str | None:
        """A note when `state` was written by a run with another number of processes."""
        saved = len(state["rng"])
        if saved == self.dist.world_size:
            return None
        return (f"the training state was written by {saved} process(es), this run has {self.dist.world_size}: "
                "the global batch and the data shards differ, so the run continues but not exactly as it would have")

    def save_state(self, path: Path, global_step: int, extra: dict[str, Any]) -> None:
        """Write the training state (`state()` plus the loop's `extra`) to `path`, on rank 0."""
        payload = {**extra, **self.state()}
        if self.dist.is_main:
            checkpoint.save(path, payload)
        self.last_checkpoint = (path, global_step)
