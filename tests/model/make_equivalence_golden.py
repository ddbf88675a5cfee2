"""Write ``tests/model/golden_equivalence.npz``: outputs of the pre-optimisation GHVAE code.

Pins what the speed work (issue 11) must not change: the first bundled model's imagined
frames on a fixed seed, and stage losses (before and after one SGD step) on a fixed batch.
That model (scene v1, `cpu-small`) and its first 4 held-out clips are kept in
``tests/model/data/`` so the check outlives the bundled model's replacement. Produced
by the code as it was *before* the optimisations (commit 3baed28); regenerate only when the
model's maths is meant to change:

    OMP_NUM_THREADS=1 python tests/model/make_equivalence_golden.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

GOLDEN = Path(__file__).with_name("golden_equivalence.npz")
CHECKPOINT = Path(__file__).parent / "data" / "ghvae_v1_cpu_small.pt"
INPUTS = Path(__file__).parent / "data" / "v1_inputs.npz"
CLIPS, CONTEXT, HORIZON, SEED = 2, 2, 6, 0
TRAIN_CLIPS, TRAIN_LEN = 3, 6


def fixed_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """Frames B x T x 3 x 64 x 64 in [0, 1] and actions B x (T-1) x 4 from the v1 clips."""
    d = np.load(INPUTS)
    frames = torch.from_numpy(d["frames"][:4]).permute(0, 1, 4, 2, 3).float() / 255.0
    return frames, torch.from_numpy(d["actions"][:4])


def imagined_frames(model) -> np.ndarray:
    frames, actions = fixed_inputs()
    gen = torch.Generator().manual_seed(SEED)
    pred = model.rollout(frames[:CLIPS, :CONTEXT], actions[:CLIPS, : CONTEXT - 1 + HORIZON], 1, gen)
    return pred.numpy()  # (CLIPS, HORIZON, 3, 64, 64)


def stage_losses(model) -> np.ndarray:
    """rows: stage 1..K greedy then e2e; columns: loss, mse, kl, gradient norm, loss after one
    SGD step (lr 0.05; SGD, not Adam: Adam's first step is sign-like and amplifies rounding).

    Works on a copy so ``model`` is untouched; mirrors the trainer's freezing.
    """
    import copy

    from ghvae_env.training.trainer import Phase, freeze_for_stage

    frames, actions = fixed_inputs()
    frames, actions = frames[:TRAIN_CLIPS, :TRAIN_LEN], actions[:TRAIN_CLIPS, : TRAIN_LEN - 1]
    K = model.num_modules
    rows = []
    for phase in [Phase("greedy", k, 1) for k in range(1, K + 1)] + [Phase("e2e", K, 1)]:
        m = copy.deepcopy(model)
        params = freeze_for_stage(m, phase)
        opt = torch.optim.SGD(params, lr=0.05)
        frozen_below = phase.module if phase.kind == "greedy" else 1
        kw = dict(stage=phase.module, frozen_below=frozen_below)
        out = m.loss(frames, actions, generator=torch.Generator().manual_seed(1), **kw)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        grad_norm = float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params])))
        opt.step()
        after = m.loss(frames, actions, generator=torch.Generator().manual_seed(1), **kw)
        rows.append([float(out[k].detach()) for k in ("loss", "mse", "kl")])
        rows[-1] += [grad_norm, float(after["loss"].detach())]
    return np.asarray(rows, dtype=np.float64)


def main() -> None:
    from ghvae_env.model import load_model

    torch.set_num_threads(1)
    model = load_model(CHECKPOINT)
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        GOLDEN,
        frames=imagined_frames(model).astype(np.float32),
        losses=stage_losses(model),
    )
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
