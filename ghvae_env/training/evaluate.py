"""Held-out rollout scores: model PSNR per step vs the copy-last-frame baseline."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ghvae_env.data.frames import to_float_chw
from ghvae_env.metrics.frame import ssim
from ghvae_env.model.api import rollout_by_steps
from ghvae_env.model.losses import frame_psnr  # one PSNR, capped at 100 dB (PSNR_CAP_DB)

__all__ = ["evaluate_rollouts", "frame_psnr"]


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
    sample: bool = True,
    with_ssim: bool = False,
    temperature: float = 1.0,
) -> dict[str, Any]:
    """Roll the model out from ``context`` true frames with the true actions for ``horizon`` steps.

    Clips are drawn from ``dataset`` (windows of >= context + horizon frames) with a fixed seed,
    so every model is scored on the same clips. Returns mean PSNR, per-step PSNR curves for the
    model (one sample) and for copying the last context frame, and the clip count.

    Action conditioning: each batch is also rolled out, with the same noise, under the future
    actions of another clip (rolled by one within the batch). ``psnr_shuffled_actions`` below
    ``psnr`` means the model's predictions follow the actions; ``action_response`` is the mean
    absolute pixel difference (0..1) between the two predictions.

    ``sample=False`` decodes the prior's mean instead of a sample; ``temperature`` scales a
    sample's noise (z = mean + T std eps). ``with_ssim`` adds SSIM per step for the model and for copy-last
    (``ghvae_env.metrics.ssim``, on the same predictions).
    """

    def _rollout(context_frames: torch.Tensor, acts: torch.Tensor, noise_seed: int):
        gen_ = torch.Generator(device=device).manual_seed(noise_seed)
        return rollout_by_steps(
            model, context_frames, acts, generator=gen_, sample=sample, temperature=temperature
        )

    rng = np.random.default_rng(seed)
    n = min(num_clips, len(dataset))
    if n == 0:
        raise ValueError("evaluate_rollouts: the held-out dataset has no windows")
    idx = rng.choice(len(dataset), size=n, replace=False)
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    model_psnr, copy_psnr, shuffled_psnr, response = [], [], [], []
    model_ssim, copy_ssim = [], []
    for s in range(0, n, batch_size):
        items = [dataset[int(i)] for i in idx[s : s + batch_size]]
        frames = to_float_chw(np.stack([it["frames"][: context + horizon] for it in items]), device)
        actions = torch.as_tensor(
            np.stack([it["actions"][: context + horizon - 1] for it in items]), device=device
        )
        noise_seed = int(torch.randint(0, 2**62, (1,), generator=gen, device=device))
        pred = _rollout(frames[:, :context], actions, noise_seed)  # (B, H, 3, 64, 64)
        target = frames[:, context:]
        copy = frames[:, context - 1 : context].expand_as(target)
        model_psnr.append(frame_psnr(pred, target))
        copy_psnr.append(frame_psnr(copy, target))
        if with_ssim:
            model_ssim.append(ssim(pred, target))
            copy_ssim.append(ssim(copy, target))
        if len(items) > 1:
            other = actions.clone()
            other[:, context - 1 :] = actions[:, context - 1 :].roll(1, dims=0)
            alt = _rollout(frames[:, :context], other, noise_seed)
            shuffled_psnr.append(frame_psnr(alt, target))
            response.append((alt - pred).abs().mean(dim=(1, 2, 3, 4)))
    mp, cp = torch.cat(model_psnr), torch.cat(copy_psnr)  # (N, H)
    extra: dict[str, Any] = {}
    if with_ssim:
        ms, cs = np.concatenate(model_ssim), np.concatenate(copy_ssim)  # (N, H)
        extra = {
            "ssim": float(ms.mean()),
            "copy_last_ssim": float(cs.mean()),
            "ssim_per_step": [round(float(v), 4) for v in ms.mean(0)],
            "copy_last_ssim_per_step": [round(float(v), 4) for v in cs.mean(0)],
        }
    return {
        "psnr": float(mp.mean()),
        "copy_last_psnr": float(cp.mean()),
        "psnr_shuffled_actions": float(torch.cat(shuffled_psnr).mean())
        if shuffled_psnr
        else float("nan"),
        "action_response": float(torch.cat(response).mean()) if response else float("nan"),
        "psnr_per_step": [round(float(v), 3) for v in mp.mean(0)],
        "copy_last_psnr_per_step": [round(float(v), 3) for v in cp.mean(0)],
        "num_clips": int(n),
        "context": context,
        "horizon": horizon,
        "sample": sample,
        "temperature": temperature,
        **extra,
    }
