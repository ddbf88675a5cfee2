"""Structure ablations trained from scratch (issue 13), at equal wall time per variant.

Where ``recipe_ablations.py`` fine-tunes one greedy checkpoint, these variants differ in
what greedy training builds, so each trains from scratch: greedy stages 1..3 of ``cpu-small``
(teacher-forced, KL warm-up 300, Adam 1e-3), then an end-to-end free-running phase (Adam
2e-4), each phase capped by minutes of training (``--phase-minutes``), batch 8, clips of
2 + 8 frames, seed 0. Every variant gets the same total minutes; only their split or the
model differs. Each stage is its own ``ghvae train`` run (``--from`` the previous stage,
``--add-modules 1``), so a stage can get its own minutes. Scores: ``evaluate_rollouts`` on
held-out clips, horizon 10, one sample and the prior mean, copy-last, shuffled actions, SSIM.

Variants (``VARIANTS``; minutes for greedy 1 / 2 / 3 / e2e):
    even         4 / 4 / 4 / 4, decoder_{k+1} hands decoder_k a C_Z^k-wide tensor (today)
    hidden       4 / 4 / 4 / 4, a C_H^k-wide one (the seed's "predicts h^k_{t+1}")
    bottom       6 / 4 / 2 / 4, greedy time front-loaded on the full-resolution module
    top          2 / 4 / 6 / 4, back-loaded on the deepest module
    e2e-heavy    2 / 2 / 2 / 10, most of the budget end to end
    even-cosine  4 / 4 / 4 / 4 with a cosine learning-rate decay in every phase

Train variants (resumes an interrupted one; a finished one is reused), then score all:

    python benchmarks/scratch_ablations.py --runs /work/runs/scratch --data DATA \\
        --variants even --threads 1
    python benchmarks/scratch_ablations.py --runs /work/runs/scratch --data DATA \\
        --out benchmarks/results/scratch_ablations       # score all finished, write table
    python benchmarks/scratch_ablations.py --quick        # smoke: toy data, tiny, 2 steps

Run two variants side by side on 2 cores (``--threads 1`` each), so that every variant of a
table trains under the same load; the minutes, not the steps, are what is held equal.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
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
from recipe_ablations import SCORE_HEADER, heldout_scores, score_cells

from ghvae_env._threads import add_threads_argument, apply_threads
from ghvae_env.model import load_model
from ghvae_env.training.config import ModelOverrides, TrainConfig
from ghvae_env.training.trainer import train

# name -> (what it changes, minutes of greedy 1, 2, 3 and e2e, TrainConfig fields, overrides)
VARIANTS: dict[str, tuple[str, tuple[float, ...], dict[str, Any], dict[str, Any]]] = {
    "even": ("C_Z hand-down (today), greedy 4/4/4 + e2e 4 min", (4, 4, 4, 4), {}, {}),
    "hidden": (
        "C_H hand-down (the seed), greedy 4/4/4 + e2e 4 min",
        (4, 4, 4, 4),
        {},
        dict(handoff="hidden"),
    ),
    "bottom": ("greedy 6/4/2 + e2e 4 min", (6, 4, 2, 4), {}, {}),
    "top": ("greedy 2/4/6 + e2e 4 min", (2, 4, 6, 4), {}, {}),
    "e2e-heavy": ("greedy 2/2/2 + e2e 10 min", (2, 2, 2, 10), {}, {}),
    "even-cosine": (
        "greedy 4/4/4 + e2e 4 min, cosine lr decay per phase",
        (4, 4, 4, 4),
        dict(lr_schedule="cosine"),
        {},
    ),
}
MAX_STEPS = 100_000  # the minutes end every phase first
QUICK_STEPS = 2
PHASES = ("g1", "g2", "g3", "e2e")


def phase_config(args: argparse.Namespace, name: str, i: int) -> TrainConfig:
    """The TrainConfig of phase ``i`` (greedy 1..3, then e2e) of variant ``name``."""
    _, minutes, fields, overrides = VARIANTS[name]
    run = Path(args.runs) / name
    steps = QUICK_STEPS if args.quick else MAX_STEPS
    common: dict[str, Any] = dict(
        data=args.data,
        out=str(run / PHASES[i]),
        preset=args.preset,
        batch_size=args.batch_size,
        context=2,
        horizon=8,
        kl_warmup=300,
        seed=0,
        eval_clips=4 if args.quick else 16,
        threads=args.threads,
        progress=not args.no_progress,
        resume=(run / PHASES[i] / "last.pt").exists(),
        phase_minutes=None if args.quick else minutes[i] * args.minutes_scale,
        **fields,
    )
    if i == 0:
        return TrainConfig(
            modules=1,
            steps_per_module=steps,
            model_overrides=ModelOverrides(**overrides),
            **common,
        )
    prev = str(run / PHASES[i - 1] / "model.pt")
    if i < 3:
        return TrainConfig(init_from=prev, add_modules=1, steps_per_module=steps, **common)
    return TrainConfig(
        init_from=prev, add_modules=0, finetune_e2e=steps, free_running=True, **common
    )


def train_commands(args: argparse.Namespace, name: str) -> list[str]:
    """The ``ghvae train`` lines equivalent to this variant's phases."""
    _, minutes, fields, overrides = VARIANTS[name]
    run = Path(args.runs) / name
    out = []
    for i, phase in enumerate(PHASES):
        parts = [
            "ghvae train",
            f"--data {args.data} --out {run / phase} --preset {args.preset}",
        ]
        if i == 0:
            parts.append("--modules 1")
        else:
            parts.append(f"--from {run / PHASES[i - 1] / 'model.pt'} --add-modules {int(i < 3)}")
        if i < 3:
            parts.append(f"--steps-per-module {MAX_STEPS}")
        else:
            parts.append(f"--steps-per-module 0 --finetune-e2e {MAX_STEPS} --free-running")
        parts.append(f"--phase-minutes {minutes[i] * args.minutes_scale:g}")
        parts.append(f"--batch-size {args.batch_size} --context 2 --horizon 8 --kl-warmup 300")
        parts.append("--seed 0")
        if fields.get("lr_schedule"):
            parts.append(f"--lr-schedule {fields['lr_schedule']}")
        if i == 0 and "handoff" in overrides:
            parts.append(f"--handoff {overrides['handoff']}")
        if args.threads is not None:
            parts.append(f"--threads {args.threads}")
        out.append(" ".join(parts))
    return out


def train_variant(args: argparse.Namespace, name: str) -> None:
    for i, phase in enumerate(PHASES):
        if (Path(args.runs) / name / phase / "model.pt").exists():
            continue
        print(f"training {name} {phase}: {train_commands(args, name)[i]}", flush=True)
        train(phase_config(args, name, i))


def _phase_record(run: Path, phase: str) -> dict[str, Any]:
    """The last phase record of one stage's run (steps, wall time, train scalars)."""
    history = load_model(run / phase / "model.pt").checkpoint_info.get("history") or []
    if not history:
        raise BenchmarkError(f"{run / phase}/model.pt has no training history")
    return history[-1]


def score(args: argparse.Namespace, name: str) -> dict[str, Any]:
    """Held-out scores of a finished variant (cached in RUN/ablation_eval.json)."""
    run = Path(args.runs) / name

    def describe(model) -> dict[str, Any]:
        phases = [_phase_record(run, p) for p in PHASES]
        return {
            "variant": name,
            "recipe": VARIANTS[name][0],
            "handoff": model.config.handoff,
            "params": sum(p.numel() for p in model.parameters()),
            "steps": [p["steps"] for p in phases],
            "train_wall_s": [p["wall_s"] for p in phases],
            "commands": train_commands(args, name),
        }

    return heldout_scores(args, run / "e2e" / "model.pt", run / "ablation_eval.json", describe)


def table(results: list[dict[str, Any]]) -> str:
    header = ["variant", "recipe", "steps (greedy 1 / 2 / 3 / e2e)", "train min", *SCORE_HEADER]
    rows = [
        [
            r["variant"],
            r["recipe"],
            " / ".join(str(n) for n in r["steps"]),
            round(sum(r["train_wall_s"]) / 60, 1),
            *score_cells(r),
        ]
        for r in results
    ]
    return markdown_table(header, rows)


def _quick_setup(args: argparse.Namespace) -> None:
    """--quick: toy data and the tiny preset in a temporary directory."""
    from ghvae_env.cli import main as ghvae

    tmp = Path(tempfile.mkdtemp(prefix="ghvae-scratch-quick-"))
    args.data = str(tmp / "data")
    ghvae(
        ["generate", "--scene", "toy", "--out", args.data, "--episodes", "16", "--steps", "14"]
        + ["--seed", "0", "--no-progress"]
    )
    args.runs = str(tmp / "runs")
    args.preset = "tiny"
    args.batch_size = 2
    args.eval_clips = 4
    args.no_progress = True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", help="training runs, one directory per variant (outside the repo)")
    p.add_argument("--data", help="tabletop dataset directory (ghvae generate)")
    p.add_argument(
        "--variants",
        default=None,
        help=f"comma-separated variants to train and score (default: score all finished); "
        f"choices: {', '.join(VARIANTS)}",
    )
    p.add_argument("--preset", default="cpu-small", help="model preset (3 modules)")
    p.add_argument("--batch-size", type=int, default=8, help="clips per training step")
    p.add_argument(
        "--minutes-scale",
        type=float,
        default=1.0,
        help="multiplies every phase's minutes (the variants' ratios stay)",
    )
    p.add_argument("--eval-clips", type=int, default=256, help="held-out clips scored")
    p.add_argument("--horizon", type=int, default=10, help="predicted frames scored")
    p.add_argument("--eval-seed", type=int, default=0, help="seed of the clips and the samples")
    p.add_argument("--no-progress", action="store_true", help="no training progress bar")
    p.add_argument("--quick", action="store_true", help="smoke run: toy data, tiny, 2 steps")
    p.add_argument("--out", default=None, help=out_help("scratch_ablations"))
    add_threads_argument(p)
    args = p.parse_args(argv)
    out = resolve_out(p, args, "scratch_ablations")
    apply_threads(args.threads)
    if not args.minutes_scale > 0:
        p.error(f"--minutes-scale must be > 0, actual value: {args.minutes_scale}")
    if args.quick:
        _quick_setup(args)
    missing = [n for n in ("runs", "data") if getattr(args, n) is None]
    if missing:
        p.error(f"--{' --'.join(missing)} required (or --quick)")
    names = list(VARIANTS) if args.variants is None else args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        p.error(f"--variants: unknown {unknown}; choices: {list(VARIANTS)}")
    if args.quick and args.variants is None:
        names = ["even", "hidden"]
    train_these = args.variants is not None or args.quick
    results = []
    for name in names:
        done = (Path(args.runs) / name / "e2e" / "model.pt").exists()
        if train_these and not done:
            train_variant(args, name)
        elif not done:
            print(f"skipping {name}: {Path(args.runs) / name}/e2e/model.pt not there", flush=True)
            continue
        r = score(args, name)
        results.append(r)
        s = r["sample"]
        print(
            f"{name}: steps {r['steps']}, PSNR {s['psnr']:.2f} (prior mean "
            f"{r['prior_mean']['psnr']:.2f}) vs copy-last {s['copy_last_psnr']:.2f}, shuffled "
            f"{s['psnr_shuffled_actions']:.2f}, SSIM@{args.horizon} {s['ssim_per_step'][-1]:.3f} "
            f"vs {s['copy_last_ssim_per_step'][-1]:.3f}",
            flush=True,
        )
    if not results:
        raise BenchmarkError(f"no finished variant in {args.runs}")
    out.mkdir(parents=True, exist_ok=True)
    save_json(
        out / "results.json",
        {
            "date": today(),
            "command": command_string("scratch_ablations.py", argv),
            "machine": machine_info("cpu"),
            "data": args.data,
            "preset": args.preset,
            "results": results,
        },
    )
    (out / "table.md").write_text(
        f"Structure ablations from scratch, {today()}: preset `{args.preset}` on `{args.data}`, "
        f"{args.eval_clips} held-out clips, context 2, horizon {args.horizon}; SSIM at the last "
        f"step; train min is the sum of the four phases' training time.\n\n{table(results)}\n\n"
        + "\n".join(
            f"- `{r['variant']}`:\n" + "\n".join(f"  - `{c}`" for c in r["commands"])
            for r in results
        )
        + f"\n\n`{command_string('scratch_ablations.py', argv)}`\n"
    )
    print(f"wrote {out}/results.json and table.md")
    return 0


if __name__ == "__main__":
    torch.set_grad_enabled(True)
    sys.exit(main())
