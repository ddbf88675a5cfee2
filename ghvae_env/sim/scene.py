"""The robosuite tabletop scene the dataset and ``RoboNet-Sim-v0`` are rendered from.

A Panda arm (OSC_POSITION end-effector control + gripper) at a table with a shallow tray
holding 1-3 objects drawn per episode (boxes, cylinders, balls of random size and colour),
seen by one fixed camera at ~45 degrees that frames the tray and the arm: 64 x 64 upright RGB.

Action (DESIGN.md): ``float32 (4,)`` in [-1, 1]:
``a[0:3]`` end-effector delta x, y, z in the robot base frame, scaled by
``SceneConfig.action_scale_m`` (the OSC goal is ``eef + a[:3] * action_scale_m``);
``a[3]`` gripper, ``> 0`` close, ``<= 0`` open (memoryless, see ``_task.BinaryPandaGripper``).

Low-dimensional state (``rollout_episode()['states']``, ``TabletopScene.state_vector``),
``float32 (16,)``, see :data:`STATE_LABELS`: end-effector position (3, world metres),
gripper finger gap (1, metres, 0 closed .. 0.08 open), positions of object slots 0-2 (3 x 3,
world metres, zero where the slot is empty), slot-present mask (3, 1.0 / 0.0).

Full simulator state (``TabletopScene.get_sim_state``): float64 vector, a header describing
the objects (which MuJoCo model parameters vary per episode) followed by MuJoCo's
``mjSTATE_INTEGRATION`` state (time, qpos, qvel, act, warm start, ctrl, applied forces...);
restoring it reproduces the following steps bit for bit.

One simulator is built per process and re-dressed per episode (building costs seconds, a
reset with re-dressing ~20 ms including its first frame): :func:`rollout_episode` caches it.
"""

from __future__ import annotations

import colorsys
import dataclasses
import importlib.metadata
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ghvae_env.sim._render import OffscreenRenderer, configure_gl_backend
from ghvae_env.sim._shapes import SHAPES
from ghvae_env.spaces import ACTION_DIM

if TYPE_CHECKING:
    import mujoco

    from ghvae_env.sim._task import TabletopTask

__all__ = [
    "SceneConfig",
    "ObjectSpec",
    "TabletopScene",
    "SimStateError",
    "rollout_episode",
    "SCENE_METADATA",
    "SCENE_VERSION",
    "STATE_LABELS",
    "STATE_DIM",
    "ACTION_DIM",
    "SHAPES",
]

MAX_SLOTS = 3  # state vectors are padded to this many objects
STATE_LABELS: tuple[str, ...] = (
    ("eef_x", "eef_y", "eef_z", "gripper_gap")
    + tuple(f"obj{i}_{c}" for i in range(MAX_SLOTS) for c in "xyz")
    + tuple(f"obj{i}_present" for i in range(MAX_SLOTS))
)
STATE_DIM = len(STATE_LABELS)

# Panda arm joint angles the episode starts from (before per-episode noise): gripper pointing
# down at (-0.07, 0, 0.93), 13 cm above the back half of the tray (solved by damped
# least-squares IK from robosuite's default pose).
_HOME_QPOS = np.array([0.0, 0.498, 0.0, -2.383, 0.0, 2.881, np.pi / 4])
# Arm pose for goal images: folded up and swung to the side, out of the camera's view.
_STOW_QPOS = np.array([-1.9, -0.6, 0.0, -2.9, 0.0, 2.4, np.pi / 4])
_FINGER_OPEN = 0.04  # Panda finger joint limit (m)
_PARK_Z = -2.0  # unused pool objects float (gravity-compensated, collision-free) below the floor

_SIM_STATE_VERSION = 1.0
# The scene's visual identity: bump when the camera, tray or object distribution changes what
# frames look like. Datasets and checkpoints record it; the env warns on a mismatch.
# v1: camera at 0.8 m, azimuth 25, elevation 45; objects 0.02-0.034 m half sizes.
# v2: camera at 0.58 m, azimuth 20, elevation 48; objects 0.024-0.036 m (the tray fills the frame).
SCENE_VERSION = "tabletop-v2"
_SLOT_HEADER = 9  # active, shape id, size (3), rgba (4)


class SimStateError(ValueError):
    """A full simulator state vector that does not fit this scene."""


@dataclass(frozen=True)
class SceneConfig:
    """Everything that shapes the scene. Defaults are the dataset's reference setup.

    The seed paper (RoboNet data) fixes only: a robot arm pushing/grasping random objects,
    a single 64 x 64 camera, 4-d actions (xyz delta + gripper). The rest is our choice.
    """

    image_size: int = 64  # seed: 64 x 64 frames
    control_freq: int = 10  # Hz; 50 physics substeps of 2 ms per action, each step moves visibly
    action_scale_m: float = (
        0.04  # |a| = 1 asks for 4 cm; OSC achieves ~1.5 cm (first) to 2.3 cm/step
    )
    osc_kp: float = 300.0  # stiffer than robosuite's 150 so a step mostly completes within 0.1 s
    # Framing (scene v2, `ghvae framing`, 100 resets): the tray fills the frame (its inner
    # rectangle covers ~55% of the image, its far corners just outside), objects span ~12 px,
    # the arm works above the tray with the base only at the top edge. v1 (distance 0.8,
    # azimuth 25, elevation 45, target (-0.05, 0, 0.83), objects 0.02-0.034 m) showed the tray
    # on 30% of the image and objects ~8 px (projected boxes; 4-8 px silhouettes).
    camera_target: tuple[float, float, float] = (-0.04, 0.0, 0.83)  # tray centre, arm's side
    camera_distance: float = 0.58  # m from target
    camera_azimuth_deg: float = 20.0  # 0 = from the table front straight at the robot
    camera_elevation_deg: float = 48.0  # "roughly 45 degrees" (DESIGN.md)
    camera_fovy_deg: float = 45.0
    render_supersample: int = 2  # render 128 x 128 and box-filter: anti-aliasing at ~0.9x cost
    table_height: float = 0.8  # table top z (robosuite's Lift table)
    tray_half_extent: float = 0.2  # inner half width of the tray (m)
    tray_wall_height: float = 0.03  # low enough for the gripper to reach over
    min_objects: int = 1
    max_objects: int = 3  # seed: "several random objects"; state vectors hold MAX_SLOTS
    object_size_range: tuple[float, float] = (0.024, 0.036)  # half sizes (m): 5-7 cm objects
    object_density: float = 500.0  # kg/m^3: light plastic, pushes move objects readily
    ball_rolling_friction: float = 0.002  # pushed balls roll ~10-20 cm, not forever
    spawn_half_extent: float = 0.13  # objects start within +-13 cm of the tray centre
    min_object_gap: float = 0.02  # m between object footprints at spawn
    init_joint_noise: float = 0.12  # rad, uniform per arm joint: varied start poses

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, expect: str) -> None:
            if not ok:
                raise ValueError(
                    f"SceneConfig.{name} must be {expect}, actual value: {getattr(self, name)!r}"
                )

        need(self.image_size >= 8, "image_size", ">= 8")
        need(self.control_freq > 0 and 500 % self.control_freq == 0, "control_freq",
             "a positive divisor of 500 (the 2 ms physics rate)")  # fmt: skip
        need(0.0 < self.action_scale_m <= 0.1, "action_scale_m", "in (0, 0.1] metres")
        need(self.osc_kp > 0, "osc_kp", "> 0")
        need(len(self.camera_target) == 3, "camera_target", "an (x, y, z) triple")
        need(self.camera_distance > 0, "camera_distance", "> 0")
        need(0.0 < self.camera_elevation_deg < 90.0, "camera_elevation_deg", "in (0, 90)")
        need(0.0 < self.camera_fovy_deg < 180.0, "camera_fovy_deg", "in (0, 180)")
        need(self.render_supersample >= 1, "render_supersample", ">= 1")
        need(1 <= self.min_objects <= self.max_objects, "min_objects", "in [1, max_objects]")
        need(1 <= self.max_objects <= MAX_SLOTS, "max_objects", f"in [1, {MAX_SLOTS}]")
        lo, hi = self.object_size_range
        need(0.005 <= lo <= hi <= 0.04, "object_size_range", "0.005 <= low <= high <= 0.04 m")
        need(self.object_density > 0, "object_density", "> 0")
        need(self.ball_rolling_friction >= 0, "ball_rolling_friction", ">= 0")
        need(0 < self.tray_half_extent <= 0.38, "tray_half_extent", "in (0, 0.38] (table)")
        need(self.tray_wall_height > 0, "tray_wall_height", "> 0")
        need(hi < self.tray_half_extent, "object_size_range",
             f"smaller than the tray (high < tray_half_extent={self.tray_half_extent})")  # fmt: skip
        need(
            0 < self.spawn_half_extent + hi <= self.tray_half_extent,
            "spawn_half_extent",
            "> 0 and leave the largest object inside the tray",
        )
        need(self.min_object_gap >= 0, "min_object_gap", ">= 0")
        need(self.init_joint_noise >= 0, "init_joint_noise", ">= 0")
        cam_z = self.camera_target[2] + self.camera_distance * np.sin(
            np.deg2rad(self.camera_elevation_deg)
        )
        need(cam_z > self.table_height + self.tray_wall_height, "camera_distance",
             f"large enough to put the camera above the table and tray (camera z {cam_z:.3f} m "
             f"<= {self.table_height + self.tray_wall_height:.3f} m)")  # fmt: skip
        need(self.camera_target[2] >= self.table_height - 0.05, "camera_target",
             f"at or above the table top (z >= {self.table_height - 0.05:.2f} m)")  # fmt: skip

    @property
    def table_top(self) -> np.ndarray:
        """World position of the table-top centre (= tray centre), (3,)."""
        return np.array([0.0, 0.0, self.table_height])


@dataclass(frozen=True)
class ObjectSpec:
    """One object of an episode: shape, size and colour.

    ``size`` is ``(hx, hy, hz)`` half extents for a box, ``(r, r, h)`` (radius, half height)
    for a cylinder, ``(r, r, r)`` for a ball; ``rgba`` in [0, 1].
    """

    shape: str
    size: tuple[float, float, float]
    rgba: tuple[float, float, float, float]

    @property
    def half_height(self) -> float:
        return float(self.size[2])

    @property
    def radius(self) -> float:
        """Horizontal bounding radius (m)."""
        return float(np.hypot(self.size[0], self.size[1])) if self.shape == "box" else self.size[0]


@dataclass
class _Layout:
    """A sampled episode start: objects, their poses and the arm's start joint angles."""

    objects: list[ObjectSpec]
    positions: np.ndarray  # (n, 3) world
    yaws: np.ndarray  # (n,) rad
    arm_qpos: np.ndarray  # (7,)


def _sample_objects(rng: np.random.Generator, cfg: SceneConfig) -> list[ObjectSpec]:
    n = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    lo, hi = cfg.object_size_range
    objects = []
    for _ in range(n):
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        if shape == "box":
            size = tuple(float(s) for s in rng.uniform(lo, hi, size=3))
        elif shape == "cylinder":
            r, h = rng.uniform(lo, hi, size=2)
            size = (float(r), float(r), float(h))
        else:
            r = float(rng.uniform(lo, hi))
            size = (r, r, r)
        # Saturated colours of any hue: distinct from the white table, grey arm, brown tray.
        hue, sat, val = rng.uniform(0, 1), rng.uniform(0.55, 1.0), rng.uniform(0.45, 1.0)
        rgba = (*colorsys.hsv_to_rgb(hue, sat, val), 1.0)
        objects.append(ObjectSpec(shape, size, tuple(float(c) for c in rgba)))  # type: ignore[arg-type]
    return objects


def _sample_layout(rng: np.random.Generator, cfg: SceneConfig) -> _Layout:
    objects = _sample_objects(rng, cfg)
    centre = cfg.table_top
    positions = np.zeros((len(objects), 3))
    for i, obj in enumerate(objects):
        for _ in range(200):  # rejection sampling; 3 objects of <= 4.8 cm radius fit easily
            xy = centre[:2] + rng.uniform(-cfg.spawn_half_extent, cfg.spawn_half_extent, size=2)
            if all(
                np.linalg.norm(xy - positions[j, :2])
                >= obj.radius + objects[j].radius + cfg.min_object_gap
                for j in range(i)
            ):
                break
        positions[i] = (xy[0], xy[1], cfg.table_height + obj.half_height + 1e-4)
    yaws = rng.uniform(-np.pi, np.pi, size=len(objects))
    arm_qpos = _HOME_QPOS + rng.uniform(-cfg.init_joint_noise, cfg.init_joint_noise, size=7)
    return _Layout(objects=objects, positions=positions, yaws=yaws, arm_qpos=arm_qpos)


def _mass_and_inertia(spec: ObjectSpec, density: float) -> tuple[float, np.ndarray]:
    """Mass (kg) and diagonal inertia about the centre of a solid primitive."""
    a, b, c = spec.size
    if spec.shape == "box":
        m = density * 8.0 * a * b * c
        return m, m / 3.0 * np.array([b * b + c * c, a * a + c * c, a * a + b * b])
    if spec.shape == "cylinder":
        r, h = a, c
        m = density * np.pi * r * r * 2.0 * h
        ixx = m * (3.0 * r * r + 4.0 * h * h) / 12.0
        return m, np.array([ixx, ixx, 0.5 * m * r * r])
    m = density * 4.0 / 3.0 * np.pi * a**3
    return m, np.full(3, 0.4 * m * a * a)


def _geom_params(spec: ObjectSpec) -> tuple[np.ndarray, float, np.ndarray]:
    """MuJoCo ``geom_size``, ``geom_rbound`` and ``geom_aabb`` half sizes for ``spec``."""
    a, b, c = spec.size
    if spec.shape == "box":
        return np.array([a, b, c]), float(np.sqrt(a * a + b * b + c * c)), np.array([a, b, c])
    if spec.shape == "cylinder":
        return np.array([a, c, 0.0]), float(np.hypot(a, c)), np.array([a, a, c])
    return np.array([a, 0.0, 0.0]), float(a), np.array([a, a, a])


# robosuite's import-time and construction-time chatter that says nothing about this scene.
_ROBOSUITE_NOISE = (
    "No private macro file found",
    "It is recommended to use a private macro file",
    "To setup, run:",
    "Could not import robosuite_models",
    "Could not load the mink-based whole-body IK",
    "Loading controller configuration from",
)


class _DropRobosuiteNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not any(noise in msg for noise in _ROBOSUITE_NOISE)


def _quiet_robosuite_logs() -> None:
    """Drop robosuite's boilerplate warnings (other robosuite messages still show)."""
    logger = logging.getLogger("robosuite_logs")
    if not any(isinstance(f, _DropRobosuiteNoise) for f in logger.filters):
        logger.addFilter(_DropRobosuiteNoise())


class TabletopScene:
    """One robosuite simulator plus renderer, re-dressed per episode.

    Args:
        config: scene parameters (defaults: the dataset's reference setup).

    Construction takes a few seconds (robosuite model compile, GL context); the first
    steps in a fresh Python installation additionally compile robosuite's numba kernels.
    """

    def __init__(self, config: SceneConfig | None = None) -> None:
        self.config = config if config is not None else SceneConfig()
        configure_gl_backend()  # before robosuite / mujoco / OpenGL are imported
        _quiet_robosuite_logs()
        try:
            import mujoco
            from robosuite.controllers import load_part_controller_config
            from robosuite.controllers.composite.composite_controller_factory import (
                refactor_composite_controller_config,
            )

            from ghvae_env.sim._task import CAMERA_NAME, TabletopTask
        except ImportError as e:  # pragma: no cover - dependency missing
            raise ImportError(
                f"the simulator needs robosuite==1.5.2 and mujoco ({e}); "
                "install with: pip install 'robosuite==1.5.2' 'mujoco>=3.3,<3.10'"
            ) from e

        self._mj = mujoco
        part = load_part_controller_config(default_controller="OSC_POSITION")
        s = self.config.action_scale_m
        part.update(output_max=[s, s, s], output_min=[-s, -s, -s], kp=self.config.osc_kp)
        controller = refactor_composite_controller_config(part, "Panda", ["right"])
        self._task: TabletopTask = TabletopTask(self.config, controller)
        self._task.reset()

        sim = self._task.sim
        self._model: mujoco.MjModel = sim.model._model
        self._data: mujoco.MjData = sim.data._data
        robot = self._task.robots[0]
        self._robot = robot
        self._arm_qpos_idx = np.asarray(robot._ref_joint_pos_indexes)
        self._finger_qpos_idx = np.asarray(robot._ref_gripper_joint_pos_indexes["right"])
        self._eef_site = robot.eef_site_id["right"]
        m = self._model
        self._pool: dict[tuple[int, str], dict[str, Any]] = {}
        for (slot, shape), obj in self._task.pool.items():
            joint = obj.joints[0]
            jid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, joint)
            coll = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, g) for g in obj.contact_geoms]
            vis = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, g) for g in obj.visual_geoms]
            self._pool[(slot, shape)] = {
                "body": self._task.pool_body_ids[(slot, shape)],
                "qpos": int(m.jnt_qposadr[jid]),
                "qvel": int(m.jnt_dofadr[jid]),
                "coll": coll,
                "vis": vis,
                "contype": m.geom_contype[coll].copy(),
                "conaffinity": m.geom_conaffinity[coll].copy(),
            }
        self._state_spec = mujoco.mjtState.mjSTATE_INTEGRATION
        self._phys_size = mujoco.mj_stateSize(m, self._state_spec)
        self.objects: list[ObjectSpec] = []
        self._renderer = OffscreenRenderer(
            m,
            CAMERA_NAME,
            self.config.image_size,
            self.config.image_size,
            supersample=self.config.render_supersample,
        )
        self._closed = False
        self.pid = os.getpid()  # GL contexts do not survive fork(); see _get_scene

    # ------------------------------------------------------------------ episode set-up
    def reset(self, rng: np.random.Generator) -> np.ndarray:
        """Start a new episode drawn from ``rng``; returns the first frame (H, W, 3) uint8."""
        self._check_open()
        layout = _sample_layout(rng, self.config)
        self._dress(layout.objects)
        self._task.reset()  # mj_resetData + robot to its default pose + controller reset
        d = self._data
        for slot, (obj, pos, yaw) in enumerate(
            zip(layout.objects, layout.positions, layout.yaws, strict=True)
        ):
            adr = self._pool[(slot, obj.shape)]["qpos"]
            d.qpos[adr : adr + 3] = pos
            d.qpos[adr + 3 : adr + 7] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))
        d.qpos[self._arm_qpos_idx] = layout.arm_qpos
        d.qpos[self._finger_qpos_idx] = (_FINGER_OPEN, -_FINGER_OPEN)
        d.qvel[:] = 0.0
        self._sync()
        return self.render()

    def _dress(self, objects: list[ObjectSpec]) -> None:
        """Apply the per-episode object set to the model (sizes, colours, masses, parking)."""
        mj, m, d = self._mj, self._model, self._data
        if len(objects) > self.config.max_objects:
            raise SimStateError(
                f"objects must number at most max_objects={self.config.max_objects}, "
                f"actual value: {len(objects)}"
            )
        lo = self.config.object_size_range[0]
        for (slot, shape), p in self._pool.items():
            active = slot < len(objects) and objects[slot].shape == shape
            # Parked bodies get fixed nominal parameters, so that the model is a function of
            # `objects` alone (never of earlier episodes): same seed, same bits.
            spec = (
                objects[slot] if active else ObjectSpec(shape, (lo, lo, lo), (0.5, 0.5, 0.5, 0.0))
            )
            size, rbound, half = _geom_params(spec)
            for g in p["coll"] + p["vis"]:
                m.geom_size[g] = size
                m.geom_rbound[g] = rbound
                m.geom_aabb[g, 3:] = half
            m.geom_rgba[p["vis"]] = spec.rgba  # alpha 0 hides parked bodies
            mass, inertia = _mass_and_inertia(spec, self.config.object_density)
            body = p["body"]
            m.body_mass[body] = mass
            m.body_inertia[body] = inertia
            m.body_iquat[body] = (1.0, 0.0, 0.0, 0.0)
            # Parked bodies neither collide nor fall: collision off, gravity compensated.
            m.geom_contype[p["coll"]] = p["contype"] if active else 0
            m.geom_conaffinity[p["coll"]] = p["conaffinity"] if active else 0
            m.body_gravcomp[body] = 0.0 if active else 1.0
        # Every pool body's default pose is its parking spot far below the floor; reset
        # (mj_resetData) puts parked bodies there, active ones are then placed on the table.
        for k, p in enumerate(self._pool.values()):
            m.qpos0[p["qpos"] : p["qpos"] + 7] = (2.0 + 0.2 * k, 0.0, _PARK_Z, 1.0, 0.0, 0.0, 0.0)
        mj.mj_setConst(m, d)  # derived masses / inverse weights; uses d as scratch
        self.objects = list(objects)

    def _sync(self) -> None:
        """Recompute derived quantities and make the controllers read the current state."""
        self._mj.mj_forward(self._model, self._data)
        for controller in self._robot.composite_controller.part_controllers.values():
            controller.update(force=True)

    # ------------------------------------------------------------------------- stepping
    def step(self, action: np.ndarray, render: bool = True) -> np.ndarray | None:
        """Apply one 4-d action for ``1 / control_freq`` s; returns the new frame (None with
        ``render=False``: physics only, for planners that read the state).

        The action is not validated here (``RoboNetSimEnv.step`` does that for users).
        """
        self._check_open()
        self._task.step(np.asarray(action, dtype=np.float64))
        self._mj.mj_forward(self._model, self._data)  # frame and readings at the final state
        return self.render() if render else None

    def render(self) -> np.ndarray:
        """The camera image of the current state, fresh (H, W, 3) uint8."""
        self._check_open()
        return self._renderer.render(self._data)

    # ---------------------------------------------------------------------- readings
    @property
    def eef_pos(self) -> np.ndarray:
        """End-effector (grip site) world position, fresh (3,) float64."""
        return self._data.site_xpos[self._eef_site].copy()

    @property
    def gripper_gap(self) -> float:
        """Finger opening (m): both fingers' travel summed, 0 closed .. 0.08 fully open."""
        q = self._data.qpos[self._finger_qpos_idx]
        return float(q[0] - q[1])

    def _active(self) -> list[dict[str, Any]]:
        return [self._pool[(i, o.shape)] for i, o in enumerate(self.objects)]

    @property
    def object_positions(self) -> np.ndarray:
        """World positions of this episode's objects, fresh (n, 3) float64."""
        q = self._data.qpos
        return np.array([q[p["qpos"] : p["qpos"] + 3] for p in self._active()]).reshape(-1, 3)

    def state_vector(self) -> np.ndarray:
        """The (STATE_DIM,) float32 low-dimensional state, layout :data:`STATE_LABELS`."""
        out = np.zeros(STATE_DIM, dtype=np.float32)
        out[0:3] = self.eef_pos
        out[3] = self.gripper_gap
        pos = self.object_positions
        out[4 : 4 + 3 * len(pos)] = pos.reshape(-1)
        out[4 + 3 * MAX_SLOTS : 4 + 3 * MAX_SLOTS + len(pos)] = 1.0
        return out

    # ------------------------------------------------------------------ full state
    def get_sim_state(self) -> np.ndarray:
        """Full flattened simulator state, fresh float64 vector (see module docstring)."""
        self._check_open()
        header = np.zeros(2 + MAX_SLOTS * _SLOT_HEADER)
        header[0], header[1] = _SIM_STATE_VERSION, len(self.objects)
        for i, obj in enumerate(self.objects):
            row = header[2 + i * _SLOT_HEADER : 2 + (i + 1) * _SLOT_HEADER]
            row[0], row[1] = 1.0, SHAPES.index(obj.shape)
            row[2:5], row[5:9] = obj.size, obj.rgba
        phys = np.empty(self._phys_size)
        self._mj.mj_getState(self._model, self._data, phys, self._state_spec)
        return np.concatenate([header, phys])

    @property
    def sim_state_size(self) -> int:
        return 2 + MAX_SLOTS * _SLOT_HEADER + self._phys_size

    def set_sim_state(self, state: np.ndarray) -> None:
        """Restore a vector from :meth:`get_sim_state` (objects, physics, controllers)."""
        self._check_open()
        state = np.asarray(state)
        if state.shape != (self.sim_state_size,):
            raise SimStateError(
                f"state must have shape ({self.sim_state_size},), actual value: shape {state.shape}"
            )
        if not np.issubdtype(state.dtype, np.floating) or not np.all(np.isfinite(state)):
            raise SimStateError(
                f"state must be a finite float array, actual value: dtype {state.dtype}"
            )
        if state[0] != _SIM_STATE_VERSION:
            raise SimStateError(
                f"state[0] (format version) must be {_SIM_STATE_VERSION}, actual value: {state[0]}"
            )
        n = int(state[1])
        if not (state[1] == n and 0 <= n <= self.config.max_objects):
            raise SimStateError(
                f"state[1] (object count) must be an integer in [0, "
                f"{self.config.max_objects}], actual value: {state[1]}"
            )
        objects = []
        for i in range(n):
            row = state[2 + i * _SLOT_HEADER : 2 + (i + 1) * _SLOT_HEADER]
            sid = int(row[1])
            if row[0] != 1.0 or row[1] != sid or not 0 <= sid < len(SHAPES):
                raise SimStateError(f"state header of object {i} is malformed: {row.tolist()}")
            objects.append(
                ObjectSpec(
                    SHAPES[sid],
                    tuple(float(v) for v in row[2:5]),  # type: ignore[arg-type]
                    tuple(float(v) for v in row[5:9]),  # type: ignore[arg-type]
                )
            )
        if objects != self.objects:
            self._dress(objects)
        phys = np.ascontiguousarray(state[2 + MAX_SLOTS * _SLOT_HEADER :], dtype=np.float64)
        self._mj.mj_setState(self._model, self._data, phys, self._state_spec)
        self._sync()

    def project_to_pixels(self, points: np.ndarray) -> np.ndarray:
        """Image coordinates ``(row, col)`` of world ``points`` (n, 3) in the camera frame.

        Row 0 is the top of the (upright) image; values are continuous pixel coordinates
        (pixel centres at integers), not clipped to the image. Returns (n, 2) float64.
        """
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        cam = self._renderer.camera_id
        pos = self._data.cam_xpos[cam]
        rot = self._data.cam_xmat[cam].reshape(3, 3)  # columns: camera x (right), y (up), z
        local = (pts - pos) @ rot  # (n, 3) in the camera frame; the camera looks along -z
        size = self.config.image_size
        focal = 0.5 * size / np.tan(np.deg2rad(self._model.cam_fovy[cam]) / 2.0)
        depth = -local[:, 2]
        col = (size - 1) / 2.0 + focal * local[:, 0] / depth
        row = (size - 1) / 2.0 - focal * local[:, 1] / depth
        return np.stack([row, col], axis=1)

    def object_pixel_counts(self, stow_arm: bool = False) -> np.ndarray:
        """How many (supersampled) pixels of each object the camera sees now: (n,) int64.

        Exact occlusion (a segmentation render): the arm in front of an object hides it.
        ``stow_arm``: count with the arm stowed out of view instead (the object's unoccluded
        size at its current pose); the simulator state is restored afterwards.
        """
        self._check_open()
        saved = self.get_sim_state() if stow_arm else None
        try:
            if stow_arm:
                self._data.qpos[self._arm_qpos_idx] = _STOW_QPOS
                self._mj.mj_forward(self._model, self._data)
            ids = self._renderer.render_geom_ids(self._data)
        finally:
            if saved is not None:
                self.set_sim_state(saved)
        return np.array([int(np.isin(ids, p["vis"]).sum()) for p in self._active()], dtype=np.int64)

    # ------------------------------------------------------------------- goal images
    def render_goal(self, object_positions: np.ndarray) -> np.ndarray:
        """Render the objects at ``object_positions`` (n, 3) with the arm stowed out of view.

        Orientations are kept; the simulator state is restored afterwards.
        """
        self._check_open()
        pos = np.asarray(object_positions, dtype=np.float64)
        n = len(self.objects)
        if pos.shape != (n, 3):
            raise ValueError(
                f"object_positions must have shape ({n}, 3) for this episode's {n} objects, "
                f"actual value: shape {pos.shape}"
            )
        if not np.all(np.isfinite(pos)):
            raise ValueError(f"object_positions must be finite, actual value: {pos.tolist()}")
        saved = self.get_sim_state()
        try:
            d = self._data
            for p, xyz in zip(self._active(), pos, strict=True):
                d.qpos[p["qpos"] : p["qpos"] + 3] = xyz
            d.qpos[self._arm_qpos_idx] = _STOW_QPOS
            self._mj.mj_forward(self._model, d)
            return self.render()
        finally:
            self.set_sim_state(saved)

    # ---------------------------------------------------------------------- lifecycle
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the TabletopScene is closed")

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Free the renderer and the simulator (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._renderer.close()
        self._task.close()


# ------------------------------------------------------------------------------ rollouts
_SCENES: dict[SceneConfig, TabletopScene] = {}  # one simulator per process and config


def _get_scene(config: SceneConfig) -> TabletopScene:
    scene = _SCENES.get(config)
    # A scene inherited through fork() holds the parent's dead GL context; building a new one
    # raises RenderBackendError with a hint to use 'spawn' (as ghvae generate does) instead
    # of hanging in Mesa.
    if scene is None or scene.closed or scene.pid != os.getpid():
        scene = _SCENES[config] = TabletopScene(config)
    return scene


def rollout_episode(
    seed: int,
    steps: int,
    config: SceneConfig | None = None,
    policy_config: Any | None = None,
) -> dict[str, np.ndarray]:
    """Roll the random interaction policy for one episode; deterministic in ``seed``.

    Args:
        seed: non-negative episode seed; it alone fixes the objects, the start pose and the
            policy's choices, so the same seed gives byte-identical frames and actions.
        steps: number of frames (>= 1); ``steps - 1`` actions are taken.
        config: scene parameters (default :class:`SceneConfig`).
        policy_config: a :class:`~ghvae_env.sim.policy.PolicyConfig` (default one).

    Returns:
        ``frames`` uint8 (steps, H, W, 3); ``actions`` float32 (steps - 1, 4), action ``t``
        leads from frame ``t`` to ``t + 1``; ``states`` float32 (steps, STATE_DIM), row
        ``t`` describes frame ``t`` (layout :data:`STATE_LABELS`).

    One simulator per process (and config) is built on first use and reused.
    """
    from ghvae_env.sim.policy import PolicyConfig, RandomInteractionPolicy

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, actual value: {seed!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, actual value: {steps!r}")
    config = config if config is not None else SceneConfig()
    scene = _get_scene(config)
    scene_seq, policy_seq = np.random.SeedSequence(int(seed)).spawn(2)
    size = config.image_size
    frames = np.empty((steps, size, size, 3), dtype=np.uint8)
    actions = np.empty((steps - 1, ACTION_DIM), dtype=np.float32)
    states = np.empty((steps, STATE_DIM), dtype=np.float32)

    frames[0] = scene.reset(np.random.default_rng(scene_seq))
    states[0] = scene.state_vector()
    policy = RandomInteractionPolicy(
        policy_config if policy_config is not None else PolicyConfig(),
        table_top=config.table_top,
        action_scale_m=config.action_scale_m,
        rng=np.random.default_rng(policy_seq),
    )
    policy.reset(scene.objects)
    for t in range(steps - 1):
        actions[t] = policy.act(scene.eef_pos, scene.object_positions)
        frames[t + 1] = scene.step(actions[t])
        states[t + 1] = scene.state_vector()
    return {"frames": frames, "actions": actions, "states": states}


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "not installed"


def scene_metadata(config: SceneConfig | None = None) -> dict[str, Any]:
    """JSON-serialisable description of the scene for dataset shards."""
    config = config if config is not None else SceneConfig()
    return {
        "scene": "tabletop",
        # the version names the default framing; a changed SceneConfig gets "-custom"
        "scene_version": SCENE_VERSION if config == SceneConfig() else SCENE_VERSION + "-custom",
        "framing": FRAMING if config == SceneConfig() else None,
        "robot": "Panda",
        "gripper": "PandaGripper, binary: a[3] > 0 closes, a[3] <= 0 opens",
        "controller": {
            "type": "OSC_POSITION",
            "input_ref_frame": "base",
            "goal_update_mode": "achieved",
            "output_max_m": config.action_scale_m,
            "kp": config.osc_kp,
            "damping_ratio": 1.0,
        },
        "control_freq": config.control_freq,
        "physics_timestep": 0.002,
        "camera": {
            "name": "ghvae_cam",
            "target": list(config.camera_target),
            "distance": config.camera_distance,
            "azimuth_deg": config.camera_azimuth_deg,
            "elevation_deg": config.camera_elevation_deg,
            "fovy_deg": config.camera_fovy_deg,
            "height": config.image_size,
            "width": config.image_size,
            "supersample": config.render_supersample,
            "convention": "upright RGB (row 0 = top), channel-last uint8",
        },
        "action_space": "float32 (4,) in [-1, 1]: eef dx, dy, dz (x action_scale_m), gripper",
        "state_labels": list(STATE_LABELS),
        "config": {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(config).items()
        },  # fmt: skip
        "versions": {
            "robosuite": _version("robosuite"),
            "mujoco": _version("mujoco"),
            "ghvae-env": _version("ghvae-env"),
        },
    }


# Measured framing of the default scene: `ghvae framing --resets 100 --steps 10`
# (100 starts, arm measured at the start and 10 random-policy steps of each).
FRAMING: dict[str, Any] = {
    "command": "ghvae framing --resets 100 --steps 10",
    "object_px_mean": 12.66,  # 192 objects; min 8.16, 10th percentile 9.82, max 18.26
    "tray_coverage": 0.544,
    "arm_coverage_mean": 0.168,  # 90th percentile 0.266
}

SCENE_METADATA: dict[str, Any] = scene_metadata()
