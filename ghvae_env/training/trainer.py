"""Greedy module-by-module training (seed section 3, "Optimization"), e2e fine-tuning, DDP.

Stage k trains module k only: modules < k are frozen (requires_grad False, eval mode, not
in the optimizer, encoders under no_grad) while gradients still flow *through* their
decoders into module k. After the greedy stages an optional end-to-end fine-tune trains all
encoders and decoders plus module K's prior and posterior (seed Table 4, last row).

Run layout (``--out RUN``):
  RUN/stage_<k>.pt   model checkpoint after greedy stage k
  RUN/model.pt       the final model (after fine-tuning when requested)
  RUN/last.pt        training state (model, optimizer, phase, step) for ``--resume``
  RUN/scalars.csv    step, phase, loss, mse, kl, psnr, lr, wall time
  RUN/train_args.json  the arguments of the run

Every batch is a pure function of (seed, phase, step, rank), so a run resumed after a
SIGKILL repeats exactly the steps it lost and ends where an uninterrupted run ends.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ghvae_env._device import resolve_device
from ghvae_env._io import atomic_path
from ghvae_env._threads import apply_threads
from ghvae_env.data.frames import to_float_chw
from ghvae_env.model.checkpoint import (
    atomic_torch_save,
    build_model,
    checkpoint_payload,
    read_checkpoint,
    save_checkpoint,
)
from ghvae_env.model.config import GHVAEConfig
from ghvae_env.model.ghvae import GHVAE, _chunk_pool, even_bounds
from ghvae_env.training.config import ModelOverrides, TrainConfig, TrainError

if TYPE_CHECKING:
    from ghvae_env.baselines.svg_prime import SVGPrimeConfig

__all__ = [
    "TrainConfig",
    "TrainError",
    "ModelOverrides",
    "train",
    "model_config",
    "stage_parameters",
    "freeze_for_stage",
    "Phase",
]


@dataclass(frozen=True)
class Phase:
    kind: str  # "greedy", "e2e" (GHVAE fine-tuning) or "full" (a flat model, e.g. SVG')
    module: int  # greedy: the stage k; e2e: K; full: 1
    steps: int

    @property
    def name(self) -> str:
        return f"greedy-{self.module}" if self.kind == "greedy" else self.kind


# ---------------------------------------------------------------------- freezing
def freeze_for_stage(model: GHVAE, phase: Phase) -> list[nn.Parameter]:
    """Set requires_grad / train mode for a phase; return the parameters to optimise.

    greedy-k: module k trainable and in train mode; every other module frozen, eval mode.
    e2e: all encoders and decoders plus module K's prior and posterior (the only latent
    the K-module ELBO uses); lower priors/posteriors stay frozen.
    """
    if phase.kind == "full":  # a flat model (SVG'): everything trains
        model.requires_grad_(True)
        model.train()
        return list(model.parameters())
    if not isinstance(model, GHVAE):
        raise TrainError(f"a {phase.kind} phase needs a GHVAE, got a {type(model).__name__}")
    K = model.num_modules
    model.requires_grad_(False)
    model.eval()
    if phase.kind == "greedy":
        block = model.blocks[phase.module - 1]
        block.requires_grad_(True)
        block.train()
    else:
        for k, block in enumerate(model.blocks, 1):
            parts = [block.encoder, block.decoder]
            if k == K:  # lift: config.handoff "hidden", read by the top module only
                parts += [block.prior, block.posterior]
                parts += [] if block.lift is None else [block.lift]
            for p in parts:
                p.requires_grad_(True)
                p.train()
    return [p for p in model.parameters() if p.requires_grad]


def stage_parameters(model: GHVAE, k: int) -> list[nn.Parameter]:
    """The parameters greedy stage k optimises (exactly module k's)."""
    return list(model.blocks[k - 1].parameters())


class _Objective(nn.Module):
    """Wraps model.loss so DDP sees one forward producing the scalar loss."""

    def __init__(
        self,
        model: nn.Module,
        phase: Phase,
        free_running: bool = False,
        context: int | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        # a hierarchical phase names its stage; a flat model's loss trains everything
        self.stages = (
            {}
            if phase.kind == "full"
            else {
                "stage": phase.module,
                "frozen_below": phase.module if phase.kind == "greedy" else 1,
                "free_running": free_running,
                "context": context,
            }
        )

    def forward(
        self,
        frames: torch.Tensor,
        actions: torch.Tensor,
        generator: torch.Generator | None,
        beta: float | None = None,
    ):
        return self.model.loss(frames, actions, generator=generator, beta=beta, **self.stages)


# ---------------------------------------------------------------------- one step
# A step on a CPU splits its batch into SPLIT_PARTS parts (when each gets SPLIT_MIN_CLIPS
# clips). With 2 torch threads the parts' forward and backward run side by side on 2 pool
# threads of one torch thread each (the pool of ``GHVAE.step``'s parallel chunks); with 1,
# one after the other. A batch of 8 clips' convolutions split across 2 cores poorly
# (intra-op): split, cpu-small's greedy steps ran 1.9-2.1x their 1-thread clips/s and
# 1.26-1.39x the old code's on 2 threads (RESULTS.md "Training, interleaved A/B",
# 2026-12-03; ``benchmarks/speed.py`` measures it); on one thread 2 x 4 clips ran as fast as
# 8. The loss and its gradient are means over the batch,
# so the parts', weighted by their share, sum to the batch's: the same math. Each part draws
# its noise from its own generator, seeded from the step's, and the parts' gradients are
# summed in a fixed order: a step's noise does not depend on the thread count, its result is
# the same bits each time on 2 threads and within float rounding (~1e-8) of the 1-thread one.
SPLIT_PARTS = 2
SPLIT_MIN_CLIPS = 2
STEP_SCALARS = ("loss", "mse", "kl", "psnr")


def split_parts(batch: int, device: torch.device, whole: bool = False) -> int:
    """How many parts a training step of ``batch`` clips is split into (1: not split).
    ``whole``: DDP or torch.compile, which run the batch in one call."""
    if whole or device.type != "cpu" or batch < SPLIT_PARTS * SPLIT_MIN_CLIPS:
        return 1
    return SPLIT_PARTS


def split_parallel(parts: int, threads: int) -> bool:
    """Whether a step split in ``parts`` runs them side by side: with as many torch threads."""
    return parts > 1 and threads == parts


@contextlib.contextmanager
def one_torch_thread(on: bool = True) -> Iterator[None]:
    """The caller's thread at one torch thread while split parts run on the pool: its idle
    OpenMP team would spin against them (a 2-thread trainer's parallel step ran no faster
    than one thread until this; the optimizer step on one thread costs ~1 ms)."""
    before = torch.get_num_threads()
    if on and before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def forward_backward(
    objective: nn.Module,
    params: list[nn.Parameter],
    frames: torch.Tensor,
    actions: torch.Tensor,
    gen: torch.Generator | None,
    beta: float | None,
    parts: int = 1,
    parallel: bool = False,
) -> dict[str, torch.Tensor]:
    """The loss of one batch and its gradient, written to ``.grad`` of ``params`` (the
    trainable parameters, whose ``.grad`` the caller has cleared); returns the batch's
    detached ``STEP_SCALARS``. ``parts`` >= 2 splits the batch (see ``SPLIT_PARTS``), run
    side by side on ``parts`` pool threads with ``parallel`` (the caller's thread should then
    have one torch thread: see ``one_torch_thread``), else one after the other; 1 is plain
    ``loss.backward()``."""
    B = frames.shape[0]
    if parts < 2:
        out = objective(frames, actions, gen, beta)
        out["loss"].backward()
        return {k: out[k].detach() for k in STEP_SCALARS}
    bounds = even_bounds(B, parts)
    seeds = torch.randint(0, 2**62, (parts,), generator=gen).tolist()

    def part(seed: int, i: int, n: int) -> tuple[dict[str, torch.Tensor], tuple]:
        g = torch.Generator(device=frames.device).manual_seed(seed)
        with torch.enable_grad():  # grad mode is per thread
            out = objective(frames[i : i + n], actions[i : i + n], g, beta)
            share = n / B
            grads = torch.autograd.grad(out["loss"] * share, params, allow_unused=True)
        return {k: out[k].detach() * share for k in STEP_SCALARS}, grads

    if parallel:
        pool = _chunk_pool(parts)
        futures = [pool.submit(part, s, i, n) for s, (i, n) in zip(seeds, bounds, strict=True)]
        results = [f.result() for f in futures]  # re-raises a part's error here
    else:  # one after the other, each on the caller's threads
        results = [part(s, i, n) for s, (i, n) in zip(seeds, bounds, strict=True)]
    for j, p in enumerate(params):  # summed in part order (deterministic)
        gs = [r[1][j] for r in results if r[1][j] is not None]
        if gs:
            total = sum(gs[1:], gs[0])
            p.grad = total if p.grad is None else p.grad + total
    return {k: sum(r[0][k] for r in results) for k in STEP_SCALARS}


# ---------------------------------------------------------------------- distributed
@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()


def _init_distributed(device: torch.device) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend=backend)
    return _Dist(torch.distributed.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0")))


def _pick_device(name: str, local_rank: int) -> torch.device:
    try:
        return resolve_device(name, local_rank)
    except ValueError as e:
        raise TrainError(str(e)) from None


def _num_modules(model: nn.Module) -> int:
    """K of a GHVAE; 1 for a flat model (one end-to-end phase)."""
    return model.num_modules if isinstance(model, GHVAE) else 1


# ---------------------------------------------------------------------- the loop
def _warmup_factor(phase: Phase, step: int, warmup: int) -> float:
    """KL weight multiplier: linear 0 -> 1 over the first ``warmup`` steps of a greedy stage
    (or of a flat model's single phase)."""
    if phase.kind == "e2e" or warmup == 0:
        return 1.0
    return min(1.0, (step + 1) / warmup)


def _lr_factor(schedule: str, step: int, steps: int) -> float:
    """Learning-rate multiplier at ``step`` of a ``steps``-step phase (TrainConfig.lr_schedule)."""
    if schedule == "constant" or steps <= 1:
        return 1.0
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * step / (steps - 1)))


def _phases(cfg: TrainConfig, first_module: int, K: int) -> list[Phase]:
    if cfg.model != "ghvae":
        return [Phase("full", 1, cfg.steps_per_module if cfg.steps is None else cfg.steps)]
    phases = [Phase("greedy", k, cfg.steps_per_module) for k in range(first_module, K + 1)]
    if cfg.finetune_e2e:
        phases.append(Phase("e2e", K, cfg.finetune_e2e))
    return phases


def _batch(dataset, cfg: TrainConfig, phase_idx: int, step: int, rank: int, device: torch.device):
    rng = np.random.default_rng([cfg.seed, phase_idx, step, rank])
    frames, actions = dataset.sample_batch(cfg.batch_size, rng)
    gen = torch.Generator(device=device)
    gen.manual_seed(int(rng.integers(2**62)))
    return to_float_chw(frames, device), torch.as_tensor(actions, device=device), gen


def model_config(cfg: TrainConfig) -> GHVAEConfig | SVGPrimeConfig:
    """The model config of a fresh run, built in this one place: the preset (``cfg.modules``
    modules), the clips the run trains on (``context_frames``, ``horizon``: recorded, so the
    checkpoint says how far it was trained to predict), then ``cfg.model_overrides``."""
    if cfg.model == "svg-prime":
        from ghvae_env.baselines.svg_prime import SVGPrimeConfig

        base: GHVAEConfig | SVGPrimeConfig = SVGPrimeConfig.preset(cfg.preset)
    else:
        base = GHVAEConfig.preset(cfg.preset, num_modules=cfg.modules)
    base = dataclasses.replace(base, context_frames=cfg.context, horizon=cfg.horizon)
    return cfg.model_overrides.apply(base)


def _build_initial_model(cfg: TrainConfig) -> tuple[nn.Module, int, list[dict[str, Any]]]:
    """A fresh model, or one stacked onto ``init_from`` (--add-modules). Returns first stage."""
    torch.manual_seed(cfg.seed)  # initial weights are part of the run's seed
    if cfg.model == "svg-prime":
        from ghvae_env.baselines.svg_prime import SVGPrime

        return SVGPrime(model_config(cfg)), 1, []
    if cfg.init_from:
        payload = read_checkpoint(cfg.init_from)
        base = build_model(payload, cfg.init_from)
        if not isinstance(base, GHVAE):
            raise TrainError(
                f"--from {cfg.init_from} is a {payload['model_type']} checkpoint, not a GHVAE"
            )
        k0 = base.num_modules
        K = k0 + cfg.add_modules
        if cfg.modules is not None and cfg.modules != K:
            raise TrainError(
                f"--modules {cfg.modules} disagrees with --from ({k0} modules) + --add-modules {cfg.add_modules}"
            )
        handoff = cfg.model_overrides.handoff
        if handoff is not None and handoff != base.config.handoff:
            raise TrainError(
                f"--handoff {handoff} disagrees with --from {cfg.init_from}, whose decoders "
                f"hand down {base.config.handoff!r} tensors (it changes weight shapes: "
                "set it on a fresh run)"
            )
        config = cfg.model_overrides.apply(base.config.with_modules(K))
        model = GHVAE(config)
        missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
        if unexpected or any(
            not k.startswith(tuple(f"blocks.{j}." for j in range(k0, K))) for k in missing
        ):
            raise TrainError(
                f"--from {cfg.init_from}: weights do not fit the stacked model ({unexpected[:3]})"
            )
        return model, k0 + 1, list(payload.get("history", []))
    return GHVAE(model_config(cfg)), 1, []


# ---------------------------------------------------------------------- a run
# args that fix what a run computes: --resume refuses to continue a run with other values
_RESUME_KEYS = (
    "data",
    "model",
    "steps",
    "preset",
    "modules",
    "steps_per_module",
    "finetune_e2e",
    "batch_size",
    "seed",
    "context",
    "horizon",
    "add_modules",
    "init_from",
    "phase_minutes",
)


@dataclass
class _Run:
    """A run in progress: what every phase reads, and the history each phase adds to."""

    cfg: TrainConfig
    dist: _Dist
    device: torch.device
    dir: Path
    train_ds: Any  # VideoDataset
    heldout_ds: Any | None  # None: the data holds nothing out
    model: nn.Module
    first_module: int  # the first greedy stage this run trains (> 1 when stacked)
    history: list[dict[str, Any]]  # one record per finished phase, stacked runs' included
    phases: list[Phase]
    provenance: dict[str, Any]
    t_start: float = field(default_factory=time.time)

    @property
    def last(self) -> Path:
        return self.dir / "last.pt"

    @property
    def csv(self) -> Path:
        return self.dir / "scalars.csv"


@dataclass
class _Position:
    """Where training (re)starts: a phase, a step in it, and that phase's optimizer state."""

    phase_idx: int = 0
    step: int = 0
    optimizer: dict[str, Any] | None = None
    wall_s: float = 0.0  # training seconds the phase had spent before this (re)start


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Run (or resume) a training run. Returns a summary dict; writes RUN/ as above."""
    run, start = _resume_or_init(cfg)
    summary: dict[str, Any] = {"run": str(run.dir), "phases": []}
    for pi in range(start.phase_idx, len(run.phases)):
        here = pi == start.phase_idx  # the phase we resume in; later ones start fresh
        record = _train_phase(
            run,
            pi,
            start.step if here else 0,
            start.optimizer if here else None,
            start.wall_s if here else 0.0,
        )
        summary["phases"].append(record)
    _finish(run)
    summary["wall_s"] = round(time.time() - run.t_start, 1)
    summary["model"] = str(run.dir / "model.pt")
    return summary


def _resume_or_init(cfg: TrainConfig) -> tuple[_Run, _Position]:
    """Check the run directory, open the data, and load ``last.pt`` (``--resume``) or build
    the initial model; a resumed run's log loses the rows it is about to replay."""
    from ghvae_env.data.dataset import EmptySplitError, VideoDataset

    dist = _init_distributed(torch.device("cuda" if cfg.device.startswith("cuda") else "cpu"))
    device = _pick_device(cfg.device, dist.local_rank)
    apply_threads(cfg.threads, device=device)
    run_dir = Path(cfg.out)
    last = run_dir / "last.pt"
    if last.exists() and not cfg.resume:
        raise TrainError(
            f"{run_dir} already holds a run (last.pt); pass --resume to continue it or choose another --out"
        )
    if cfg.resume and not last.exists():
        raise TrainError(f"--resume given but {last} does not exist")
    if dist.main:
        run_dir.mkdir(parents=True, exist_ok=True)
    dist.barrier()

    window = cfg.context + cfg.horizon
    train_ds = VideoDataset(cfg.data, window=window, split="train")
    try:
        heldout_ds = VideoDataset(cfg.data, window=window, split="heldout")
    except EmptySplitError as e:  # tiny datasets may hold out nothing: train, but say so
        heldout_ds = None
        if dist.main:
            print(f"warning: no held-out evaluation: {e}", flush=True)

    if cfg.resume:
        state = torch.load(last, map_location="cpu", weights_only=True)
        saved_args = state["train_args"]
        for key in _RESUME_KEYS:
            if saved_args.get(key, TrainConfig.__dataclass_fields__[key].default) != getattr(
                cfg, key
            ):
                raise TrainError(
                    f"--resume: {key} was {saved_args.get(key)!r} in {last}, now {getattr(cfg, key)!r}; "
                    "resume with the original arguments"
                )
        model = build_model(state["model"], last)
        first_module = int(state["first_module"])
        history = list(state["model"].get("history", []))
        start = _Position(
            int(state["phase_idx"]),
            int(state["step"]),
            state["optimizer"],
            float(state.get("phase_wall_s", 0.0)),  # absent in runs saved before it was kept
        )
    else:
        model, first_module, history = _build_initial_model(cfg)
        start = _Position()
        if dist.main:
            (run_dir / "train_args.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
    model.to(device)
    phases = _phases(cfg, first_module, _num_modules(model))
    provenance = {
        "dataset": train_ds.provenance,
        "train_args": dataclasses.asdict(cfg),
        "world_size": dist.world,
    }
    run = _Run(
        cfg, dist, device, run_dir, train_ds, heldout_ds, model, first_module, history, phases,
        provenance,
    )  # fmt: skip
    if cfg.resume and dist.main:
        _truncate_csv(
            run.csv,
            [ph.name for ph in phases[: start.phase_idx]],
            phases[start.phase_idx].name if start.phase_idx < len(phases) else None,
            start.step,
        )
    return run, start


def _train_phase(
    run: _Run, pi: int, step0: int, opt_state: dict[str, Any] | None, wall0: float = 0.0
) -> dict[str, Any]:
    """Train phase ``pi`` from ``step0`` (checkpointing ``last.pt`` on the way), score it on
    held-out clips, write its stage file; returns its record (also added to the history)."""
    cfg, dist, device, model = run.cfg, run.dist, run.device, run.model
    phase = run.phases[pi]
    params = freeze_for_stage(model, phase)
    base_lr = lr = cfg.finetune_lr if phase.kind == "e2e" else cfg.lr
    opt = torch.optim.Adam(params, lr=lr)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    objective: nn.Module = _Objective(model, phase, cfg.free_running, cfg.context)
    if dist.world > 1:
        ids = [device.index] if device.type == "cuda" else None
        objective = torch.nn.parallel.DistributedDataParallel(objective, device_ids=ids)
    eager = objective
    if cfg.compile:
        objective = torch.compile(objective)
    # split batches (SPLIT_PARTS): one process on a CPU, eager; DDP and compile run whole
    parts = split_parts(cfg.batch_size, device, whole=dist.world > 1 or cfg.compile)
    bar = _progress(cfg.progress and dist.main, phase, step0)
    t_phase = time.time() - wall0  # a resumed phase's wall time counts its earlier sessions
    last_scalars: dict[str, float] = {}
    steps_done = step0
    parallel = split_parallel(parts, torch.get_num_threads())
    with one_torch_thread(parallel):  # the parts run on the pool; this thread waits
        for step in range(step0, phase.steps):
            if cfg.phase_minutes is not None and _out_of_time(run, t_phase, cfg.phase_minutes):
                break
            lr = base_lr * _lr_factor(cfg.lr_schedule, step, phase.steps)
            for group in opt.param_groups:
                group["lr"] = lr
            frames, actions, gen = _batch(run.train_ds, cfg, pi, step, dist.rank, device)
            beta = model.config.beta * _warmup_factor(phase, step, cfg.kl_warmup)
            if objective is not eager and step == step0:  # compiles here: fall back if it fails
                try:
                    out = objective(frames, actions, gen, beta)
                except Exception as e:  # inductor/dynamo errors have no common public base
                    warnings.warn(
                        f"--compile: torch.compile failed ({type(e).__name__}: {str(e)[:200]}); "
                        "training this phase eagerly",
                        stacklevel=1,
                    )
                    objective = eager
                    frames, actions, gen = _batch(run.train_ds, cfg, pi, step, dist.rank, device)
                    out = objective(frames, actions, gen, beta)
                opt.zero_grad(set_to_none=True)
                out["loss"].backward()
                out = {k: out[k].detach() for k in STEP_SCALARS}
            else:
                opt.zero_grad(set_to_none=True)
                out = forward_backward(
                    objective, params, frames, actions, gen, beta, parts, parallel
                )
            grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            last_scalars = {k: float(out[k]) for k in STEP_SCALARS}
            if not math.isfinite(last_scalars["loss"]):
                raise TrainError(
                    f"loss became {last_scalars['loss']} at {phase.name} step {step}; lower --lr"
                )
            if dist.main:
                _log_csv(
                    run.csv,
                    {
                        "phase": phase.name,
                        "step": step + 1,
                        **last_scalars,
                        "grad_norm": float(grad_norm),
                        "beta": beta,
                        "lr": lr,
                        "wall_s": round(time.time() - run.t_start, 3),
                    },
                )
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(
                        loss=f"{last_scalars['loss']:.4f}",
                        kl=f"{last_scalars['kl']:.1f}",
                        psnr=f"{last_scalars['psnr']:.2f}",
                    )
            steps_done = step + 1
            if (step + 1) % cfg.checkpoint_every == 0 and step + 1 < phase.steps:
                _save_state(run, opt, pi, step + 1, time.time() - t_phase)
    if bar is not None:
        bar.close()
    record = {
        "phase": phase.name,
        "steps": steps_done,
        "wall_s": round(time.time() - t_phase, 1),
        **{f"final_{k}": v for k, v in last_scalars.items()},
    }
    # after greedy stage k the trained model is modules 1..k (modules above are untrained)
    trained = model.truncated(phase.module) if phase.kind == "greedy" else model
    if dist.main and run.heldout_ds is not None:
        record["heldout"] = _evaluate_phase(run, phase, trained)
    run.history.append(record)
    if dist.main and phase.kind == "greedy":  # a phase.module-module model: --from stacks on it
        _save_model(run, f"stage_{phase.module}.pt", trained, phase.module, phase.name)
    _save_state(run, None, pi + 1, 0)  # the next phase starts at step 0 with a fresh optimizer
    return record


def _out_of_time(run: _Run, t_phase: float, minutes: float) -> bool:
    """Whether the phase has spent its ``phase_minutes``; with several processes rank 0's
    clock decides for all (every rank stops at the same step)."""
    done = torch.tensor([float(time.time() - t_phase >= 60.0 * minutes)])
    if run.dist.world > 1:
        import torch.distributed as torch_dist

        done = done.to(run.device)
        torch_dist.broadcast(done, 0)
    return bool(done.item())


def _evaluate_phase(run: _Run, phase: Phase, trained: nn.Module) -> dict[str, Any]:
    """Held-out PSNR of the model a phase leaves, vs copy-last-frame and shuffled actions."""
    from ghvae_env.training.evaluate import evaluate_rollouts

    cfg = run.cfg
    run.model.eval()
    ev = evaluate_rollouts(
        trained,
        run.heldout_ds,
        context=cfg.context,
        horizon=cfg.horizon,
        num_clips=cfg.eval_clips,
        seed=cfg.seed,
        device=run.device,
    )
    print(
        f"[{phase.name}] held-out PSNR {ev['psnr']:.2f} dB vs copy-last {ev['copy_last_psnr']:.2f} dB "
        f"({ev['num_clips']} clips, context {cfg.context}, horizon {cfg.horizon})",
        flush=True,
    )
    return {k: ev[k] for k in ("psnr", "copy_last_psnr", "psnr_shuffled_actions", "num_clips")}


def _finish(run: _Run) -> None:
    """Write RUN/model.pt: the final model (after fine-tuning when requested)."""
    if run.dist.main:
        K = _num_modules(run.model)
        final_stage = run.phases[-1].name if run.phases else f"greedy-{K}"
        _save_model(run, "model.pt", run.model, K, final_stage)
    run.dist.barrier()


# ---------------------------------------------------------------------- checkpoints
# Every file the trainer writes holds checkpoint.checkpoint_payload(model, ...): the model
# files (stage_<k>.pt, model.pt) are that payload, last.pt wraps it with the optimizer state.
def _save_model(run: _Run, name: str, model: nn.Module, trained_modules: int, stage: str) -> None:
    save_checkpoint(
        run.dir / name,
        model,
        trained_modules=trained_modules,
        stage=stage,
        provenance=run.provenance,
        history=run.history,
    )


def _save_state(
    run: _Run,
    opt: torch.optim.Optimizer | None,
    phase_idx: int,
    step: int,
    phase_wall_s: float = 0.0,
) -> None:
    """RUN/last.pt: the model, the optimizer, and the (phase, step) training resumes at."""
    if run.dist.main:
        state = {
            "model": checkpoint_payload(run.model, provenance=run.provenance, history=run.history),
            "optimizer": None if opt is None else opt.state_dict(),
            "phase_idx": phase_idx,
            "step": step,
            "phase_wall_s": round(phase_wall_s, 3),
            "first_module": run.first_module,
            "train_args": dataclasses.asdict(run.cfg),
        }
        atomic_torch_save(state, run.last)
    run.dist.barrier()


def _truncate_csv(path: Path, done_phases: list[str], phase: str | None, step: int) -> None:
    """Drop rows logged after the checkpoint we resume from (they are about to be replayed)."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    keep = [
        r
        for r in rows
        if r["phase"] in done_phases or (r["phase"] == phase and int(r["step"]) <= step)
    ]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(keep)


def _log_csv(path: Path, row: dict[str, Any]) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)


def _progress(enabled: bool, phase: Phase, initial: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=phase.steps, initial=initial, desc=phase.name, dynamic_ncols=True)
