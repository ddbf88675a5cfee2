"""The robosuite task behind the tabletop scene: a Panda at a table holding a shallow tray.

Imported lazily by :mod:`ghvae_env.sim.scene` (it imports robosuite at module level, which
takes a couple of seconds). Everything per-episode (which objects, their shape, size, colour
and pose) is applied at runtime by the scene on top of the fixed MJCF model built here, so one
compiled simulator serves every episode:

* an object *pool*: for every slot ``i < max_objects`` one free body of every shape
  (``slot{i}_box``, ``slot{i}_cylinder``, ``slot{i}_ball``), compiled at the largest size;
* a fixed camera ``ghvae_cam`` placed by look-at from the :class:`SceneConfig` camera fields;
* a 4-wall tray on the table (keeps pushed objects, balls especially, in the workspace);
* the Panda with a memoryless gripper: ``a[3] > 0`` closes, ``a[3] <= 0`` opens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mujoco
import numpy as np
from robosuite.environments.manipulation.manipulation_env import ManipulationEnv
from robosuite.models.arenas import TableArena
from robosuite.models.grippers import GRIPPER_MAPPING, PandaGripper
from robosuite.models.objects import BallObject, BoxObject, CylinderObject
from robosuite.models.tasks import ManipulationTask
from robosuite.utils.mjcf_utils import new_geom

from ghvae_env.sim._shapes import SHAPES

if TYPE_CHECKING:
    from ghvae_env.sim.scene import SceneConfig

__all__ = ["CAMERA_NAME", "SHAPES", "TabletopTask", "look_at_quat"]

CAMERA_NAME = "ghvae_cam"
_OBJECT_CLASSES = {"box": BoxObject, "cylinder": CylinderObject, "ball": BallObject}
_TRAY_RGBA = (0.55, 0.42, 0.3, 1.0)  # wood-brown: contrasts with the white table and the arm
_TRAY_THICKNESS = 0.01


class BinaryPandaGripper(PandaGripper):
    """Panda gripper whose command is a function of the current action only.

    robosuite's ``PandaGripper`` integrates ``sign(a)`` at 0.2 per step (ten steps from open to
    closed), hidden state that a video model cannot see. Here ``a > 0`` commands fully closed
    and ``a <= 0`` fully open, so the gripper is a plain function of the action stream.
    """

    def format_action(self, action: np.ndarray) -> np.ndarray:
        if len(action) != self.dof:
            raise ValueError(f"gripper action must have {self.dof} entry, got {len(action)}")
        closed = 1.0 if float(action[0]) > 0.0 else -1.0
        self.current_action = np.array([-closed, closed])
        return self.current_action


# robosuite instantiates grippers by class name through this mapping.
GRIPPER_MAPPING[BinaryPandaGripper.__name__] = BinaryPandaGripper


def look_at_quat(pos: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(w, x, y, z) quaternion of a MuJoCo camera at ``pos`` looking at ``target`` (z up).

    MuJoCo cameras look along their local -z with +y up on screen.
    """
    forward = target - pos
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right = right / np.linalg.norm(right)
    up = np.cross(right, forward)
    rot = np.stack([right, up, -forward], axis=1)  # columns: camera x, y, z in world
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, rot.reshape(-1))
    return quat


class TabletopTask(ManipulationEnv):
    """robosuite environment: Panda + table + tray + object pool + the dataset camera.

    Args:
        config: the :class:`~ghvae_env.sim.scene.SceneConfig` (geometry and camera).
        controller_config: a composite controller config (already refactored from the
            OSC_POSITION part config).
    """

    def __init__(self, config: SceneConfig, controller_config: dict[str, Any]) -> None:
        self.scene_config = config
        self.table_full_size = (0.8, 0.8, 0.05)  # robosuite's Lift table
        self.table_offset = np.array([0.0, 0.0, config.table_height])
        self.pool: dict[tuple[int, str], Any] = {}
        super().__init__(
            robots="Panda",
            controller_configs=controller_config,
            gripper_types=BinaryPandaGripper.__name__,
            initialization_noise=None,  # the scene draws its own, from the episode seed
            use_camera_obs=False,  # frames come from the scene's OffscreenRenderer
            has_renderer=False,
            has_offscreen_renderer=False,
            control_freq=config.control_freq,
            lite_physics=True,
            horizon=1_000_000,
            ignore_done=True,  # episode length is the caller's business
            hard_reset=False,  # keep one compiled model; the scene re-dresses it per episode
            renderer="mujoco",
        )

    # ----------------------------------------------------------------- model building
    def _load_model(self) -> None:
        super()._load_model()
        cfg = self.scene_config
        robot = self.robots[0]
        robot.robot_model.set_base_xpos(
            robot.robot_model.base_xpos_offset["table"](self.table_full_size[0])
        )

        arena = TableArena(
            table_full_size=self.table_full_size,
            table_friction=(1.0, 5e-3, 1e-4),
            table_offset=self.table_offset,
        )
        arena.set_origin([0, 0, 0])
        self._add_tray(arena)
        target = np.asarray(cfg.camera_target, dtype=np.float64)
        az, el = np.deg2rad(cfg.camera_azimuth_deg), np.deg2rad(cfg.camera_elevation_deg)
        offset = cfg.camera_distance * np.array(
            [np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)]
        )
        cam_pos = target + offset
        arena.set_camera(
            camera_name=CAMERA_NAME,
            pos=cam_pos,
            quat=look_at_quat(cam_pos, target),
            camera_attribs={"fovy": f"{cfg.camera_fovy_deg:g}", "mode": "fixed"},
        )

        objects = []
        hi = cfg.object_size_range[1]
        for slot in range(cfg.max_objects):
            for shape in SHAPES:
                cls = _OBJECT_CLASSES[shape]
                size = {"box": [hi, hi, hi], "cylinder": [hi, hi], "ball": [hi]}[shape]
                obj = cls(
                    name=f"slot{slot}_{shape}",
                    size=size,
                    rgba=[0.5, 0.5, 0.5, 1.0],
                    density=cfg.object_density,
                    friction=[1.0, 0.005, 0.0001],
                    # Rolling friction needs condim 6 on balls, set below; boxes/cylinders roll
                    # little anyway.
                )
                if shape == "ball":
                    for geom in obj.get_obj().iter("geom"):
                        if geom.get("group") == "0":
                            geom.set("condim", "6")
                            geom.set("friction", f"1 0.005 {cfg.ball_rolling_friction:g}")
                self.pool[(slot, shape)] = obj
                objects.append(obj)

        self.model = ManipulationTask(
            mujoco_arena=arena,
            mujoco_robots=[robot.robot_model],
            mujoco_objects=objects,
        )

    def _add_tray(self, arena: TableArena) -> None:
        cfg = self.scene_config
        h, t = cfg.tray_wall_height / 2, _TRAY_THICKNESS / 2
        e = cfg.tray_half_extent + t
        z = self.table_full_size[2] / 2 + h  # table body origin is the table's centre
        walls = {
            "tray_wall_px": ((e, 0.0, z), (t, e + t, h)),
            "tray_wall_nx": ((-e, 0.0, z), (t, e + t, h)),
            "tray_wall_py": ((0.0, e, z), (e - t, t, h)),
            "tray_wall_ny": ((0.0, -e, z), (e - t, t, h)),
        }
        for name, (pos, size) in walls.items():
            arena.table_body.append(
                new_geom(
                    name=name,
                    type="box",
                    size=size,
                    pos=pos,
                    group=1,  # drawn, and colliding (contype/conaffinity default 1)
                    rgba=_TRAY_RGBA,
                    friction="1 0.005 0.0001",
                )
            )

    # --------------------------------------------------------------- robosuite hooks
    def _setup_references(self) -> None:
        super()._setup_references()
        self.pool_body_ids = {
            key: self.sim.model.body_name2id(obj.root_body) for key, obj in self.pool.items()
        }

    def _setup_observables(self):  # type: ignore[no-untyped-def]
        # The scene reads the simulator directly; robosuite's per-step proprio observables
        # would only cost time.
        observables = super()._setup_observables()
        for observable in observables.values():
            observable.set_enabled(False)
            observable.set_active(False)
        return observables

    def reward(self, action: np.ndarray | None = None) -> float:
        return 0.0

    def _check_success(self) -> bool:
        return False
