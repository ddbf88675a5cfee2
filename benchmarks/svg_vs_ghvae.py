"""GHVAE vs SVG' at matched peak training memory (the seed's headline comparison).

Three parts, each from measurements, never from constants:

1. Memory: the peak of one training step (weights + grads + Adam + saved activations, counted
   exactly; ghvae_env.training.memory) for every greedy stage of the GHVAE preset and for the
   SVG' preset's single end-to-end phase, at the same batch and clip length. The GHVAE's
   budget is the largest of its stages; the SVG' preset must fit it.
2. Held-out video prediction: ``evaluate_rollouts`` on the dataset's held-out split for both
   checkpoints (same clips, same noise seed): PSNR, PSNR under shuffled actions, copy-last.
   With ``--ivs-ghvae/--ivs-svg`` the results.json of ``benchmarks/imagined_vs_simulated.py``
   for each checkpoint add PSNR/SSIM (best of S, mean of S) and FVD vs the simulator.
3. Push tasks: with ``--planning`` a ``benchmarks/planning.py`` JSON holding the ``ghvae``
   and ``svg`` policies on the same tasks.

    python benchmarks/svg_vs_ghvae.py --ghvae ghvae_env/assets/ghvae_tabletop_cpu-small.pt \\
        --svg runs/svg/model.pt --data data/tabletop256 \\
        --ivs-ghvae benchmarks/results/imagined_vs_simulated/results.json \\
        --ivs-svg benchmarks/results/imagined_vs_simulated_svg/results.json \\
        --planning benchmarks/results/planning.json benchmarks/results/planning_svg.json \
        --out benchmarks/results/svg_vs_ghvae
    python benchmarks/svg_vs_ghvae.py --quick    # CI smoke: memory of the tiny presets only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
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

from ghvae_env.baselines import SVGPrime, SVGPrimeConfig
from ghvae_env.model import GHVAE, GHVAEConfig, load_model
from ghvae_env.training.memory import measure_step_memory
from ghvae_env.training.trainer import Phase

MiB = 2**20


def memory_budget(preset: str, svg_preset: str, batch: int, window: int) -> dict[str, Any]:
    torch.manual_seed(0)
    ghvae = GHVAE(GHVAEConfig.preset(preset))
    K = ghvae.num_modules
    stages = [
        measure_step_memory(ghvae, Phase("greedy", k, 1), batch_size=batch, window=window)
        for k in range(1, K + 1)
    ]
    e2e = measure_step_memory(ghvae, Phase("e2e", K, 1), batch_size=batch, window=window)
    svg = SVGPrime(SVGPrimeConfig.preset(svg_preset))
    full = measure_step_memory(svg, Phase("full", 1, 1), batch_size=batch, window=window)
    budget = max(s["total"] for s in stages)
    return {
        "batch_size": batch,
        "window": window,
        "ghvae_preset": preset,
        "svg_preset": svg_preset,
        "ghvae_params": stages[0]["params_total"],
        "svg_params": full["params_total"],
        "ghvae_greedy_stage_mib": [round(s["total"] / MiB, 1) for s in stages],
        "ghvae_greedy_peak_mib": round(budget / MiB, 1),
        "ghvae_e2e_mib": round(e2e["total"] / MiB, 1),
        "svg_e2e_mib": round(full["total"] / MiB, 1),
        "svg_fits_budget": full["total"] <= budget,
        "svg_activation_share": round(full["activations"] / full["total"], 3),
        "ghvae_stage1_activation_share": round(stages[0]["activations"] / stages[0]["total"], 3),
    }


def heldout_scores(path: Path, data: str, clips: int, horizon: int) -> dict[str, Any]:
    from ghvae_env.data.dataset import VideoDataset
    from ghvae_env.training.evaluate import evaluate_rollouts

    model = load_model(path)
    ds = VideoDataset(data, window=2 + horizon, split="heldout")
    t0 = time.time()
    res = evaluate_rollouts(model, ds, context=2, horizon=horizon, num_clips=clips, seed=0)
    res["wall_s"] = round(time.time() - t0, 1)
    res["params"] = sum(p.numel() for p in model.parameters())
    res["stage"] = model.checkpoint_info.get("stage")
    hist = model.checkpoint_info.get("history") or []
    res["train_wall_s"] = round(sum(h.get("wall_s", 0.0) for h in hist), 1)
    res["train_steps"] = sum(h.get("steps", 0) for h in hist)
    return res


def ivs_scores(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    if not path.is_file():
        raise BenchmarkError(f"imagined-vs-simulated results {path} do not exist")
    d = json.loads(path.read_text())
    s = d["scores"]
    return {
        "psnr_best": s["psnr"]["model_best_of_n"]["mean"],
        "psnr_mean": s["psnr"]["model_mean_of_n"]["mean"],
        "ssim_best": s["ssim"]["model_best_of_n"]["mean"],
        "ssim_mean": s["ssim"]["model_mean_of_n"]["mean"],
        "copy_psnr": s["psnr"]["copy_last"]["mean"],
        "copy_ssim": s["ssim"]["copy_last"]["mean"],
        "fvd": d["fvd"].get("sim_vs_imagined"),
        "fvd_copy": d["fvd"].get("sim_vs_copy_last"),
        "num_starts": d["config"]["num_starts"],
        "num_samples": d["config"]["num_samples"],
        "command": d["command"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--ghvae", type=Path, default=None, help="GHVAE checkpoint")
    p.add_argument("--svg", type=Path, default=None, help="SVG' checkpoint")
    p.add_argument("--data", default=None, help="dataset whose held-out split scores both")
    p.add_argument("--clips", type=int, default=256)
    p.add_argument("--horizon", type=int, default=10)
    p.add_argument("--preset", default="cpu-small", help="GHVAE preset for the memory budget")
    p.add_argument("--svg-preset", default="cpu-small")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--ivs-ghvae", type=Path, default=None)
    p.add_argument("--ivs-svg", type=Path, default=None)
    p.add_argument(
        "--planning",
        type=Path,
        nargs="+",
        default=None,
        help="benchmarks/planning.py JSON(s) holding the ghvae and svg policies (same tasks)",
    )
    p.add_argument("--out", type=Path, default=None, help=out_help("svg_vs_ghvae"))
    p.add_argument("--quick", action="store_true", help="memory of the tiny presets only")
    args = p.parse_args(argv)
    resolve_out(p, args, "svg_vs_ghvae")
    if args.quick:
        args.preset, args.svg_preset, args.batch_size, args.window = "tiny", "tiny", 2, 4
    report: dict[str, Any] = {
        "benchmark": "svg_vs_ghvae",
        "command": command_string("svg_vs_ghvae.py", argv),
        "date": today(),
        "machine": machine_info("cpu"),
    }
    mem = memory_budget(args.preset, args.svg_preset, args.batch_size, args.window)
    report["memory"] = mem
    print(
        f"memory (B={mem['batch_size']}, T={mem['window']}): GHVAE greedy stages "
        f"{mem['ghvae_greedy_stage_mib']} MiB (peak {mem['ghvae_greedy_peak_mib']}, e2e "
        f"{mem['ghvae_e2e_mib']}), {mem['ghvae_params'] / 1e6:.2f} M params; SVG' "
        f"{mem['svg_e2e_mib']} MiB, {mem['svg_params'] / 1e6:.2f} M params; fits: {mem['svg_fits_budget']}",
        flush=True,
    )
    rows = []
    if args.ghvae and args.svg:
        if not args.data:
            raise BenchmarkError("--data is needed to score the checkpoints on held-out clips")
        models = {"GHVAE": args.ghvae, "SVG'": args.svg}
        ivs = {"GHVAE": ivs_scores(args.ivs_ghvae), "SVG'": ivs_scores(args.ivs_svg)}
        plan = None
        if args.planning:
            plan = {"summary": {}, "task_seeds": {}}
            for path in args.planning:
                if not path.is_file():
                    raise BenchmarkError(f"--planning {path} does not exist")
                d = json.loads(path.read_text())
                for name, summ in d.get("summary", {}).items():
                    plan["summary"][name] = summ
                    plan["task_seeds"][name] = d.get("task_seeds")
            seeds = [plan["task_seeds"].get(k) for k in ("ghvae", "svg") if k in plan["summary"]]
            if len(seeds) == 2 and seeds[0] != seeds[1]:
                raise BenchmarkError("--planning: ghvae and svg ran on different task seeds")
            report["planning_task_seeds"] = plan["task_seeds"]
        report["models"] = {}
        for name, path in models.items():
            h = heldout_scores(path, args.data, args.clips, args.horizon)
            entry = {"checkpoint": str(path), "heldout": h, "imagined_vs_simulated": ivs[name]}
            key = {"GHVAE": "ghvae", "SVG'": "svg"}[name]
            if plan and key in plan.get("summary", {}):
                entry["planning"] = plan["summary"][key]
            report["models"][name] = entry
            v, pl = ivs[name] or {}, entry.get("planning") or {}
            rows.append(
                [
                    name,
                    f"{h['params'] / 1e6:.2f} M",
                    h["train_steps"],
                    h["train_wall_s"] / 60 if h["train_wall_s"] else None,
                    h["psnr"],
                    h["psnr_shuffled_actions"],
                    v.get("psnr_best"),
                    v.get("ssim_best"),
                    v.get("fvd"),
                    pl.get("success_rate"),
                    None
                    if pl.get("mean_final_distance") is None
                    else 100 * pl["mean_final_distance"],
                ]
            )
            print(f"{name}: held-out PSNR {h['psnr']:.2f} dB (shuffled actions "
                  f"{h['psnr_shuffled_actions']:.2f}, copy-last {h['copy_last_psnr']:.2f})", flush=True)  # fmt: skip
        copy = report["models"]["GHVAE"]["heldout"]["copy_last_psnr"]
        v = ivs["GHVAE"] or {}
        rows.append(["copy last frame", "—", "—", None, copy, None, v.get("copy_psnr"),
                     v.get("copy_ssim"), v.get("fvd_copy"), None, None])  # fmt: skip
    header = [
        "model", "params", "train steps", "train min", f"held-out PSNR (h={args.horizon})",
        "PSNR, shuffled actions", "sim PSNR (best of S)", "sim SSIM (best of S)", "FVD",
        "push success", "push final dist. (cm)",
    ]  # fmt: skip
    table = markdown_table(header, rows) if rows else ""
    report["table"] = table
    args.out.mkdir(parents=True, exist_ok=True)
    save_json(args.out / "results.json", report)
    mem_table = markdown_table(
        ["model", "params", "peak MiB per training step", "phases"],
        [
            ["GHVAE (greedy)", f"{mem['ghvae_params'] / 1e6:.2f} M", mem["ghvae_greedy_peak_mib"],
             f"stages {mem['ghvae_greedy_stage_mib']}"],
            ["GHVAE (end to end)", f"{mem['ghvae_params'] / 1e6:.2f} M", mem["ghvae_e2e_mib"], "one"],
            ["SVG' (end to end)", f"{mem['svg_params'] / 1e6:.2f} M", mem["svg_e2e_mib"], "one"],
        ],
    )  # fmt: skip
    (args.out / "table.md").write_text(
        f"GHVAE vs SVG', {report['date']}; memory at B={mem['batch_size']}, T={mem['window']}.\n\n"
        f"{mem_table}\n{table}\n`{report['command']}`\n"
    )
    print(mem_table + "\n" + table)
    print(f"wrote {args.out}/results.json and table.md")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as e:
        print(f"svg_vs_ghvae: error: {e}", file=sys.stderr)
        sys.exit(2)
