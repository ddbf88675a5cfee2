"""Latent sampling temperature: frame quality against the spread of samples, per T.

A sampled step draws z = mean + T std eps. T = 1 is the prior as trained, T = 0 its mean;
in between, samples are sharper and vary less (NVAE and Glow sample below 1 the same way).
For each T this runs ``imagined_vs_simulated.py`` (PSNR and SSIM best of and mean over the
S samples, FVD of sample 0, copy-last) on simulator starts, by default seeds 20,000.., which
are not the test starts (``imagined_vs_simulated.py``'s 10,000..10,255; scoring those needs
``--allow-test-starts``, so that a value is not chosen on the test set by accident). It also
measures whether the prior is calibrated (``ghvae_env.training.evaluate.latent_calibration``
on the held-out clips): the T* whose prior fits where the posterior puts the real futures;
T* near 1 says the trained spread is the data's, and a colder T buys sharper frames with
spread the data has.

The script chooses nothing. ``--record T`` (one of the swept values) writes T into the
checkpoint (``ghvae_env.model.checkpoint.set_sampling_temperature``, weights untouched),
where ``GHVAE-RoboNet-v0``, ``ghvae evaluate`` and ``imagined_vs_simulated.py`` take their
default from; the bundled model records none (it samples at 1).

Each T's run is a subdirectory ``t<T>`` of ``--out`` and is reused when it already holds a
``results.json`` of the same checkpoint, starts and horizon (a killed sweep resumes).
Writes ``sweep.json`` and ``sweep.md`` (one row per T) into ``--out``.

    python benchmarks/temperature_sweep.py --out /tmp/sweep
    python benchmarks/temperature_sweep.py --checkpoint CKPT --record 0.7 --out /tmp/sweep
    python benchmarks/temperature_sweep.py --quick --checkpoint CKPT    # smoke run
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

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

TEST_SEEDS = (10_000, 10_256)  # imagined_vs_simulated.py's default starts (up to N = 256)


def _temperatures(text: str) -> list[float]:
    from ghvae_env.model.api import check_temperature

    try:
        values = [check_temperature(float(v)) for v in text.split(",") if v.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{e} (in {text!r})") from None
    if not values or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(
            f"needs distinct comma-separated temperatures >= 0, actual value: {text!r}"
        )
    return values


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--checkpoint", default=None, help="GHVAE checkpoint (default: the bundled one)")
    p.add_argument(
        "--temperatures",
        type=_temperatures,
        default=[1.0, 0.7, 0.5, 0.3],
        help="comma-separated latent temperatures to score",
    )
    p.add_argument("--num-starts", type=int, default=128, help="N validation starts")
    p.add_argument("--seed-offset", type=int, default=20_000, help="first validation start seed")
    p.add_argument("--horizon", type=int, default=10, help="H predicted steps")
    p.add_argument("--seed", type=int, default=0, help="seed of the model's z samples")
    p.add_argument(
        "--record",
        type=float,
        default=None,
        metavar="T",
        help="write T (one of --temperatures) into the checkpoint: its default from then on",
    )
    p.add_argument(
        "--clips",
        default=None,
        help="clips .npz for the calibration check (default: the bundled held-out clips)",
    )
    p.add_argument(
        "--allow-test-starts",
        action="store_true",
        help="allow starts that overlap the test starts (seeds 10,000..10,255)",
    )
    p.add_argument("--out", default=None, help=out_help("temperature_sweep"))
    p.add_argument(
        "--quick", action="store_true", help="smoke run: N=2, H=3, no FVD, T in {1, 0.5}"
    )
    return p


def _row(t: float, r: dict[str, Any]) -> dict[str, Any]:
    psnr, ssim, fvd = r["scores"]["psnr"], r["scores"]["ssim"], r["fvd"]
    return {
        "temperature": t,
        "psnr_best_of_n": psnr["model_best_of_n"]["mean"],
        "psnr_mean_of_n": psnr["model_mean_of_n"]["mean"],
        "psnr_copy_last": psnr["copy_last"]["mean"],
        "ssim_last_step_best_of_n": ssim["model_best_of_n"]["per_step"][-1],
        "fvd_sample": fvd.get("sim_vs_imagined"),
        "fvd_copy_last": fvd.get("sim_vs_copy_last"),
        "num_samples": r["config"]["num_samples"],
        "run": f"t{t:g}",
    }


def _calibration(checkpoint: Path, clips: str | None, horizon: int) -> dict[str, Any]:
    """latent_calibration on the held-out clips, over context + horizon frames."""
    import torch

    from ghvae_env.envs.assets import load_clips, load_model_cached
    from ghvae_env.training.evaluate import latent_calibration

    # the object imagined_vs_simulated.py's runs loaded (on the CPU, its default here)
    model = load_model_cached(checkpoint, torch.device("cpu"))
    c = load_clips(clips)
    length = min(c.length, 2 + horizon)
    out = latent_calibration(model, c.frames[:, :length], c.actions[:, : length - 1])
    out["clips_path"] = str(c.path)
    return out


def _reusable(path: Path, checkpoint: Path, want: dict[str, Any]) -> dict[str, Any] | None:
    """The run's results.json when it matches this sweep's checkpoint and starts."""
    f = path / "results.json"
    if not f.is_file():
        return None
    try:
        r = json.loads(f.read_text())
        cfg = r["config"]
    except (OSError, ValueError, KeyError):
        return None
    same = cfg.get("checkpoint") == str(checkpoint) and all(
        cfg.get(k) == v for k, v in want.items()
    )
    return r if same else None


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    resolve_out(p, args, "temperature_sweep")
    if args.quick:
        args.num_starts, args.horizon = 2, 3
        args.temperatures = [1.0, 0.5]
        if args.record is not None:
            p.error("--quick is a smoke run: it never records a temperature")
    if args.record is not None and args.record not in args.temperatures:
        p.error(
            f"--record needs one of the swept --temperatures {args.temperatures}, actual "
            f"value: {args.record}"
        )
    for name in ("num_starts", "horizon"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, actual value: {getattr(args, name)}")
    first, last = args.seed_offset, args.seed_offset + args.num_starts
    if not args.allow_test_starts and first < TEST_SEEDS[1] and last > TEST_SEEDS[0]:
        p.error(
            f"starts {first}..{last - 1} overlap the test starts {TEST_SEEDS[0]}..{TEST_SEEDS[1] - 1}:"
            " a temperature chosen on them would be tuned on the test set (pass another "
            "--seed-offset, or --allow-test-starts to score them anyway)"
        )
    try:
        checkpoint = require_checkpoint(args.checkpoint)
    except BenchmarkError as e:
        p.error(str(e))
    import imagined_vs_simulated as ivs

    out = Path(args.out)
    command = command_string("temperature_sweep.py", argv)
    print(command, flush=True)
    t0 = time.time()
    want = {"num_starts": args.num_starts, "seed_offset": args.seed_offset}
    want.update(horizon=args.horizon, seed=args.seed)
    rows = []
    for t in args.temperatures:
        run = out / f"t{t:g}"
        r = _reusable(run, checkpoint, {**want, "temperature": t})
        if r is None:
            ivs_args = ["--checkpoint", str(checkpoint), "--num-starts", str(args.num_starts)]
            ivs_args += ["--seed-offset", str(args.seed_offset), "--horizon", str(args.horizon)]
            ivs_args += ["--seed", str(args.seed), "--temperature", str(t), "--no-prior-mean"]
            ivs_args += ["--out", str(run)] + (["--quick"] if args.quick else [])
            print(f"temperature {t:g}: {run}", flush=True)
            ivs.main(ivs_args)
            r = json.loads((run / "results.json").read_text())
        else:
            print(f"temperature {t:g}: reusing {run}", flush=True)
        rows.append(_row(t, r))
    calibration = _calibration(checkpoint, args.clips, args.horizon)
    recorded = None
    if args.record is not None:
        from ghvae_env.model.checkpoint import set_sampling_temperature

        chosen_on = (
            f"benchmarks/temperature_sweep.py on RoboNet-Sim-v0 starts {first}..{last - 1} "
            f"(N = {args.num_starts}, horizon {args.horizon}), T in "
            f"{', '.join(f'{t:g}' for t in args.temperatures)}: {command}"
        )
        recorded = set_sampling_temperature(checkpoint, args.record, chosen_on)
    result = {
        "benchmark": "temperature_sweep",
        "command": command,
        "date": today(),
        "machine": machine_info(),
        "checkpoint": str(checkpoint),
        "starts": [first, last - 1],
        "horizon": args.horizon,
        "rows": rows,
        "latent_calibration": calibration,
        "recorded": recorded,
        "wall_s": round(time.time() - t0, 1),
    }
    save_json(out / "sweep.json", result)
    S = rows[0]["num_samples"]
    header = ["T", f"PSNR best of {S}", f"PSNR mean of {S}", "copy-last PSNR", "SSIM last step"]
    header += ["FVD (sample 0)", "FVD copy-last", "FVD / copy-last"]
    table = [
        [
            f"{row['temperature']:g}",
            row["psnr_best_of_n"],
            row["psnr_mean_of_n"],
            row["psnr_copy_last"],
            f"{row['ssim_last_step_best_of_n']:.3f}",
            row["fvd_sample"],
            row["fvd_copy_last"],
            None
            if row["fvd_sample"] is None
            else f"{row['fvd_sample'] / row['fvd_copy_last']:.3f}",
        ]
        for row in rows
    ]
    md = (
        f"# Latent temperature sweep ({today()})\n\n`{command}`\n\n"
        f"Checkpoint `{checkpoint.name}`, starts {first}..{last - 1}, horizon {args.horizon}, "
        f"S = {S} samples a start; FVD of sample 0 (N = {args.num_starts} videos a set).\n\n"
        + markdown_table(header, table)
        + f"\nLatent calibration on {calibration['clips']} held-out clips: T* = "
        f"{calibration['teacher_forced']:.3f} teacher-forced, {calibration['free_running']:.3f} "
        "free-running (1: the prior is as wide as the posterior's real futures).\n"
        + (f"\nRecorded in the checkpoint: T = {recorded['temperature']:g}.\n" if recorded else "")
    )
    (out / "sweep.md").write_text(md)
    print(md, flush=True)
    print(f"wrote {out / 'sweep.json'}, {out / 'sweep.md'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
