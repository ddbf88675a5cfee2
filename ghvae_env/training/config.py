"""TrainConfig: the arguments of one training run, and the model-config fields a run sets.

Both dataclasses are also the ``ghvae train`` command line (``ghvae_env._dataclass_cli``):
each field declared with ``option`` is a flag whose default and help live here only.

A run's settings and its model's settings are kept apart: :class:`TrainConfig` holds what the
trainer does (steps, batch, learning rates, the clips it trains on); :class:`ModelOverrides`
holds the fields of the model config the run changes on the preset (typed, None = the
preset's). ``ghvae_env.training.trainer.model_config`` builds a fresh run's model config from
the two in one visible place; nothing else writes into a model config.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ghvae_env._dataclass_cli import option
from ghvae_env._threads import ThreadsError, resolve_threads
from ghvae_env.model.config import HANDOFFS, PRESETS, SKIP_FRAMES

__all__ = ["TrainConfig", "ModelOverrides", "TrainError", "MODEL_CHOICES"]

MODEL_CHOICES = ("ghvae", "svg-prime")
LR_SCHEDULES = ("constant", "cosine")

C = TypeVar("C")


class TrainError(ValueError):
    """Bad training arguments or an inconsistent run directory."""


@dataclass(frozen=True)
class ModelOverrides:
    """Model-config fields a run sets on top of its preset; None keeps the preset's value.

    Applied to a fresh run's model config and to the config of the checkpoint a ``--from``
    run grows (only ``handoff`` changes a weight's shape, so a ``--from`` run must keep its
    checkpoint's); a resumed run keeps the config in its ``last.pt``.
    """

    beta: float | None = option(None, "KL weight (default: the config's)")
    learned_prior: bool | None = option(
        None,
        "use N(0, I) instead of the learned prior (ablation)",
        flag="--uniform-prior",
        const=False,
    )
    skip_frame: str | None = option(
        None,
        "what decoder_1's pixel skip composites with: previous (x_t) or context (the last "
        "real context frame) (default: the config's)",
        choices=SKIP_FRAMES,
    )
    # the one field here that changes weight shapes: a fresh run only (a --from run that
    # sets another value than its checkpoint's is refused by the trainer)
    handoff: str | None = option(
        None,
        "what decoder_{k+1} hands decoder_k: latent (a C_Z^k-wide tensor, z^k's shape) or "
        "hidden (C_H^k wide, the seed's 'predicts h^k_{t+1}') (default: the config's, latent)",
        choices=HANDOFFS,
    )

    def changes(self) -> dict[str, Any]:
        """The fields that are set (not None)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None
        }

    def apply(self, config: C) -> C:
        """``config`` (a frozen model-config dataclass) with the set fields replaced."""
        changes = self.changes()
        known = {f.name for f in dataclasses.fields(config)}  # type: ignore[arg-type]
        unknown = sorted(set(changes) - known)
        if unknown:
            raise TrainError(
                f"model_overrides {unknown} must be fields of {type(config).__name__}, "
                f"actual value: {changes}"
            )
        return dataclasses.replace(config, **changes)  # type: ignore[type-var]


@dataclass
class TrainConfig:
    """Arguments of one ``ghvae train`` run."""

    data: str = option(help="directory of shards (ghvae generate) or RoboNet HDF5 files")
    out: str = option(help="run directory (stage_<k>.pt, model.pt, last.pt, scalars.csv)")
    preset: str = option(
        "tiny",
        "model size preset (svg-prime: tiny | cpu-small, memory-matched to the GHVAE's)",
        choices=tuple(PRESETS),
    )
    # "ghvae" (greedy, module by module) or "svg-prime" (the SVG' baseline, one end-to-end
    # phase of ``steps`` steps; see ghvae_env.baselines)
    model: str = option(
        "ghvae",
        "ghvae (greedy) or svg-prime (the SVG' baseline, one end-to-end phase)",
        choices=MODEL_CHOICES,
    )
    steps: int | None = option(
        None, "svg-prime: total optimizer steps (default: --steps-per-module)"
    )
    modules: int | None = option(None, "number of modules K (default: the preset's)")
    steps_per_module: int = option(1000, "optimizer steps per greedy stage")
    finetune_e2e: int = option(
        0, "end-to-end fine-tune steps after the greedy stages", metavar="STEPS"
    )
    batch_size: int = option(16, "clips per step per process")
    # Adam; the seed does not give one for our widths
    lr: float = option(1e-3, "Adam learning rate of greedy stages")
    # smaller: fine-tuning must not undo the greedy solution
    finetune_lr: float = option(2e-4, "Adam learning rate of the e2e fine-tune")
    # "cosine": each phase's learning rate decays from its start value to 10% of it at the
    # phase's last step (half a cosine); "constant" keeps it (the bundled recipe until issue 13)
    lr_schedule: str = option(
        "constant", "learning rate over each phase: constant or cosine", choices=LR_SCHEDULES
    )
    # guards the KL term's early spikes
    grad_clip: float = option(1.0, "max gradient norm of each optimizer step")
    # KL warm-up: beta ramps linearly from 0 over this many steps of each greedy stage. Without
    # it the initial KL (~5e3 nats/frame, 40x the MSE term) made the optimizer collapse the
    # posterior onto the prior first: the cpu-small tabletop model then ignored z, and with it
    # the actions (prior-mean change under a different action: 8.5e-4).
    kl_warmup: int = option(500, "steps over which the KL weight ramps from 0 in each greedy stage")
    # clip = context + horizon frames, teacher-forced in training. A fresh model's config
    # records them (context_frames, horizon: how far the checkpoint was trained to predict).
    context: int = option(2, "context frames per training clip")
    horizon: int = option(8, "predicted frames per training clip")
    checkpoint_every: int = option(200, "steps between RUN/last.pt checkpoints")
    eval_clips: int = option(64, "held-out clips scored after each stage")
    seed: int = option(0, "seed of the model init and the batches")
    device: str = option("auto", "auto | cpu | cuda | cuda:i")
    resume: bool = option(False, "continue RUN from RUN/last.pt")
    init_from: str | None = option(
        None, "checkpoint to stack new modules onto", flag="--from", metavar="CKPT"
    )
    add_modules: int = option(0, "modules to stack onto --from", metavar="N")
    progress: bool = option(True, "no progress bar", flag="--no-progress")
    # Teacher forcing feeds every step the real previous frame; a rollout feeds its own
    # predictions, so errors compound (issue 13). free_running trains the way the model is
    # used: after the context it steps from its own (re-encoded) predictions, z from the
    # posterior of the real frame. A step costs more: the re-encoding runs frame by frame.
    free_running: bool = option(
        False,
        "GHVAE: after the context frames, train on the model's own predictions (rollout "
        "training) instead of teacher forcing",
        flag="--free-running",
    )
    # torch intra-op threads on the CPU; None: ghvae_env._threads' policy (usable cores minus
    # the cores other processes keep busy): 2 threads beside a busy process ran 1.5-1.9x slower.
    # On the command line through _threads.add_threads_argument (its own checker and help).
    threads: int | None = None
    # Opt-in, not a default: `benchmarks/speed.py --compile-training` (2026-12-01, AMD EPYC,
    # 2 threads, quiet) compiled cpu-small's greedy step in 60-74 s per stage and then ran it
    # at 1.06x, 0.88x and 1.01x the eager speed (stages 1-3): no gain on this CPU.
    compile: bool = option(
        False,
        "torch.compile the training loss (a minute or more of compiling per phase; measured "
        "no faster on a 2-core EPYC; falls back to eager with a warning if compiling fails)",
        flag="--compile",
    )
    # A wall-clock cap per phase (greedy stage, e2e fine-tune, svg-prime's one phase): the
    # phase ends after its steps or after this many minutes of training, whichever is first;
    # the steps it reached are recorded. For comparisons at equal training time (issue 13:
    # presets that differ in speed); a cosine schedule then ends before its last step.
    phase_minutes: float | None = option(
        None,
        "stop each phase after this many minutes of training (its steps stay the upper bound)",
        metavar="MIN",
    )
    model_overrides: ModelOverrides = field(default_factory=ModelOverrides)

    def __post_init__(self) -> None:
        def fail(name: str, expected: str, actual: Any) -> None:
            raise TrainError(f"{name} must be {expected}, actual value: {actual!r}")

        if isinstance(self.model_overrides, dict):  # from train_args.json / last.pt
            self.model_overrides = ModelOverrides(**self.model_overrides)
        if not isinstance(self.model_overrides, ModelOverrides):
            fail("model_overrides", "a ModelOverrides", self.model_overrides)
        if self.model not in MODEL_CHOICES:
            fail("model", f"one of {MODEL_CHOICES}", self.model)
        if self.steps_per_module < 0:
            fail("steps_per_module", ">= 0", self.steps_per_module)
        if self.steps is not None and self.steps < 0:
            fail("steps", ">= 0", self.steps)
        if self.steps is not None and self.model == "ghvae":
            fail("steps", "unset for ghvae (use steps_per_module)", self.steps)
        if self.model == "svg-prime":
            if self.init_from or self.add_modules:
                fail(
                    "init_from/add_modules", "unset for svg-prime (one flat model)", self.init_from
                )
            if self.finetune_e2e:
                fail(
                    "finetune_e2e",
                    "0 for svg-prime (it is always trained end to end)",
                    self.finetune_e2e,
                )
            if self.modules not in (None, 1):
                fail("modules", "unset or 1 for svg-prime", self.modules)
            if self.free_running:
                fail("free_running", "False for svg-prime (GHVAE only)", True)
            if self.model_overrides.skip_frame is not None:
                fail(
                    "skip_frame",
                    "unset for svg-prime (GHVAE only)",
                    self.model_overrides.skip_frame,
                )
            if self.model_overrides.handoff is not None:
                fail("handoff", "unset for svg-prime (GHVAE only)", self.model_overrides.handoff)
            if self.model_overrides.learned_prior is False:
                fail("learned_prior", "True for svg-prime (SVG-LP's prior is learned)", False)
        if self.finetune_e2e < 0:
            fail("finetune_e2e", ">= 0", self.finetune_e2e)
        if self.batch_size < 1:
            fail("batch_size", ">= 1", self.batch_size)
        if not self.lr > 0 or not self.finetune_lr > 0:
            fail("lr", "> 0", (self.lr, self.finetune_lr))
        if self.lr_schedule not in LR_SCHEDULES:
            fail("lr_schedule", f"one of {LR_SCHEDULES}", self.lr_schedule)
        if not self.grad_clip > 0:
            fail("grad_clip", "> 0", self.grad_clip)
        if self.context < 1 or self.horizon < 1:
            fail("context/horizon", ">= 1", (self.context, self.horizon))
        if self.kl_warmup < 0:
            fail("kl_warmup", ">= 0", self.kl_warmup)
        if self.phase_minutes is not None and not self.phase_minutes > 0:
            fail("phase_minutes", "> 0 (minutes) or unset", self.phase_minutes)
        if self.checkpoint_every < 1:
            fail("checkpoint_every", ">= 1", self.checkpoint_every)
        if self.add_modules < 0:
            fail("add_modules", ">= 0", self.add_modules)
        if self.add_modules and not self.init_from:
            fail(
                "init_from", "a checkpoint path when add_modules > 0 (--from CKPT)", self.init_from
            )
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            fail("device", "'auto', 'cpu' or 'cuda[:i]'", self.device)
        try:
            if self.threads is not None:
                resolve_threads(self.threads)
        except ThreadsError as e:
            raise TrainError(str(e)) from None
