"""Headless OpenGL backend selection and a small fixed-camera offscreen renderer.

MuJoCo, PyOpenGL and robosuite each pick their OpenGL platform from the ``MUJOCO_GL`` /
``PYOPENGL_PLATFORM`` environment variables *when they are first imported*, so the choice has
to be made before any of them is imported. :func:`configure_gl_backend` does that:

* ``MUJOCO_GL`` already set by the user (``egl``, ``osmesa`` or ``glfw``): it is respected.
* unset: ``egl`` then ``osmesa`` are probed, each in a short subprocess (a failed probe would
  otherwise pin PyOpenGL to a broken platform for the rest of this process). The winner is
  written to ``os.environ`` so that worker processes inherit it and skip the probe.

It also sets ``LP_NUM_THREADS=1`` unless the user set it: Mesa's llvmpipe otherwise starts one
render thread per core in every process, which at 64 x 64 buys nothing (measured: same
frames/s with 1 thread) and oversubscribes the cores when several generator workers render.

:class:`OffscreenRenderer` renders one fixed camera with its own GL context instead of
robosuite's render path: it renders at ``supersample`` times the output size without MSAA and
box-filters down (anti-aliased, deterministic, and ~2x faster than 4x MSAA on Mesa llvmpipe),
turns shadows and reflections off, and returns upright (OpenCV-convention) uint8 RGB.
"""

from __future__ import annotations

import atexit
import importlib
import os
import subprocess
import sys
import weakref
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import mujoco

__all__ = ["RenderBackendError", "configure_gl_backend", "OffscreenRenderer"]

# MUJOCO_GL value -> the PYOPENGL_PLATFORM it needs (None: PyOpenGL picks its default).
_SUPPORTED_BACKENDS: dict[str, str | None] = {"egl": "egl", "osmesa": "osmesa", "glfw": None}
_PROBE_ORDER = ("egl", "osmesa")
_PROBE_TIMEOUT_S = 60.0
_PROBE_SCRIPT = "import mujoco\nctx = mujoco.GLContext(16, 16)\nctx.make_current()\nctx.free()\n"

_chosen_backend: str | None = None
_gl_pid: int | None = None  # process that created this interpreter's first GL context
_FORK_HINT = (
    "OpenGL contexts do not survive fork(): this process was forked from one that had "
    "already rendered. Start worker processes with multiprocessing's 'spawn' (or "
    "'forkserver') start method, or create the simulator only in the workers."
)


class RenderBackendError(RuntimeError):
    """No usable headless OpenGL backend, or an inconsistent ``MUJOCO_GL`` setting."""


def _probe(backend: str) -> tuple[bool, str]:
    """Try to create a MuJoCo GL context with ``backend`` in a fresh interpreter."""
    env = dict(os.environ, MUJOCO_GL=backend)
    platform = _SUPPORTED_BACKENDS[backend]
    if platform is not None:
        env["PYOPENGL_PLATFORM"] = platform
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return False, f"timed out after {_PROBE_TIMEOUT_S:.0f} s"
    if proc.returncode == 0:
        return True, ""
    tail = (proc.stderr or proc.stdout).strip().splitlines()
    return False, tail[-1] if tail else f"exit status {proc.returncode}"


def configure_gl_backend() -> str:
    """Choose the headless OpenGL backend and export it; returns ``"egl"``, ``"osmesa"``...

    Must run before ``mujoco``, ``OpenGL`` or ``robosuite`` is imported in this process;
    cheap after the first call (cached) and in child processes (inherited environment).

    Raises:
        RenderBackendError: ``MUJOCO_GL`` holds an unsupported value, ``PYOPENGL_PLATFORM``
            contradicts it, or neither EGL nor OSMesa can create a context.
    """
    global _chosen_backend
    if _chosen_backend is not None:
        return _chosen_backend

    requested = os.environ.get("MUJOCO_GL", "").strip().lower()
    if requested:
        if requested not in _SUPPORTED_BACKENDS:
            raise RenderBackendError(
                f"MUJOCO_GL must be one of {sorted(_SUPPORTED_BACKENDS)} for offscreen "
                f"rendering, actual value: {os.environ['MUJOCO_GL']!r}"
            )
        backend = requested
    else:
        failures = []
        for candidate in _PROBE_ORDER:
            ok, why = _probe(candidate)
            if ok:
                backend = candidate
                break
            failures.append(f"{candidate}: {why}")
        else:
            raise RenderBackendError(
                "no headless OpenGL backend works (MUJOCO_GL unset, probed "
                + "; ".join(failures)
                + "). Install Mesa's EGL (e.g. apt-get install libegl1 libgl1) or OSMesa "
                "(libosmesa6), or set MUJOCO_GL to a backend that works on this machine."
            )

    platform = _SUPPORTED_BACKENDS[backend]
    current = os.environ.get("PYOPENGL_PLATFORM", "").strip().lower()
    if platform is not None and current and current != platform:
        raise RenderBackendError(
            f"PYOPENGL_PLATFORM must be {platform!r} (or unset) when MUJOCO_GL={backend!r}, "
            f"actual value: {os.environ['PYOPENGL_PLATFORM']!r}"
        )
    os.environ["MUJOCO_GL"] = backend
    os.environ.setdefault("LP_NUM_THREADS", "1")
    if platform is not None:
        os.environ["PYOPENGL_PLATFORM"] = platform
    _chosen_backend = backend
    return backend


class OffscreenRenderer:
    """Renders one fixed camera of a MuJoCo model to upright ``H x W x 3`` uint8 RGB.

    Args:
        model: the compiled ``mujoco.MjModel`` (its offscreen buffer size and quality
            settings are adjusted here, before the GL context is made).
        camera: name of a camera in ``model``.
        height, width: output size in pixels.
        supersample: render at ``supersample`` x the output size and average
            ``supersample x supersample`` blocks (1 disables anti-aliasing).
        geom_groups: geom groups drawn (robosuite: 0 collision, 1 visual).
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        camera: str,
        height: int,
        width: int,
        supersample: int = 2,
        geom_groups: tuple[int, ...] = (1,),
    ) -> None:
        global _gl_pid
        backend = configure_gl_backend()
        pid = os.getpid()
        if _gl_pid is not None and _gl_pid != pid:
            # Mesa's EGL/llvmpipe state is inherited but dead after fork(): a new context
            # would hang forever, so fail loudly instead.
            raise RenderBackendError(_FORK_HINT)
        import mujoco

        if supersample < 1:
            raise ValueError(f"supersample must be >= 1, actual value: {supersample}")
        cam_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        if cam_id < 0:
            raise ValueError(f"camera must name a camera of the model, actual value: {camera!r}")
        self._mujoco = mujoco
        self._model = model
        self._height, self._width, self._ss = height, width, supersample
        rh, rw = height * supersample, width * supersample
        model.vis.global_.offwidth = max(int(model.vis.global_.offwidth), rw)
        model.vis.global_.offheight = max(int(model.vis.global_.offheight), rh)
        model.vis.quality.offsamples = 0  # anti-aliasing comes from supersampling instead
        model.vis.quality.shadowsize = 1024  # robosuite's 4096 costs ~3x per frame on llvmpipe

        gl_module = importlib.import_module(f"mujoco.{backend}")
        self._gl = gl_module.GLContext(rw, rh)
        self._pid = _gl_pid = pid
        self._gl.make_current()
        self._ctx = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._ctx)
        self._scene = mujoco.MjvScene(model, maxgeom=2000)
        self._option = mujoco.MjvOption()
        self._option.geomgroup[:] = 0
        for g in geom_groups:
            self._option.geomgroup[g] = 1
        self._option.sitegroup[:] = 0  # robosuite's marker sites are not part of the scene
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._camera.fixedcamid = cam_id
        self._perturb = mujoco.MjvPerturb()
        self._rect = mujoco.MjrRect(0, 0, rw, rh)
        self._buffer = np.empty((rh, rw, 3), dtype=np.uint8)
        # Free the GL objects when this renderer is collected, or at interpreter exit before
        # mujoco's eglTerminate hook (atexit runs hooks last-in first-out); otherwise
        # mujoco's GLContext.__del__ raises EGL errors during module teardown.
        self._finalizer = weakref.finalize(self, _free_gl, self._gl, self._ctx, pid)
        self._finalizer.atexit = False
        atexit.register(self._finalizer)

    @property
    def camera_id(self) -> int:
        return int(self._camera.fixedcamid)

    @property
    def closed(self) -> bool:
        return self._gl is None

    def _draw(self, data: mujoco.MjData, segment: bool = False) -> np.ndarray:
        """Render ``data`` into the read-back buffer; returns it upright (a view, not a copy).
        ``segment``: MuJoCo's segmentation render (flat ID colours, no lighting) instead."""
        if self._gl is None:
            raise RuntimeError("render called on a closed OffscreenRenderer")
        if os.getpid() != self._pid:
            raise RenderBackendError(_FORK_HINT)
        mj = self._mujoco
        self._gl.make_current()
        mj.mjv_updateScene(
            self._model,
            data,
            self._option,
            self._perturb,
            self._camera,
            mj.mjtCatBit.mjCAT_ALL,
            self._scene,
        )
        flags = self._scene.flags
        flags[mj.mjtRndFlag.mjRND_SHADOW] = 0
        flags[mj.mjtRndFlag.mjRND_REFLECTION] = 0
        flags[mj.mjtRndFlag.mjRND_SEGMENT] = int(segment)
        flags[mj.mjtRndFlag.mjRND_IDCOLOR] = int(segment)
        mj.mjr_render(self._rect, self._scene, self._ctx)
        mj.mjr_readPixels(self._buffer, None, self._rect, self._ctx)
        return self._buffer[::-1]  # OpenGL rows run bottom-up; flip to upright

    def render(self, data: mujoco.MjData) -> np.ndarray:
        """Render ``data``'s current (forwarded) state; returns a fresh ``H x W x 3`` uint8."""
        img = self._draw(data)
        s = self._ss
        if s == 1:
            return img.copy()
        blocks = img.reshape(self._height, s, self._width, s, 3).astype(np.uint16)
        summed = blocks.sum(axis=(1, 3))  # (H, W, 3)
        return ((summed + (s * s) // 2) // (s * s)).astype(np.uint8)

    def render_geom_ids(self, data: mujoco.MjData) -> np.ndarray:
        """Which geom each pixel shows, at the supersampled resolution: fresh ``(H*s, W*s)``
        int32 geom ids, -1 where no geom (the background) is seen.

        MuJoCo's segmentation render of the same scene and camera as :meth:`render`;
        occlusion is exact, so counting a body's geoms here says how much of it the camera
        sees.
        """
        rgb = self._draw(data, segment=True).astype(np.int64)
        seg = rgb[..., 0] + (rgb[..., 1] << 8) + (rgb[..., 2] << 16) - 1  # -1: background
        mj = self._mujoco
        n = self._scene.ngeom
        geoms = [self._scene.geoms[k] for k in range(n)]
        lut = np.array(
            [g.objid if g.objtype == int(mj.mjtObj.mjOBJ_GEOM) else -1 for g in geoms],
            dtype=np.int64,
        )
        valid = (seg >= 0) & (seg < n)
        out = np.full(seg.shape, -1, dtype=np.int32)
        out[valid] = lut[seg[valid]]
        return out

    def close(self) -> None:
        """Free the GL resources (idempotent)."""
        if self._gl is None:
            return
        self._gl = None
        self._finalizer()
        atexit.unregister(self._finalizer)


def _free_gl(gl: object, ctx: object, pid: int) -> None:
    """Release a MuJoCo render context and its GL context; never raises (runs at exit)."""
    if os.getpid() != pid:  # a forked child: the context is not ours to touch (it would hang)
        gl._context = None  # type: ignore[attr-defined]
        return
    try:
        gl.make_current()  # type: ignore[attr-defined]
        ctx.free()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - best effort during teardown
        pass
    try:
        gl.free()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001
        gl._context = None  # type: ignore[attr-defined]  # keep its __del__ from retrying
