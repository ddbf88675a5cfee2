"""Peak memory of one training step: greedy stage K vs end-to-end, K = 1..6 (seed's memory claim).

Counts what a training step must hold at its peak (weights, gradients, Adam moments, tensors
saved for backward; see ghvae_env.training.memory), on CPU exactly, on CUDA also the allocator's
high-water mark. Also: the largest model (parameters) that fits a memory budget each way, found
by scaling every width of the preset until the step no longer fits.

    python benchmarks/memory.py --preset cpu-small --batch-size 8 --window 10 --out benchmarks/results/memory.json
    python benchmarks/memory.py --quick          # CI smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch
from _common import command_string, machine_info, out_help, resolve_out, today

from ghvae_env.model import GHVAE, GHVAEConfig
from ghvae_env.training.memory import measure_step_memory
from ghvae_env.training.trainer import Phase

MiB = 2**20


def _scaled(cfg: GHVAEConfig, scale: float) -> GHVAEConfig:
    def s(t):
        return tuple(max(4, int(round(c * scale / 4)) * 4) for c in t)

    return dataclasses.replace(
        cfg, hidden_channels=s(cfg.hidden_channels), lstm_channels=s(cfg.lstm_channels)
    )


def _measure(cfg: GHVAEConfig, kind: str, args) -> dict:
    torch.manual_seed(0)
    model = GHVAE(cfg)
    phase = (
        Phase("greedy", cfg.num_modules, 1)
        if kind == "greedy"
        else Phase("e2e", cfg.num_modules, 1)
    )
    return measure_step_memory(
        model, phase, batch_size=args.batch_size, window=args.window, device=args.device
    )


def largest_fitting(base: GHVAEConfig, kind: str, budget: int, args) -> dict:
    """Binary search on a width multiplier: the biggest model whose step fits ``budget`` bytes."""
    lo, hi, best = 0.25, 8.0, None
    for _ in range(args.search_steps):
        mid = (lo + hi) / 2
        r = _measure(_scaled(base, mid), kind, args)
        if r["total"] <= budget:
            lo, best = (
                mid,
                {
                    "width_scale": round(mid, 3),
                    "params": r["params_total"],
                    "step_bytes": r["total"],
                },
            )
        else:
            hi = mid
    return best or {"width_scale": None, "params": 0, "step_bytes": None}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--preset", default="cpu-small", help="width preset (tiny | cpu-small | paper-6)"
    )
    p.add_argument("--modules", default="1,2,3,4,5,6", help="comma-separated K values")
    p.add_argument("--batch-size", type=int, default=8, help="clips per step")
    p.add_argument("--window", type=int, default=10, help="frames per clip (context + horizon)")
    p.add_argument(
        "--budget-mib", type=float, default=512.0, help="memory budget for the largest-model search"
    )
    p.add_argument("--budget-modules", type=int, default=6, help="K for the largest-model search")
    p.add_argument("--search-steps", type=int, default=6, help="binary-search iterations")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=None, help=out_help("memory.json"))
    p.add_argument(
        "--quick", action="store_true", help="smoke run: tiny preset, K=1,2, small batch"
    )
    args = p.parse_args(argv)
    resolve_out(p, args, "memory.json")
    if args.quick:
        args.preset, args.modules, args.batch_size, args.window, args.search_steps = (
            "tiny",
            "1,2",
            2,
            4,
            2,
        )
        args.budget_modules, args.budget_mib = 2, 64.0
    ks = [int(k) for k in args.modules.split(",")]
    t0 = time.time()
    rows = []
    for K in ks:
        cfg = GHVAEConfig.preset(args.preset, num_modules=K)
        g, e = _measure(cfg, "greedy", args), _measure(cfg, "e2e", args)
        rows.append(
            {
                "K": K,
                "params": g["params_total"],
                "greedy": g,
                "e2e": e,
                "ratio_e2e_over_greedy": e["total"] / g["total"],
            }
        )
        print(
            f"K={K} params={g['params_total'] / 1e6:.2f}M greedy {g['total'] / MiB:8.1f} MiB  e2e {e['total'] / MiB:8.1f} MiB"
            f"  e2e/greedy {e['total'] / g['total']:.2f}",
            flush=True,
        )
    base = GHVAEConfig.preset(args.preset, num_modules=args.budget_modules)
    budget = int(args.budget_mib * MiB)
    fit = {kind: largest_fitting(base, kind, budget, args) for kind in ("greedy", "e2e")}
    print(
        f"largest {args.budget_modules}-module model within {args.budget_mib:.0f} MiB: "
        f"greedy {fit['greedy']['params'] / 1e6:.2f}M params, e2e {fit['e2e']['params'] / 1e6:.2f}M params"
    )
    result = {
        "command": command_string("memory.py", argv),
        "config": vars(args),
        "machine": machine_info(args.device),
        "date": today(),
        "rows": rows,
        "largest_fitting": {"budget_mib": args.budget_mib, "modules": args.budget_modules, **fit},
        "wall_s": round(time.time() - t0, 1),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
