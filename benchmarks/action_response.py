"""Do imagined frames follow the actions? Same context, different action sequences, side by side.

For each of a few held-out context clips the model is rolled out with the prior mean (no
sampling noise) under constant actions that push the end effector +x, -x, +y, -y and a
no-op. Writes a PNG grid (one row per action, one block per clip) and a JSON with the mean
absolute pixel difference between the rollouts of opposite actions; identical rollouts would
mean the model ignores its actions.

    python benchmarks/action_response.py --out benchmarks/results/action_response
    python benchmarks/action_response.py --quick --checkpoint CKPT --out /tmp/ar
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _common import command_string, out_help, resolve_out

from ghvae_env.data.frames import to_float_chw, to_uint8_hwc
from ghvae_env.envs.assets import load_clips
from ghvae_env.model import load_model

ACTIONS = {
    "+x": [1.0, 0.0, 0.0, -1.0],
    "-x": [-1.0, 0.0, 0.0, -1.0],
    "+y": [0.0, 1.0, 0.0, -1.0],
    "-y": [0.0, -1.0, 0.0, -1.0],
    "no-op": [0.0, 0.0, 0.0, -1.0],
}


@torch.no_grad()
def rollouts(
    model, context: torch.Tensor, context_actions: torch.Tensor, horizon: int
) -> dict[str, torch.Tensor]:
    """context: B x C x 3 x 64 x 64; returns {name: B x H x 3 x 64 x 64} (prior mean, no noise)."""
    out = {}
    for name, a in ACTIONS.items():
        state = model.start(context, context_actions)
        act = torch.tensor(a).expand(context.shape[0], 4)
        frames = []
        for _ in range(horizon):
            frame, state = model.step(state, act, sample=False)
            frames.append(frame)
        out[name] = torch.stack(frames, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--checkpoint", default=None, help="GHVAE checkpoint (default: the bundled model)"
    )
    p.add_argument(
        "--clips", default=None, help="context clips .npz (default: the bundled held-out clips)"
    )
    p.add_argument("--num-clips", type=int, default=4, help="context clips shown / averaged over")
    p.add_argument("--horizon", type=int, default=8, help="imagined steps per action")
    p.add_argument("--context", type=int, default=2, help="context frames")
    p.add_argument("--show-every", type=int, default=2, help="show every n-th imagined frame")
    p.add_argument("--out", default=None, help=out_help("action_response"))
    p.add_argument("--quick", action="store_true", help="smoke run: 1 clip, 2 steps")
    args = p.parse_args(argv)
    resolve_out(p, args, "action_response")
    if args.quick:
        args.num_clips, args.horizon, args.show_every = 1, 2, 1
    t0 = time.time()
    model = load_model(args.checkpoint)
    clips = load_clips(args.clips)
    n = min(args.num_clips, clips.frames.shape[0])
    idx = np.linspace(0, clips.frames.shape[0] - 1, n).astype(int)
    ctx = to_float_chw(clips.frames[idx, : args.context])  # (n, C, 3, 64, 64)
    ctx_actions = torch.as_tensor(clips.actions[idx, : args.context - 1])
    preds = rollouts(model, ctx, ctx_actions, args.horizon)

    def diff(a: str, b: str) -> float:
        return float((preds[a] - preds[b]).abs().mean())

    result = {
        "command": command_string("action_response.py", argv),
        "checkpoint": model.checkpoint_info["path"],
        "num_clips": int(n),
        "horizon": args.horizon,
        "mean_abs_diff": {
            "+x vs -x": diff("+x", "-x"),
            "+y vs -y": diff("+y", "-y"),
            "+x vs no-op": diff("+x", "no-op"),
        },
        "date": time.strftime("%Y-%m-%d"),
        "wall_s": round(time.time() - t0, 1),
    }
    # grid: rows = actions, columns = [context | imagined every k-th frame] for each clip
    rows = []
    for name in ACTIONS:
        blocks = []
        for i in range(n):
            frames = [to_uint8_hwc(ctx[i, -1])] + [
                to_uint8_hwc(f) for f in preds[name][i, :: args.show_every]
            ]
            frames = [np.pad(f, ((1, 1), (1, 1), (0, 0)), constant_values=255) for f in frames]
            blocks.append(np.concatenate(frames, axis=1))
            blocks.append(np.full((blocks[-1].shape[0], 6, 3), 255, np.uint8))
        rows.append(np.concatenate(blocks[:-1], axis=1))
    grid = np.kron(np.concatenate(rows, axis=0), np.ones((2, 2, 1), np.uint8))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import imageio.v3 as iio

    iio.imwrite(out / "action_response.png", grid)
    (out / "results.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(
        f"rows: {', '.join(ACTIONS)}; each block: last context frame, then every "
        f"{args.show_every}-th imagined frame. wrote {out / 'action_response.png'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
