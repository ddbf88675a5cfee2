"""Held-out rollout scores: model PSNR per step vs the copy-last-frame baseline."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ghvae_env.data.frames import to_float_chw

__all__ = ["evaluate_rollouts", "frame_psnr"]


def frame_psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR (dB, data range 1) per frame: ... x 3 x H x W -> ...; identical frames give 100 dB."""
    mse = (pred.float() - target.float()).pow(2).mean(dim=(-3, -2, -1))
    return torch.where(mse > 0, -10.0 * torch.log10(mse.clamp_min(1e-10)), torch.full_like(mse, 100.0))


@torch.no_grad()
def evaluate_rollouts(
    model,
    dataset,
    context: int = 2,
    horizon: int = 10,
    num_clips: int = 64,
    seed: int = 0,
    device: torch.device | str = "cpu",
    batch_size: int = 32,
) -> dict[str, Any]:
    """Roll the model out from ``context`` true frames with the true actions for ``horizon`` steps.

    Clips are drawn from ``dataset`` (windows of >= context + horizon frames) with a fixed seed,
    so every model is scored on the same clips. Returns mean PSNR, per-step PSNR curves for the
    model (one sample) and for copying the last context frame, and the clip count.
    """
    rng = np.random.default_rng(seed)
    n = min(num_clips, len(dataset))
    if n == 0:
        raise ValueError("evaluate_rollouts: the held-out dataset has no windows")
    idx = rng.choice(len(dataset), size=n, replace=False)
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    model_psnr, copy_psnr = [], []
    for s in range(0, n, batch_size):
        items = [dataset[int(i)] for i in idx[s : s + batch_size]]
        frames = to_float_chw(np.stack([it["frames"][: context + horizon] for it in items]), device)
        actions = torch.as_tensor(np.stack([it["actions"][: context + horizon - 1] for it in items]), device=device)
        pred = model.rollout(frames[:, :context], actions, generator=gen)  # (B, H, 3, 64, 64)
        target = frames[:, context:]
        model_psnr.append(frame_psnr(pred, target))
        copy_psnr.append(frame_psnr(frames[:, context - 1 : context].expand_as(target), target))
    mp, cp = torch.cat(model_psnr), torch.cat(copy_psnr)  # (N, H)
    return {
        "psnr": float(mp.mean()),
        "copy_last_psnr": float(cp.mean()),
        "psnr_per_step": [round(float(v), 3) for v in mp.mean(0)],
        "copy_last_psnr_per_step": [round(float(v), 3) for v in cp.mean(0)],
        "num_clips": int(n),
        "context": context,
        "horizon": horizon,
    }
