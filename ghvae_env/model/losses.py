"""The loss pieces every video model of the package shares: the Gaussian KL, the per-frame
PSNR with its one cap, and the loss tail (MSE + KL-balanced, per-pixel KL).

Shared so that the GHVAE and the SVG' baseline are compared on one objective, and so that
training logs, evaluation and benchmarks report PSNR the same way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["PSNR_CAP_DB", "frame_psnr", "gaussian_kl", "video_vae_loss"]

# PSNR of identical (or nearly identical) frames: the MSE is floored at 1e-10 (data range 1),
# so PSNR never exceeds 100 dB and a perfect copy scores 100 dB, not +inf (means stay finite).
PSNR_CAP_DB = 100.0
_MSE_FLOOR = 10.0 ** (-PSNR_CAP_DB / 10.0)


def frame_psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR in dB (data range 1) of each frame: ``... x 3 x H x W -> ...``, capped at
    :data:`PSNR_CAP_DB`. Computed in the inputs' dtype (float32 unless asked otherwise)."""
    mse = (pred - target).pow(2).mean(dim=(-3, -2, -1))
    return -10.0 * torch.log10(mse.clamp_min(_MSE_FLOOR))


def gaussian_kl(
    mu_q: torch.Tensor,
    std_q: torch.Tensor | float,
    mu_p: torch.Tensor,
    std_p: torch.Tensor,
) -> torch.Tensor:
    """KL(N(mu_q, std_q^2) || N(mu_p, std_p^2)) elementwise (seed Eq. 2); ``std_q`` may be
    a fixed constant (the GHVAE's posterior) or a tensor (SVG')."""
    return torch.log(std_p / std_q) + (std_q * std_q + (mu_q - mu_p) ** 2) / (2.0 * std_p**2) - 0.5


def video_vae_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    kl_post: torch.Tensor,
    kl_prior: torch.Tensor,
    *,
    beta: float,
    prior_kl_weight: float,
) -> dict[str, torch.Tensor]:
    """The negative ELBO's tail, with KL balancing (Hafner et al. 2021).

    pred, target: B x T x 3 x H x W. kl_post = KL(q || sg p) and kl_prior = KL(sg q || p),
    each per frame (summed over latent dims, mean over B and T). The posterior is pulled
    toward the prior with weight ``beta``, the prior fitted to the posterior with weight
    ``prior_kl_weight``; equal weights give exactly the gradients of beta * KL(q || p). The KL
    is divided by the pixels of a frame, so beta is per pixel, as the MSE.

    Returns loss, mse, kl (the value of KL(q || p), detached), psnr (mean over frames), pred.
    """
    pixels = pred.shape[-3] * pred.shape[-2] * pred.shape[-1]
    mse = F.mse_loss(pred, target)
    loss = mse + (beta * kl_post + prior_kl_weight * kl_prior) / pixels
    with torch.no_grad():
        psnr = frame_psnr(pred, target).mean()
    return {"loss": loss, "mse": mse, "kl": kl_post.detach(), "psnr": psnr, "pred": pred}
