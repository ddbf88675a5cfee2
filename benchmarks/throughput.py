"""Throughput: imagined env steps/s (GHVAE-RoboNet-v0 native vector env) vs the simulator.

In one run, on one machine:

* imagined: ``gym.make_vec("GHVAE-RoboNet-v0", num_envs=B)`` (one batched ``GHVAE.step`` per
  vector step, uint8 observations returned) at each batch size B, on the CPU and, when
  available, on CUDA; env steps/s = B x vector steps/s. Context: the simulator's first two
  frames and action, given as reset options (no clips file needed); no truncation.
* simulated: ``RoboNet-Sim-v0`` steps/s with rendering (every step renders the 64x64
  observation), random actions, resets every 30 steps excluded from the timing.
* the ratio imagined / simulated env steps/s at each B.
* FLOPs per imagined env step: ``torch.utils.flop_counter.FlopCounterMode`` on one
  ``GHVAE.step`` at batch 1 (convolutions and matmuls; elementwise ops, interpolation and
  the uint8 conversion are not counted), and the fraction of a matmul peak measured in the
  same run (fp32 ``n x n`` matmuls, n = 1024) that the imagined steps achieve.

Steps are timed after warm-up until at least ``--min-steps`` steps and ``--min-seconds``
seconds have passed. torch's thread counts are recorded (set them with ``--threads`` or
``OMP_NUM_THREADS``).

    python benchmarks/throughput.py --out benchmarks/results/throughput.json
    python benchmarks/throughput.py --quick --checkpoint tiny.pt --out /tmp/throughput.json
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
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

SIM_EPISODE = 30  # RoboNet-Sim-v0's registered episode length; resets are not timed


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(step: Callable[[int], None], min_steps: int, min_seconds: float) -> tuple[int, float]:
    """Call ``step(i)`` until both minimums are met; returns (steps, seconds)."""
    n, t0 = 0, time.perf_counter()
    while n < min_steps or time.perf_counter() - t0 < min_seconds:
        step(n)
        n += 1
    return n, time.perf_counter() - t0


# ----------------------------------------------------------------------------- simulator
def simulator(args: argparse.Namespace) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """RoboNet-Sim-v0 steps/s with rendering; also returns a context (2 frames, 1 action)."""
    import gymnasium as gym

    import ghvae_env.sim  # noqa: F401  (registers RoboNet-Sim-v0)

    t0 = time.perf_counter()
    env = gym.make("RoboNet-Sim-v0")
    construct_s = time.perf_counter() - t0
    env.action_space.seed(args.seed)
    obs0, _ = env.reset(seed=args.seed)
    a0 = env.action_space.sample()
    obs1 = env.step(a0)[0]
    context = np.stack([obs0, obs1])  # (2, 64, 64, 3)
    for _ in range(args.warmup):
        env.step(env.action_space.sample())
    env.reset(seed=args.seed + 1)
    actions = [env.action_space.sample() for _ in range(SIM_EPISODE)]
    state = {"t": 0, "step_s": 0.0}

    def step(i: int) -> None:
        if state["t"] == SIM_EPISODE - 1:  # stay inside the TimeLimit; not timed
            env.reset()
            state["t"] = 0
        t = time.perf_counter()
        env.step(actions[i % SIM_EPISODE])
        state["step_s"] += time.perf_counter() - t
        state["t"] += 1

    n, wall = _timed(step, args.sim_min_steps, args.min_seconds)
    env.close()
    result = {
        "env": "RoboNet-Sim-v0",
        "rendering": True,
        "construct_s": round(construct_s, 2),
        "steps": n,
        "step_seconds": round(state["step_s"], 3),
        "wall_seconds_incl_resets": round(wall, 3),
        "env_steps_per_s": round(n / state["step_s"], 2),
    }
    return result, context, a0[None].astype(np.float32)


# ----------------------------------------------------------------------------- imagined
def imagined(
    checkpoint: Path,
    batch: int,
    device: torch.device,
    context: np.ndarray,
    context_actions: np.ndarray,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Env steps/s of the native vector env with ``batch`` sub-envs."""
    import gymnasium as gym

    import ghvae_env  # noqa: F401  (registers GHVAE-RoboNet-v0)

    venv = gym.make_vec(
        "GHVAE-RoboNet-v0",
        num_envs=batch,
        checkpoint=str(checkpoint),
        device=str(device),
        max_episode_steps=None,
        # measure at the threads this run set (--threads, or torch's), not the env's policy
        threads=torch.get_num_threads() if str(device) == "cpu" else None,
    )
    venv.reset(
        seed=args.seed, options={"context_frames": context, "context_actions": context_actions}
    )
    rng = np.random.default_rng(args.seed)
    actions = rng.uniform(-1, 1, (16, batch, 4)).astype(np.float32)
    for i in range(args.warmup):
        venv.step(actions[i % 16])
    _sync(device)

    def step(i: int) -> None:
        venv.step(actions[i % 16])  # returns numpy observations: synchronises with the device

    n, seconds = _timed(step, args.min_steps, args.min_seconds)
    _sync(device)
    venv.close()
    return {
        "device": str(device),
        "batch": batch,
        "vector_steps": n,
        "seconds": round(seconds, 3),
        "ms_per_vector_step": round(1000 * seconds / n, 3),
        "env_steps_per_s": round(batch * n / seconds, 2),
    }


@torch.no_grad()
def flops_per_step(model: torch.nn.Module, device: torch.device) -> dict[str, Any]:
    """FLOPs of one ``GHVAE.step`` at batch 1 (FlopCounterMode), by operator."""
    from torch.utils.flop_counter import FlopCounterMode

    ctx = torch.rand(1, 2, 3, 64, 64, device=device)
    state = model.start(ctx, torch.zeros(1, 1, model.config.action_dim, device=device))
    action = torch.zeros(1, model.config.action_dim, device=device)
    with FlopCounterMode(display=False) as counter:
        model.step(state, action, generator=torch.Generator(device=device).manual_seed(0))
    by_op = {str(k): int(v) for k, v in counter.get_flop_counts().get("Global", {}).items()}
    return {"per_env_step": int(counter.get_total_flops()), "by_operator": by_op}


def matmul_peak(device: torch.device, n: int, min_seconds: float, min_reps: int) -> dict[str, Any]:
    """Measured fp32 ``n x n`` matmul GFLOP/s (2 n^3 FLOPs per product)."""
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, generator=g)
    b = torch.randn(n, n, device=device, generator=g)
    c = torch.empty(n, n, device=device)
    for _ in range(3):
        torch.matmul(a, b, out=c)
    _sync(device)

    def step(_: int) -> None:
        torch.matmul(a, b, out=c)
        _sync(device)  # calibrate the count without queueing CUDA launches ahead

    reps, _ = _timed(step, min_reps, min_seconds)
    t0 = time.perf_counter()  # re-time back to back, one sync at the end
    for _ in range(reps):
        torch.matmul(a, b, out=c)
    _sync(device)
    seconds = time.perf_counter() - t0
    out = {
        "device": str(device),
        "n": n,
        "reps": reps,
        "gflop_per_s": round(2 * n**3 * reps / seconds / 1e9, 2),
    }
    if device.type == "cuda":
        out["allow_tf32"] = torch.backends.cuda.matmul.allow_tf32
    return out


# ----------------------------------------------------------------------------- main
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--checkpoint", default=None, help="GHVAE checkpoint (default: the bundled one)")
    p.add_argument("--batches", default="1,16,64,256", help="comma-separated vector env sizes")
    p.add_argument(
        "--devices",
        default="auto",
        help="comma-separated: cpu, cuda[:i]; auto = cpu, plus cuda when available",
    )
    p.add_argument(
        "--min-steps", type=int, default=20, help="timed vector steps per batch size, at least"
    )
    p.add_argument("--sim-min-steps", type=int, default=200, help="timed simulator steps, at least")
    p.add_argument(
        "--min-seconds", type=float, default=5.0, help="seconds per measurement, at least"
    )
    p.add_argument("--warmup", type=int, default=3, help="untimed steps before each measurement")
    p.add_argument("--matmul-size", type=int, default=1024, help="n of the fp32 n x n peak matmul")
    p.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)"
    )
    p.add_argument("--seed", type=int, default=0, help="simulator reset seed and action seed")
    p.add_argument(
        "--out",
        default=None,
        help="JSON output, a .md table beside it; " + out_help("throughput.json"),
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: batches 1,4 on the CPU, a few steps, 256 x 256 matmuls",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    resolve_out(p, args, "throughput.json")
    if args.quick:
        args.batches, args.devices = "1,4", "cpu"
        args.min_steps, args.sim_min_steps, args.min_seconds, args.warmup = 3, 5, 0.0, 1
        args.matmul_size = 256
    try:
        batches = [int(b) for b in args.batches.split(",")]
    except ValueError:
        p.error(f"--batches must be comma-separated ints, actual value: {args.batches!r}")
    if any(b < 1 for b in batches):
        p.error(f"--batches must be >= 1, actual value: {args.batches!r}")
    if args.devices == "auto":
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    else:
        devices = [d.strip() for d in args.devices.split(",") if d.strip()]
    from ghvae_env._device import resolve_device
    from ghvae_env.envs.assets import load_model_cached

    try:
        checkpoint = require_checkpoint(args.checkpoint)
        devs = [resolve_device(d) for d in devices]
    except (BenchmarkError, ValueError) as e:
        p.error(str(e))
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    command = command_string("throughput.py", argv)
    print(command, flush=True)
    t_start = time.time()

    sim, context, context_actions = simulator(args)
    print(f"RoboNet-Sim-v0 (rendering): {sim['env_steps_per_s']:.1f} env steps/s", flush=True)
    model = load_model_cached(checkpoint, devs[0])
    flops = flops_per_step(model, devs[0])  # the same count on every device
    rows, peaks = [], {}
    for dev in devs:
        peak = matmul_peak(dev, args.matmul_size, args.min_seconds / 2, 3)
        peaks[str(dev)] = peak
        for b in batches:
            r = imagined(checkpoint, b, dev, context, context_actions, args)
            r["ratio_vs_sim"] = round(r["env_steps_per_s"] / sim["env_steps_per_s"], 2)
            achieved = flops["per_env_step"] * r["env_steps_per_s"] / 1e9
            r["achieved_gflop_per_s"] = round(achieved, 3)
            r["fraction_of_matmul_peak"] = round(achieved / peak["gflop_per_s"], 4)
            rows.append(r)
            print(
                f"{dev} B={b:4d}: {r['env_steps_per_s']:10.1f} env steps/s "
                f"({r['ms_per_vector_step']:.2f} ms/vector step), x{r['ratio_vs_sim']} the simulator, "
                f"{achieved:.2f} GFLOP/s = {100 * r['fraction_of_matmul_peak']:.1f}% of matmul peak",
                flush=True,
            )
    result = {
        "benchmark": "throughput",
        "command": command,
        "date": today(),
        "machine": machine_info(),
        "config": {
            **vars(args),
            "checkpoint": str(checkpoint),
            "checkpoint_name": checkpoint.name,
            "model_preset": model.config.preset_name,
            "model_modules": model.num_modules,
            "model_params": sum(p.numel() for p in model.parameters()),
        },
        "simulator": sim,
        "imagined": rows,
        "flops": flops,
        "matmul_peak": peaks,
        "wall_s": round(time.time() - t_start, 1),
    }
    header = [
        "device",
        "batch",
        "env steps/s",
        "ms / vector step",
        "x simulator",
        "GFLOP/s",
        "% of matmul peak",
    ]
    table = markdown_table(
        header,
        [
            [
                r["device"],
                r["batch"],
                r["env_steps_per_s"],
                r["ms_per_vector_step"],
                r["ratio_vs_sim"],
                r["achieved_gflop_per_s"],
                100 * r["fraction_of_matmul_peak"],
            ]
            for r in rows
        ]
        + [
            [
                "RoboNet-Sim-v0 (CPU, rendering)",
                1,
                sim["env_steps_per_s"],
                1000 / sim["env_steps_per_s"],
                1.0,
                None,
                None,
            ]
        ],
    )
    peak_text = ", ".join(f"{d}: {v['gflop_per_s']:.1f} GFLOP/s" for d, v in peaks.items())
    md = (
        f"Throughput, {result['date']}: checkpoint `{checkpoint.name}` ({model.config.preset_name}, "
        f"{model.num_modules} modules), torch threads {torch.get_num_threads()}, "
        f"{result['machine']['processor']} x {result['machine']['cpu_count']} CPUs"
        + (
            f", {result['machine'].get('cuda_device')}"
            if any(d.type == "cuda" for d in devs)
            else ""
        )
        + ".\n\n"
        + table
        + f"\nFLOPs per imagined env step (batch 1, FlopCounterMode, convolutions and matmuls): "
        f"{flops['per_env_step'] / 1e6:.1f} MFLOP. Measured fp32 {args.matmul_size}x"
        f"{args.matmul_size} matmul peak: {peak_text}.\n"
        f"\n`{command}`\n"
    )
    out = Path(args.out)
    save_json(out, result)
    out.with_suffix(".md").write_text(md)
    print(md)
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
