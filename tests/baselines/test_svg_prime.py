"""SVG' baseline: same rollout API and checkpoint format as the GHVAE, trained by `ghvae train`."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from ghvae_env.baselines import SVGPrime, SVGPrimeConfig, SVGState
from ghvae_env.model import ConfigError, load_model, save_checkpoint
from ghvae_env.model.checkpoint import CheckpointError, read_checkpoint
from ghvae_env.training import Phase, TrainConfig, TrainError, freeze_for_stage, train
from ghvae_env.training.memory import measure_step_memory

FAST = dict(preset="tiny", batch_size=2, context=2, horizon=3, eval_clips=4, progress=False)


@pytest.fixture(scope="module")
def svg() -> SVGPrime:
    torch.manual_seed(0)
    return SVGPrime(SVGPrimeConfig.preset("tiny")).eval()


def test_config_validation_names_the_field():
    with pytest.raises(ConfigError, match="channels"):
        SVGPrimeConfig(channels=(8, -1))
    with pytest.raises(ConfigError, match="lstm_channels"):
        SVGPrimeConfig(lstm_channels=0)
    with pytest.raises(ConfigError, match="unknown svg-prime preset"):
        SVGPrimeConfig.preset("paper-6")
    with pytest.raises(TypeError):  # one flat model: no num_modules to pretend with
        SVGPrimeConfig.preset("tiny", num_modules=3)
    cfg = SVGPrimeConfig.preset("cpu-small")
    assert SVGPrimeConfig.from_dict(cfg.to_dict()) == cfg


def test_loss_trains_every_part_and_kl_is_balanced(svg):
    model = SVGPrime(svg.config)
    model.load_state_dict(svg.state_dict())
    params = freeze_for_stage(model, Phase("full", 1, 1))
    assert len(params) == len(list(model.parameters()))
    g = torch.Generator().manual_seed(0)
    frames, actions = torch.rand(2, 5, 3, 64, 64, generator=g), torch.rand(2, 4, 4, generator=g)
    out = model.loss(frames, actions, generator=torch.Generator().manual_seed(1))
    assert out["pred"].shape == (2, 4, 3, 64, 64)
    assert torch.isfinite(out["loss"]) and out["kl"] >= 0
    out["loss"].backward()
    for name in ("encoder", "decoder", "prior", "posterior", "predictor"):
        grads = [p.grad for p in getattr(model, name).parameters()]
        assert all(gr is not None for gr in grads), name
        assert sum(gr.abs().sum() for gr in grads) > 0, name
    with pytest.raises(TypeError):  # trained end to end: no stage to pick
        model.loss(frames, actions, stage=2)


def test_rollout_matches_start_step_and_is_seeded(svg):
    g = torch.Generator().manual_seed(0)
    ctx = torch.rand(3, 2, 3, 64, 64, generator=g)
    acts = torch.rand(3, 1 + 4, 4, generator=g) * 2 - 1
    a = svg.rollout(ctx, acts, generator=torch.Generator().manual_seed(5))
    b = svg.rollout(ctx, acts, generator=torch.Generator().manual_seed(5))
    assert a.shape == (3, 4, 3, 64, 64) and torch.equal(a, b)
    assert 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    state = svg.start(ctx, acts[:, :1])
    gen = torch.Generator().manual_seed(5)
    frames = []
    for t in range(4):
        f, state = svg.step(state, acts[:, 1 + t], gen)
        frames.append(f)
    assert torch.allclose(torch.stack(frames, 1), a, atol=1e-6)
    multi = svg.rollout(ctx, acts, num_samples=2, generator=torch.Generator().manual_seed(5))
    assert multi.shape == (3, 2, 4, 3, 64, 64)
    with pytest.raises(ValueError, match="NaN"):
        svg.rollout(ctx, acts * float("nan"))
    with pytest.raises(ValueError, match="actions must be"):
        svg.rollout(ctx, acts[:, :, :3])


def test_rows_are_independent_and_state_index_assign(svg):
    """GroupNorm, not BatchNorm: a row's prediction does not depend on the rest of the batch."""
    g = torch.Generator().manual_seed(0)
    ctx = torch.rand(4, 2, 3, 64, 64, generator=g)
    acts = torch.rand(4, 3, 4, generator=g)
    full = svg.start(ctx, acts[:, :1])
    f_full, _ = svg.step(full, acts[:, 1], sample=False)
    f_one, _ = svg.step(full.index([2]), acts[2:3, 1], sample=False)
    assert torch.allclose(f_full[2:3], f_one, atol=1e-5)
    other = svg.start(ctx[:1], acts[:1, :1])
    full.assign(torch.tensor([3]), other)
    assert isinstance(full, SVGState)
    assert torch.equal(full.frame[3], ctx[0, -1])
    assert torch.equal(full.prior[0][3], other.prior[0][0])
    assert torch.equal(full.predictor[-1][1][3], other.predictor[-1][1][0])


def test_checkpoint_round_trip_env_and_vector_env(svg, tmp_path, assets):
    path = save_checkpoint(tmp_path / "svg.pt", svg, trained_modules=1, stage="full")
    assert read_checkpoint(path)["model_type"] == "svg-prime"
    loaded = load_model(path)
    assert isinstance(loaded, SVGPrime)
    for k, v in svg.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    env = gym.make("GHVAE-RoboNet-v0", checkpoint=str(path), clips=str(assets["clips"]))
    obs, _ = env.reset(seed=0)
    obs2, *_ = env.step(np.zeros(4, np.float32))
    assert obs2.shape == (64, 64, 3) and obs2.dtype == np.uint8
    venv = gym.make_vec(
        "GHVAE-RoboNet-v0", num_envs=2, checkpoint=str(path), clips=str(assets["clips"])
    )
    venv.reset(seed=0)
    for _ in range(3):
        obs, *_ = venv.step(np.zeros((2, 4), np.float32))
    assert obs.shape == (2, 64, 64, 3)
    venv.close()
    # a GHVAE checkpoint's weights under an svg-prime model_type is a clear error
    payload = torch.load(path, weights_only=True)
    payload["state_dict"].pop(next(iter(payload["state_dict"])))
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="missing keys"):
        load_model(tmp_path / "bad.pt")


def test_memory_of_full_phase_counts_every_parameter(svg):
    model = SVGPrime(svg.config)
    r = measure_step_memory(model, Phase("full", 1, 1), batch_size=1, window=3)
    n = sum(p.numel() for p in model.parameters())
    assert r["params_trainable"] == n and r["grads"] == 4 * n and r["optimizer"] == 8 * n
    assert r["activations"] > 0


def test_train_svg_prime_end_to_end_and_resume(toy_data, tmp_path):
    run = tmp_path / "svg"
    summary = train(
        TrainConfig(
            data=toy_data, out=str(run), model="svg-prime", steps=4, checkpoint_every=2, **FAST
        )
    )
    assert [p["phase"] for p in summary["phases"]] == ["full"]
    assert summary["phases"][0]["steps"] == 4
    model = load_model(run / "model.pt")
    assert isinstance(model, SVGPrime) and model.checkpoint_info["stage"] == "full"
    # resuming a finished run changes nothing; different args are refused
    with pytest.raises(TrainError, match="already holds a run"):
        train(TrainConfig(data=toy_data, out=str(run), model="svg-prime", steps=4, **FAST))
    with pytest.raises(TrainError, match="steps"):
        train(
            TrainConfig(
                data=toy_data, out=str(run), model="svg-prime", steps=6, resume=True, **FAST
            )
        )


def test_resume_is_bit_identical(toy_data, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    common = dict(data=toy_data, model="svg-prime", checkpoint_every=2, **FAST)
    train(TrainConfig(out=str(a), steps=4, **common))
    # b: run 2 steps (a checkpoint at step 2 of 4) by stopping early, then resume to 4
    cfg_b = TrainConfig(out=str(b), steps=4, **common)
    import ghvae_env.training.trainer as trainer

    real = trainer._save_state
    calls = {"n": 0}

    def stop_after_first(*args, **kwargs):
        real(*args, **kwargs)
        calls["n"] += 1
        raise KeyboardInterrupt

    trainer._save_state = stop_after_first
    try:
        with pytest.raises(KeyboardInterrupt):
            train(cfg_b)
    finally:
        trainer._save_state = real
    train(TrainConfig(out=str(b), steps=4, resume=True, **common))
    sa, sb = load_model(a / "model.pt").state_dict(), load_model(b / "model.pt").state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_bad_train_configs_name_the_field(toy_data, tmp_path):
    with pytest.raises(TrainError, match="model"):
        TrainConfig(data=toy_data, out=str(tmp_path), model="svg")
    with pytest.raises(TrainError, match="init_from"):
        TrainConfig(
            data=toy_data, out=str(tmp_path), model="svg-prime", init_from="x.pt", add_modules=1
        )
    with pytest.raises(TrainError, match="finetune_e2e"):
        TrainConfig(data=toy_data, out=str(tmp_path), model="svg-prime", finetune_e2e=5)
    with pytest.raises(TrainError, match="steps"):
        TrainConfig(data=toy_data, out=str(tmp_path), steps=5)


def test_cli_trains_svg_prime(toy_data, tmp_path):
    from ghvae_env.cli import main

    rc = main(
        [
            "train",
            "--model",
            "svg-prime",
            "--data",
            toy_data,
            "--out",
            str(tmp_path / "r"),
            "--steps",
            "2",
            "--batch-size",
            "2",
            "--horizon",
            "3",
            "--eval-clips",
            "2",
            "--no-progress",
        ]
    )
    assert rc == 0
    assert isinstance(load_model(tmp_path / "r" / "model.pt"), SVGPrime)


def test_ddp_two_processes_gloo(toy_data, tmp_path, free_port):
    import os
    import subprocess
    import sys

    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
           "--master-port", str(free_port), "-m", "ghvae_env", "train", "--model", "svg-prime",
           "--data", toy_data, "--out", str(run), "--preset", "tiny", "--steps", "2",
           "--batch-size", "1", "--horizon", "3", "--eval-clips", "2", "--no-progress",
           "--device", "cpu"]  # fmt: skip
    res = subprocess.run(
        cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=240
    )
    assert res.returncode == 0, res.stderr[-3000:]
    model = load_model(run / "model.pt")
    assert isinstance(model, SVGPrime)
    assert model.checkpoint_info["provenance"]["world_size"] == 2
