"""PlannerConfig validation: typed errors that name the field and the value."""

from __future__ import annotations

import pytest

from ghvae_env.planning.config import PlannerConfig, PlannerConfigError


def test_defaults_are_valid_and_documented_values():
    c = PlannerConfig()
    assert (c.method, c.num_samples, c.iterations, c.horizon) == ("cem", 64, 3, 10)
    assert c.elites == 8 and c.free_steps == 10
    assert c.action_low == (-1.0,) * 4 and c.action_high == (1.0,) * 4


def test_zero_samples_message():
    with pytest.raises(
        PlannerConfigError, match=r"^num_samples needs to be >= 1, actual value: 0$"
    ):
        PlannerConfig(num_samples=0)


def test_elites_more_than_samples():
    with pytest.raises(
        PlannerConfigError, match=r"num_elites needs to be in \[1, num_samples=4\], actual value: 5"
    ):
        PlannerConfig(num_samples=4, num_elites=5)


def test_horizon_below_one():
    with pytest.raises(PlannerConfigError, match=r"^horizon needs to be >= 1, actual value: 0$"):
        PlannerConfig(horizon=0)


def test_push_preset_is_vp2_blurred_planar_with_128_samples_and_the_cli_default():
    import argparse

    from ghvae_env.planning.cli import add_planner_arguments, planner_config

    c = PlannerConfig.push()
    assert c == PlannerConfig.vp2(num_samples=128, cost_blur=8.0, init_std=(0.5, 0.5, 0.0, 0.0))
    assert PlannerConfig.preset("push", num_samples=200).num_samples == 200
    assert PlannerConfig.push(cost_blur=0).cost_blur == 0  # an override wins over the preset
    p = argparse.ArgumentParser()
    add_planner_arguments(p)
    assert planner_config(p.parse_args([]), seed=2) == PlannerConfig.push(seed=2)
    assert planner_config(p.parse_args(["--preset", "cem"]), seed=2) == PlannerConfig(seed=2)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"method": "ilqr"}, "method"),
        ({"iterations": 0}, "iterations"),
        ({"num_elites": 0}, "num_elites"),
        ({"action_repeat": 0}, "action_repeat"),
        ({"horizon": 3, "action_repeat": 4}, "action_repeat"),
        ({"horizon": 3, "replan_every": 4}, "replan_every"),
        ({"noise_beta": 1.0}, "noise_beta"),
        ({"noise_beta": -0.1}, "noise_beta"),
        ({"init_std": 0.0}, "init_std"),
        ({"temperature": -1.0}, "temperature"),
        ({"warm_start": 1}, "warm_start"),
        ({"action_low": 1.0}, "action_low"),
        ({"action_low": (-1.0, -1.0)}, "action_low"),
        ({"cost": "ssim"}, "cost"),
        ({"final_step_weight": -1.0}, "final_step_weight"),
        ({"horizon": 1, "final_step_weight": 0.0}, "final_step_weight"),
        ({"seed": -1}, "seed"),
        ({"num_samples": 2.5}, "num_samples"),
    ],
)
def test_invalid_fields_name_themselves(kwargs, field):
    with pytest.raises(PlannerConfigError, match=rf"^{field} needs to be"):
        PlannerConfig(**kwargs)


def test_default_elites_follow_samples_and_replace_revalidates():
    c = PlannerConfig().replace(num_samples=4)
    assert c.num_elites is None and c.elites == 1
    with pytest.raises(PlannerConfigError):
        c.replace(num_elites=9)


def test_bounds_broadcast_and_round_trip():
    c = PlannerConfig(action_low=(-0.5, -0.5, -1.0, -1.0), action_high=0.5)
    assert c.action_high == (0.5,) * 4
    assert PlannerConfig.from_dict(c.to_dict()) == c
    with pytest.raises(PlannerConfigError, match="no fields"):
        PlannerConfig.from_dict({"samples": 3})


def test_vp2_preset_matches_vp2s_planner():
    c = PlannerConfig.vp2()
    assert (c.method, c.num_samples, c.iterations, c.horizon) == ("mppi", 200, 1, 10)
    assert c.gamma == 0.05 and c.noise_beta == 0.5 and c.noise_form == "vp2"
    assert c.init_std == (0.5, 0.5, 0.5, 0.0)
    assert c.warm_start and c.warm_start_pad == "last" and c.replan_every == 1
    assert c.cost == "sse" and c.final_step_weight == 1.0 and not c.keep_mean
    assert PlannerConfig.preset("vp2", num_samples=64).num_samples == 64
    assert PlannerConfig.preset("cem") == PlannerConfig()
    ic = PlannerConfig.preset("icem")
    assert ic.method == "icem" and ic.keep_elites == 0.3 and ic.noise_exponent == 2.0
    assert PlannerConfig.from_dict(c.to_dict()) == c
    with pytest.raises(PlannerConfigError, match=r"^preset needs to be one of .*'vp3'"):
        PlannerConfig.preset("vp3")


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"gamma": 0.0}, "gamma"),
        ({"gamma": float("inf")}, "gamma"),
        ({"noise_form": "pink"}, "noise_form"),
        ({"warm_start_pad": "zero"}, "warm_start_pad"),
        ({"keep_elites": 1.0}, "keep_elites"),
        ({"momentum": -0.5}, "momentum"),
        ({"noise_exponent": -1.0}, "noise_exponent"),
        ({"keep_mean": "yes"}, "keep_mean"),
        ({"init_std": (0.5, 0.5, -0.1, 0.0)}, "init_std"),
        ({"init_std": (0.0, 0.0, 0.0, 0.0)}, "init_std"),
        ({"init_std": (0.5, 0.5)}, "init_std"),
    ],
)
def test_new_fields_name_themselves_and_the_value(kwargs, field):
    with pytest.raises(PlannerConfigError, match=rf"^{field} needs to be.*actual value"):
        PlannerConfig(**kwargs)


def test_preset_override_that_breaks_it_names_the_field():
    with pytest.raises(PlannerConfigError, match=r"num_elites needs to be in \[1, num_samples=4\]"):
        PlannerConfig.icem(num_samples=4)  # the preset's 8 elites no longer fit


def test_cli_planner_flags_override_the_preset_and_prior_mean_is_off_by_default():
    import argparse

    from ghvae_env.planning.cli import add_planner_arguments, planner_config

    p = argparse.ArgumentParser()
    add_planner_arguments(p)
    vp2 = planner_config(p.parse_args(["--preset", "vp2"]), seed=3)
    assert vp2 == PlannerConfig.vp2(seed=3) and vp2.prior_mean is False
    mean = planner_config(p.parse_args(["--preset", "vp2", "--prior-mean", "--samples", "32"]), 3)
    assert mean == PlannerConfig.vp2(seed=3, prior_mean=True, num_samples=32)
    chroma = planner_config(p.parse_args(["--cost-chroma", "30"]), 3)
    assert chroma == PlannerConfig.push(seed=3, cost_chroma=30.0) and vp2.cost_chroma == 0
    last = planner_config(p.parse_args(["--final-step-weight", "10"]), 3)
    assert last == PlannerConfig.push(seed=3, final_step_weight=10.0)
    assert vp2.final_step_weight == 1.0  # VP2: every frame alike
    with pytest.raises(PlannerConfigError, match="final_step_weight"):
        planner_config(p.parse_args(["--final-step-weight", "-1"]), 3)
    warm = planner_config(p.parse_args(["--latent-temperature", "0.5"]), 3)
    assert (
        warm == PlannerConfig.push(seed=3, latent_temperature=0.5) and vp2.latent_temperature == 1
    )
    particles = planner_config(p.parse_args(["--particles", "2", "--samples", "64"]), 3)
    assert particles == PlannerConfig.push(seed=3, particles=2, num_samples=64)
    assert vp2.particles == 1
    planar = planner_config(
        p.parse_args(["--preset", "vp2", "--init-std", "0.5,0.5,0,0", "--cost-blur", "8"]), 3
    )
    assert planar == PlannerConfig.vp2(seed=3, init_std=(0.5, 0.5, 0.0, 0.0), cost_blur=8.0)
    assert planner_config(p.parse_args(["--init-std", "0.3"]), 3).init_std == (0.3,) * 4
    soft = planner_config(p.parse_args(["--temperature", "0.5"]), 3)  # push: gamma 0.05
    assert soft == PlannerConfig.push(seed=3, gamma=None, temperature=0.5)
    assert planner_config(p.parse_args(["--gamma", "1"]), 3).gamma == 1.0
    with pytest.raises(SystemExit, match="--temperature and --gamma"):
        planner_config(p.parse_args(["--temperature", "0.5", "--gamma", "1"]), 3)
    with pytest.raises(PlannerConfigError, match="temperature"):
        planner_config(p.parse_args(["--temperature", "0"]), 3)
    with pytest.raises(SystemExit):
        p.parse_args(["--init-std", "0.5,x"])
