"""Issue 13's recipe knobs: free-running (rollout) training and the context pixel skip."""

from __future__ import annotations

import pytest
import torch

from ghvae_env.model import GHVAE, ConfigError, GHVAEConfig


def _clip(B=2, T=6, A=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(B, T, 3, 64, 64, generator=g), torch.rand(B, T - 1, A, generator=g) * 2 - 1


def _model(**kw) -> GHVAE:
    torch.manual_seed(0)
    return GHVAE(GHVAEConfig.preset("tiny", **kw))


@pytest.mark.parametrize("skip_frame", ["previous", "context"])
def test_free_running_with_full_context_is_teacher_forcing(skip_frame):
    model = _model(skip_frame=skip_frame)
    frames, actions = _clip()
    out = {}
    for fr in (False, True):
        g = torch.Generator().manual_seed(3)
        out[fr] = model.loss(
            frames, actions, frozen_below=1, generator=g, free_running=fr, context=5
        )
    for key in ("loss", "mse", "kl"):
        torch.testing.assert_close(out[True][key], out[False][key], rtol=1e-5, atol=1e-6)


def test_free_running_steps_from_its_own_predictions():
    """After the context, frame t+1 is decoded from the re-encoded prediction of frame t: the
    same computation as model.decode on encode(pred), with the posterior's z."""
    model = _model()
    frames, actions = _clip(T=5)
    g = torch.Generator().manual_seed(1)
    out = model.loss(frames, actions, frozen_below=1, generator=g, free_running=True, context=2)
    pred = out["pred"]  # (B, 4, 3, 64, 64): x_1..x_4
    g = torch.Generator().manual_seed(1)
    tf = model.loss(frames, actions, frozen_below=1, generator=g, free_running=False, context=2)
    # frames predicted from real inputs (x_1 from x_0, x_2 from x_1) agree with teacher forcing
    torch.testing.assert_close(pred[:, :2], tf["pred"][:, :2], rtol=1e-5, atol=1e-6)
    # x_3 comes from the prediction of x_2, not from the real x_2
    assert not torch.allclose(pred[:, 2], tf["pred"][:, 2], atol=1e-4)
    # and the gradient reaches the encoder through the re-encoded prediction
    out["loss"].backward()
    assert model.blocks[0].encoder.down[0].weight.grad.abs().sum() > 0


def test_free_running_is_deterministic_given_the_generator():
    model = _model()
    frames, actions = _clip()
    a = model.loss(frames, actions, generator=torch.Generator().manual_seed(0), free_running=True)
    b = model.loss(frames, actions, generator=torch.Generator().manual_seed(0), free_running=True)
    assert float(a["loss"].detach()) == float(b["loss"].detach())


def test_loss_context_out_of_range_names_it():
    model = _model()
    frames, actions = _clip(T=4)
    with pytest.raises(ValueError, match="context must be in"):
        model.loss(frames, actions, free_running=True, context=4)


def test_context_skip_composites_with_the_last_real_frame():
    """With skip_frame="context" the pixel skip of every step copies the last context frame:
    a decoder whose mask copies everything returns that frame at every step."""
    model = _model(skip_frame="context")
    with torch.no_grad():  # mask logits huge: the composite is the skip frame exactly
        out = model.blocks[0].decoder.out
        out.weight.zero_()
        out.bias.fill_(30.0)
    frames, actions = _clip(T=5)
    pred = model.rollout(frames[:, :2], actions, generator=torch.Generator().manual_seed(0))
    for t in range(pred.shape[1]):
        torch.testing.assert_close(pred[:, t], frames[:, 1], atol=1e-6, rtol=0)
    # the previous-frame skip copies the previous frame instead (here also x_1, then itself)
    state = model.start(frames[:, :2], actions[:, :1])
    assert state.anchor is not None
    sub = state.index([1])
    assert sub.anchor.shape == (1, 3, 64, 64)
    torch.testing.assert_close(sub.anchor[0], frames[1, 1])


def test_context_skip_in_training_uses_the_last_real_frame():
    """Teacher forcing with skip_frame="context": frame t+1 > context composites with
    x_{context-1}; a copy-everything mask predicts exactly that frame."""
    model = _model(skip_frame="context")
    with torch.no_grad():
        model.blocks[0].decoder.out.weight.zero_()
        model.blocks[0].decoder.out.bias.fill_(30.0)
    frames, actions = _clip(T=5)
    pred = model.loss(frames, actions, context=2)["pred"]
    torch.testing.assert_close(pred[:, 0], frames[:, 0], atol=1e-6, rtol=0)  # x_1 <- x_0
    for t in range(1, 4):  # x_2.. <- x_1
        torch.testing.assert_close(pred[:, t], frames[:, 1], atol=1e-6, rtol=0)


def test_skip_frame_validation_names_the_field():
    with pytest.raises(ConfigError, match="skip_frame"):
        GHVAEConfig(skip_frame="last")


def test_old_configs_default_to_the_previous_frame_skip():
    d = GHVAEConfig().to_dict()
    d.pop("skip_frame")
    assert GHVAEConfig.from_dict(d).skip_frame == "previous"
