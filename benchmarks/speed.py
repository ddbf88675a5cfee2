"""Speed: FLOPs, imagined frames/s, planning steps and training clips/s, old code vs new, one run.

Issue 11 ("Fast GHVAE"). Everything is measured in this one process on this one machine, so
each speed-up is a ratio of two numbers taken minutes apart:

* **models**: ``cpu-small (old code)`` -- a cpu-small checkpoint run by the model code of
  ``--reference`` (default: the commit before the speed work, read with ``git show``; skipped
  when git or the commit is missing), ``cpu-small`` -- the same checkpoint run by this code,
  and ``cpu-fast`` -- the lean preset. ``--checkpoint`` (default: the bundled one) fills the
  row of its preset; the other preset gets seeded random weights (speed does not depend on
  the weights).
* **FLOPs** (``torch.utils.flop_counter.FlopCounterMode``, convolutions and matmuls, counted
  on the meta device): per imagined frame (one ``model.step`` at batch 1) and per training
  clip (forward + backward of ``model.loss`` at batch 1, ``--train-frames`` frames) for
  every preset and the bundled model.
* **imagined frames/s** of ``model.step`` at each ``--batches`` size with each ``--threads``
  count, as a ratio to ``RoboNet-Sim-v0`` steps/s (rendering) measured in the same run, and
  the achieved GFLOP/s as a fraction of an fp32 roofline measured with the same thread count
  in the same run: the best of n x n matmuls (MKL, n in ``--matmul-sizes``) and of a 1x1 and
  a 3x3 convolution of ``--conv-channels`` channels at 32 x 32, channels-last (oneDNN, the
  model's own kernels). On an AVX-512 AMD EPYC (2026-12-03) MKL's sgemm ran at 99 GFLOP/s
  on one thread while the model's convolutions reached 116: a matmul alone is no roofline.
* **planning step**: one ``Planner.plan`` at VP2's budget (MPPI, 200 samples x horizon 10,
  one iteration) and at the default ``PlannerConfig`` (CEM 64 x 3), best of ``--plan-reps``.
* **training clips/s** per greedy stage (the trainer's step: loss, backward, clip, Adam;
  batch ``--train-batch`` x ``--train-frames`` frames of random data, data loading excluded;
  the new code's batch split in 2 parts, side by side on 2 threads, as the trainer runs it),
  the models of a stage timed in turn for ``--train-rounds`` rounds (a machine that drifts
  hits them alike), the mean of the rounds reported.
* **busy machine**: the same numbers (frames/s at batch 1 and the largest batch, training
  clips/s of stage 1) with one competing busy process (a numpy matmul loop, one thread) for
  the default thread policy (``ghvae_env._threads``), 1 thread, and torch's default.

    python benchmarks/speed.py                                # ~10 min on 2 quiet cores
    python benchmarks/speed.py --quick --out /tmp/speed       # smoke run, < 1 min
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import (
    BenchmarkError,
    command_string,
    machine_info,
    markdown_table,
    require_checkpoint,
    save_json,
    today,
)
from throughput import _timed, matmul_peak, simulator

from ghvae_env.model import GHVAE
from ghvae_env.training.trainer import (
    forward_backward,
    one_torch_thread,
    split_parallel,
    split_parts,
)

REPO = Path(__file__).resolve().parent.parent
# the model code before issue 11's optimisations (its goldens pin the same maths)
REFERENCE = "362b1f5"
OLD, NEW, FAST = "cpu-small (old code)", "cpu-small", "cpu-fast"
SMALL_FLOPS = f"{NEW} (this code)"  # FLOPs row of the cpu-small model the old code also runs


# ----------------------------------------------------------------------------- models
def reference_ghvae_class(rev: str) -> type | None:
    """The ``GHVAE`` class of ``rev``'s ``ghvae_env/model/{layers,ghvae}.py`` (git show),
    importing this checkout's config; None when git or the revision is unavailable."""
    srcs = {}
    for name in ("layers", "ghvae"):
        try:
            out = subprocess.run(
                ["git", "-C", str(REPO), "show", f"{rev}:ghvae_env/model/{name}.py"],
                capture_output=True,
                text=True,
                check=True,
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        srcs[name] = out.stdout.replace(
            "from ghvae_env.model.layers import", "from _ref_layers import"
        )
    folder = Path(tempfile.mkdtemp(prefix="ghvae-ref-"))
    for name, src in srcs.items():
        (folder / f"_ref_{name}.py").write_text(src)
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location("_ref_ghvae", folder / "_ref_ghvae.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["_ref_ghvae"] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module.GHVAE


def build_models(checkpoint: Path, reference: str | None) -> dict[str, torch.nn.Module]:
    """name -> model in eval mode: old code (when available), this code, cpu-fast.

    The checkpoint (the bundled one by default) fills the row of its preset: a cpu-small one
    is the old-vs-new pair, a cpu-fast one the cpu-fast row; the other preset gets seeded
    random weights (speed does not depend on the weights)."""
    from ghvae_env.model import GHVAE, GHVAEConfig, load_model

    bundled = load_model(checkpoint)
    preset = getattr(bundled.config, "preset_name", "custom")
    torch.manual_seed(0)
    small = bundled if preset != FAST else GHVAE(GHVAEConfig.preset(NEW))
    torch.manual_seed(0)
    fast = bundled if preset == FAST else GHVAE(GHVAEConfig.preset(FAST))
    models: dict[str, torch.nn.Module] = {}
    ref_cls = reference_ghvae_class(reference) if reference else None
    if ref_cls is not None:
        old = ref_cls(small.config)
        old.load_state_dict(small.state_dict())
        models[OLD] = old.eval().requires_grad_(False)
    models[NEW] = small.eval().requires_grad_(False)
    models[FAST] = fast.eval().requires_grad_(False)
    return models


# ----------------------------------------------------------------------------- FLOPs
def count_flops(cls: type, config, train_frames: int | None) -> dict[str, Any]:
    """FLOPs per imagined frame and (``train_frames`` set) per training clip of each greedy
    stage, of a ``cls(config)`` built on the meta device (no weights, no arithmetic)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        m = cls(config).eval()
        A = config.action_dim
        with torch.no_grad():
            state = m.start(torch.rand(1, 2, 3, 64, 64), torch.zeros(1, 1, A))
            with FlopCounterMode(display=False) as c:
                m.step(state, torch.zeros(1, A))
        out = {"per_imagined_frame": int(c.get_total_flops()), "per_training_clip": {}}
        if train_frames is None:
            return out
        frames = torch.rand(1, train_frames, 3, 64, 64)
        actions = torch.zeros(1, train_frames - 1, A)
        for k in range(1, m.num_modules + 1):
            _freeze_greedy(m, k)
            with FlopCounterMode(display=False) as c:
                m.loss(frames, actions, stage=k, frozen_below=k)["loss"].backward()
            out["per_training_clip"][f"greedy-{k}"] = int(c.get_total_flops())
    return out


def all_flops(models: dict[str, torch.nn.Module], train_frames: int) -> dict[str, Any]:
    """Every preset, the cpu-small checkpoint, and (imagined frames only) the old code's count."""
    from ghvae_env.model import GHVAE, PRESETS, GHVAEConfig

    rows = {f"preset {p}": count_flops(GHVAE, GHVAEConfig.preset(p), train_frames) for p in PRESETS}
    rows[SMALL_FLOPS] = count_flops(GHVAE, models[NEW].config, train_frames)
    if OLD in models:
        rows[OLD] = count_flops(type(models[OLD]), models[OLD].config, None)
    return rows


# ----------------------------------------------------------------------------- timing
@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def frames_per_s(model, batch: int, min_steps: int, min_seconds: float, seed: int = 0) -> float:
    """Imagined frames/s of ``model.step`` at ``batch`` (one warm-up step, not timed)."""
    g = torch.Generator().manual_seed(seed)
    A = model.config.action_dim
    ctx = torch.rand(batch, 2, 3, 64, 64, generator=g)
    acts = torch.rand(8, batch, A, generator=g) * 2 - 1
    box = {"state": model.start(ctx, acts[0, :, None])}

    def step(i: int) -> None:
        box["state"] = model.step(box["state"], acts[i % 8], g)[1]

    step(0)
    n, seconds = _timed(step, min_steps, min_seconds)
    return batch * n / seconds


def _freeze_greedy(model: torch.nn.Module, stage: int) -> list[torch.nn.Parameter]:
    """Greedy stage ``stage`` as the trainer's ``freeze_for_stage`` sets it up (module k
    trainable, in train mode; the rest frozen, eval), for either code's GHVAE class."""
    model.requires_grad_(False).eval()
    block = model.blocks[stage - 1]
    block.requires_grad_(True).train()
    return list(block.parameters())


def train_step_fn(
    model, stage: int, batch: int, frames_per_clip: int, compile: bool = False
) -> Callable[[int], None]:
    """The trainer's greedy step on a private copy: loss, backward, grad clip, Adam
    (``compile``: the loss through ``torch.compile``, as ``ghvae train --compile``)."""
    m = copy.deepcopy(model)
    loss_fn = torch.compile(m.loss) if compile else m.loss
    params = _freeze_greedy(m, stage)
    opt = torch.optim.Adam(params, lr=1e-4)
    g = torch.Generator().manual_seed(stage)
    frames = torch.rand(batch, frames_per_clip, 3, 64, 64, generator=g)
    actions = torch.rand(batch, frames_per_clip - 1, m.config.action_dim, generator=g) * 2 - 1

    # the new code trains as the trainer does: the batch split in parts (trainer.SPLIT_PARTS,
    # side by side on 2 threads); the old code's step is one loss.backward()
    parts = 1 if compile or not isinstance(m, GHVAE) else split_parts(batch, torch.device("cpu"))

    def objective(f, a, gen, _beta):
        return loss_fn(f, a, stage=stage, frozen_below=stage, generator=gen)

    def step(_: int) -> None:
        parallel = split_parallel(parts, torch.get_num_threads())
        with one_torch_thread(parallel):
            opt.zero_grad(set_to_none=True)
            forward_backward(objective, params, frames, actions, g, None, parts, parallel)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()

    return step


def clips_per_s(
    model, stage: int, args: argparse.Namespace, compile: bool = False
) -> float | tuple[float, float]:
    """Training clips/s of greedy stage ``stage``; with ``compile`` also the seconds the
    first (compiling) step took, which the rate leaves out."""
    step = train_step_fn(model, stage, args.train_batch, args.train_frames, compile)
    t0 = time.perf_counter()
    step(0)  # warm-up (compiles, with compile)
    warm = time.perf_counter() - t0
    n, seconds = _timed(step, args.train_min_steps, args.min_seconds)
    rate = args.train_batch * n / seconds
    return (rate, warm) if compile else rate


def interleaved_clips_per_s(
    models: dict[str, torch.nn.Module], stage: int, args: argparse.Namespace
) -> dict[str, list[float]]:
    """Training clips/s of greedy stage ``stage`` for each model, timed in turn for
    ``--train-rounds`` rounds (model A, B, ..., A, B, ...): a drift of the machine hits every
    model alike (single timings moved up to 25 % between neighbouring rows). name -> the
    rate of each round."""
    steps = {n: train_step_fn(m, stage, args.train_batch, args.train_frames) for n, m in models.items()}  # fmt: skip
    for step in steps.values():
        step(0)  # warm-up
    rates: dict[str, list[float]] = {n: [] for n in steps}
    for _ in range(args.train_rounds):
        for name, step in steps.items():
            n, seconds = _timed(step, args.train_min_steps, args.min_seconds)
            rates[name].append(args.train_batch * n / seconds)
    return rates


def planning_step(model, config, reps: int) -> dict[str, Any]:
    """Best-of-``reps`` wall time of one ``Planner.plan`` (after a small warm-up plan)."""
    from ghvae_env.planning.planners import Planner

    g = torch.Generator().manual_seed(0)
    context, goal = torch.rand(2, 3, 64, 64, generator=g), torch.rand(3, 64, 64, generator=g)
    ctx_actions = torch.zeros(1, model.config.action_dim)
    Planner(model, config.replace(num_samples=4, iterations=1)).plan(context, ctx_actions, goal)
    planner = Planner(model, config)
    times, model_s = [], []
    for _ in range(reps):
        r = planner.plan(context, ctx_actions, goal)
        times.append(r.total_time_s)
        model_s.append(r.model_time_s)
    i = int(np.argmin(times))
    return {"seconds": round(times[i], 3), "model_seconds": round(model_s[i], 3)}


# the same model with GHVAE.step's chunks run one at a time on all threads (intra-op), the
# code before the parallel chunks: rows for 2+ threads and batches of 2+ parallel chunks
SEQ = ", chunks one at a time"


@contextlib.contextmanager
def sequential_chunks(model, on: bool) -> Iterator[None]:
    """``on``: ``model.step`` runs its chunks one at a time (``parallel_chunks = False``)."""
    if not on or not hasattr(model, "parallel_chunks"):
        yield
        return
    model.parallel_chunks = False
    try:
        yield
    finally:
        del model.parallel_chunks  # back to the class default


def _with_sequential(models: dict[str, torch.nn.Module], t: int) -> list[tuple[str, Any]]:
    """(name, model) of every model, and with ``t`` >= 2 threads the chunks-one-at-a-time
    variant of the models that run chunks in parallel."""
    out = list(models.items())
    if t >= 2:
        out += [(n + SEQ, m) for n, m in models.items() if hasattr(m, "parallel_chunks")]
    return out


def _variants(models, thread_counts: list[int], batches: list[int]):
    """(name, model, threads, batch) of each frames/s measurement."""
    from ghvae_env.model.ghvae import PARALLEL_MIN_ROWS

    for name, model in models.items():
        for t in thread_counts:
            for b in batches:
                yield name, model, t, b
        if hasattr(model, "parallel_chunks"):
            for t in [t for t in thread_counts if t >= 2]:
                for b in [b for b in batches if b >= 2 * PARALLEL_MIN_ROWS]:
                    yield name + SEQ, model, t, b


def conv_peak(kernel: int, channels: int, size: int, min_seconds: float) -> float:
    """Measured fp32 GFLOP/s of one channels-last ``kernel x kernel`` convolution,
    ``channels`` -> ``channels`` at ``size`` x ``size``, batch 1 (oneDNN on the CPU)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, channels, size, size, generator=g).to(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(channels, channels, kernel, padding=kernel // 2, bias=False)
    conv = conv.to(memory_format=torch.channels_last).eval()
    flop = 2 * channels * channels * kernel * kernel * size * size
    with torch.inference_mode():
        for _ in range(3):
            conv(x)
        reps, _ = _timed(lambda _: conv(x), 3, min_seconds)
        t0 = time.perf_counter()
        for _ in range(reps):
            conv(x)
        seconds = time.perf_counter() - t0
    return round(flop * reps / seconds / 1e9, 2)


# ----------------------------------------------------------------------------- busy machine
_BUSY = "import numpy as np\na = np.random.rand(256, 256)\nwhile True:\n    a @ a\n"


@contextlib.contextmanager
def busy_process() -> Iterator[int]:
    """One competing process: a one-thread numpy matmul loop; killed (by pid) on exit."""
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    proc = subprocess.Popen([sys.executable, "-c", _BUSY], env=env)
    try:
        time.sleep(0.5)  # let it start spinning before anything samples the load
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


# ----------------------------------------------------------------------------- main
def _ints(p: argparse.ArgumentParser, name: str, text: str) -> list[int]:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        p.error(f"--{name} must be comma-separated ints, actual value: {text!r}")
    if not vals or any(v < 1 for v in vals):
        p.error(f"--{name} must be ints >= 1, actual value: {text!r}")
    return vals


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--checkpoint", default=None, help="GHVAE checkpoint (default: the bundled one)")
    p.add_argument(
        "--reference",
        default=REFERENCE,
        help="git revision whose model code is the 'old code' row; '' to skip it",
    )
    p.add_argument("--batches", default="1,16,64,200,256", help="model.step batch sizes")
    p.add_argument("--threads", default="1,2", help="torch thread counts to measure")
    p.add_argument("--min-steps", type=int, default=3, help="timed steps per measurement, at least")
    p.add_argument(
        "--min-seconds", type=float, default=2.0, help="seconds per measurement, at least"
    )
    p.add_argument("--sim-min-steps", type=int, default=200, help="timed simulator steps, at least")
    p.add_argument("--warmup", type=int, default=3, help="untimed simulator steps")
    p.add_argument(
        "--matmul-sizes", default="512,1024,2048", help="n of the n x n roofline matmuls"
    )
    p.add_argument(
        "--conv-channels",
        type=int,
        default=256,
        help="channels in and out of the roofline convolutions (32 x 32, batch 1)",
    )
    p.add_argument("--plan-reps", type=int, default=2, help="planning steps timed per config")
    p.add_argument("--train-batch", type=int, default=8, help="clips per training step")
    p.add_argument("--train-frames", type=int, default=10, help="frames per training clip")
    p.add_argument("--train-min-steps", type=int, default=3, help="timed training steps, at least")
    p.add_argument(
        "--train-rounds",
        type=int,
        default=2,
        help="rounds of training timings, the models of a stage timed in turn in each",
    )
    p.add_argument("--seed", type=int, default=0, help="simulator seed")
    p.add_argument(
        "--compile-training",
        action="store_true",
        help="also time the bundled model's training steps with the loss compiled (--compile; "
        "adds minutes of compiling per stage and thread count)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="output folder for results.json and table.md (default: benchmarks/results/speed; "
        "with --quick a new temporary folder)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: batches 1,4, one thread, few steps, tiny plans and clips",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    from ghvae_env._threads import resolve_threads, usable_cores
    from ghvae_env.planning.config import PlannerConfig

    p = _parser()
    args = p.parse_args(argv)
    if args.quick:
        args.batches, args.threads, args.matmul_sizes = "1,4", "1", "256"
        args.min_steps, args.min_seconds, args.sim_min_steps, args.warmup = 2, 0.0, 5, 1
        args.plan_reps, args.train_batch, args.train_frames, args.train_min_steps = 1, 2, 4, 1
        args.train_rounds = 1
    if args.train_rounds < 1:
        p.error(f"--train-rounds must be an int >= 1, actual value: {args.train_rounds}")
    batches = _ints(p, "batches", args.batches)
    thread_counts = [t for t in _ints(p, "threads", args.threads) if t <= usable_cores()]
    if not thread_counts:
        p.error(f"--threads {args.threads!r}: none within the {usable_cores()} usable cores")
    sizes = _ints(p, "matmul-sizes", args.matmul_sizes)
    try:
        checkpoint = require_checkpoint(args.checkpoint)
    except BenchmarkError as e:
        p.error(str(e))
    out = (
        Path(args.out)
        if args.out
        else (
            Path(tempfile.mkdtemp(prefix="speed-quick-"))
            if args.quick
            else REPO / "benchmarks/results/speed"
        )
    )
    command = command_string("speed.py", argv)
    print(command, flush=True)
    t_start = time.time()
    ms, mt = args.min_steps, args.min_seconds

    sim, _, _ = simulator(args)
    sim_rate = sim["env_steps_per_s"]
    print(f"RoboNet-Sim-v0 (rendering): {sim_rate:.1f} steps/s", flush=True)
    models = build_models(checkpoint, args.reference or None)
    flops = all_flops(models, args.train_frames)
    per_frame = {  # the old code's convs differ (no sub-pixel upsampling): counted apart
        OLD: flops.get(OLD, {}).get("per_imagined_frame"),
        NEW: flops[SMALL_FLOPS]["per_imagined_frame"],
        FAST: flops["preset cpu-fast"]["per_imagined_frame"],
    }
    roofline, roofline_parts = {}, {}
    for t in thread_counts:
        with threads(t):
            parts = {
                f"matmul {n}": matmul_peak(torch.device("cpu"), n, mt / 2, 3)["gflop_per_s"]
                for n in sizes
            }
            for kernel in (1, 3):  # oneDNN's kernels: on AMD CPUs MKL's sgemm can be slower
                parts[f"conv {kernel}x{kernel} {args.conv_channels}ch"] = conv_peak(
                    kernel, args.conv_channels, 4 if args.quick else 32, mt / 2
                )
        roofline[t], roofline_parts[t] = max(parts.values()), parts
        print(f"fp32 roofline, {t} thread(s): {roofline[t]:.1f} GFLOP/s {parts}", flush=True)

    imagined = []
    for name, model, t, b in _variants(models, thread_counts, batches):
        base = name.removesuffix(SEQ)
        with threads(t), sequential_chunks(model, name.endswith(SEQ)):
            fps = frames_per_s(model, b, ms, mt)
            gflops = fps * per_frame[base] / 1e9
            row = {
                "model": name, "threads": t, "batch": b, "frames_per_s": round(fps, 1),
                "x_simulator": round(fps / sim_rate, 2),
                "achieved_gflop_per_s": round(gflops, 2),
                "fraction_of_roofline": round(gflops / roofline[t], 3),
            }  # fmt: skip
            imagined.append(row)
            print(f"{name:22s} threads {t} B={b:4d}: {fps:8.1f} frames/s", flush=True)

    t_plan = max(thread_counts)
    plan_configs = {
        "VP2": PlannerConfig(method="mppi", num_samples=200, iterations=1, horizon=10),
        "default": PlannerConfig(),
    }
    if args.quick:
        plan_configs = {k: c.replace(num_samples=8) for k, c in plan_configs.items()}
    plan_configs = {  # e.g. "VP2: mppi 200 x 10 (1 iteration)"
        f"{k}: {c.method} {c.num_samples} x {c.horizon} ({c.iterations} iteration(s))": c
        for k, c in plan_configs.items()
    }
    planning = []
    with threads(t_plan):
        for name, model in _with_sequential(models, t_plan):
            for label, cfg in plan_configs.items():
                if name.endswith(SEQ) and not label.startswith("VP2"):
                    continue
                with sequential_chunks(model, name.endswith(SEQ)):
                    r = planning_step(model, cfg, args.plan_reps)
                planning.append({"model": name, "config": label, "threads": t_plan, **r})
                print(f"{name:22s} plan {label}: {r['seconds']:.2f} s", flush=True)

    training = []
    trained = {n: m for n, m in models.items() if not (n == FAST and args.quick)}
    for t in thread_counts:
        with threads(t):
            for k in range(1, max(m.num_modules for m in trained.values()) + 1):
                at_k = {n: m for n, m in trained.items() if k <= m.num_modules}
                for name, rounds in interleaved_clips_per_s(at_k, k, args).items():
                    cps = sum(rounds) / len(rounds)
                    training.append({"model": name, "threads": t, "stage": f"greedy-{k}", "clips_per_s": round(cps, 2), "rounds": [round(x, 2) for x in rounds]})  # fmt: skip
                    print(f"{name:22s} threads {t} greedy-{k}: {cps:.2f} clips/s", flush=True)
    for name, model in trained.items():
        for t in thread_counts:
            with threads(t):
                for k in range(1, model.num_modules + 1):
                    if args.compile_training and name == NEW:
                        cps, warm = clips_per_s(model, k, args, compile=True)
                        training.append({"model": f"{name}, --compile", "threads": t, "stage": f"greedy-{k}", "clips_per_s": round(cps, 2), "compile_s": round(warm, 1)})  # fmt: skip
                        print(f"{name:22s} threads {t} greedy-{k} compiled: {cps:.2f} clips/s (compile {warm:.0f} s)", flush=True)  # fmt: skip

    busy = []
    b_big = max(batches)
    with busy_process() as pid:
        for name in [n for n in (NEW, FAST) if n in models]:
            model = models[name]
            for b in sorted({1, b_big}):
                policy = resolve_threads(None, batch=b)
                for label, t in (
                    ("policy", policy),
                    ("1 thread", 1),
                    ("torch default", usable_cores()),
                ):
                    with threads(t):
                        fps = frames_per_s(model, b, min(ms, 2), mt)
                    busy.append({"model": name, "what": f"frames/s B={b}", "threads_policy": label, "threads": t, "value": round(fps, 1)})  # fmt: skip
            policy = resolve_threads(None)
            for label, t in (
                ("policy", policy),
                ("1 thread", 1),
                ("torch default", usable_cores()),
            ):
                with threads(t):
                    cps = clips_per_s(model, 1, args)
                busy.append({"model": name, "what": "training clips/s greedy-1", "threads_policy": label, "threads": t, "value": round(cps, 2)})  # fmt: skip
            print(f"busy machine (pid {pid}): {name} done", flush=True)

    result = {
        "benchmark": "speed",
        "command": command,
        "date": today(),
        "machine": {
            **machine_info(),
            "affinity_cores": usable_cores(),
            "affinity": sorted(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else None,
        },
        "config": {**vars(args), "checkpoint": str(checkpoint), "out": str(out)},
        "simulator": sim,
        "flops": flops,
        "flops_per_imagined_frame": per_frame,
        "matmul_roofline_gflop_per_s": roofline,
        "roofline_parts_gflop_per_s": roofline_parts,
        "imagined": imagined,
        "planning": planning,
        "training": training,
        "busy": busy,
        "wall_s": round(time.time() - t_start, 1),
    }
    md = _markdown(result, thread_counts)
    save_json(out / "results.json", result)
    (out / "table.md").write_text(md)
    print(md)
    print(f"wrote {out / 'results.json'} and {out / 'table.md'}")
    return 0


def _markdown(r: dict[str, Any], thread_counts: list[int]) -> str:
    m = r["machine"]
    head = (
        f"Speed, {r['date']}: {m['processor']}"
        + (f" ({m['cpu_capability']})" if m.get("cpu_capability") else "")
        + f", {m['affinity_cores']} usable cores "
        f"(os.cpu_count {m['cpu_count']}), torch {m['torch']}. RoboNet-Sim-v0 (rendering): "
        f"{r['simulator']['env_steps_per_s']:.1f} steps/s. fp32 roofline (the best of MKL "
        "n x n matmuls and oneDNN 1x1 and 3x3 convolutions): "
        + ", ".join(
            f"{t} thread(s) {v:.1f} GFLOP/s" for t, v in r["matmul_roofline_gflop_per_s"].items()
        )
        + ".\n\n"
    )
    parts = r.get("roofline_parts_gflop_per_s") or {}
    if parts:
        head += (
            "Roofline parts (GFLOP/s): "
            + "; ".join(
                f"{t} thread(s): " + ", ".join(f"{k} {v:.1f}" for k, v in d.items())
                for t, d in parts.items()
            )
            + ".\n\n"
        )
    fl = markdown_table(
        ["model", "MFLOP / imagined frame", "MFLOP / training clip (greedy 1..K)"],
        [
            [
                n,
                v["per_imagined_frame"] / 1e6,
                ", ".join(f"{x / 1e6:.0f}" for x in v["per_training_clip"].values()) or None,
            ]
            for n, v in r["flops"].items()
        ],
    )
    img = markdown_table(
        ["model", "threads", "batch", "frames/s", "x simulator", "GFLOP/s", "% of roofline"],
        [
            [x["model"], x["threads"], x["batch"], x["frames_per_s"], x["x_simulator"],
             x["achieved_gflop_per_s"], 100 * x["fraction_of_roofline"]]
            for x in r["imagined"]
        ],
    )  # fmt: skip
    plan = markdown_table(
        ["model", "planner", "threads", "s / planning step", "of which model"],
        [
            [x["model"], x["config"], x["threads"], x["seconds"], x["model_seconds"]]
            for x in r["planning"]
        ],
    )
    train = markdown_table(
        ["model", "threads", "stage", "clips/s"],
        [[x["model"], x["threads"], x["stage"], x["clips_per_s"]] for x in r["training"]],
    )
    busy = markdown_table(
        ["model", "measure", "threads", "value"],
        [
            [x["model"], x["what"], f"{x['threads_policy']} ({x['threads']})", x["value"]]
            for x in r["busy"]
        ],
    )
    return (
        head
        + "FLOPs (FlopCounterMode: convolutions and matmuls; training = forward + backward of "
        + f"one clip of {r['config']['train_frames']} frames):\n\n" + fl
        + "\nImagined frames/s (`model.step`):\n\n" + img
        + "\nOne planning step:\n\n" + plan
        + f"\nTraining (batch {r['config']['train_batch']} x {r['config']['train_frames']} frames, random data):\n\n" + train
        + "\nWith one competing busy process (numpy matmul loop, one thread):\n\n" + busy
        + f"\n`{r['command']}` ({r['wall_s']:.0f} s)\n"
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
