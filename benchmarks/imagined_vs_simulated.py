"""Imagined vs simulated rollouts: the GHVAE against RoboNet-Sim-v0 from the same start.

For N held-out start states the simulator runs ``context + horizon`` frames under an action
sequence; the model then imagines the same ``horizon`` frames from the same ``context``
simulator frames and the same actions, S times (stochastic z^K samples). Scored per
predicted step against the simulator: PSNR and SSIM for the best of the S samples, the mean
of the S samples' scores (not the score of a mean image), and the copy-last-frame baseline;
FVD; LPIPS when weights are given.

Choices (recorded in results.json):

* Start states: ``RoboNet-Sim-v0`` ``reset(seed=seed_offset + i)``, i = 0..N-1, seeds
  10_000.. by default. Training data is generated from 63-bit episode seeds
  (``ghvae_env.data.generate.episode_seed``: hashes of (base seed, episode)), so these small
  seeds are not training episodes; when the checkpoint's provenance names its dataset
  directory and it is readable, the script also checks the seeds against the dataset's
  stored seeds and records the overlap (expected 0).
* Actions: ``--policy interaction`` (default) is the data collector's random interaction
  policy (``ghvae_env.sim.policy.RandomInteractionPolicy``, default ``PolicyConfig``, its
  generator seeded with ``(seed, 1)``), i.e. the action distribution the model was trained
  on; ``--policy uniform`` draws every action uniformly from [-1, 1]^4 (gripper sign
  flickers; off the training distribution).
* The model: ``GHVAE.rollout`` (batched: N x S rows at once) on the checkpoint loaded with
  the env's own loader (``load_model_cached``), so it is the very object ``GHVAE-RoboNet-v0``
  steps. ``env_check`` in results.json proves the path: the env (``sample=False``) and
  ``GHVAE.start``/``step`` (``sample=False``) give identical frames from the same context.
  Predictions are scored as the uint8 frames the env would return.
* Best-of-S picks, per start and per metric, the sample with the best mean over time (SVG /
  GHVAE practice); identical frames (PSNR +inf) count as 100 dB.
* FVD: I3D (Kinetics-400) features of whole videos of ``context + horizon`` frames: the
  simulator's, the imagined ones (the shared context frames followed by sample 0's
  predictions) and copy-last (the context, then the last context frame repeated). I3D needs
  >= 9 frames, so FVD is skipped (and says why) when context + horizon < 9, e.g. --quick.
  Below 256 videos per set FVD is biased upward and noisy: N is reported with it.

    python benchmarks/imagined_vs_simulated.py --out benchmarks/results/imagined_vs_simulated
    python benchmarks/imagined_vs_simulated.py --quick --checkpoint tiny.pt --out /tmp/ivs
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import (
    BenchmarkError,
    command_string,
    machine_info,
    markdown_table,
    out_help,
    require_checkpoint,
    resolve_out,
    save_json,
    today,
)

from ghvae_env.data.frames import to_float_chw, to_uint8_hwc
from ghvae_env.model.api import check_temperature, rollout_by_steps, temperature_kwargs
from ghvae_env.model.losses import PSNR_CAP_DB

PSNR_CAP = PSNR_CAP_DB  # identical frames: 100 dB (ghvae_env.model.losses)
ERROR_GAIN = 2.0  # the |error| panel of the grid shows 2 x mean |sim - imagined| over RGB


# ----------------------------------------------------------------------------- simulate
def simulate(
    seeds: list[int], steps: int, policy: str
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Roll RoboNet-Sim-v0 from ``reset(seed=s)`` for ``steps`` frames per seed.

    Returns frames uint8 ``N x steps x 64 x 64 x 3``, actions float32 ``N x (steps-1) x 4``
    (action t leads from frame t to t+1) and timing.
    """
    import gymnasium as gym

    import ghvae_env.sim  # noqa: F401  (registers RoboNet-Sim-v0)
    from ghvae_env.sim.policy import PolicyConfig, RandomInteractionPolicy

    t0 = time.perf_counter()
    env = gym.make("RoboNet-Sim-v0", max_episode_steps=steps)
    construct_s = time.perf_counter() - t0
    scene_cfg = env.unwrapped.scene_config
    n = len(seeds)
    frames = np.empty((n, steps, 64, 64, 3), dtype=np.uint8)
    actions = np.empty((n, steps - 1, 4), dtype=np.float32)
    t0 = time.perf_counter()
    for i, seed in enumerate(seeds):
        obs, info = env.reset(seed=seed)
        rng = np.random.default_rng([seed, 1])
        pol = None
        if policy == "interaction":
            pol = RandomInteractionPolicy(
                PolicyConfig(), scene_cfg.table_top, scene_cfg.action_scale_m, rng
            )
            pol.reset(env.unwrapped.scene.objects)
        frames[i, 0] = obs
        for t in range(steps - 1):
            if pol is not None:
                a = pol.act(info["eef_pos"], info["object_positions"])
            else:
                a = rng.uniform(-1.0, 1.0, 4).astype(np.float32)
            actions[i, t] = a
            obs, _, _, _, info = env.step(a)
            frames[i, t + 1] = obs
    rollout_s = time.perf_counter() - t0
    env.close()
    return (
        frames,
        actions,
        {"construct_s": round(construct_s, 2), "rollouts_s": round(rollout_s, 2)},
    )


def heldout_overlap(model: torch.nn.Module, seeds: list[int]) -> dict[str, Any]:
    """How many of ``seeds`` are episode seeds of the checkpoint's training data, if readable."""
    info = getattr(model, "checkpoint_info", None) or {}
    root = ((info.get("provenance") or {}).get("dataset") or {}).get("root")
    if not root or not Path(root).is_dir():
        return {"checked": False, "reason": f"training data directory not available ({root!r})"}
    from ghvae_env.data.shards import list_shards

    stored: set[int] = set()
    for f in list_shards(root):
        with np.load(f, allow_pickle=False) as z:  # reads only the seeds member
            if "seeds" in z.files:
                stored.update(int(s) for s in z["seeds"])
    return {
        "checked": True,
        "data": root,
        "training_seeds": len(stored),
        "overlap": len(stored & set(seeds)),
    }


# ----------------------------------------------------------------------------- imagine
@torch.no_grad()
def imagine(
    model: torch.nn.Module,
    frames: np.ndarray,
    actions: np.ndarray,
    context: int,
    num_samples: int,
    seed: int,
    device: torch.device,
    chunk: int,
    sample: bool = True,
    temperature: float = 1.0,
) -> tuple[np.ndarray, float]:
    """``GHVAE.rollout`` from ``frames[:, :context]`` under ``actions``, ``chunk`` starts at a time.

    Returns uint8 ``N x S x H x 64 x 64 x 3`` (what the env would return) and wall seconds.
    ``sample=False``: the prior's mean at every step (``model.step(sample=False)``, what
    ``GHVAE-RoboNet-v0`` returns with ``sample=False``), S = 1. ``temperature`` scales the
    sampled noise (``model.rollout(..., temperature=T)``, the env's ``temperature``).
    """
    gen = torch.Generator(device=device).manual_seed(seed)
    out = []
    t0 = time.perf_counter()
    for s in range(0, len(frames), chunk):
        ctx = to_float_chw(frames[s : s + chunk, :context], device)  # (b, C, 3, 64, 64)
        act = torch.as_tensor(actions[s : s + chunk], device=device)  # (b, C-1+H, 4)
        if sample:
            extra = temperature_kwargs(model, temperature, "rollout")
            pred = model.rollout(ctx, act, num_samples=num_samples, generator=gen, **extra)
        else:
            pred = rollout_by_steps(model, ctx, act, generator=gen, sample=False)
        if num_samples == 1:
            pred = pred.unsqueeze(1)  # (b, 1, H, 3, 64, 64)
        out.append(to_uint8_hwc(pred))  # (b, S, H, 64, 64, 3)
    return np.concatenate(out), time.perf_counter() - t0


@torch.no_grad()
def env_check(
    model: torch.nn.Module,
    checkpoint: Path,
    frames: np.ndarray,
    actions: np.ndarray,
    context: int,
    device: torch.device,
) -> dict[str, Any]:
    """GHVAE-RoboNet-v0 and the direct model path agree on start 0 (prior mean, no noise)."""
    import gymnasium as gym

    import ghvae_env  # noqa: F401  (registers GHVAE-RoboNet-v0)

    horizon = actions.shape[1] - (context - 1)
    env = gym.make(
        "GHVAE-RoboNet-v0",
        checkpoint=str(checkpoint),
        device=str(device),
        sample=False,
        max_episode_steps=horizon + 1,
    )
    env.reset(
        seed=0,
        options={
            "context_frames": frames[0, :context],
            "context_actions": actions[0, : context - 1],
        },
    )
    via_env = np.stack([env.step(a)[0] for a in actions[0, context - 1 :]])  # (H, 64, 64, 3)
    same_object = env.unwrapped.model is model
    env.close()
    state = model.start(
        to_float_chw(frames[:1, :context], device),
        torch.as_tensor(actions[:1, : context - 1], device=device),
    )
    direct = []
    for a in actions[0, context - 1 :]:
        frame, state = model.step(state, torch.as_tensor(a[None], device=device), sample=False)
        direct.append(to_uint8_hwc(frame[0]))
    diff = np.abs(via_env.astype(np.int16) - np.stack(direct).astype(np.int16)).max()
    return {
        "same_model_object": bool(same_object),
        "max_abs_uint8_diff": int(diff),
        "steps": horizon,
    }


# ----------------------------------------------------------------------------- score
def _curve(x: np.ndarray) -> dict[str, Any]:
    """``N x H`` per-frame scores -> mean, per-step mean and standard error."""
    n = x.shape[0]
    se = x.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(x.shape[1], np.nan)
    return {
        "mean": round(float(x.mean()), 4),
        "per_step": [round(float(v), 4) for v in x.mean(axis=0)],
        "per_step_se": [round(float(v), 4) for v in se],
    }


def frame_scores(
    pred: np.ndarray,
    target: np.ndarray,
    copy: np.ndarray,
    lpips_weights: str | None,
    pred_mean: np.ndarray | None = None,
) -> dict[str, Any]:
    """PSNR / SSIM (/ LPIPS) curves: model best-of-S, model mean-over-S, copy-last.

    pred: uint8 ``N x S x H x 64 x 64 x 3``; target, copy: uint8 ``N x H x 64 x 64 x 3``.
    """
    from ghvae_env.metrics import MetricUnavailable, best_of_n, lpips, mean_of_n, psnr, ssim

    S = pred.shape[1]
    out: dict[str, Any] = {}
    for name, fn, higher in (
        ("psnr", psnr, True),  # capped at PSNR_CAP
        ("ssim", ssim, True),
        ("lpips", lambda p, t: lpips(p, t, weights_path=lpips_weights), False),
    ):
        try:
            per_sample = np.stack([fn(pred[:, s], target) for s in range(S)])  # (S, N, H)
            copy_scores = fn(copy, target)  # (N, H)
        except MetricUnavailable as e:
            out[name] = {"available": False, "reason": str(e)}
            continue
        best = best_of_n(per_sample, higher_is_better=higher)
        out[name] = {
            "available": True,
            "higher_is_better": higher,
            "model_best_of_n": _curve(best.scores),
            "model_mean_of_n": _curve(mean_of_n(per_sample)),
            "copy_last": _curve(copy_scores),
            **({} if pred_mean is None else {"prior_mean": _curve(fn(pred_mean, target))}),
            "best_sample_index_counts": np.bincount(best.index, minlength=S).tolist(),
        }
    return out


def fvd_scores(
    frames: np.ndarray,
    pred0: np.ndarray,
    context: int,
    device: torch.device,
    batch_size: int,
    pred_mean: np.ndarray | None = None,
) -> dict[str, Any]:
    """FVD of simulator videos vs imagined (sample 0) and vs copy-last, over context + H frames
    (and vs the prior-mean rollouts ``pred_mean``, N x H x 64 x 64 x 3, when given).

    The I3D features of the simulator set are computed once and used for both distances
    (same features, statistics and distance as :func:`ghvae_env.metrics.fvd`).
    """
    from ghvae_env.metrics import MetricUnavailable, frechet_distance, i3d_features, load_i3d
    from ghvae_env.metrics.frechet import FVD_MIN_VIDEOS
    from ghvae_env.metrics.i3d import I3D_MIN_FRAMES

    n, t = frames.shape[:2]
    base = {"videos_per_set": n, "frames_per_video": t, "context_frames_included": context}
    if t < I3D_MIN_FRAMES:
        return {
            **base,
            "computed": False,
            "reason": f"I3D needs >= {I3D_MIN_FRAMES} frames per video, context + horizon = {t}",
        }
    if n < 2:
        return {**base, "computed": False, "reason": f"FVD needs >= 2 videos per set, N = {n}"}
    try:
        i3d = load_i3d(device)
    except MetricUnavailable as e:
        return {**base, "computed": False, "reason": str(e)}
    ctx = frames[:, :context]
    imagined = np.concatenate([ctx, pred0], axis=1)  # (N, C+H, 64, 64, 3)
    copy = np.concatenate([ctx, np.repeat(frames[:, context - 1 : context], t - context, 1)], 1)
    t0 = time.perf_counter()
    sets = [("sim", frames), ("imagined", imagined), ("copy_last", copy)]
    if pred_mean is not None:
        sets.append(("prior_mean", np.concatenate([ctx, pred_mean], axis=1)))
    feats = {k: i3d_features(v, i3d, batch_size, name=k) for k, v in sets}

    def dist(a: np.ndarray, b: np.ndarray) -> float:
        return frechet_distance(
            a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
        )

    return {
        **base,
        "computed": True,
        "sim_vs_imagined": round(dist(feats["sim"], feats["imagined"]), 3),
        "sim_vs_copy_last": round(dist(feats["sim"], feats["copy_last"]), 3),
        **(
            {"sim_vs_prior_mean": round(dist(feats["sim"], feats["prior_mean"]), 3)}
            if "prior_mean" in feats
            else {}
        ),
        "imagined_sample": 0,
        "sample_size_warning": (
            f"N = {n} < {FVD_MIN_VIDEOS} videos per set: FVD is biased upward, noisy and "
            "comparable only at equal N"
            if n < FVD_MIN_VIDEOS
            else None
        ),
        "i3d_s": round(time.perf_counter() - t0, 1),
    }


# ----------------------------------------------------------------------------- outputs
def plot_curves(scores: dict[str, Any], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric, label in zip(axes, ("psnr", "ssim"), ("PSNR (dB)", "SSIM"), strict=True):
        for key, name, style in (
            ("model_best_of_n", "model best-of-S", "-o"),
            ("model_mean_of_n", "model mean over S", "-s"),
            ("prior_mean", "model, prior mean", "-d"),
            ("copy_last", "copy last frame", "--^"),
        ):
            if key not in scores[metric]:
                continue
            c = scores[metric][key]
            y, se = np.asarray(c["per_step"]), np.nan_to_num(np.asarray(c["per_step_se"], float))
            x = np.arange(1, len(y) + 1)
            ax.plot(x, y, style, ms=3, label=name)
            ax.fill_between(x, y - se, y + se, alpha=0.2)
        ax.set_xlabel("predicted step (shaded: +-1 standard error over starts)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_grid(
    frames: np.ndarray, pred: np.ndarray, context: int, rows: int, path: Path, fps: int
) -> dict[str, Any]:
    """Video of ``rows`` starts, each row [sim | imagined | |error|], upscaled 2x.

    frames: uint8 ``N x (C+H) x 64 x 64 x 3``; pred: uint8 ``N x H x 64 x 64 x 3`` (one
    sample per start). During the context frames the imagined column shows the context.
    """
    import imageio.v2 as iio

    rows = min(rows, len(frames))
    imag = np.concatenate([frames[:rows, :context], pred[:rows]], axis=1)  # (R, T, 64, 64, 3)
    sim = frames[:rows]
    err = np.abs(sim.astype(np.int16) - imag.astype(np.int16)).mean(-1, keepdims=True)
    err = np.clip(err * ERROR_GAIN, 0, 255).astype(np.uint8).repeat(3, -1)
    gap = 4
    cell = 128
    T = sim.shape[1]
    h = rows * cell + (rows - 1) * gap
    w = 3 * cell + 2 * gap
    video = np.full((T, h, w, 3), 255, dtype=np.uint8)
    for r in range(rows):
        for c, panel in enumerate((sim[r], imag[r], err[r])):
            y, x = r * (cell + gap), c * (cell + gap)
            video[:, y : y + cell, x : x + cell] = panel.repeat(2, 1).repeat(2, 2)
    if path.suffix == ".gif":
        iio.mimwrite(path, list(video), duration=1000 / fps, loop=0)
    else:  # mp4: H.264 wants sizes divisible by 16
        ph, pw = -h % 16, -w % 16
        video = np.pad(video, ((0, 0), (0, ph), (0, pw), (0, 0)), constant_values=255)
        iio.mimwrite(path, list(video), fps=fps, macro_block_size=16)
    return {
        "path": path.name,
        "rows": rows,
        "frames": T,
        "columns": ["simulator", "imagined (sample 0)", f"|error| x{ERROR_GAIN:g} (grey)"],
        "upscale": 2,
        "bytes": path.stat().st_size,
    }


def write_side_by_side(
    frames: np.ndarray, pred: np.ndarray, context: int, starts: int, path: Path
) -> dict[str, Any]:
    """PNG: per start, the simulator's row above the imagined row (the last context frame,
    then the H predicted steps), upscaled 2x, so a reader sees at a glance what drifts.

    frames: uint8 ``N x (C+H) x 64 x 64 x 3``; pred: uint8 ``N x H x 64 x 64 x 3``.
    """
    import imageio.v3 as iio

    starts = min(starts, len(frames))
    H = pred.shape[1]
    cell, gap, block_gap = 128, 2, 10
    w = (H + 1) * cell + H * gap
    h = starts * (2 * cell + gap) + (starts - 1) * block_gap
    sheet = np.full((h, w, 3), 255, dtype=np.uint8)
    for i in range(starts):
        rows = (
            frames[i, context - 1 :],
            np.concatenate([frames[i, context - 1 : context], pred[i]]),
        )
        for r, row in enumerate(rows):
            y = i * (2 * cell + gap + block_gap) + r * (cell + gap)
            for t, img in enumerate(row):
                x = t * (cell + gap)
                sheet[y : y + cell, x : x + cell] = img.repeat(2, 0).repeat(2, 1)
    iio.imwrite(path, sheet)
    return {
        "path": path.name,
        "starts": starts,
        "rows": ["simulator", "imagined (sample 0)"],
        "columns": f"last context frame, then predicted steps 1..{H}",
    }


def _temperature_note(cfg: dict[str, Any]) -> str:
    t = cfg.get("temperature", 1.0)
    return "" if t == 1.0 else f" at latent temperature {t:g} (z = mean + {t:g} std eps)"


def table_md(result: dict[str, Any]) -> str:
    cfg, sc, fv = result["config"], result["scores"], result["fvd"]
    S, H = cfg["num_samples"], cfg["horizon"]
    header = [
        "predictor",
        "PSNR mean",
        "PSNR step 1",
        f"PSNR step {H}",
        "SSIM mean",
        f"SSIM step {H}",
    ]
    has_lpips = sc["lpips"]["available"]
    if has_lpips:
        header += ["LPIPS mean"]
    rows = []
    for key, name in (
        ("model_best_of_n", f"model, best of {S}"),
        ("model_mean_of_n", f"model, mean over {S}"),
        ("prior_mean", "model, prior mean (no sampling)"),
        ("copy_last", "copy last frame"),
    ):
        if key not in sc["psnr"]:
            continue
        p, s = sc["psnr"][key], sc["ssim"][key]
        row = [name, p["mean"], p["per_step"][0], p["per_step"][-1]]
        row += [f"{s['mean']:.3f}", f"{s['per_step'][-1]:.3f}"]
        if has_lpips:
            row.append(f"{sc['lpips'][key]['mean']:.3f}")
        rows.append(row)
    text = (
        f"Imagined vs simulated, {result['date']}: checkpoint `{cfg['checkpoint_name']}`, "
        f"N = {cfg['num_starts']} held-out starts (RoboNet-Sim-v0 seeds "
        f"{cfg['seed_offset']}..{cfg['seed_offset'] + cfg['num_starts'] - 1}), "
        f"{cfg['policy']} actions, context {cfg['context']}, horizon {H}, S = {S} samples"
        f"{_temperature_note(cfg)}; "
        f"PSNR in dB, per predicted frame vs the simulator.\n\n"
    )
    text += markdown_table(header, rows)
    if fv["computed"]:
        text += (
            f"\nFVD (I3D, {fv['videos_per_set']} videos of {fv['frames_per_video']} frames, "
            f"the {fv['context_frames_included']} context frames included): "
            f"model (sample 0) {fv['sim_vs_imagined']:.1f}, "
            + (
                f"model (prior mean) {fv['sim_vs_prior_mean']:.1f}, "
                if "sim_vs_prior_mean" in fv
                else ""
            )
            + f"copy-last {fv['sim_vs_copy_last']:.1f}"
            + (
                " (fewer than 256 videos: biased upward, compare only at equal N)"
                if fv["sample_size_warning"]
                else ""
            )
            + ".\n"
        )
    else:
        text += f"\nFVD not computed: {fv['reason']}.\n"
    if not has_lpips:
        text += "LPIPS: unavailable (no --lpips-weights).\n"
    text += f"\n`{result['command']}`\n"
    return text


# ----------------------------------------------------------------------------- main
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--checkpoint", default=None, help="GHVAE checkpoint (default: the bundled one)")
    p.add_argument("--num-starts", type=int, default=256, help="N held-out start states")
    p.add_argument("--context", type=int, default=2, help="simulator frames given to the model")
    p.add_argument("--horizon", type=int, default=10, help="H predicted steps")
    p.add_argument("--num-samples", type=int, default=3, help="S model samples per start")
    p.add_argument(
        "--seed-offset",
        type=int,
        default=10_000,
        help="start i resets the simulator with seed offset + i",
    )
    p.add_argument(
        "--policy",
        choices=("interaction", "uniform"),
        default="interaction",
        help="actions: the data collector's random interaction policy, or uniform in [-1, 1]^4",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the model's z^K samples")
    p.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="latent sampling temperature of the sampled rollouts: z = mean + T std eps "
        "(1: the prior as trained, 0: its mean); default: the checkpoint's recorded one, "
        "else 1 (what GHVAE-RoboNet-v0 samples at by default)",
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:i] (model and I3D)")
    p.add_argument("--chunk", type=int, default=64, help="starts per batched model rollout")
    p.add_argument("--fvd", action=argparse.BooleanOptionalAction, default=True, help="compute FVD")
    p.add_argument(
        "--prior-mean",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also score the prior-mean rollout (no sampling; the env's sample=False)",
    )
    p.add_argument("--i3d-batch", type=int, default=8, help="videos per I3D forward pass")
    p.add_argument(
        "--lpips-weights",
        default=None,
        help="LPIPS AlexNet .pth (see ghvae_env.metrics.perceptual)",
    )
    p.add_argument("--grid-rows", type=int, default=4, help="starts shown in the grid video")
    p.add_argument(
        "--grid-format",
        choices=("mp4", "gif"),
        default="mp4",
        help="grid video format (mp4 is ~7x smaller; gif embeds in markdown)",
    )
    p.add_argument("--out", default=None, help=out_help("imagined_vs_simulated"))
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: N=2, H=3, S=2, FVD skipped (needs >= 9 frames)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    resolve_out(p, args, "imagined_vs_simulated")
    if args.quick:
        args.num_starts, args.horizon, args.num_samples, args.grid_rows = 2, 3, 2, 2
        args.fvd = False
    for name in (
        "num_starts",
        "horizon",
        "num_samples",
        "context",
        "chunk",
        "i3d_batch",
        "grid_rows",
    ):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, actual value: {getattr(args, name)}")
    try:
        if args.temperature is not None:
            check_temperature(args.temperature)
    except ValueError as e:
        p.error(f"--temperature: {e}")
    try:
        checkpoint = require_checkpoint(args.checkpoint)
    except BenchmarkError as e:
        p.error(str(e))
    from ghvae_env._device import resolve_device
    from ghvae_env.envs.assets import load_model_cached
    from ghvae_env.model.checkpoint import model_temperature

    command = command_string("imagined_vs_simulated.py", argv)
    print(command, flush=True)
    t_start = time.time()
    device = resolve_device(args.device)
    model = load_model_cached(checkpoint, device)
    from ghvae_env.envs.assets import model_scene_version, warn_model_vs_simulator
    from ghvae_env.sim.scene import SCENE_VERSION

    warn_model_vs_simulator(model)
    if args.temperature is None:  # the env's default: the checkpoint's own, else 1
        args.temperature = model_temperature(model)
    C, H, S = args.context, args.horizon, args.num_samples
    seeds = [args.seed_offset + i for i in range(args.num_starts)]

    frames, actions, sim_timing = simulate(seeds, C + H, args.policy)
    print(
        f"simulated {len(seeds)} x {C + H} frames in {sim_timing['rollouts_s']:.1f} s", flush=True
    )
    pred, imagine_s = imagine(
        model, frames, actions, C, S, args.seed, device, args.chunk, temperature=args.temperature
    )
    print(f"imagined {len(seeds)} x {S} x {H} frames in {imagine_s:.1f} s", flush=True)
    pred_mean = None
    if args.prior_mean:
        pm, _ = imagine(model, frames, actions, C, 1, args.seed, device, args.chunk, sample=False)
        pred_mean = pm[:, 0]

    target = frames[:, C:]  # (N, H, 64, 64, 3)
    copy = np.repeat(frames[:, C - 1 : C], H, axis=1)
    scores = frame_scores(pred, target, copy, args.lpips_weights, pred_mean)
    if args.fvd:
        fvd = fvd_scores(frames, pred[:, 0], C, device, args.i3d_batch, pred_mean)
    else:
        fvd = {"computed": False, "reason": "--no-fvd" + (" (--quick)" if args.quick else "")}

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "benchmark": "imagined_vs_simulated",
        "command": command,
        "date": today(),
        "machine": machine_info(device),
        "config": {
            **vars(args),
            "checkpoint": str(checkpoint),
            "checkpoint_name": checkpoint.name,
            "checkpoint_stage": (model.checkpoint_info or {}).get("stage"),
            "model_scene_version": model_scene_version(model),
            "simulator_scene_version": SCENE_VERSION,
            "model_config": model.config.to_dict(),
            "seeds": [seeds[0], seeds[-1]],
            "psnr_cap_db": PSNR_CAP,
            "best_of_n": "per start and metric, the sample with the best mean over the H steps",
        },
        "heldout_check": heldout_overlap(model, seeds),
        "env_check": env_check(model, checkpoint, frames, actions, C, device),
        "scores": scores,
        "fvd": fvd,
        "timing_s": {
            "sim_construct": sim_timing["construct_s"],
            "sim_rollouts": sim_timing["rollouts_s"],
            "model_rollouts": round(imagine_s, 2),
        },
    }
    title = f"{checkpoint.name}: N={len(seeds)} starts, S={S}, context {C} ({args.policy} actions)"
    plot_curves(scores, out / "curves.png", title)
    result["grid"] = write_grid(
        frames, pred[:, 0], C, args.grid_rows, out / f"grid.{args.grid_format}", fps=4
    )
    result["side_by_side"] = write_side_by_side(
        frames, pred[:, 0], C, args.grid_rows, out / "side_by_side.png"
    )
    result["timing_s"]["total"] = round(time.time() - t_start, 1)
    (out / "table.md").write_text(table_md(result))
    save_json(out / "results.json", result)
    print((out / "table.md").read_text())
    print(
        f"wrote {out}/results.json, curves.png, side_by_side.png, {result['grid']['path']}, "
        "table.md"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
