"""``ghvae train``: greedy module-by-module training from the command line (also under torchrun)."""

from __future__ import annotations

import argparse
import json
import sys

from ghvae_env._threads import add_threads_argument, apply_threads

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
    p.add_argument(
        "--model",
        default="ghvae",
        choices=["ghvae", "svg-prime"],
        help="ghvae (greedy) or svg-prime (the SVG' baseline, one end-to-end phase)",
    )
    p.add_argument(
        "--data", required=True, help="directory of shards (ghvae generate) or RoboNet HDF5 files"
    )
    p.add_argument(
        "--out", required=True, help="run directory (stage_<k>.pt, model.pt, last.pt, scalars.csv)"
    )
    p.add_argument(
        "--preset",
        default="tiny",
        choices=["tiny", "cpu-small", "cpu-fast", "paper-6"],
        help="model size preset (svg-prime: tiny | cpu-small, memory-matched to the GHVAE's)",
    )
    p.add_argument(
        "--modules", type=int, default=None, help="number of modules K (default: the preset's)"
    )
    p.add_argument(
        "--steps-per-module", type=int, default=1000, help="optimizer steps per greedy stage"
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="svg-prime: total optimizer steps (default: --steps-per-module)",
    )
    p.add_argument(
        "--finetune-e2e",
        type=int,
        default=0,
        metavar="STEPS",
        help="end-to-end fine-tune steps after the greedy stages",
    )
    p.add_argument("--batch-size", type=int, default=16, help="clips per step per process")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate of greedy stages")
    p.add_argument(
        "--finetune-lr", type=float, default=2e-4, help="Adam learning rate of the e2e fine-tune"
    )
    p.add_argument("--context", type=int, default=2, help="context frames per training clip")
    p.add_argument("--horizon", type=int, default=8, help="predicted frames per training clip")
    p.add_argument(
        "--kl-warmup",
        type=int,
        default=500,
        help="steps over which the KL weight ramps from 0 in each greedy stage",
    )
    p.add_argument("--beta", type=float, default=None, help="KL weight (default: the config's)")
    p.add_argument(
        "--uniform-prior",
        action="store_true",
        help="use N(0, I) instead of the learned prior (ablation)",
    )
    p.add_argument(
        "--checkpoint-every", type=int, default=200, help="steps between RUN/last.pt checkpoints"
    )
    p.add_argument(
        "--eval-clips", type=int, default=64, help="held-out clips scored after each stage"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the model init and the batches")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:i")
    p.add_argument("--resume", action="store_true", help="continue RUN from RUN/last.pt")
    p.add_argument(
        "--from",
        dest="init_from",
        default=None,
        metavar="CKPT",
        help="checkpoint to stack new modules onto",
    )
    p.add_argument(
        "--add-modules", type=int, default=0, metavar="N", help="modules to stack onto --from"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
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
    add_threads_argument(e)
    e.set_defaults(func=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    import time

    from ghvae_env.data.dataset import VideoDataset
    from ghvae_env.model import GHVAE, load_model
    from ghvae_env.training.evaluate import evaluate_rollouts

    t0 = time.time()
    apply_threads(args.threads, device=args.device)
    model = load_model(args.checkpoint, device=args.device)
    info = model.checkpoint_info
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
        f"{res['psnr_shuffled_actions']:.2f} dB ({res['wall_s']} s)"
    )


def _run(args: argparse.Namespace) -> int:
    from ghvae_env.training.trainer import TrainConfig, train

    cfg = TrainConfig(
        data=args.data,
        out=args.out,
        preset=args.preset,
        model=args.model,
        steps=args.steps,
        modules=args.modules,
        steps_per_module=args.steps_per_module,
        finetune_e2e=args.finetune_e2e,
        batch_size=args.batch_size,
        lr=args.lr,
        finetune_lr=args.finetune_lr,
        context=args.context,
        horizon=args.horizon,
        checkpoint_every=args.checkpoint_every,
        eval_clips=args.eval_clips,
        seed=args.seed,
        device=args.device,
        resume=args.resume,
        init_from=args.init_from,
        add_modules=args.add_modules,
        beta=args.beta,
        kl_warmup=args.kl_warmup,
        learned_prior=not args.uniform_prior,
        progress=not args.no_progress,
        threads=args.threads,
    )
    summary = train(cfg)
    print(json.dumps(summary, indent=2))
    return 0
