"""The cpu-fast preset (issue 11): a thin full-resolution path, trainable and loadable."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from ghvae_env.model import GHVAE, GHVAEConfig, load_model
from ghvae_env.model.ghvae import Decoder


def _flops_per_frame(model: GHVAE) -> int:
    state = model.start(torch.rand(1, 2, 3, 64, 64), torch.zeros(1, 1, 4))
    with FlopCounterMode(display=False) as counter:
        model.step(state, torch.zeros(1, 4))
    return counter.get_total_flops()


def test_cpu_fast_is_under_60_mflop_per_frame():
    model = GHVAE(GHVAEConfig.preset("cpu-fast")).eval()
    assert _flops_per_frame(model) <= 60e6


def test_no_convolution_at_full_resolution(one_torch_thread):
    model = GHVAE(GHVAEConfig.preset("cpu-fast")).eval()
    state = model.start(torch.rand(2, 2, 3, 64, 64), torch.zeros(2, 1, 4))
    sizes = []
    hooks = [
        m.register_forward_hook(lambda mod, inp, out: sizes.append(inp[0].shape[-1]))
        for m in model.modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    frame, _ = model.step(state, torch.zeros(2, 4))
    for h in hooks:
        h.remove()
    assert frame.shape == (2, 3, 64, 64) and 0 <= frame.min() and frame.max() <= 1
    assert max(sizes) == 64 and sizes.count(64) == 1  # only the stride-2 entry reads 64x64


def test_pixel_shuffle_exit_starts_by_copying_the_frame():
    dec = Decoder(8, 4, 8, 3, 0, 3, image=True, pixel_skip=True, pixel_shuffle=True)
    assert dec.out.out_channels == 16 and torch.all(dec.out.bias[-4:] == 2.0)


def test_default_config_keeps_old_checkpoints_wiring():
    assert GHVAEConfig().pixel_shuffle_exit is False
    assert GHVAEConfig.preset("cpu-small").pixel_shuffle_exit is False


def test_cpu_fast_trains_and_loads_in_the_envs(toy_data, tmp_path, one_torch_thread):
    from ghvae_env.training.trainer import TrainConfig, train

    run = tmp_path / "fast"
    train(
        TrainConfig(
            data=toy_data,
            out=str(run),
            preset="cpu-fast",
            steps_per_module=1,
            batch_size=2,
            context=2,
            horizon=3,
            eval_clips=2,
            kl_warmup=0,
            progress=False,
        )
    )
    model = load_model(run / "model.pt")
    assert model.config.preset_name == "cpu-fast" and model.config.pixel_shuffle_exit
    env = gym.make("GHVAE-RoboNet-v0", checkpoint=run / "model.pt", device="cpu", threads=1)
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(env.action_space.sample())
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    venv = gym.make_vec("GHVAE-RoboNet-v0", num_envs=3, checkpoint=run / "model.pt", device="cpu")
    venv.reset(seed=0)
    assert venv.step(venv.action_space.sample())[0].shape == (3, 64, 64, 3)


@pytest.mark.parametrize("preset", ["tiny", "cpu-small", "cpu-fast"])
def test_state_dict_unchanged_by_the_speed_work(preset):
    """Keys and shapes of old presets are what old checkpoints hold (bundled: cpu-small)."""
    model = GHVAE(GHVAEConfig.preset(preset))
    if preset == "cpu-small":
        from ghvae_env.model.checkpoint import bundled_checkpoint_path, read_checkpoint

        path = bundled_checkpoint_path()  # shipped with the package: its absence is a failure
        saved = read_checkpoint(path)["state_dict"]
        assert {k: tuple(v.shape) for k, v in saved.items()} == {
            k: tuple(v.shape) for k, v in model.state_dict().items()
        }


@pytest.mark.parametrize("context", [1, 2])
@pytest.mark.parametrize("preset", ["cpu-fast", "cpu-small"])
def test_step_runs_every_convolution_channels_last(one_torch_thread, preset, context):
    # issue 11: one NCHW input (an expanded action, the NCHW noise or LSTM zeros) made every
    # conv after it take oneDNN's slower NCHW path (the decoders and the prior ran NCHW)
    from ghvae_env.model.layers import is_channels_last

    model = GHVAE(GHVAEConfig.preset(preset)).eval()
    state = model.start(torch.rand(3, context, 3, 64, 64), torch.zeros(3, context - 1, 4))
    layouts = []
    hooks = [
        m.register_forward_hook(
            lambda mod, inp, out, name=name: layouts.append((name, is_channels_last(inp[0])))
        )
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    with torch.inference_mode():
        frame, state = model.step(state, torch.rand(3, 4))
        model.step(state, torch.rand(3, 4))
    for h in hooks:
        h.remove()
    assert layouts and [name for name, ok in layouts if not ok] == []
    assert frame.is_contiguous()  # what callers get back stays plain NCHW


def test_cat_channels_equals_cat_in_the_first_parts_layout():
    from ghvae_env.model.layers import cat_channels, channels_last, is_channels_last

    h = channels_last(torch.rand(2, 5, 4, 4))
    a = torch.rand(2, 3)[:, :, None, None].expand(-1, -1, 4, 4)
    out = cat_channels([h, a])
    assert torch.equal(out, torch.cat([h, a], dim=1)) and is_channels_last(out)
    nchw = torch.rand(2, 5, 4, 4)  # training runs NCHW: left as torch.cat leaves it
    assert cat_channels([nchw, a]).is_contiguous()


def test_cat_channels_keeps_autograd():
    # free-running training decodes channels-last states with grad (cat(out=) has no autograd)
    from ghvae_env.model.layers import cat_channels, channels_last

    h = channels_last(torch.rand(2, 5, 4, 4)).requires_grad_()
    a = torch.rand(2, 3)[:, :, None, None].expand(-1, -1, 4, 4)
    cat_channels([h, a]).sum().backward()
    assert torch.equal(h.grad, torch.ones_like(h))


def test_silu_is_in_place_only_without_autograd():
    from ghvae_env.model.layers import SiLU

    act, x = SiLU(), torch.randn(2, 8, 4, 4)
    expected = torch.nn.functional.silu(x)
    with torch.no_grad():
        y = x.clone()
        out = act(y)
    assert out.data_ptr() == y.data_ptr() and torch.equal(out, expected)  # overwrote its input
    leaf = x.clone().requires_grad_(True)
    out = act(leaf * 1.0)  # autograd on: a new tensor, and the backward is silu's
    out.sum().backward()
    sig = torch.sigmoid(x)
    assert torch.allclose(leaf.grad, sig * (1 + x * (1 - sig)), atol=1e-6)
    model = GHVAE(GHVAEConfig.preset("tiny"))
    assert any(isinstance(m, SiLU) for m in model.modules())
    assert not any(type(m) is torch.nn.SiLU for m in model.modules())
