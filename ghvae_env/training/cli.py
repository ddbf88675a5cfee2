"""``ghvae train``: greedy module-by-module training from the command line (also under torchrun)."""

from __future__ import annotations

import argparse
import json
import sys

from ghvae_env._dataclass_cli import add_options, from_args
from ghvae_env._threads import add_threads_argument, apply_threads
from ghvae_env.training.config import ModelOverrides, TrainConfig

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a GHVAE greedily, module by module (or the SVG' baseline)",
        description="Greedy GHVAE training. Stage k trains module k with modules < k frozen. "
        "--model svg-prime trains the SVG' baseline end to end on the same data with the same "
        "loss, progress, checkpoints, resume and DDP. "
        "Multi-process: torchrun --nproc-per-node N -m ghvae_env train ...",
    )
    # every option but --threads is a field of TrainConfig / ModelOverrides: defaults and help
    # live there (ghvae_env._dataclass_cli)
    add_options(p, TrainConfig)
    add_options(p, ModelOverrides)
    add_threads_argument(p)
    p.set_defaults(func=_run)

    e = subparsers.add_parser(
        "evaluate",
        help="score a checkpoint on held-out clips: PSNR vs copy-last-frame, action conditioning",
        description="Roll a checkpoint out from `context` true frames under the true actions and "
        "compare with the copy-last-frame baseline; also rolls out under shuffled actions.",
    )
    e.add_argument(
        "--checkpoint", default=None, help="checkpoint path (default: the bundled model)"
    )
    e.add_argument("--data", required=True, help="dataset directory (shards or RoboNet HDF5)")
    e.add_argument(
        "--split",
        default="heldout",
        choices=["heldout", "train", "all"],
        help="trajectories the clips come from (default: heldout, the trainer's held-out split)",
    )
    e.add_argument("--context", type=int, default=2, help="true frames the model sees first")
    e.add_argument("--horizon", type=int, default=10, help="frames predicted after the context")
    e.add_argument(
        "--clips",
        type=int,
        default=256,
        help="clips to score, drawn with --seed (fewer if the split holds fewer)",
    )
    e.add_argument("--seed", type=int, default=0, help="seed of the clip draw and the samples")
    e.add_argument(
        "--modules", type=int, default=None, help="score only modules 1..K (default: all)"
    )
    e.add_argument("--device", default="cpu", help="auto | cpu | cuda | cuda:i")
    e.add_argument("--json", default=None, help="also write the full results here as JSON")
    e.add_argument(
        "--prior-mean",
        action="store_true",
        help="decode the prior's mean instead of a sample (GHVAE)",
    )
    e.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="latent sampling temperature: z = mean + T std eps (1: the prior as trained); "
        "default: the checkpoint's recorded one, else 1 (as the env)",
    )
    e.add_argument("--ssim", action="store_true", help="also score SSIM per step")
    add_threads_argument(e)
    e.set_defaults(func=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    import time

    from ghvae_env.data.dataset import VideoDataset
    from ghvae_env.model import GHVAE, load_model
    from ghvae_env.model.checkpoint import model_temperature
    from ghvae_env.training.evaluate import evaluate_rollouts

    t0 = time.time()
    apply_threads(args.threads, device=args.device)
    model = load_model(args.checkpoint, device=args.device)
    info = model.checkpoint_info
    recorded_t = model_temperature(model)  # before --modules truncates it
    hierarchical = isinstance(model, GHVAE)
    if args.modules is not None:
        if not hierarchical:
            raise ValueError(
                f"--modules needs a GHVAE checkpoint; {info['path']} holds a {model.model_type}"
            )
        model = model.truncated(args.modules)
    ds = VideoDataset(args.data, window=args.context + args.horizon, split=args.split)
    res = evaluate_rollouts(
        model,
        ds,
        context=args.context,
        horizon=args.horizon,
        num_clips=args.clips,
        seed=args.seed,
        device=args.device,
        sample=not args.prior_mean,
        with_ssim=args.ssim,
        temperature=recorded_t if args.temperature is None else args.temperature,
    )
    res.update(
        checkpoint=info["path"],
        modules=model.num_modules if hierarchical else 1,
        data=args.data,
        split=args.split,
        clips_requested=args.clips,
        wall_s=round(time.time() - t0, 1),
    )
    if res["num_clips"] < args.clips:
        print(
            f"ghvae evaluate: note: --clips {args.clips} asked, but the {args.split} split of "
            f"{args.data} holds only {res['num_clips']} windows of {args.context + args.horizon} "
            f"frames; scored {res['num_clips']}",
            file=sys.stderr,
        )
    print(_summary_line(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
        print(f"wrote {args.json}")
    return 0


def _summary_line(res: dict) -> str:
    """One line: model PSNR vs copy-last-frame and under shuffled actions."""
    return (
        f"{res['modules']}-module model on {res['num_clips']} {res['split']} clips "
        f"({res['context']} context, {res['horizon']} predicted): PSNR {res['psnr']:.2f} dB, "
        f"copy-last-frame {res['copy_last_psnr']:.2f} dB, shuffled actions "
        f"{res['psnr_shuffled_actions']:.2f} dB"
        + (
            f", SSIM {res['ssim']:.3f} (copy-last {res['copy_last_ssim']:.3f})"
            if "ssim" in res
            else ""
        )
        + ("" if res.get("sample", True) else ", prior mean")
        + (
            f", temperature {res['temperature']:g}"
            if res.get("sample", True) and res.get("temperature", 1.0) != 1.0
            else ""
        )
        + f" ({res['wall_s']} s)"
    )


def _run(args: argparse.Namespace) -> int:
    from ghvae_env.training.trainer import train

    cfg = from_args(TrainConfig, args, model_overrides=from_args(ModelOverrides, args))
    summary = train(cfg)
    print(json.dumps(summary, indent=2))
    return 0
