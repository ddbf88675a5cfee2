"""Ablations on the numpy toy scene with the tiny preset: modules, prior, greedy vs end-to-end.

(a) Number of modules K = 1, 2, 3, trained greedily (seed Table 3). One greedy run of
    ``--modules`` modules gives all of them: after stage k, modules 1..k are exactly a
    greedily trained k-module model (same initial weights, same batches), evaluated as a
    k-module GHVAE (its top prior_k samples z^k). Is held-out PSNR monotonic in K?
(b) Learned action-conditioned prior vs a uniform N(0, I) prior (seed Table 6):
    ``TrainConfig(model_overrides=ModelOverrides(learned_prior=False))``, ``--k`` modules, same greedy steps.
(c) Greedy vs end-to-end from scratch (seed Table 4): a ``--k``-module model with every
    module trainable from step 0 (``freeze_for_stage(model, Phase("e2e", K, steps))``, the
    trainer's e2e freezing, driven by an Adam loop here because the trainer only fine-tunes
    e2e after greedy stages), for the same total step count as greedy (K x steps per
    module) and the greedy learning rate; and greedy + ``--finetune-steps`` end-to-end
    fine-tuning (``TrainConfig(finetune_e2e=...)`` on the greedy K-module model).

Every model starts from the same seed and sees the trainer's batch stream; every model is
scored on the same held-out clips (``ghvae_env.training.evaluate.evaluate_rollouts``:
PSNR of one sample, copy-last-frame PSNR, PSNR under shuffled actions) plus SSIM
(``ghvae_env.metrics.ssim``) on the very same predictions (same clips, same noise). One
training seed per variant: differences of a few tenths of a dB are within seed noise.

Runs live in ``--out``/runs; re-running resumes finished or interrupted trainer runs
(``--resume``) and reuses a finished end-to-end run with the same arguments.

    python benchmarks/ablations.py --out benchmarks/results/ablations
    python benchmarks/ablations.py --quick --out /tmp/ablations
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import (
    command_string,
    machine_info,
    markdown_table,
    out_help,
    resolve_out,
    save_json,
    today,
)

from ghvae_env.data.frames import to_float_chw
from ghvae_env.model import GHVAE, GHVAEConfig, load_model, save_checkpoint
from ghvae_env.training.trainer import (
    ModelOverrides,
    Phase,
    TrainConfig,
    freeze_for_stage,
    train,
)


# ----------------------------------------------------------------------------- models
def truncated(model: GHVAE, k: int) -> GHVAE:
    """Modules 1..k of ``model`` as a k-module GHVAE (its prior_k is the one sampled)."""
    sub = GHVAE(model.config.with_modules(k))
    keep = tuple(f"blocks.{j}." for j in range(k))
    sub.load_state_dict({n: v for n, v in model.state_dict().items() if n.startswith(keep)})
    return sub.eval().requires_grad_(False)


def _train_config(args: argparse.Namespace, out: Path, **kw: Any) -> TrainConfig:
    cfg = TrainConfig(
        data=str(args.data),
        out=str(out),
        preset=args.preset,
        steps_per_module=args.steps_per_module,
        batch_size=args.batch_size,
        context=args.context,
        horizon=args.train_horizon,
        eval_clips=args.eval_clips,
        seed=args.seed,
        device="cpu",
        progress=False,
        **kw,
    )
    cfg.resume = (out / "last.pt").exists()  # re-running the script continues the run
    return cfg


def train_greedy(args: argparse.Namespace, name: str, **kw: Any) -> tuple[Path, float]:
    out = Path(args.out) / "runs" / name
    t0 = time.time()
    train(_train_config(args, out, **kw))
    return out, time.time() - t0


def e2e_from_scratch(
    args: argparse.Namespace, k: int, steps: int, seed: int
) -> tuple[GHVAE, dict[str, Any]]:
    """A k-module GHVAE, every module trainable from step 0 (the trainer's e2e freezing, the
    trainer's batch stream, the greedy learning rate), trained for ``steps`` steps from the
    initial weights of the greedy run of ``seed``. Stops at a non-finite loss.

    Returns the model (eval mode) and a record: the training loss and PSNR of every step,
    the step at which the loss became non-finite (None: never), and the wall seconds."""
    from ghvae_env.data.dataset import VideoDataset

    torch.manual_seed(seed)  # the initial weights of the greedy runs
    config = GHVAEConfig.preset(
        args.preset, num_modules=k, context_frames=args.context, horizon=args.train_horizon
    )
    model = GHVAE(config)
    params = freeze_for_stage(model, Phase("e2e", k, steps))
    opt = torch.optim.Adam(params, lr=TrainConfig.lr)
    ds = VideoDataset(args.data, window=args.context + args.train_horizon, split="train")
    t0, psnrs, losses, diverged_at = time.time(), [], [], None
    for step in range(steps):
        rng = np.random.default_rng([seed, 0, step, 0])  # the trainer's batch stream
        frames, actions = ds.sample_batch(args.batch_size, rng)
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        loss = model.loss(
            to_float_chw(frames), torch.as_tensor(actions), stage=k, frozen_below=1, generator=gen
        )
        value = float(loss["loss"].detach())
        if not np.isfinite(value):
            diverged_at = step
            break
        opt.zero_grad(set_to_none=True)
        loss["loss"].backward()
        torch.nn.utils.clip_grad_norm_(params, TrainConfig.grad_clip)
        opt.step()
        losses.append(value)
        psnrs.append(float(loss["psnr"]))
        if args.log_every and (step + 1) % args.log_every == 0:
            print(f"[e2e-scratch K={k}] step {step + 1}/{steps} loss {value:.4f}", flush=True)
    model.eval().requires_grad_(False)
    record = {"losses": losses, "psnrs": psnrs, "diverged_at": diverged_at}
    return model, {**record, "wall_s": time.time() - t0}


def train_e2e_scratch(args: argparse.Namespace, k: int) -> tuple[GHVAE, dict[str, Any]]:
    """k modules, all trainable from step 0 (trainer's e2e freezing), k x steps_per_module steps."""
    steps = k * args.steps_per_module
    out = Path(args.out) / "runs" / f"e2e_scratch_K{k}"
    path = out / "model.pt"
    spec = {
        "data": str(args.data),
        "preset": args.preset,
        "modules": k,
        "steps": steps,
        "batch_size": args.batch_size,
        "lr": TrainConfig.lr,
        "grad_clip": TrainConfig.grad_clip,
        "context": args.context,
        "horizon": args.train_horizon,
        "seed": args.seed,
    }
    if path.exists():
        model = load_model(path)
        if (model.checkpoint_info.get("provenance") or {}).get("ablation") == spec:
            return model, {"steps": steps, "reused": True}
    model, run = e2e_from_scratch(args, k, steps, args.seed)
    if run["diverged_at"] is not None:
        raise RuntimeError(
            f"e2e from scratch: loss became non-finite at step {run['diverged_at']}; lower the lr"
        )
    tail = run["psnrs"][-20:]
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(
        path, model, trained_modules=k, stage="e2e-scratch", provenance={"ablation": spec}
    )
    return model, {
        "steps": steps,
        "reused": False,
        "wall_s": round(run["wall_s"], 1),
        "final_train_psnr_last20": round(float(np.mean(tail)), 3) if tail else None,
    }


# ----------------------------------------------------------------------------- evaluate
@torch.no_grad()
def _ssim_same_predictions(
    model: GHVAE, ds, args: argparse.Namespace, batch_size: int = 32
) -> dict[str, Any]:
    """SSIM of the predictions evaluate_rollouts scores: same clips, same noise seeds."""
    from ghvae_env.metrics import ssim

    C, H = args.context, args.horizon
    rng = np.random.default_rng(args.seed)
    n = min(args.eval_clips, len(ds))
    idx = rng.choice(len(ds), size=n, replace=False)
    gen = torch.Generator().manual_seed(args.seed)
    model_s, copy_s = [], []
    for s in range(0, n, batch_size):
        items = [ds[int(i)] for i in idx[s : s + batch_size]]
        frames = to_float_chw(np.stack([it["frames"][: C + H] for it in items]))
        actions = torch.as_tensor(np.stack([it["actions"][: C + H - 1] for it in items]))
        noise_seed = int(torch.randint(0, 2**62, (1,), generator=gen))
        pred = model.rollout(
            frames[:, :C], actions, generator=torch.Generator().manual_seed(noise_seed)
        )
        target = frames[:, C:]
        model_s.append(ssim(pred.clamp(0, 1), target))
        copy_s.append(ssim(frames[:, C - 1 : C].expand_as(target), target))
    m, c = np.concatenate(model_s), np.concatenate(copy_s)  # (n, H)
    return {
        "ssim": round(float(m.mean()), 4),
        "copy_last_ssim": round(float(c.mean()), 4),
        "ssim_per_step": [round(float(v), 4) for v in m.mean(0)],
    }


def evaluate(model: GHVAE, ds, args: argparse.Namespace) -> dict[str, Any]:
    from ghvae_env.training.evaluate import evaluate_rollouts

    model = model.eval()
    ev = evaluate_rollouts(
        model,
        ds,
        context=args.context,
        horizon=args.horizon,
        num_clips=args.eval_clips,
        seed=args.seed,
    )
    ev = {k: round(v, 3) if isinstance(v, float) else v for k, v in ev.items()}
    return {**ev, **_ssim_same_predictions(model, ds, args)}


# ----------------------------------------------------------------------------- main
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--data", default=None, help="toy dataset directory (default: OUT/toy_data, generated)"
    )
    p.add_argument("--episodes", type=int, default=300, help="toy episodes to generate")
    p.add_argument("--episode-steps", type=int, default=20, help="frames per generated episode")
    p.add_argument("--data-seed", type=int, default=0, help="base seed of the generated data")
    p.add_argument("--preset", default="tiny", help="model width preset")
    p.add_argument("--modules", type=int, default=3, help="largest K for ablation (a)")
    p.add_argument("--k", type=int, default=2, help="K of ablations (b) and (c)")
    p.add_argument("--steps-per-module", type=int, default=400, help="greedy steps per module")
    p.add_argument(
        "--finetune-steps", type=int, default=400, help="e2e fine-tune steps after greedy (c)"
    )
    p.add_argument("--batch-size", type=int, default=16, help="clips per training step")
    p.add_argument(
        "--context", type=int, default=2, help="context frames (training and evaluation)"
    )
    p.add_argument(
        "--train-horizon", type=int, default=8, help="predicted frames per training clip"
    )
    p.add_argument("--horizon", type=int, default=8, help="predicted frames per held-out clip")
    p.add_argument("--eval-clips", type=int, default=128, help="held-out clips scored per model")
    p.add_argument(
        "--seed", type=int, default=0, help="training seed (weights, batches) and clip choice"
    )
    p.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)"
    )
    p.add_argument(
        "--log-every", type=int, default=100, help="e2e-from-scratch progress lines (0: none)"
    )
    p.add_argument("--out", default=None, help=out_help("ablations"))
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 30 episodes of 12 frames, 2 steps per module, batch 4, 8 clips",
    )
    return p


def _row(name: str, modules: int, steps: str, ev: dict[str, Any]) -> list[Any]:
    return [
        name,
        modules,
        steps,
        ev["psnr"],
        ev["psnr_per_step"][-1],
        f"{ev['ssim']:.3f}",
        ev["psnr_shuffled_actions"],
        ev["copy_last_psnr"],
        f"{ev['copy_last_ssim']:.3f}",
    ]


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    resolve_out(p, args, "ablations")
    if args.quick:
        args.episodes, args.episode_steps = 30, 12
        args.steps_per_module, args.finetune_steps, args.batch_size = 2, 2, 4
        args.eval_clips, args.log_every = 8, 0
    positive = ("episodes", "modules", "k", "steps_per_module", "batch_size", "context")
    for name in (*positive, "train_horizon", "horizon", "eval_clips"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, actual value: {getattr(args, name)}")
    if args.k > args.modules:
        p.error(f"--k must be <= --modules ({args.modules}), actual value: {args.k}")
    window = args.context + max(args.horizon, args.train_horizon)
    if args.episode_steps < window:
        p.error(
            f"--episode-steps must be >= context + horizon = {window}, actual value: {args.episode_steps}"
        )
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = command_string("ablations.py", argv)
    print(command, flush=True)
    t_start = time.time()

    from ghvae_env.data.dataset import VideoDataset
    from ghvae_env.data.generate import generate

    generated = args.data is None
    if generated:
        args.data = str(out / "toy_data")
        generate(
            "toy", args.data, args.episodes, args.episode_steps, seed=args.data_seed, progress=False
        )
    heldout = VideoDataset(args.data, window=args.context + args.horizon, split="heldout")
    print(f"held-out: {heldout}", flush=True)
    S, K, k = args.steps_per_module, args.modules, args.k
    wall: dict[str, float] = {}

    # (a) modules 1..K, greedy (one run); (b, c) reuse its first k modules as "greedy, learned prior"
    run, wall["greedy"] = train_greedy(args, f"greedy_K{K}", modules=K)
    full = load_model(run / "model.pt")
    by_modules = []
    for j in range(1, K + 1):
        ev = evaluate(truncated(full, j), heldout, args)
        by_modules.append({"modules": j, "greedy_steps": j * S, **ev})
        print(
            f"(a) greedy K={j}: held-out PSNR {ev['psnr']:.2f} dB, SSIM {ev['ssim']:.3f} "
            f"(copy-last {ev['copy_last_psnr']:.2f} dB)",
            flush=True,
        )
    psnrs = [r["psnr"] for r in by_modules]
    greedy_k = by_modules[k - 1]

    # (b) uniform prior
    run_u, wall["uniform_prior"] = train_greedy(
        args,
        f"uniform_prior_K{k}",
        modules=k,
        model_overrides=ModelOverrides(learned_prior=False),
    )
    uniform = evaluate(load_model(run_u / "model.pt"), heldout, args)
    print(f"(b) uniform prior K={k}: held-out PSNR {uniform['psnr']:.2f} dB", flush=True)

    # (c) e2e from scratch, and greedy + e2e fine-tune (stacked on the greedy k-module model)
    t0 = time.time()
    scratch_model, scratch_info = train_e2e_scratch(args, k)
    wall["e2e_scratch"] = time.time() - t0
    scratch = evaluate(scratch_model, heldout, args)
    print(f"(c) e2e from scratch K={k}: held-out PSNR {scratch['psnr']:.2f} dB", flush=True)
    base = out / "runs" / f"greedy_K{k}_of_{K}.pt"
    save_checkpoint(base, truncated(full, k), trained_modules=k, stage=f"greedy-{k}")
    run_ft, wall["greedy_finetune"] = train_greedy(
        args, f"greedy_K{k}_finetune", init_from=str(base), finetune_e2e=args.finetune_steps
    )
    finetuned = evaluate(load_model(run_ft / "model.pt"), heldout, args)
    print(f"(c) greedy + e2e fine-tune K={k}: held-out PSNR {finetuned['psnr']:.2f} dB", flush=True)

    train_args = dataclasses.asdict(_train_config(args, out / "runs" / "_"))
    result = {
        "benchmark": "ablations",
        "command": command,
        "date": today(),
        "machine": machine_info("cpu"),
        "config": {**vars(args), "data_generated": generated, "train_config": train_args},
        "heldout": {
            "clips_scored": by_modules[0]["num_clips"],
            "windows": len(heldout),
            "trajectories": heldout.num_trajectories,
        },
        "a_modules": {
            "rows": by_modules,
            "psnr": psnrs,
            "monotonic_psnr": bool(all(b >= a for a, b in zip(psnrs[:-1], psnrs[1:], strict=True))),
        },
        "b_prior": {
            "learned": greedy_k,
            "uniform": uniform,
            "psnr_gain_learned": round(greedy_k["psnr"] - uniform["psnr"], 3),
        },
        "c_training": {
            "greedy": {"steps": k * S, **greedy_k},
            "e2e_scratch": {**scratch_info, **scratch},
            "greedy_then_e2e_finetune": {"steps": k * S + args.finetune_steps, **finetuned},
        },
        "wall_s": {
            **{n: round(v, 1) for n, v in wall.items()},
            "total": round(time.time() - t_start, 1),
        },
    }
    header = ["variant", "K", "train steps", "PSNR", f"PSNR step {args.horizon}", "SSIM"]
    header += ["PSNR shuffled actions", "copy-last PSNR", "copy-last SSIM"]
    rows = [
        _row(f"(a) greedy, {r['modules']} module(s)", r["modules"], str(r["greedy_steps"]), r)
        for r in by_modules
    ]
    rows.append(_row("(b) greedy, uniform prior N(0, I)", k, str(k * S), uniform))
    rows.append(_row("(c) end-to-end from scratch", k, str(k * S), scratch))
    rows.append(
        _row("(c) greedy + e2e fine-tune", k, f"{k * S} + {args.finetune_steps}", finetuned)
    )
    md = (
        f"Ablations, {result['date']}: toy scene ({args.episodes} episodes x {args.episode_steps} frames), "
        f"preset `{args.preset}`, {S} greedy steps per module, batch {args.batch_size}, seed {args.seed}; "
        f"{result['heldout']['clips_scored']} held-out clips, context {args.context}, horizon "
        f"{args.horizon}, one sample; PSNR in dB (mean over predicted frames). "
        f"(a) monotonic in K: {'yes' if result['a_modules']['monotonic_psnr'] else 'no'}.\n\n"
        + markdown_table(header, rows)
        + f"\n`{command}`\n"
    )
    (out / "table.md").write_text(md)
    save_json(out / "results.json", result)
    print(md)
    print(f"wrote {out}/results.json and table.md ({result['wall_s']['total']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
