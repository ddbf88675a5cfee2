"""Memory of one training step, greedy stage k vs end-to-end (the seed's central claim).

On CPU there is no allocator high-water mark, so the step's memory is counted exactly from
what training must hold at the peak (right after backward):
  weights     every parameter of the model (frozen modules must be resident too)
  grads       gradients of the trainable parameters
  optimizer   Adam's two moments per trainable parameter (after one step)
  activations tensors autograd saved for backward (unique storages, parameters excluded)
On CUDA the allocator's ``max_memory_allocated`` for the same step is reported beside it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ghvae_env.training.trainer import Phase, _num_modules, _Objective, freeze_for_stage

__all__ = ["measure_step_memory"]


def _nbytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def measure_step_memory(
    model: nn.Module,
    phase: Phase,
    batch_size: int = 8,
    window: int = 10,
    device: str | torch.device = "cpu",
    seed: int = 0,
    free_running: bool = False,
    context: int = 2,
) -> dict[str, Any]:
    """Run one optimizer step of ``phase`` on random data and return its memory in bytes.

    ``model`` is a :class:`~ghvae_env.model.api.WorldModel` module the trainer trains: a GHVAE
    in a greedy or e2e phase, any model in a "full" phase (e.g. SVG'). ``free_running``
    measures a GHVAE step trained on its own predictions after ``context`` frames
    (``ghvae train --free-running``).
    """
    device = torch.device(device)
    model.to(device)
    params = freeze_for_stage(model, phase)
    opt = torch.optim.Adam(params, lr=1e-4)
    g = torch.Generator(device=device).manual_seed(seed)
    frames = torch.rand(batch_size, window, 3, 64, 64, generator=g, device=device)
    actions = (
        torch.rand(batch_size, window - 1, model.config.action_dim, generator=g, device=device) * 2
        - 1
    )
    param_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        if st.data_ptr() not in param_storages:
            saved[st.data_ptr()] = st.nbytes()
        return t

    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    objective = _Objective(model, phase, free_running, context if free_running else None)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = objective(frames, actions, g)
    activations = sum(saved.values())
    opt.zero_grad(set_to_none=True)
    out["loss"].backward()
    opt.step()
    result = {
        "phase": phase.name,
        "model_type": model.model_type,
        "num_modules": _num_modules(model),  # GHVAE: K; a flat model: 1
        "params_total": sum(p.numel() for p in model.parameters()),
        "params_trainable": sum(p.numel() for p in params),
        "weights": _nbytes(model.parameters()),
        "grads": _nbytes(p.grad for p in params if p.grad is not None),
        "optimizer": _nbytes(
            v
            for st in opt.state.values()
            for v in st.values()
            if torch.is_tensor(v) and v.numel() > 1
        ),
        "activations": activations,
        "batch_size": batch_size,
        "window": window,
        "free_running": free_running,
    }
    result["total"] = (
        result["weights"] + result["grads"] + result["optimizer"] + result["activations"]
    )
    if device.type == "cuda":
        result["cuda_max_allocated"] = int(torch.cuda.max_memory_allocated(device))
    opt.zero_grad(set_to_none=True)
    model.requires_grad_(False).eval()
    return result
