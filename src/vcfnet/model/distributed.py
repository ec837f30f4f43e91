"""DDP plumbing for ``torchrun``: process group, device per process, index sharding.

Launched by ``torchrun --nproc_per_node N ...`` the environment holds RANK, WORLD_SIZE and
LOCAL_RANK; without them training runs as a single process and nothing here does anything.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch

from vcfnet.errors import VcfnetError

log = logging.getLogger(__name__)


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def from_env() -> DistInfo:
    try:
        return DistInfo(rank=int(os.environ.get("RANK", 0)), world_size=int(os.environ.get("WORLD_SIZE", 1)),
                        local_rank=int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError:
        raise VcfnetError("RANK / WORLD_SIZE / LOCAL_RANK must be integers (set by torchrun)") from None


def init(info: DistInfo, device: torch.device) -> torch.device:
    """Join the process group (NCCL for CUDA, gloo for CPU); return this process's device."""
    if not info.active:
        return device
    import torch.distributed as dist

    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    log.info("DDP rank %d/%d on %s", info.rank, info.world_size, device)
    return device


def shutdown(info: DistInfo) -> None:
    if info.active:
        import torch.distributed as dist
        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.active:
        import torch.distributed as dist
        dist.barrier()


def shard_train(order: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """This process's part of an epoch's order, padded by wrap-around (as DistributedSampler does)
    so every process takes the same number of steps."""
    if not info.active:
        return order
    total = -(-len(order) // info.world_size) * info.world_size
    padded = torch.cat([order, order[: total - len(order)]]) if total > len(order) else order
    return padded[info.rank::info.world_size]


def shard_eval(n: int, info: DistInfo) -> torch.Tensor:
    """Disjoint, unpadded indices for evaluation: every sample is counted exactly once."""
    return torch.arange(info.rank, n, info.world_size)


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """``t`` summed over every process, in place, when a process group of more than one is running
    (else ``t`` as it is). The one reduction of training and evaluation; ``t`` must be on the
    process's device (NCCL reduces CUDA tensors only)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def sync_buffers(model: torch.nn.Module, info: DistInfo) -> None:
    """Give every process rank 0's buffers (BatchNorm running statistics) before evaluating."""
    if info.active:
        import torch.distributed as dist
        for buf in model.buffers():
            dist.broadcast(buf, src=0)
