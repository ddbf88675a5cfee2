"""GHVAEConfig: every size and weight of the model, validated, with named presets.

The seed (Wu et al., CVPR 2021, section 3) fixes the structure -- K modules, each encoder
halving H and W while growing channels, recurrent-convolutional prior and posterior, a
fixed posterior std in the KL, only z^K used at test time -- but not the widths, kernel
sizes, beta or std. Those choices are made here, each with a one-line reason.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GHVAEConfig", "ConfigError", "PRESETS", "HANDOFFS", "SKIP_FRAMES"]

# what decoder_1's pixel skip composites with (GHVAEConfig.skip_frame)
SKIP_FRAMES = ("previous", "context")

# what decoder_{k+1} hands decoder_k (GHVAEConfig.handoff)
HANDOFFS = ("latent", "hidden")

# 64 -> 32 -> 16 -> 8 -> 4 -> 2 -> 1: each encoder halves H and W, so 64x64 frames allow 6.
MAX_MODULES = 6


class ConfigError(ValueError):
    """A GHVAEConfig field has an invalid value."""


@dataclass(frozen=True)
class GHVAEConfig:
    """Sizes and loss weights of a K-module GHVAE.

    Per-module tuples are indexed by module k = 1..K (tuple index k-1) and must have
    length ``num_modules``; use :meth:`with_modules` to grow or shrink a config.
    """

    num_modules: int = 2
    # C_H^k: channels of h^k; the seed asks C_H^k > C_H^{k-1} (section 3, "Encoder").
    hidden_channels: tuple[int, ...] = (32, 64)
    # C_Z^k: channels of z^k; small, so the prior predicts few dimensions ("Posterior").
    latent_channels: tuple[int, ...] = (8, 16)
    # width of the prior/posterior ConvLSTM of each module; matches C_H^k by default.
    lstm_channels: tuple[int, ...] = (32, 64)
    image_size: int = 64  # DESIGN.md: 64x64 RGB observations
    image_channels: int = 3
    action_dim: int = 4  # DESIGN.md: eef dx, dy, dz, gripper
    res_blocks: int = 1  # residual blocks after each down/up-sampling; 1 keeps CPU training fast
    kernel_size: int = 3  # 3x3 convolutions everywhere (the seed does not say; standard choice)
    # fixed std of q(z|x) in the KL (seed Eq. 2 note); 0.1 keeps posterior samples informative
    # at initialisation, when means are O(0.1-1).
    posterior_std: float = 0.1
    # lower bound on the prior std: keeps the KL finite when the prior becomes confident.
    min_prior_std: float = 1e-3
    # loss = MSE + (beta * KL(q || sg p) + prior_kl_weight * KL(sg q || p)) / (pixels per frame)
    # (KL balancing; equal weights = plain beta * KL). z^k is spatial (thousands of dims), so
    # beta sits far below SVG-style values: beta=1 collapsed the posterior (toy scene, tiny,
    # 400 steps: KL 24 nats, PSNR with shuffled actions equal to true ones). Toy sweep, 300
    # steps, action_to_decoder: beta=0.1 -> 24.65 dB (shuffled 24.62), beta=0.01 -> 24.38 dB.
    beta: float = 0.1
    # weight of the prior's fit to the posterior, independent of beta (prior learns at full rate).
    prior_kl_weight: float = 1.0
    # decoder_1 composites x_t through a learned mask (see model.ghvae.Decoder): the static
    # background is copied, not re-synthesised from h^1; without it a small model loses to
    # copy-last-frame on the toy scene (22.7 vs 23.6 dB after 300 steps/module, tiny preset).
    pixel_skip: bool = True
    # a_t tiled is also an input of every decoder (the seed feeds actions to the prior only).
    # With actions in the prior alone, no model we trained on 2 CPU cores learned to respond
    # to them (toy scene, tiny, 400 steps: PSNR under shuffled actions within 0.01 dB of the
    # true ones; cpu-small tabletop, 1500 steps/module: prior-mean change 8.5e-4). False
    # restores the seed's wiring.
    action_to_decoder: bool = True
    # False: p(z) = N(0, I) instead of the learned action-conditioned prior (seed Table 6).
    learned_prior: bool = True
    # decoder_1's exit: False (old checkpoints) upsamples h^1-sized features to 64x64 and runs
    # two 3x3 convs there; True runs both at 32x32 and pixel-shuffles 4 x (RGB + mask) channels
    # up to 64x64, so no convolution touches the full resolution (issue 11, cpu-fast).
    pixel_shuffle_exit: bool = False
    # what decoder_1's pixel skip composites with (issue 13): "previous" (x_t, the frame the
    # step starts from: a real frame in training, the model's own prediction in a rollout) or
    # "context" (the last real context frame, SVG's static skip, in training and rollouts
    # alike: a rollout's errors do not feed back through the mask).
    skip_frame: str = "previous"
    # what decoder_{k+1} hands decoder_k (issue 13 ablation, DESIGN.md): "latent" (ours until
    # now) emits a C_Z^k-wide tensor, z^k's shape, so decoder_k reads it where it read z^k while
    # module k was the top module; "hidden" (the seed: decoder_{k+1} "predicts h^k_{t+1}") emits
    # a C_H^k-wide one, and each decoder reads its top-level z^k through a 1x1 conv to C_H^k
    # (``GHVAEModule.lift``, used only while its module is the top one). Changes weight shapes.
    handoff: str = "latent"
    # the clips the model was trained on (context + horizon frames): a training run records its
    # TrainConfig.context / .horizon here (training.trainer.model_config), so a checkpoint
    # says how far it was trained to predict (model.api.ModelConfig).
    context_frames: int = 2
    horizon: int = 8
    preset_name: str = field(default="custom", compare=False)  # which preset this came from

    def __post_init__(self) -> None:
        def fail(name: str, expected: str, actual: Any) -> None:
            raise ConfigError(f"GHVAEConfig.{name} must be {expected}, actual value: {actual!r}")

        if not isinstance(self.num_modules, int) or not 1 <= self.num_modules <= MAX_MODULES:
            fail("num_modules", f"an int in [1, {MAX_MODULES}]", self.num_modules)
        for name in ("hidden_channels", "latent_channels", "lstm_channels"):
            val = getattr(self, name)
            if isinstance(val, list):  # allow lists from JSON/checkpoints
                object.__setattr__(self, name, tuple(val))
                val = getattr(self, name)
            if not isinstance(val, tuple) or len(val) != self.num_modules:
                fail(name, f"a tuple of length num_modules={self.num_modules}", val)
            if not all(isinstance(c, int) and c > 0 for c in val):
                fail(name, "positive ints", val)
        hc = self.hidden_channels
        if any(hc[i] < hc[i - 1] for i in range(1, len(hc))):
            fail("hidden_channels", "non-decreasing (seed: C_H^k > C_H^{k-1})", hc)
        if self.image_size != 64:
            fail("image_size", "64 (the observation space of DESIGN.md)", self.image_size)
        if self.image_size % (2**self.num_modules):
            fail("num_modules", f"<= log2(image_size={self.image_size})", self.num_modules)
        if self.image_channels != 3:
            fail("image_channels", "3", self.image_channels)
        if not isinstance(self.action_dim, int) or self.action_dim < 0:
            fail("action_dim", "an int >= 0", self.action_dim)
        if not isinstance(self.res_blocks, int) or self.res_blocks < 0:
            fail("res_blocks", "an int >= 0", self.res_blocks)
        if self.kernel_size not in (1, 3, 5, 7):
            fail("kernel_size", "an odd int in {1, 3, 5, 7}", self.kernel_size)
        if not self.posterior_std > 0:
            fail("posterior_std", "> 0", self.posterior_std)
        if not self.min_prior_std > 0:
            fail("min_prior_std", "> 0", self.min_prior_std)
        if not self.beta >= 0:
            fail("beta", ">= 0", self.beta)
        if not self.prior_kl_weight >= 0:
            fail("prior_kl_weight", ">= 0", self.prior_kl_weight)
        if not isinstance(self.context_frames, int) or self.context_frames < 1:
            fail("context_frames", "an int >= 1", self.context_frames)
        if not isinstance(self.horizon, int) or self.horizon < 1:
            fail("horizon", "an int >= 1", self.horizon)
        if not isinstance(self.pixel_shuffle_exit, bool):
            fail("pixel_shuffle_exit", "a bool", self.pixel_shuffle_exit)
        if self.skip_frame not in SKIP_FRAMES:
            fail("skip_frame", f"one of {SKIP_FRAMES}", self.skip_frame)
        if self.handoff not in HANDOFFS:
            fail("handoff", f"one of {HANDOFFS}", self.handoff)

    # ----------------------------------------------------------------- derived sizes
    def spatial_size(self, k: int) -> int:
        """H^k = W^k of h^k and z^k (k = 0 is the image)."""
        return self.image_size // (2**k)

    @property
    def window(self) -> int:
        return self.context_frames + self.horizon

    # ----------------------------------------------------------------- construction
    @classmethod
    def preset(cls, name: str, num_modules: int | None = None, **overrides: Any) -> GHVAEConfig:
        """A named preset, optionally with ``num_modules`` and other fields overridden."""
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; expected one of {sorted(PRESETS)}")
        base = dict(PRESETS[name])
        k = base.pop("num_modules") if num_modules is None else num_modules
        base.pop("num_modules", None)
        if not isinstance(k, int) or not 1 <= k <= MAX_MODULES:
            raise ConfigError(
                f"num_modules must be an int in [1, {MAX_MODULES}], actual value: {k!r}"
            )
        for key in ("hidden_channels", "latent_channels", "lstm_channels"):
            base[key] = tuple(base[key][:k])
        base.update(overrides)
        return cls(num_modules=k, preset_name=name, **base)

    def with_modules(self, k: int) -> GHVAEConfig:
        """This config with K modules: truncated, or extended by doubling widths (capped)."""
        if not isinstance(k, int) or not 1 <= k <= MAX_MODULES:
            raise ConfigError(
                f"num_modules must be an int in [1, {MAX_MODULES}], actual value: {k!r}"
            )
        if self.preset_name in PRESETS:
            table = PRESETS[self.preset_name]
            grown = {
                n: list(getattr(self, n)) + list(table[n][self.num_modules : k])
                for n in _PER_MODULE
            }
        else:
            grown = {n: list(getattr(self, n)) for n in _PER_MODULE}
        for n, cap in (("hidden_channels", 512), ("latent_channels", 64), ("lstm_channels", 512)):
            while len(grown[n]) < k:  # seed: channels grow with depth; cap keeps 1x1 levels sane
                grown[n].append(min(2 * grown[n][-1], cap))
        return dataclasses.replace(
            self, num_modules=k, **{n: tuple(v[:k]) for n, v in grown.items()}
        )

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for n in _PER_MODULE:
            d[n] = list(d[n])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GHVAEConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown GHVAEConfig fields {unknown}")
        return cls(**d)


_PER_MODULE = ("hidden_channels", "latent_channels", "lstm_channels")

# Full 6-level tables; a preset with K modules uses the first K entries.
PRESETS: dict[str, dict[str, Any]] = {
    # tests and CI: trains in seconds on one core.
    "tiny": dict(
        num_modules=2,
        hidden_channels=(8, 16, 32, 32, 64, 64),
        latent_channels=(4, 8, 8, 16, 16, 16),
        lstm_channels=(8, 16, 32, 32, 64, 64),
        res_blocks=0,
    ),
    # the bundled model: trains on 2 CPU cores in under an hour. Widths measured, B=8, T=10,
    # one thread: 1.2-1.3 s per greedy step vs 2.2-2.7 s for (24, 48, 96) widths.
    "cpu-small": dict(
        num_modules=3,
        hidden_channels=(16, 32, 64, 128, 192, 256),
        latent_channels=(4, 8, 16, 16, 32, 32),
        lstm_channels=(16, 32, 64, 128, 192, 256),
        res_blocks=1,
    ),
    # the bundled model's structure with a thin full-resolution path, for planning and RL on a
    # CPU (issue 11): 56 MFLOP per imagined frame vs cpu-small's 152 (FlopCounterMode, both
    # with the sub-pixel upsampling of model.layers).
    "cpu-fast": dict(
        num_modules=3,
        # same C_H as cpu-small: h^k keeps its capacity; the entry is still one 4x4 stride-2
        # conv, so nothing but decoder_1's exit ever sees 64x64.
        hidden_channels=(16, 32, 64, 128, 192, 256),
        latent_channels=(4, 8, 16, 16, 32, 32),
        # prior_K's ConvLSTM is 25% of cpu-small's FLOPs per frame (gates conv 128 -> 256 at
        # 8x8, 38 MFLOP); at width 24 it costs 5 MFLOP. Lower levels' LSTMs only run in their
        # own training stage, so they keep cpu-small's widths there.
        lstm_channels=(16, 32, 24, 48, 72, 96),
        # no residual blocks: 56 of cpu-small's 152 MFLOP; widths are kept instead of depth.
        res_blocks=0,
        # decoder_1 exits through a pixel shuffle: no 64x64 convolutions (7 -> 5 MFLOP, and
        # the 64x64 convs ran at 25 GFLOP/s, a quarter of the others' rate: 4 output channels).
        pixel_shuffle_exit=True,
    ),
    # the seed's 6-module setting, scaled for one GPU.
    "paper-6": dict(
        num_modules=6,
        hidden_channels=(64, 128, 256, 384, 512, 512),
        latent_channels=(16, 32, 32, 64, 64, 64),
        lstm_channels=(64, 128, 256, 384, 512, 512),
        res_blocks=2,
    ),
}
