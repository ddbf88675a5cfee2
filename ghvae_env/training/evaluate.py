"""Held-out rollout scores: model PSNR per step vs the copy-last-frame baseline."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ghvae_env.data.frames import to_float_chw
from ghvae_env.metrics.frame import ssim
from ghvae_env.model.api import rollout_by_steps
from ghvae_env.model.losses import frame_psnr  # one PSNR, capped at 100 dB (PSNR_CAP_DB)

__all__ = ["evaluate_rollouts", "frame_psnr", "latent_calibration"]


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


@torch.no_grad()
def latent_calibration(
    model, frames: np.ndarray, actions: np.ndarray, context: int = 2, batch_size: int = 32
) -> dict[str, Any]:
    """Is the GHVAE's deepest prior as wide as where the posterior puts the real futures?

    On clips (uint8 ``N x L x 64 x 64 x 3`` frames, ``N x (L-1) x 4`` actions) the posterior
    of module K reads each real next frame (mean mu_q, std ``config.posterior_std``) and the
    prior predicts it (mu_p, sigma_p). The temperature whose prior N(mu_p, (T sigma_p)^2) fits
    the posterior's z best in likelihood is ``T* = sqrt(mean(((mu_q - mu_p)^2 + s_q^2) /
    sigma_p^2))`` over steps, channels and positions. T* = 1: the prior is calibrated, and
    sampling colder (``temperature`` < 1) trades spread the data has for sharper frames.
    Computed teacher-forced (the prior reads real frames) and free-running after ``context``
    real frames (the prior reads the model's own predictions, decoded from mu_q, as in
    ``loss(free_running=True)``). Returns both T*, per step, and the clip count.
    """
    from ghvae_env.model import GHVAE

    if not isinstance(model, GHVAE):
        raise TypeError(f"latent_calibration needs a GHVAE, actual value: a {type(model).__name__}")
    K, sq = model.num_modules, model.config.posterior_std
    block = model.blocks[K - 1]
    device = next(model.parameters()).device
    sums = {"teacher_forced": 0.0, "free_running": 0.0}
    n = 0
    for s in range(0, len(frames), batch_size):
        f = to_float_chw(np.asarray(frames[s : s + batch_size]), device)  # (B, L, 3, 64, 64)
        a = torch.as_tensor(np.array(actions[s : s + batch_size]), device=device)
        B, T = f.shape[:2]
        hs = [h.unflatten(0, (B, T)) for h in model.encode(f.flatten(0, 1), upto=K)]
        mu_q = block.posterior.sequence(hs[K - 1][:, 1:])
        mu_p, sd_p = block.prior.sequence(hs[K - 1][:, :-1], a[:, : T - 1])
        _, mu_f, sd_f = model._free_running(hs, f, a, mu_q, K, K, context, f[:, :-1])
        for key, (mp, sp) in (("teacher_forced", (mu_p, sd_p)), ("free_running", (mu_f, sd_f))):
            r = ((mu_q - mp).square() + sq**2) / sp.square()  # (B, T-1, C, H, W)
            sums[key] = sums[key] + r.mean(dim=(2, 3, 4)).sum(0)  # (T-1,)
        n += B
    out: dict[str, Any] = {"clips": n, "context": context}
    for key, total in sums.items():
        per_step = total / n
        out[key] = round(float(per_step.mean().sqrt()), 4)
        out[f"{key}_per_step"] = [round(float(v.sqrt()), 4) for v in per_step]
    return out
