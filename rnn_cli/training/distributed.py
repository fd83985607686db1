"""Data-parallel training under `torchrun` (PyTorch's own launcher).

torchrun starts one process per worker and tells each, through the environment,
who it is: RANK (0 .. WORLD_SIZE - 1 over all machines) and LOCAL_RANK (its GPU on
this machine). `Dist.from_env` reads that, joins the process group (gloo on the
CPU, nccl on CUDA) and offers what the trainers need: a DistributedDataParallel
wrapper, the share of a batch that belongs to this rank, the sum of a few numbers
over all ranks, a value computed on rank 0 and sent to the others. Without torchrun
(no WORLD_SIZE, or 1) every method is the single-process identity, so the trainers
have one code path.

`--batch-size` is per process: N processes each take B items (or B streams) of a
global batch of N * B, and the gradient DDP averages over ranks is that of the
global batch's mean loss, so a run with N processes and B equals one process with
N * B (dropout masks aside; they are drawn per process)."""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
from torch import nn

T = TypeVar("T")


def env_rank() -> int:
    """This process's global rank from torchrun's environment (0 without torchrun); torch-free."""
    return int(os.environ.get("RANK", "0") or 0)


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


class Dist:
    """Where this process stands in a (possibly single-process) run."""

    def __init__(self, rank: int = 0, world_size: int = 1, local_rank: int = 0) -> None:
        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: torch.device) -> Dist:
        """Join torchrun's process group if there is one. On CUDA each process takes
        the GPU of its LOCAL_RANK (see `device_for`)."""
        world = env_world_size()
        if world <= 1:
            return cls()
        import torch.distributed as dist

        rank, local = env_rank(), int(os.environ.get("LOCAL_RANK", "0") or 0)
        if not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            kwargs: dict[str, Any] = {"backend": backend, "timeout": datetime.timedelta(minutes=60)}
            if device.type == "cuda":
                kwargs["device_id"] = device
            dist.init_process_group(**kwargs)
        return cls(rank, world, local)

    def close(self, clean: bool = True) -> None:
        """Leave the process group. After a clean run every rank first waits for the
        others at a barrier, so that none tears its connections down while a peer is
        still using them (rank 0 writing the last checkpoint or scoring the test set);
        after an error there is no barrier, since a failed peer would never come."""
        if self.enabled:
            import gc

            import torch.distributed as dist

            if not dist.is_initialized():
                return
            if clean:
                dist.barrier()
            # A DDP wrapper caught in a reference cycle (the LM's loss closure holds
            # its trainer) must go before its process group: freed after it, at
            # interpreter exit, its threads abort the process.
            gc.collect()
            dist.destroy_process_group()

    def __enter__(self) -> Dist:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(clean=exc_type is None)

    def wrap(self, module: nn.Module, device: torch.device) -> nn.Module:
        """`module` in DistributedDataParallel (its forward then all-reduces the
        gradients during backward); `module` itself when single-process."""
        if not self.enabled:
            return module
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids)

    def shard(self, indices: Sequence[int]) -> tuple[list[int], float]:
        """This rank's part of a global batch and the weight of its mean loss.

        Rank r takes items r, r + N, ... The mean loss of a part, times
        `weight = N * len(part) / len(indices)`, averaged over the N ranks (what
        DDP does to gradients) is the mean loss of the whole batch, also when the
        last batch does not divide evenly. A rank left with nothing (a last batch of
        fewer than N items) runs the first item with weight 0, so that every rank
        still takes part in the gradient all-reduce."""
        if not self.enabled:
            return list(indices), 1.0
        part = list(indices[self.rank :: self.world_size])
        if not part:
            return [indices[0]], 0.0
        return part, self.world_size * len(part) / len(indices)

    def sum(self, values: Sequence[float], device: torch.device) -> list[float]:
        """`values` summed over all ranks (one all-reduce, float64)."""
        if not self.enabled:
            return [float(v) for v in values]
        import torch.distributed as dist

        t = torch.tensor(list(values), dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return t.tolist()

    def from_main(self, fn: Callable[[], T]) -> T:
        """`fn()` computed on rank 0 and sent to every rank (the others wait)."""
        if not self.enabled:
            return fn()
        import torch.distributed as dist

        box: list[Any] = [fn() if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: T) -> list[T]:
        """Every rank's `value`, in rank order (a list of one when single-process)."""
        if not self.enabled:
            return [value]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, value)
        return out


def device_for(name: str) -> torch.device:
    """The device of this process: `select_device(name)`, and under torchrun on
    CUDA the GPU of LOCAL_RANK."""
    from rnn_cli.seed import select_device

    device = select_device(name)
    if device.type == "cuda" and env_world_size() > 1 and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0") or 0))
        torch.cuda.set_device(device)
    return device
