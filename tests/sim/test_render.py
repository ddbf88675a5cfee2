"""OpenGL backend selection and the offscreen renderer's guards."""

from __future__ import annotations

import os

import pytest

from ghvae_env.sim import _render
from ghvae_env.sim._render import RenderBackendError, configure_gl_backend


@pytest.fixture
def fresh_backend(monkeypatch):
    """Forget the cached choice; monkeypatch restores it and the environment afterwards."""
    monkeypatch.setattr(_render, "_chosen_backend", None)
    # configure_gl_backend writes these into os.environ. monkeypatch only restores what it
    # touched, and delenv of an unset name touches nothing: setenv first, so that the old
    # value (or its absence) comes back and a later test's backend is not this test's.
    for name in ("LP_NUM_THREADS", "PYOPENGL_PLATFORM", "MUJOCO_GL"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return monkeypatch


def test_unsupported_mujoco_gl_is_named(fresh_backend):
    fresh_backend.setenv("MUJOCO_GL", "vulkan")
    with pytest.raises(RenderBackendError, match="MUJOCO_GL must be one of .*'vulkan'"):
        configure_gl_backend()


def test_contradicting_pyopengl_platform_is_named(fresh_backend):
    fresh_backend.setenv("MUJOCO_GL", "egl")
    fresh_backend.setenv("PYOPENGL_PLATFORM", "osmesa")
    with pytest.raises(RenderBackendError, match="PYOPENGL_PLATFORM must be 'egl'.*'osmesa'"):
        configure_gl_backend()


def test_user_choice_is_respected(fresh_backend):
    fresh_backend.setenv("MUJOCO_GL", "OSMesa")
    fresh_backend.delenv("PYOPENGL_PLATFORM", raising=False)
    assert configure_gl_backend() == "osmesa"  # no probe: the user's word is taken
    assert os.environ["PYOPENGL_PLATFORM"] == "osmesa"
    assert os.environ["LP_NUM_THREADS"] == "1"


@pytest.mark.sim
def test_renderer_refuses_a_forked_gl_state(monkeypatch):
    """After fork() a new GL context would hang in Mesa; the renderer raises instead."""
    configure_gl_backend()
    import mujoco

    model = mujoco.MjModel.from_xml_string(
        '<mujoco><worldbody><camera name="c" pos="0 0 1"/><geom type="sphere" size=".1"/>'
        "</worldbody></mujoco>"
    )
    monkeypatch.setattr(_render, "_gl_pid", -1)  # "a GL context was made in another process"
    with pytest.raises(RenderBackendError, match="do not survive fork"):
        _render.OffscreenRenderer(model, "c", 16, 16)
