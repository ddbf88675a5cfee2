"""``RoboNet-Sim-v0``: the robosuite tabletop scene as a Gymnasium environment."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ghvae_env.sim.scene import SceneConfig, TabletopScene
from ghvae_env.spaces import InvalidActionError, action_space, validate_actions

__all__ = ["RoboNetSimEnv", "InvalidActionError", "MAX_EPISODE_STEPS"]

MAX_EPISODE_STEPS = 30  # registration's TimeLimit: the length of the generated training clips


class RoboNetSimEnv(gym.Env[np.ndarray, np.ndarray]):
    """The "real" simulator the GHVAE world model imitates, with the same spaces.

    ## Description
    A Franka Panda arm at a table with a shallow tray holding 1-3 objects (boxes, cylinders,
    balls of random size and colour), filmed by one fixed camera at ~45 degrees elevation.
    The arm is driven by robosuite's operational-space position controller (OSC_POSITION).
    This is the scene the training data of ``GHVAE-RoboNet-v0`` is generated from
    (``ghvae generate --scene tabletop``); planners use it to check, in the real dynamics,
    the plans they made in the model.

    ## Action Space
    ``Box(-1, 1, (4,), float32)``: ``a[0:3]`` end-effector displacement request along world
    x, y, z (the robot base frame is aligned with the world), scaled by
    ``SceneConfig.action_scale_m`` (4 cm by default; the controller achieves ~1.5-2.3 cm per
    step); ``a[3]`` gripper: ``> 0`` close, ``<= 0`` open. Values outside [-1, 1] are clipped;
    wrong shapes, non-float dtypes, NaN or inf raise :class:`InvalidActionError` (a
    ``ValueError``) and leave the environment untouched.

    ## Observation Space
    ``Box(0, 255, (64, 64, 3), uint8)``: the camera image, channel-last RGB, upright (row 0
    is the top of the picture), a fresh array on every call.

    ## Rewards
    Always ``0.0``. The environment is a dynamics simulator, not a task: planners judge
    success from ``info`` (e.g. ``object_positions`` against a goal) or from images.

    ## Starting State
    ``reset(seed=...)`` draws 1-3 objects (shape, size, colour) at random non-overlapping
    positions within 13 cm of the tray centre, and the arm's start pose (home pose plus
    uniform joint noise, gripper open above the tray) from ``self.np_random``.
    ``reset(options={"state": s})`` instead restores ``s``, a vector from
    ``info["state"]`` or :meth:`get_state` (objects, physics and controller), exactly.

    ## Episode End
    Never terminates (``terminated`` is always ``False``). The registered environment is
    truncated by a ``TimeLimit`` after 30 steps, the length of the training clips; pass
    ``max_episode_steps`` to ``gym.make`` to change it.

    ## Info
    ``object_positions`` (n, 3) float64 world positions of the n objects; ``eef_pos`` (3,)
    float64 end-effector position; ``gripper_gap`` (float, metres); ``state`` float64 full
    simulator state (fresh copy) for ``reset(options={"state": ...})`` / :meth:`set_state`.

    ## Arguments
    ``render_mode``: ``None`` or ``"rgb_array"`` (``render()`` returns the current frame).
    ``scene_config``: a :class:`~ghvae_env.sim.scene.SceneConfig` (camera, objects, control);
    its ``image_size`` sets the observation size (default 64).

    ```python
    import gymnasium as gym
    import ghvae_env

    env = gym.make("RoboNet-Sim-v0", render_mode="rgb_array")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    goal = env.unwrapped.render_goal(info["object_positions"] + [0.05, 0.0, 0.0])
    ```

    ## Version History
    * v0: initial version (robosuite 1.5.2, MuJoCo 3.x, Panda, OSC_POSITION at 10 Hz).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self, render_mode: str | None = None, scene_config: SceneConfig | None = None
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of {self.metadata['render_modes']}, "
                f"actual value: {render_mode!r}"
            )
        if scene_config is not None and not isinstance(scene_config, SceneConfig):
            raise TypeError(
                f"scene_config must be a SceneConfig or None, actual value: {scene_config!r}"
            )
        self.render_mode = render_mode
        self.scene_config = scene_config if scene_config is not None else SceneConfig()
        size = self.scene_config.image_size
        self.observation_space = spaces.Box(0, 255, (size, size, 3), np.uint8)
        self.action_space = action_space()
        self.metadata = {**self.metadata, "render_fps": self.scene_config.control_freq}
        self._scene: TabletopScene | None = TabletopScene(self.scene_config)
        self._needs_reset = True

    # ------------------------------------------------------------------ gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        scene = self._live_scene()
        options = {} if options is None else options
        unknown = set(options) - {"state"}
        if unknown:
            raise ValueError(
                f"options may only contain 'state', actual value: keys {sorted(unknown)}"
            )
        if options.get("state") is not None:
            scene.set_sim_state(options["state"])
            obs = scene.render()
        else:
            obs = scene.reset(self.np_random)
        self._needs_reset = False
        return obs, self._info()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        scene = self._live_scene()
        if self._needs_reset:
            raise gym.error.ResetNeeded("call reset() before step()")
        a = validate_actions(action)
        obs = scene.step(a)
        return obs, 0.0, False, False, self._info()

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn(
                "render() called without a render_mode; make the env with "
                'render_mode="rgb_array" to get frames'
            )
            return None
        return self._live_scene().render()

    def close(self) -> None:
        if self._scene is not None:
            self._scene.close()
            self._scene = None
        super().close()

    # ---------------------------------------------------------------- extras
    def get_state(self) -> np.ndarray:
        """Full simulator state (fresh float64 vector), restorable with :meth:`set_state`."""
        return self._live_scene().get_sim_state()

    def set_state(self, state: np.ndarray) -> None:
        """Restore a state from :meth:`get_state` or ``info["state"]`` (exact)."""
        self._live_scene().set_sim_state(state)
        self._needs_reset = False

    def render_goal(self, object_positions: np.ndarray) -> np.ndarray:
        """Image of this episode's objects at ``object_positions`` (n, 3), arm out of view.

        Returns a fresh ``(64, 64, 3)`` uint8 frame; the simulator state is left unchanged.
        """
        if self._needs_reset:
            raise gym.error.ResetNeeded("call reset() before render_goal()")
        return self._live_scene().render_goal(object_positions)

    @property
    def scene(self) -> TabletopScene:
        """The underlying :class:`~ghvae_env.sim.scene.TabletopScene`."""
        return self._live_scene()

    # -------------------------------------------------------------- helpers
    def _live_scene(self) -> TabletopScene:
        if self._scene is None:
            raise gym.error.ClosedEnvironmentError("RoboNetSimEnv is closed")
        return self._scene

    def _info(self) -> dict[str, Any]:
        scene = self._live_scene()
        return {
            "object_positions": scene.object_positions,
            "eef_pos": scene.eef_pos,
            "gripper_gap": scene.gripper_gap,
            "state": scene.get_sim_state(),
        }
