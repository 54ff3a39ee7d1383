"""Data parallelism for contrastive losses: every process sees the whole batch's negatives.

A contrastive loss such as DAMSM's compares each image with every caption of the batch, so
splitting a batch of 48 over two processes that each compare only their own 24 would halve
the negatives and change the model. Instead (as CLIP's training does) each process encodes
its own share, the features are gathered, and every process computes the same loss over the
whole batch. The gradient of that loss with respect to a process's own features is then
exact on that process; summing the parameter gradients over processes
(:func:`sum_gradients`) gives exactly the gradient of a single process holding the whole
batch.

Processes are started by ``torchrun`` (or ``accelerate launch``); with one process every
function here is the identity, so single-process training runs the same code. (Python
objects and the starting weights travel with ``accelerate.utils.gather_object`` and
``broadcast``.)
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def world_size() -> int:
    """Number of processes training together (1 without ``torch.distributed``)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _all_gather(x: torch.Tensor) -> torch.Tensor:
    parts = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


class _GatherOwnGrad(torch.autograd.Function):
    """All-gather along dim 0 whose backward keeps only this process's slice of the gradient
    (every process computes the same loss, so that slice is already the full gradient)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.rank, ctx.n = dist.get_rank(), x.shape[0]
        return _all_gather(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad[ctx.rank * ctx.n:(ctx.rank + 1) * ctx.n]


def gather_batch(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` (same shape on every process) over processes in rank order; the
    gradient flows back to this process's rows. Identity with one process."""
    if world_size() == 1:
        return x
    if x.requires_grad:
        return _GatherOwnGrad.apply(x)
    if x.dtype == torch.bool:  # Gloo gathers no bools: send them as bytes
        return _all_gather(x.to(torch.uint8)).bool()
    return _all_gather(x)


def sum_gradients(params: list[torch.nn.Parameter]) -> None:
    """Sum every parameter's gradient over processes, in one flat all-reduce."""
    if world_size() == 1:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.flatten() for g in grads])
    dist.all_reduce(flat)
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p)
        offset += n


def main_process_value(value: float, device: torch.device | str = "cpu") -> float:
    """Rank 0's ``value`` on every process (a clock reading every process must act on alike);
    ``device``: where the backend's tensors live (the GPU for NCCL)."""
    if world_size() == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.broadcast(t, src=0)
    return float(t.item())
