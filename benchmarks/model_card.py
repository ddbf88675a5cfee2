"""Write the bundled model's card from the files a training run and its evaluations left.

    python benchmarks/model_card.py --checkpoint ghvae_env/assets/ghvae_tabletop_cpu-small.pt \\
        --eval /work/eval/v2_k3.json --eval /work/eval/v2_k1.json --eval /work/eval/v2_k2.json \\
        --action-response benchmarks/results/action_response/results.json \\
        --data-command "ghvae generate --scene tabletop --out data/tabletop256 --episodes 256 --steps 30 --seed 0 --workers 2 --episodes-per-shard 16" \\
        --out ghvae_env/assets/MODEL_CARD.md

Every number in the card is read from the checkpoint (its history, provenance and config) or
from the JSON of `ghvae evaluate` / `benchmarks/action_response.py`; nothing is typed in.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from _common import command_string, machine_info

from ghvae_env.envs.assets import scene_version_of_provenance
from ghvae_env.model import read_checkpoint
from ghvae_env.model.checkpoint import BUNDLED_CHECKPOINT


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--eval", action="append", default=[], help="`ghvae evaluate --json` outputs")
    p.add_argument(
        "--action-response", default=None, help="benchmarks/action_response.py results.json"
    )
    p.add_argument(
        "--data-command", required=True, help="the command that generated the training data"
    )
    p.add_argument(
        "--train-command",
        action="append",
        default=[],
        help="the training command(s) as run, in order (default: rebuilt from the checkpoint's "
        "train_args; give them when a run was continued, e.g. --from ... --finetune-e2e)",
    )
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)

    ck = read_checkpoint(args.checkpoint)
    cfg, hist, prov = ck["config"], ck.get("history", []), ck.get("provenance", {})
    targs, ds = prov.get("train_args", {}), prov.get("dataset", {})
    n_params = sum(v.numel() for v in ck["state_dict"].values())
    train_cmd = (
        f"ghvae train --data {targs.get('data')} --out {targs.get('out')} --preset {targs.get('preset')} "
        f"--steps-per-module {targs.get('steps_per_module')} --batch-size {targs.get('batch_size')} "
        f"--context {targs.get('context')} --horizon {targs.get('horizon')} --kl-warmup {targs.get('kl_warmup')} "
        f"--seed {targs.get('seed')}"
    )
    wall = sum(h.get("wall_s", 0) for h in hist)
    lines = [
        f"# Model card: `{BUNDLED_CHECKPOINT}`",
        "",
        'The checkpoint `gym.make("GHVAE-RoboNet-v0")` loads by default.',
        "",
        "## Model",
        f"- GHVAE (ghvae-env {ck.get('package_version')}), preset `{cfg.get('preset_name')}`, "
        f"{cfg['num_modules']} modules, {n_params / 1e6:.2f} M parameters",
        f"- hidden channels {cfg['hidden_channels']}, latent channels {cfg['latent_channels']}, "
        f"ConvLSTM widths {cfg['lstm_channels']}, res blocks {cfg['res_blocks']}",
        f"- beta {cfg['beta']}, prior KL weight {cfg.get('prior_kl_weight')}, fixed posterior std "
        f"{cfg['posterior_std']}, pixel skip {cfg.get('pixel_skip')}, actions into decoders "
        f"{cfg.get('action_to_decoder')} (see `ghvae_env/model/config.py` for why)",
        f"- stage: {ck.get('stage')}, trained modules: {ck.get('trained_modules')}, torch {ck.get('torch_version')}",
        "",
        "## Data",
        f"- command: `{args.data_command}`",
        f"- {ds.get('num_trajectories')} training trajectories ({ds.get('num_frames')} frames) of the "
        f"robosuite Panda tabletop scene (`RoboNet-Sim-v0`), split rule: {ds.get('split_rule')}",
        f"- scene version `{scene_version_of_provenance(ds.get('scene'))}` (the env warns when "
        "clips or the simulator come from another one; `ghvae framing` measures a scene)",
        "",
        "## Training",
        *(
            [f"- command: `{c}`" for c in args.train_command]
            if args.train_command
            else [f"- command: `{train_cmd}`"]
        ),
        f"- hardware: {machine_info()['processor']}, {os.cpu_count()} CPU cores, no GPU; world size {prov.get('world_size')}",
        *[f"- {h['phase']} phase: {h['stopped_early']}" for h in hist if h.get("stopped_early")],
        f"- wall time {wall / 60:.1f} min in all:",
        "",
        "| phase | steps | wall (s) | final loss | final MSE | final KL (nats/frame) | train PSNR (dB, teacher-forced) |",
        "|---|---|---|---|---|---|---|",
    ]
    for h in hist:
        lines.append(
            f"| {h['phase']} | {h['steps']} | {h['wall_s']} | {h.get('final_loss', float('nan')):.5f} | "
            f"{h.get('final_mse', float('nan')):.5f} | {h.get('final_kl', float('nan')):.2f} | "
            f"{h.get('final_psnr', float('nan')):.2f} |"
        )
    lines += [
        "",
        "## Held-out evaluation",
        "Rollouts from 2 true context frames under the true actions, on clips of the held-out "
        "split, against copying the last context frame; `latent` says whether each step drew one "
        "sample from the prior or took the prior's mean (`--prior-mean`). `shuffled` rolls the "
        "same clips out under another clip's actions with the same noise: a model that uses its "
        "actions scores lower there.",
        "",
        "| modules used | latent | clips | horizon | PSNR (dB) | copy-last PSNR (dB) | SSIM (copy-last) | PSNR, shuffled actions (dB) | command |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for path in args.eval:
        r = json.loads(Path(path).read_text())
        sampled = r.get("sample", True)  # evaluations before the flag was recorded sampled
        cmd = (
            f"ghvae evaluate --checkpoint {r['checkpoint']} --modules {r['modules']} --data {r['data']} "
            f"--context {r['context']} --horizon {r['horizon']} --clips {r['num_clips']}"
            + (" --ssim" if "ssim" in r else "")
            + ("" if sampled else " --prior-mean")
        )
        ssim = f"{r['ssim']:.3f} ({r['copy_last_ssim']:.3f})" if "ssim" in r else "not measured"
        lines.append(
            f"| {r['modules']} | {'one sample' if sampled else 'prior mean'} | {r['num_clips']} | "
            f"{r['horizon']} | {r['psnr']:.2f} | {r['copy_last_psnr']:.2f} | {ssim} | "
            f"{r['psnr_shuffled_actions']:.2f} | `{cmd}` |"
        )
    if args.eval:
        r = json.loads(Path(args.eval[0]).read_text())
        lines += [
            "",
            f"Per-step PSNR, {r['modules']} modules (steps 1..{r['horizon']}): {r['psnr_per_step']}",
            f"Per-step PSNR, copy-last: {r['copy_last_psnr_per_step']}",
        ]
    if args.action_response:
        a = json.loads(Path(args.action_response).read_text())
        lines += [
            "",
            "## Response to actions",
            f"Prior-mean rollouts of {a['num_clips']} held-out contexts under constant actions, "
            f"{a['horizon']} steps (`{a['command']}`); mean absolute pixel difference (0..1) between "
            "rollouts: " + ", ".join(f"{k}: {v:.4f}" for k, v in a["mean_abs_diff"].items()) + ".",
            "",
            "![action response](../../benchmarks/results/action_response/action_response.png)",
        ]
    lines += [
        "",
        "## Limits",
        f"- Trained for {wall / 60:.0f} min on 2 CPU cores on {ds.get('num_trajectories')} simulated "
        "trajectories: predictions blur over the horizon and small objects are rendered coarsely. "
        "Use it to test pipelines; train a larger model (`paper-6` on a GPU) for research claims.",
        f"- The model was trained on {cfg.get('context_frames')} + {cfg.get('horizon')}-frame "
        "windows; env episodes run until the bundled clip ends (its last frame is the goal), "
        "longer than it was trained to predict.",
        "",
        f"_Card written by `{command_string('model_card.py', argv)}`._",
        "",
    ]
    out = Path(args.out)
    out.write_text("\n".join(lines))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
