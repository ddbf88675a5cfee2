"""Greedy trainer: freezing is real, resume after SIGKILL, stacking, e2e fine-tune, DDP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from ghvae_env.model import GHVAE, GHVAEConfig, load_model
from ghvae_env.training import Phase, TrainConfig, TrainError, freeze_for_stage, train
from ghvae_env.training.trainer import stage_parameters

FAST = dict(preset="tiny", batch_size=2, context=2, horizon=3, eval_clips=4, progress=False)


def _params(model: GHVAE, k: int) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.blocks[k - 1].named_parameters()}


def test_freeze_for_stage_trains_only_module_k():
    model = GHVAE(GHVAEConfig.preset("tiny", num_modules=3))
    params = freeze_for_stage(model, Phase("greedy", 2, 1))
    assert {id(p) for p in params} == {id(p) for p in stage_parameters(model, 2)}
    assert all(not p.requires_grad for k in (1, 3) for p in model.blocks[k - 1].parameters())
    assert not model.blocks[0].training and model.blocks[1].training
    # e2e: every encoder/decoder + the top prior/posterior; lower priors stay frozen
    params = freeze_for_stage(model, Phase("e2e", 3, 1))
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any(n.startswith("blocks.0.encoder") for n in names)
    assert not any(n.startswith("blocks.0.prior") for n in names)
    assert any(n.startswith("blocks.2.prior") for n in names)


def test_greedy_stage_leaves_frozen_module_bitwise_and_grads_flow_through_decoders(tiny_model):
    model = GHVAE(GHVAEConfig.preset("tiny"))
    model.load_state_dict(tiny_model.state_dict())
    before = _params(model, 1)
    params = freeze_for_stage(model, Phase("greedy", 2, 1))
    opt = torch.optim.Adam(params, lr=1e-2)
    frames, actions = torch.rand(2, 4, 3, 64, 64), torch.rand(2, 3, 4)
    for _ in range(2):
        out = model.loss(frames, actions, stage=2)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    after = _params(model, 1)
    assert all(torch.equal(before[n], after[n]) for n in before)
    assert all(p.grad is None for p in model.blocks[0].parameters())
    # module 2's decoder got gradient *through* frozen decoder 1 (its only path to pixels)
    assert model.blocks[1].decoder.out.weight.grad.abs().sum() > 0


def test_two_stage_run_writes_checkpoints_and_freezes(toy_data, tmp_path):
    run = tmp_path / "run"
    summary = train(
        TrainConfig(data=toy_data, out=str(run), steps_per_module=3, checkpoint_every=2, **FAST)
    )
    for name in (
        "stage_1.pt",
        "stage_2.pt",
        "model.pt",
        "last.pt",
        "scalars.csv",
        "train_args.json",
    ):
        assert (run / name).exists(), name
    s1, final = load_model(run / "stage_1.pt"), load_model(run / "model.pt")
    assert s1.checkpoint_info["stage"] == "greedy-1"
    assert final.checkpoint_info["trained_modules"] == 2
    assert s1.num_modules == 1 and final.num_modules == 2  # stage_1.pt is the 1-module model
    # module 1 is bitwise what stage 1 ended with
    for (n, a), (_, b) in zip(
        s1.blocks[0].state_dict().items(), final.blocks[0].state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), n
    # stage_2.pt is the final model (no fine-tune), module 2 included
    s2 = load_model(run / "stage_2.pt")
    assert all(torch.equal(a, b) for a, b in zip(s2.parameters(), final.parameters(), strict=True))
    assert [p["phase"] for p in summary["phases"]] == ["greedy-1", "greedy-2"]
    assert "copy_last_psnr" in summary["phases"][0]["heldout"]
    prov = final.checkpoint_info["provenance"]
    assert prov["dataset"]["format"] == "shards" and prov["train_args"]["steps_per_module"] == 3
    rows = (run / "scalars.csv").read_text().splitlines()
    assert rows[0].startswith("phase,step,loss,mse,kl,psnr") and len(rows) == 1 + 6


def test_add_modules_and_finetune(toy_data, tmp_path):
    base = tmp_path / "base"
    train(TrainConfig(data=toy_data, out=str(base), modules=1, steps_per_module=2, **FAST))
    m1 = load_model(base / "model.pt")
    run = tmp_path / "stacked"
    summary = train(
        TrainConfig(
            data=toy_data,
            out=str(run),
            init_from=str(base / "model.pt"),
            add_modules=1,
            steps_per_module=2,
            finetune_e2e=2,
            **FAST,
        )
    )
    assert [p["phase"] for p in summary["phases"]] == ["greedy-2", "e2e"]
    s2 = load_model(run / "stage_2.pt")
    assert s2.num_modules == 2
    for a, b in zip(m1.blocks[0].parameters(), s2.blocks[0].parameters(), strict=True):
        assert torch.equal(a, b)  # stacking kept module 1 frozen
    final = load_model(run / "model.pt")
    assert final.checkpoint_info["stage"] == "e2e"
    assert any(
        not torch.equal(a, b)
        for a, b in zip(s2.blocks[0].parameters(), final.blocks[0].parameters(), strict=True)
    )


def test_bad_arguments(toy_data, tmp_path):
    with pytest.raises(TrainError, match="batch_size"):
        TrainConfig(data=toy_data, out=str(tmp_path), batch_size=0)
    with pytest.raises(TrainError, match="init_from"):
        TrainConfig(data=toy_data, out=str(tmp_path), add_modules=1)
    with pytest.raises(TrainError, match="--resume"):
        train(TrainConfig(data=toy_data, out=str(tmp_path / "none"), resume=True, **FAST))
    run = tmp_path / "r"
    train(TrainConfig(data=toy_data, out=str(run), steps_per_module=1, **FAST))
    with pytest.raises(TrainError, match="already holds a run"):
        train(TrainConfig(data=toy_data, out=str(run), steps_per_module=1, **FAST))
    with pytest.raises(TrainError, match="seed was 0"):
        train(
            TrainConfig(
                data=toy_data, out=str(run), steps_per_module=1, resume=True, seed=1, **FAST
            )
        )
    with pytest.raises(FileNotFoundError):
        train(TrainConfig(data=str(tmp_path / "no-data"), out=str(tmp_path / "x"), **FAST))


def _cli(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "ghvae_env", "train", *args]


def test_resume_after_sigkill_matches_uninterrupted_run(toy_data, tmp_path):
    common = [
        "--data",
        toy_data,
        "--preset",
        "tiny",
        "--modules",
        "1",
        "--steps-per-module",
        "40",
        "--batch-size",
        "2",
        "--horizon",
        "3",
        "--checkpoint-every",
        "5",
        "--eval-clips",
        "2",
        "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ref = tmp_path / "ref"
    subprocess.run(_cli([*common, "--out", str(ref)]), check=True, env=env, capture_output=True)

    run = tmp_path / "killed"
    proc = subprocess.Popen(
        _cli([*common, "--out", str(run)]),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    csv = run / "scalars.csv"
    deadline = time.time() + 120
    while time.time() < deadline:  # kill once a checkpoint exists and training went past it
        if (run / "last.pt").exists() and csv.exists() and len(csv.read_text().splitlines()) > 12:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = torch.load(run / "last.pt", weights_only=True)
    assert saved["step"] % 5 == 0 and 5 <= saved["step"] < 40, saved["step"]
    assert not (run / "model.pt").exists()
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    subprocess.run(
        _cli([*common, "--out", str(run), "--resume"]), check=True, env=env, capture_output=True
    )
    # the log holds each step once, as the uninterrupted run's does
    assert [r.split(",")[:2] for r in (run / "scalars.csv").read_text().splitlines()] == [
        r.split(",")[:2] for r in (ref / "scalars.csv").read_text().splitlines()
    ]
    a, b = load_model(ref / "model.pt"), load_model(run / "model.pt")
    for (n, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), f"{n} differs after resume"


def test_ddp_two_processes_gloo(toy_data, tmp_path, free_port):
    run = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        str(free_port),
        "-m",
        "ghvae_env",
        "train",
        "--data",
        toy_data,
        "--out",
        str(run),
        "--preset",
        "tiny",
        "--modules",
        "1",
        "--steps-per-module",
        "2",
        "--batch-size",
        "1",
        "--horizon",
        "3",
        "--eval-clips",
        "2",
        "--no-progress",
        "--device",
        "cpu",
    ]
    res = subprocess.run(
        cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=240
    )
    assert res.returncode == 0, res.stderr[-3000:]
    model = load_model(run / "model.pt")
    assert model.checkpoint_info["provenance"]["world_size"] == 2


def test_kl_warmup_ramps_beta_in_greedy_stages_only(toy_data, tmp_path):
    from ghvae_env.training.trainer import _warmup_factor

    g, e = Phase("greedy", 1, 10), Phase("e2e", 2, 10)
    assert [_warmup_factor(g, s, 4) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    assert _warmup_factor(g, 0, 0) == 1.0 and _warmup_factor(e, 0, 4) == 1.0
    run = tmp_path / "warm"
    train(
        TrainConfig(data=toy_data, out=str(run), modules=1, steps_per_module=3, kl_warmup=2, **FAST)
    )
    rows = (run / "scalars.csv").read_text().splitlines()
    col = rows[0].split(",").index("beta")
    beta = GHVAEConfig.preset("tiny").beta
    assert [float(r.split(",")[col]) for r in rows[1:]] == [beta * 0.5, beta, beta]
    with pytest.raises(TrainError, match="kl_warmup"):
        TrainConfig(data=toy_data, out=str(run), kl_warmup=-1)


def test_free_running_and_skip_frame_reach_the_run(tmp_path, toy_data):
    """--free-running trains on the model's own predictions; --skip-frame context is stored in
    the model config, also when the run grows a --from checkpoint."""
    from ghvae_env.model import load_model
    from ghvae_env.training.trainer import ModelOverrides, TrainConfig, train

    base = dict(data=toy_data, preset="tiny", batch_size=2, context=2, horizon=3, eval_clips=2)
    first = TrainConfig(out=str(tmp_path / "a"), steps_per_module=2, progress=False, **base)
    train(first)
    grown = TrainConfig(
        out=str(tmp_path / "b"),
        init_from=str(tmp_path / "a" / "model.pt"),
        finetune_e2e=2,
        steps_per_module=0,
        free_running=True,
        progress=False,
        model_overrides=ModelOverrides(skip_frame="context"),
        **base,
    )
    train(grown)
    model = load_model(tmp_path / "b" / "model.pt")
    assert model.config.skip_frame == "context"
    assert load_model(tmp_path / "a" / "model.pt").config.skip_frame == "previous"


def test_free_running_refused_for_svg_prime(toy_data):
    from ghvae_env.training.trainer import ModelOverrides, TrainConfig, TrainError

    with pytest.raises(TrainError, match="free_running"):
        TrainConfig(data=toy_data, out="x", model="svg-prime", free_running=True)
    with pytest.raises(TrainError, match="skip_frame"):
        TrainConfig(
            data=toy_data,
            out="x",
            model="svg-prime",
            model_overrides=ModelOverrides(skip_frame="context"),
        )


def test_cosine_schedule_decays_each_phase_to_a_tenth(tmp_path, toy_data):
    import csv

    from ghvae_env.training.trainer import _lr_factor

    assert _lr_factor("cosine", 0, 5) == 1.0 and abs(_lr_factor("cosine", 4, 5) - 0.1) < 1e-12
    assert _lr_factor("constant", 3, 5) == 1.0
    cfg = TrainConfig(
        data=toy_data, out=str(tmp_path / "r"), preset="tiny", modules=1, steps_per_module=5,
        finetune_e2e=3, batch_size=2, context=2, horizon=3, eval_clips=2, progress=False,
        lr_schedule="cosine",
    )  # fmt: skip
    train(cfg)
    with open(tmp_path / "r" / "scalars.csv") as f:
        rows = list(csv.DictReader(f))
    lrs = {(r["phase"], int(r["step"])): float(r["lr"]) for r in rows}
    assert lrs[("greedy-1", 1)] == pytest.approx(1e-3) and lrs[("greedy-1", 5)] == pytest.approx(
        1e-4
    )
    assert lrs[("e2e", 1)] == pytest.approx(2e-4) and lrs[("e2e", 3)] == pytest.approx(2e-5)
    with pytest.raises(TrainError, match="lr_schedule"):
        TrainConfig(data=toy_data, out="x", lr_schedule="step")


def test_a_resumed_phase_counts_the_wall_time_of_its_earlier_sessions(tmp_path, toy_data):
    """last.pt keeps the phase's training seconds; the resumed phase's record adds them."""
    out = tmp_path / "r"
    cfg = TrainConfig(
        data=toy_data, out=str(out), preset="tiny", modules=1, steps_per_module=4,
        checkpoint_every=2, batch_size=2, context=2, horizon=3, eval_clips=2, progress=False,
    )  # fmt: skip
    train(cfg)
    state = torch.load(out / "last.pt", weights_only=True)
    # pretend the run was killed after step 2 of greedy-1, having trained for 1000 s
    state["phase_idx"], state["step"], state["phase_wall_s"] = 0, 2, 1000.0
    state["model"]["history"] = []
    torch.save(state, out / "last.pt")
    (out / "model.pt").unlink()
    cfg.resume = True
    summary = train(cfg)
    assert 1000.0 <= summary["phases"][0]["wall_s"] < 1100.0
    assert load_model(out / "model.pt").checkpoint_info["history"][0]["wall_s"] >= 1000.0


def test_compile_falls_back_to_eager_when_compiling_fails(tmp_path, toy_data, monkeypatch):
    """--compile whose torch.compile raises trains eagerly, with a warning, and the same
    losses as a run without --compile (the failed step's batch is drawn again)."""
    import csv

    def broken(module, *a, **k):
        def fail(*args, **kwargs):
            raise RuntimeError("no compiler here")

        return fail

    base = dict(
        data=toy_data, preset="tiny", modules=1, steps_per_module=3, batch_size=2, context=2,
        horizon=3, eval_clips=2, progress=False,
    )  # fmt: skip
    train(TrainConfig(out=str(tmp_path / "eager"), **base))
    monkeypatch.setattr(torch, "compile", broken)
    with pytest.warns(UserWarning, match="torch.compile failed.*no compiler here"):
        train(TrainConfig(out=str(tmp_path / "compiled"), compile=True, **base))

    def losses(run):
        with open(tmp_path / run / "scalars.csv") as f:
            return [float(r["loss"]) for r in csv.DictReader(f)]

    assert losses("compiled") == losses("eager")


@pytest.mark.slow
def test_compile_trains_the_same_loss_as_eager(tmp_path, toy_data):
    """The compiled loss matches the eager one (inductor, CPU; compiles for a minute)."""
    import csv

    base = dict(
        data=toy_data, preset="tiny", modules=1, steps_per_module=2, batch_size=2, context=2,
        horizon=3, eval_clips=2, progress=False,
    )  # fmt: skip
    train(TrainConfig(out=str(tmp_path / "eager"), **base))
    train(TrainConfig(out=str(tmp_path / "compiled"), compile=True, **base))
    rows = {}
    for run in ("eager", "compiled"):
        with open(tmp_path / run / "scalars.csv") as f:
            rows[run] = [float(r["loss"]) for r in csv.DictReader(f)]
    assert rows["compiled"] == pytest.approx(rows["eager"], rel=1e-4)


def test_phase_minutes_ends_each_phase_on_time_and_records_its_steps(tmp_path, toy_data):
    """--phase-minutes: every phase stops when its minutes are spent (steps stay the upper
    bound); the record, the csv and the stage files say how far it got."""
    import csv

    out = tmp_path / "budget"
    cfg = TrainConfig(
        data=toy_data, out=str(out), preset="tiny", modules=2, steps_per_module=10_000,
        finetune_e2e=10_000, batch_size=2, context=2, horizon=3, eval_clips=2, progress=False,
        phase_minutes=0.01,
    )  # fmt: skip
    summary = train(cfg)
    steps = [p["steps"] for p in summary["phases"]]
    assert [p["phase"] for p in summary["phases"]] == ["greedy-1", "greedy-2", "e2e"]
    assert all(1 <= s < 10_000 for s in steps), steps
    assert all(p["wall_s"] < 30 for p in summary["phases"])
    rows = list(csv.DictReader(open(out / "scalars.csv")))
    assert [sum(r["phase"] == p for r in rows) for p in ("greedy-1", "greedy-2", "e2e")] == steps
    assert (out / "stage_2.pt").exists() and (out / "model.pt").exists()
    with pytest.raises(TrainError, match="phase_minutes must be > 0"):
        TrainConfig(data=toy_data, out="x", phase_minutes=0)


def test_hidden_handoff_trains_stacks_and_refuses_a_mismatched_from(tmp_path, toy_data):
    """--handoff hidden: decoder_2 hands decoder_1 a C_H^1-wide tensor; module 1's z^1 lift is
    trained in stage 1 and left alone once module 2 is stacked; a --from run keeps the
    checkpoint's handoff or is refused (the weights' shapes differ)."""
    from ghvae_env.training.trainer import ModelOverrides

    hidden = ModelOverrides(handoff="hidden")
    base = tmp_path / "base"
    train(
        TrainConfig(
            data=toy_data,
            out=str(base),
            modules=1,
            steps_per_module=2,
            model_overrides=hidden,
            **FAST,
        )
    )
    m1 = load_model(base / "model.pt")
    assert m1.config.handoff == "hidden" and m1.blocks[0].lift is not None
    run = tmp_path / "stacked"
    train(
        TrainConfig(
            data=toy_data,
            out=str(run),
            init_from=str(base / "model.pt"),
            add_modules=1,
            steps_per_module=2,
            finetune_e2e=2,
            **FAST,
        )
    )
    s2 = load_model(run / "stage_2.pt")
    c = s2.config
    assert s2.blocks[1].decoder.out.out_channels == c.hidden_channels[0]
    assert s2.blocks[0].decoder.inp[0].in_channels == (c.hidden_channels[0] * 2 + c.action_dim)
    for a, b in zip(m1.blocks[0].parameters(), s2.blocks[0].parameters(), strict=True):
        assert torch.equal(a, b)
    final = load_model(run / "model.pt")
    assert torch.equal(final.blocks[0].lift.weight, s2.blocks[0].lift.weight)  # unused below K
    assert not torch.equal(final.blocks[1].lift.weight, s2.blocks[1].lift.weight)
    with pytest.raises(TrainError, match="--handoff latent disagrees"):
        train(
            TrainConfig(
                data=toy_data,
                out=str(tmp_path / "bad"),
                init_from=str(base / "model.pt"),
                add_modules=1,
                steps_per_module=1,
                model_overrides=ModelOverrides(handoff="latent"),
                **FAST,
            )
        )
    with pytest.raises(TrainError, match="handoff"):
        TrainConfig(data=toy_data, out="x", model="svg-prime", model_overrides=hidden)


def _grads_of_a_split_step(model, params, frames, actions, parts, threads):
    from ghvae_env.training.trainer import _Objective, forward_backward, one_torch_thread

    for p in params:
        p.grad = None
    with one_torch_thread():
        out = forward_backward(
            _Objective(model, Phase("greedy", 2, 1)),
            params,
            frames,
            actions,
            torch.Generator().manual_seed(3),
            None,
            parts,
            parallel=threads == 2,
        )
    return out, [p.grad.clone() for p in params]


def test_split_step_is_the_batch_step_and_does_not_depend_on_threads():
    """A step split into 2 parts (run side by side on 2 threads) gives the whole batch's loss
    and gradient (noise made negligible: each part draws its own); on 2 threads the same bits
    every time, and within float rounding of the 1-thread step."""
    torch.manual_seed(0)
    model = GHVAE(GHVAEConfig.preset("tiny", posterior_std=1e-6))
    params = freeze_for_stage(model, Phase("greedy", 2, 1))
    frames, actions = torch.rand(5, 4, 3, 64, 64), torch.rand(5, 3, 4) * 2 - 1  # parts 3 + 2
    whole, g_whole = _grads_of_a_split_step(model, params, frames, actions, 1, 1)
    split1, g_split1 = _grads_of_a_split_step(model, params, frames, actions, 2, 1)
    if os.cpu_count() >= 2:
        split2, g_split2 = _grads_of_a_split_step(model, params, frames, actions, 2, 2)
        again, g_again = _grads_of_a_split_step(model, params, frames, actions, 2, 2)
        assert all(torch.equal(a, b) for a, b in zip(g_split2, g_again, strict=True))
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(g_split1, g_split2, strict=True))
        assert all(torch.equal(split1[k], split2[k]) for k in split1)
    for k in ("loss", "mse", "psnr"):
        assert torch.allclose(whole[k], split1[k], rtol=1e-5, atol=1e-6), k
    for a, b in zip(g_whole, g_split1, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-7)
    assert any(a.abs().sum() > 0 for a in g_whole)


def test_split_parts_only_on_a_cpu_and_whole_batches_for_ddp_or_compile():
    from ghvae_env.training.trainer import split_parts

    cpu = torch.device("cpu")
    assert split_parts(8, cpu) == 2 and split_parts(4, cpu) == 2
    assert split_parts(3, cpu) == 1 and split_parts(2, cpu) == 1
    assert split_parts(8, cpu, whole=True) == 1
    assert split_parts(8, torch.device("cuda", 0)) == 1


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 usable cores")
def test_split_batches_train_alike_on_one_thread_and_two(toy_data, tmp_path):
    """Batch 4 is split in 2 halves: on 2 threads side by side, on 1 one after the other.
    Both runs draw the same noise, so their logged losses agree to float rounding (the
    weights are not compared: Adam turns a rounding-level gradient near 0 into a step of
    up to the learning rate)."""
    cfg = {**FAST, "batch_size": 4, "modules": 1, "steps_per_module": 3, "eval_clips": 2}
    logs = {}
    for t in (1, 2):
        train(TrainConfig(data=toy_data, out=str(tmp_path / f"t{t}"), threads=t, **cfg))
        rows = (tmp_path / f"t{t}" / "scalars.csv").read_text().splitlines()[1:]
        logs[t] = torch.tensor([[float(x) for x in r.split(",")[2:5]] for r in rows])
    assert logs[1].shape == (3, 3)  # loss, mse, kl of 3 steps
    torch.testing.assert_close(logs[1][0], logs[2][0], rtol=1e-5, atol=0)  # before any update
    torch.testing.assert_close(logs[1], logs[2], rtol=1e-3, atol=0)
