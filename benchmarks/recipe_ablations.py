"""Recipe ablations for the bundled model (issue 13), on the tabletop dataset.

Every variant fine-tunes end to end from the same greedy checkpoint (``--base``: the bundled
recipe's greedy stages, ``ghvae train --preset cpu-small --steps-per-module 1000``), with the
same batches (seed 0), and the step counts below are chosen so that each variant gets about
the same training wall time on one core (a free-running step costs ~1.3x a teacher-forced
one). Each trained model is then scored on the same held-out clips
(``ghvae_env.training.evaluate.evaluate_rollouts``, horizon 10): PSNR of one sample and of
the prior mean, copy-last-frame, PSNR under shuffled actions, SSIM per step.

Variants (``VARIANTS``):
    tf            teacher forcing, pixel skip from the previous frame (today's recipe)
    free          free-running: after the context the model steps from its own predictions
    ctx-skip      teacher forcing, pixel skip from the last real context frame (SVG's skip)
    free-ctx-skip both

Train one variant (resumes an interrupted run; a finished one is reused), then score it:

    python benchmarks/recipe_ablations.py --runs /work/runs/abl --data DATA --base GREEDY.pt \\
        --variants free --threads 1
    python benchmarks/recipe_ablations.py --runs /work/runs/abl --data DATA --base GREEDY.pt \\
        --out benchmarks/results/recipe_ablations          # score all finished, write table
    python benchmarks/recipe_ablations.py --quick        # smoke: toy data, tiny model, 2 steps

Training runs live in ``--runs`` (outside the repository); ``--out`` gets results.json and
table.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from _common import (
    BenchmarkError,
    command_string,
    machine_info,
    markdown_table,
    out_help,
    resolve_out,
    save_json,
    today,
)

from ghvae_env._threads import add_threads_argument, apply_threads
from ghvae_env.data.dataset import VideoDataset
from ghvae_env.model import load_model
from ghvae_env.training.config import ModelOverrides, TrainConfig
from ghvae_env.training.evaluate import evaluate_rollouts
from ghvae_env.training.trainer import train

# name -> (what it changes, TrainConfig fields, ModelOverrides fields). Steps: equal wall time
# on one core, measured (teacher-forced e2e step 0.65 s, free-running 0.82 s, quiet machine).
VARIANTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "tf": ("teacher forcing, skip from x_t (today)", dict(finetune_e2e=1200), {}),
    "free": (
        "free-running after the context",
        dict(finetune_e2e=950, free_running=True),
        {},
    ),
    "ctx-skip": (
        "teacher forcing, skip from the last real frame",
        dict(finetune_e2e=1200),
        dict(skip_frame="context"),
    ),
    "free-ctx-skip": (
        "free-running + skip from the last real frame",
        dict(finetune_e2e=950, free_running=True),
        dict(skip_frame="context"),
    ),
}
QUICK_STEPS = 2


def train_config(args: argparse.Namespace, name: str) -> TrainConfig:
    _, fields, overrides = VARIANTS[name]
    fields = dict(fields)
    if args.quick:
        fields["finetune_e2e"] = QUICK_STEPS
    return TrainConfig(
        data=args.data,
        out=str(Path(args.runs) / name),
        init_from=args.base,
        add_modules=0,
        batch_size=args.batch_size,
        context=2,
        horizon=8,
        seed=0,
        eval_clips=8 if args.quick else 64,
        threads=args.threads,
        progress=not args.no_progress,
        resume=(Path(args.runs) / name / "last.pt").exists(),
        model_overrides=ModelOverrides(**overrides),
        **fields,
    )


def train_command(args: argparse.Namespace, name: str) -> str:
    """The ``ghvae train`` line equivalent to this variant's run."""
    _, fields, overrides = VARIANTS[name]
    parts = [
        "ghvae train",
        f"--data {args.data}",
        f"--out {Path(args.runs) / name}",
        f"--from {args.base} --add-modules 0",
        f"--finetune-e2e {QUICK_STEPS if args.quick else fields['finetune_e2e']}",
        f"--batch-size {args.batch_size} --context 2 --horizon 8 --seed 0",
    ]
    if fields.get("free_running"):
        parts.append("--free-running")
    if "skip_frame" in overrides:
        parts.append(f"--skip-frame {overrides['skip_frame']}")
    return " ".join(parts)


SCORE_HEADER = [
    "PSNR",
    "PSNR prior mean",
    "copy-last",
    "shuffled actions",
    "SSIM step 10",
    "SSIM step 10 prior mean",
    "copy-last SSIM step 10",
]


def heldout_scores(
    args: argparse.Namespace, ckpt: Path, cache: Path, describe: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """``describe(model)`` plus held-out scores of ``ckpt`` (one sample and the prior mean,
    SSIM per step), cached in ``cache`` while the checkpoint and the scoring are unchanged.
    Shared with ``scratch_ablations.py``."""
    key = {
        "mtime": ckpt.stat().st_mtime,
        "clips": args.eval_clips,
        "horizon": args.horizon,
        "seed": args.eval_seed,
    }
    if cache.exists():
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return cached["result"]
    model = load_model(ckpt)
    heldout = VideoDataset(args.data, window=2 + args.horizon, split="heldout")
    common = dict(context=2, horizon=args.horizon, num_clips=args.eval_clips, seed=args.eval_seed)
    t0 = time.time()
    sampled = evaluate_rollouts(model, heldout, with_ssim=True, **common)
    mean = evaluate_rollouts(model, heldout, sample=False, with_ssim=True, **common)
    result = {
        **describe(model),
        "sample": sampled,
        "prior_mean": mean,
        "eval_wall_s": round(time.time() - t0, 1),
    }
    cache.write_text(json.dumps({"key": key, "result": result}, indent=2))
    return result


def score_cells(r: dict[str, Any]) -> list[Any]:
    """The SCORE_HEADER cells of one scored variant."""
    s, m = r["sample"], r["prior_mean"]
    return [
        round(s["psnr"], 2),
        round(m["psnr"], 2),
        round(s["copy_last_psnr"], 2),
        round(s["psnr_shuffled_actions"], 2),
        f"{s['ssim_per_step'][-1]:.3f}",
        f"{m['ssim_per_step'][-1]:.3f}",
        f"{s['copy_last_ssim_per_step'][-1]:.3f}",
    ]


def score(args: argparse.Namespace, name: str) -> dict[str, Any]:
    """Held-out scores of a finished variant (cached in RUN/ablation_eval.json)."""
    run = Path(args.runs) / name

    def describe(model) -> dict[str, Any]:
        history = model.checkpoint_info.get("history") or []
        e2e = [h for h in history if h.get("phase") == "e2e"]
        return {
            "variant": name,
            "recipe": VARIANTS[name][0],
            "steps": e2e[-1]["steps"] if e2e else None,
            "train_wall_s": e2e[-1]["wall_s"] if e2e else None,
            "command": train_command(args, name),
        }

    return heldout_scores(args, run / "model.pt", run / "ablation_eval.json", describe)


def table(results: list[dict[str, Any]]) -> str:
    header = ["variant", "recipe", "e2e steps", "train min", *SCORE_HEADER]
    rows = [
        [
            r["variant"],
            r["recipe"],
            r["steps"],
            None if r["train_wall_s"] is None else round(r["train_wall_s"] / 60, 1),
            *score_cells(r),
        ]
        for r in results
    ]
    return markdown_table(header, rows)


def _quick_setup(args: argparse.Namespace) -> None:
    """--quick: toy data and a 2-step tiny greedy base in a temporary directory."""
    from ghvae_env.cli import main as ghvae

    tmp = Path(tempfile.mkdtemp(prefix="ghvae-recipe-quick-"))
    args.data = str(tmp / "data")
    ghvae(
        ["generate", "--scene", "toy", "--out", args.data, "--episodes", "16", "--steps", "14"]
        + ["--seed", "0", "--no-progress"]
    )
    base = TrainConfig(
        data=args.data, out=str(tmp / "base"), preset="tiny", steps_per_module=2,
        batch_size=2, eval_clips=4, progress=False,
    )  # fmt: skip
    train(base)
    args.base = str(tmp / "base" / "model.pt")
    args.runs = str(tmp / "runs")
    args.eval_clips = 4
    args.no_progress = True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", help="training runs, one directory per variant (outside the repo)")
    p.add_argument("--data", help="tabletop dataset directory (ghvae generate)")
    p.add_argument("--base", help="the greedy checkpoint every variant fine-tunes")
    p.add_argument(
        "--variants",
        default=None,
        help=f"comma-separated variants to train and score (default: all finished); "
        f"choices: {', '.join(VARIANTS)}",
    )
    p.add_argument("--batch-size", type=int, default=8, help="clips per training step")
    p.add_argument("--eval-clips", type=int, default=256, help="held-out clips scored")
    p.add_argument("--horizon", type=int, default=10, help="predicted frames scored")
    p.add_argument("--eval-seed", type=int, default=0, help="seed of the clips and the samples")
    p.add_argument("--no-progress", action="store_true", help="no training progress bar")
    p.add_argument("--quick", action="store_true", help="smoke run: toy data, tiny model")
    p.add_argument("--out", default=None, help=out_help("recipe_ablations"))
    add_threads_argument(p)
    args = p.parse_args(argv)
    out = resolve_out(p, args, "recipe_ablations")
    apply_threads(args.threads)
    if args.quick:
        _quick_setup(args)
    missing = [n for n in ("runs", "data", "base") if getattr(args, n) is None]
    if missing:
        p.error(f"--{' --'.join(missing)} required (or --quick)")
    names = list(VARIANTS) if args.variants is None else args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        p.error(f"--variants: unknown {unknown}; choices: {list(VARIANTS)}")
    train_these = args.variants is not None or args.quick
    results = []
    for name in names:
        done = (Path(args.runs) / name / "model.pt").exists()
        if train_these and not done:
            print(f"training {name}: {train_command(args, name)}", flush=True)
            train(train_config(args, name))
        elif not done:
            print(f"skipping {name}: {Path(args.runs) / name}/model.pt not there", flush=True)
            continue
        r = score(args, name)
        results.append(r)
        s = r["sample"]
        print(
            f"{name}: PSNR {s['psnr']:.2f} (prior mean {r['prior_mean']['psnr']:.2f}) vs "
            f"copy-last {s['copy_last_psnr']:.2f}, shuffled {s['psnr_shuffled_actions']:.2f}, "
            f"SSIM@{args.horizon} {s['ssim_per_step'][-1]:.3f} vs "
            f"{s['copy_last_ssim_per_step'][-1]:.3f}",
            flush=True,
        )
    if not results:
        raise BenchmarkError(f"no finished variant in {args.runs}")
    out.mkdir(parents=True, exist_ok=True)
    save_json(
        out / "results.json",
        {
            "date": today(),
            "command": command_string("recipe_ablations.py", argv),
            "machine": machine_info("cpu"),
            "base": args.base,
            "data": args.data,
            "results": results,
        },
    )
    (out / "table.md").write_text(
        f"Recipe ablations, {today()}: e2e fine-tunes of `{args.base}` on `{args.data}`, "
        f"{args.eval_clips} held-out clips, context 2, horizon {args.horizon}; SSIM at the last "
        f"step.\n\n{table(results)}\n\n"
        + "\n".join(f"- `{r['variant']}`: `{r['command']}`" for r in results)
        + f"\n\n`{command_string('recipe_ablations.py', argv)}`\n"
    )
    print(f"wrote {out}/results.json and table.md")
    return 0


if __name__ == "__main__":
    torch.set_grad_enabled(True)
    sys.exit(main())
