"""Random interaction policy: RoboNet-style random end-effector motion, biased toward objects.

RoboNet (the seed paper's data) was collected by robots executing random end-effector motions
with random gripper toggles, with a bias toward the objects in the bin so that a good share of
trajectories actually touch something. This policy does the same in the simulator. It chains
*primitives*, each a short list of waypoints for the end effector with a gripper command:

* ``push``  (object bias): hover beside an object, descend to table level, sweep through the
  object along a random horizontal direction (tilted toward the tray centre), lift.
* ``grasp`` (object bias): hover over an object with the gripper open, descend, close, lift,
  carry to a random spot, open.
* ``random``: 1-3 random waypoints anywhere in the workspace, random gripper state, toggled
  with a small probability per step.

Actions are ``clip((waypoint - eef) / action_scale_m + noise, -1, 1)`` for xyz (Gaussian noise,
so no two approaches are alike) and the waypoint's gripper command (+1 close / -1 open). A
waypoint ends when reached (tolerance) or after a step budget, so contacts cannot stall it.
The policy sees only the end-effector and object positions, like a scripted RoboNet
collector; it is deterministic given its ``numpy.random.Generator``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ghvae_env.sim.scene import ObjectSpec

__all__ = ["PolicyConfig", "RandomInteractionPolicy"]


@dataclass(frozen=True)
class PolicyConfig:
    """Parameters of :class:`RandomInteractionPolicy` (lengths in metres).

    None of these come from the seed paper, which only says "autonomously collected random
    interactions". With the defaults, 36 of 40 30-step trajectories (90 %) move an object by
    more than 2 cm (median largest displacement 11 cm); measured with
    ``python -m ghvae_env.sim.benchmark --episodes 40 --steps 30``.
    """

    p_object: float = 0.8  # share of primitives aimed at an object (RoboNet's object bias)
    p_grasp: float = 0.4  # of those, grasps (the rest are pushes)
    noise_std: float = 0.2  # Gaussian xyz action noise: varied, not robotic, trajectories
    random_noise_std: float = 0.35  # larger noise during random-motion primitives
    p_gripper_toggle: float = 0.1  # per-step toggle probability during random motion
    workspace_half_extent: float = 0.17  # eef x, y within +-this of the tray centre
    workspace_z: tuple[float, float] = (0.012, 0.2)  # eef height above the table
    hover_height: float = 0.09  # approach height above the table
    push_height: float = 0.015  # fingertip height while pushing
    push_distance: tuple[float, float] = (0.08, 0.16)  # sweep length past the object centre
    tolerance: float = 0.015  # waypoint reached within this distance
    max_waypoint_steps: int = 8  # give up on a waypoint after this many steps

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, expect: str) -> None:
            if not ok:
                raise ValueError(
                    f"PolicyConfig.{name} must be {expect}, actual value: {getattr(self, name)!r}"
                )

        need(0.0 <= self.p_object <= 1.0, "p_object", "in [0, 1]")
        need(0.0 <= self.p_grasp <= 1.0, "p_grasp", "in [0, 1]")
        need(self.noise_std >= 0, "noise_std", ">= 0")
        need(self.random_noise_std >= 0, "random_noise_std", ">= 0")
        need(0.0 <= self.p_gripper_toggle <= 1.0, "p_gripper_toggle", "in [0, 1]")
        need(self.workspace_half_extent > 0, "workspace_half_extent", "> 0")
        lo, hi = self.workspace_z
        need(0 <= lo < hi, "workspace_z", "(low, high) with 0 <= low < high")
        need(lo <= self.push_height <= hi, "push_height", "inside workspace_z")
        need(lo <= self.hover_height <= hi, "hover_height", "inside workspace_z")
        need(0 < self.push_distance[0] <= self.push_distance[1], "push_distance",
             "(low, high) with 0 < low <= high")  # fmt: skip
        need(self.tolerance > 0, "tolerance", "> 0")
        need(self.max_waypoint_steps >= 1, "max_waypoint_steps", ">= 1")


@dataclass
class _Waypoint:
    target: np.ndarray  # (3,) world
    gripper: float  # +1 close, -1 open
    max_steps: int
    noise_std: float
    toggle: bool = False  # random gripper toggles (random-motion primitives)
    hold: bool = False  # stay for max_steps regardless of distance (gripper settling)


class RandomInteractionPolicy:
    """RoboNet-style random exploration with an object bias.

    Args:
        config: policy parameters.
        table_top: world position of the tray centre on the table top, (3,).
        action_scale_m: metres of end-effector motion an action of 1 commands
            (``SceneConfig.action_scale_m``).
        rng: the only source of randomness.

    Call :meth:`reset` with the episode's objects, then :meth:`act` once per step.
    """

    def __init__(
        self,
        config: PolicyConfig,
        table_top: np.ndarray,
        action_scale_m: float,
        rng: np.random.Generator,
    ) -> None:
        if not action_scale_m > 0:
            raise ValueError(f"action_scale_m must be > 0, actual value: {action_scale_m!r}")
        self.config = config
        self._scale = float(action_scale_m)
        self._top = np.asarray(table_top, dtype=np.float64).copy()
        self._rng = rng
        self._objects: list[ObjectSpec] = []
        self._queue: deque[_Waypoint] = deque()
        self._steps_on_waypoint = 0
        self._gripper = -1.0
        self.primitives: list[str] = []  # names of the primitives started, for diagnostics

    def reset(self, objects: list[ObjectSpec]) -> None:
        """Start an episode with these objects (their order matches the positions in act)."""
        self._objects = list(objects)
        self._queue.clear()
        self._steps_on_waypoint = 0
        self._gripper = -1.0
        self.primitives = []

    # --------------------------------------------------------------------- primitives
    def _clip_ws(self, p: np.ndarray) -> np.ndarray:
        c = self.config
        lo = self._top + np.array(
            [-c.workspace_half_extent, -c.workspace_half_extent, c.workspace_z[0]]
        )
        hi = self._top + np.array(
            [c.workspace_half_extent, c.workspace_half_extent, c.workspace_z[1]]
        )
        return np.clip(p, lo, hi)

    def _wp(
        self, xyz: np.ndarray, gripper: float, noise: float | None = None, **kw: object
    ) -> None:
        c = self.config
        self._queue.append(
            _Waypoint(
                target=self._clip_ws(np.asarray(xyz, dtype=np.float64)),
                gripper=gripper,
                max_steps=int(kw.pop("max_steps", c.max_waypoint_steps)),  # type: ignore[call-overload]
                noise_std=c.noise_std if noise is None else noise,
                **kw,  # type: ignore[arg-type]
            )
        )

    def _plan_push(self, obj: ObjectSpec, pos: np.ndarray) -> None:
        c, rng = self.config, self._rng
        angle = rng.uniform(-np.pi, np.pi)
        direction = np.array([np.cos(angle), np.sin(angle)])
        to_centre = self._top[:2] - pos[:2]
        if np.linalg.norm(to_centre) > 1e-6:  # lean toward the centre: objects stay in the tray
            direction = direction + 0.6 * to_centre / np.linalg.norm(to_centre)
            direction /= np.linalg.norm(direction)
        start = pos[:2] - direction * (obj.radius + 0.045)
        end = pos[:2] + direction * rng.uniform(*c.push_distance)
        z_low = self._top[2] + c.push_height
        z_hover = self._top[2] + c.hover_height
        grip = 1.0 if rng.random() < 0.5 else -1.0  # fist or open fingers
        self._wp(np.r_[start, z_hover], grip)
        self._wp(np.r_[start, z_low], grip)
        self._wp(np.r_[end, z_low], grip, max_steps=c.max_waypoint_steps + 2)
        self._wp(np.r_[end, z_hover], grip, max_steps=3)

    def _plan_grasp(self, obj: ObjectSpec, pos: np.ndarray) -> None:
        c, rng = self.config, self._rng
        z_hover = self._top[2] + c.hover_height
        z_grasp = max(self._top[2] + c.workspace_z[0], pos[2] - 0.005)
        xy = pos[:2] + rng.normal(0.0, 0.005, size=2)  # imperfect aim: some grasps fail
        self._wp(np.r_[xy, z_hover], -1.0)
        self._wp(np.r_[xy, z_grasp], -1.0)
        self._wp(np.r_[xy, z_grasp], 1.0, max_steps=2, hold=True)
        self._wp(np.r_[xy, z_hover + rng.uniform(0.0, 0.05)], 1.0, max_steps=5)
        carry = self._top[:2] + rng.uniform(-0.12, 0.12, size=2)
        self._wp(np.r_[carry, z_hover], 1.0)
        self._wp(np.r_[carry, z_hover], -1.0, max_steps=2, hold=True)

    def _plan_random(self) -> None:
        c, rng = self.config, self._rng
        for _ in range(int(rng.integers(1, 4))):
            xy = self._top[:2] + rng.uniform(-c.workspace_half_extent, c.workspace_half_extent, 2)
            z = self._top[2] + rng.uniform(*c.workspace_z)
            grip = 1.0 if rng.random() < 0.5 else -1.0
            self._wp(np.r_[xy, z], grip, noise=c.random_noise_std, toggle=True)

    def _plan(self, object_positions: np.ndarray) -> None:
        c, rng = self.config, self._rng
        if self._objects and rng.random() < c.p_object:
            i = int(rng.integers(len(self._objects)))
            if rng.random() < c.p_grasp:
                self.primitives.append(f"grasp:{i}")
                self._plan_grasp(self._objects[i], object_positions[i])
            else:
                self.primitives.append(f"push:{i}")
                self._plan_push(self._objects[i], object_positions[i])
        else:
            self.primitives.append("random")
            self._plan_random()

    # --------------------------------------------------------------------------- act
    def act(self, eef_pos: np.ndarray, object_positions: np.ndarray) -> np.ndarray:
        """The next action, float32 (4,) in [-1, 1].

        Args:
            eef_pos: end-effector world position, (3,).
            object_positions: world positions of the episode's objects, (n, 3).
        """
        c, rng = self.config, self._rng
        eef = np.asarray(eef_pos, dtype=np.float64)
        while True:
            if not self._queue:
                self._plan(np.asarray(object_positions, dtype=np.float64))
                self._steps_on_waypoint = 0
            wp = self._queue[0]
            reached = not wp.hold and np.linalg.norm(wp.target - eef) < c.tolerance
            if reached or self._steps_on_waypoint >= wp.max_steps:
                self._queue.popleft()
                self._steps_on_waypoint = 0
                continue
            break
        self._steps_on_waypoint += 1
        delta = (wp.target - eef) / self._scale
        xyz = np.clip(delta + rng.normal(0.0, wp.noise_std, size=3), -1.0, 1.0)
        if self._steps_on_waypoint == 1 or not wp.toggle:
            self._gripper = wp.gripper
        elif rng.random() < c.p_gripper_toggle:
            self._gripper = -self._gripper
        return np.r_[xyz, self._gripper].astype(np.float32)
