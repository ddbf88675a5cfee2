"""Reference policies for the push tasks: random actions, no-op, and an oracle planner.

The oracle is the visual-MPC agent with the simulator itself as its "model":
:class:`SimulatorModel` has the ``rollout`` API and answers each candidate by restoring the
saved simulator state and stepping the real physics. It bounds what planning can achieve with
a perfect model under the same planner budget and image cost; it costs ``num_samples x
horizon`` simulator steps (~20-50 ms each) per iteration, so give it few samples.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from ghvae_env.data.frames import to_float_chw
from ghvae_env.model.api import WorldModel
from ghvae_env.planning.agent import Policy, VisualMPCAgent, check_policy_inputs
from ghvae_env.planning.config import PlannerConfig
from ghvae_env.planning.costs import CostFn

__all__ = [
    "RandomPolicy",
    "NoOpPolicy",
    "SimulatorModel",
    "make_oracle_agent",
    "make_policy",
    "POLICIES",
]

POLICIES = ("ghvae", "random", "noop", "oracle")


class RandomPolicy:
    """Uniform random actions in ``[low, high]^A``, seeded by :meth:`reset`."""

    def __init__(self, low: float = -1.0, high: float = 1.0, action_dim: int = 4) -> None:
        if not low < high:
            raise ValueError(f"low needs to be < high={high}, actual value: {low}")
        self.low, self.high, self.action_dim = float(low), float(high), int(action_dim)
        self._rng = np.random.default_rng(0)

    def reset(self, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(seed)

    def act(self, frames: np.ndarray, actions: np.ndarray, goal_image: np.ndarray) -> np.ndarray:
        check_policy_inputs(frames, actions, goal_image, self.action_dim)
        return self._rng.uniform(self.low, self.high, self.action_dim).astype(np.float32)


class NoOpPolicy:
    """Zeros: the arm holds its position, the gripper stays open. Success = luck of the task."""

    def __init__(self, action_dim: int = 4) -> None:
        self.action_dim = int(action_dim)

    def reset(self, seed: int | None = None) -> None:
        """Stateless; accepts a seed for the common policy interface."""

    def act(self, frames: np.ndarray, actions: np.ndarray, goal_image: np.ndarray) -> np.ndarray:
        check_policy_inputs(frames, actions, goal_image, self.action_dim)
        return np.zeros(self.action_dim, dtype=np.float32)


class SimulatorModel:
    """The simulator behind the ``rollout`` API: a perfect (and slow) world model.

    ``rollout`` ignores the context frames and starts every candidate from the env's current
    state, which must be the state the context ends in -- true inside
    :func:`~ghvae_env.planning.tasks.run_episode`, where the agent plans between env steps.
    The state is restored afterwards, so planning never moves the real episode; the
    ``TimeLimit`` counter is not touched (the raw env steps directly).

    Args:
        env: a ``RoboNet-Sim-v0`` env (wrapped or not).
    """

    def __init__(self, env: gym.Env) -> None:
        sim = env.unwrapped
        if not all(hasattr(sim, a) for a in ("get_state", "set_state", "scene")):
            raise TypeError(f"env must be a RoboNet-Sim-v0 env, actual value: {env!r}")
        self.env = env
        self.sim_steps = 0

    @torch.no_grad()
    def rollout(
        self,
        context_frames: torch.Tensor,
        actions: torch.Tensor,
        num_samples: int = 1,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """context_frames: B x C x 3 x 64 x 64 (only C is used); actions: B x (C-1+H) x 4.

        Returns B x H x 3 x 64 x 64 float in [0, 1] (B x N x H x ... for ``num_samples`` N > 1:
        the simulator is deterministic, so the N samples are copies).
        """
        if context_frames.ndim != 5 or actions.ndim != 3 or actions.shape[0] != len(context_frames):
            raise ValueError(
                f"context_frames must be B x C x 3 x H x W and actions B x (C-1+H) x 4, actual "
                f"shapes: {tuple(context_frames.shape)}, {tuple(actions.shape)}"
            )
        C = context_frames.shape[1]
        future = actions[:, C - 1 :].detach().cpu().double().clamp(-1.0, 1.0).numpy()  # (B, H, 4)
        if future.shape[1] < 1:
            raise ValueError(
                f"actions must hold C-1+H rows with H >= 1, actual C={C}, shape {actions.shape}"
            )
        sim = self.env.unwrapped
        scene = sim.scene
        saved = sim.get_state()
        out = np.empty((*future.shape[:2], *sim.observation_space.shape), dtype=np.uint8)
        try:
            for b, seq in enumerate(future):
                sim.set_state(saved)
                for t, a in enumerate(seq):
                    out[b, t] = scene.step(a)
                self.sim_steps += len(seq)
        finally:
            sim.set_state(saved)
        pred = to_float_chw(out).to(context_frames.device)  # (B, H, 3, 64, 64)
        if num_samples > 1:
            pred = pred.unsqueeze(1).expand(-1, num_samples, *pred.shape[1:]).clone()
        return pred


def make_oracle_agent(
    env: gym.Env,
    config: PlannerConfig | None = None,
    cost_fn: CostFn | None = None,
    imagine: bool = False,
) -> VisualMPCAgent:
    """The visual-MPC agent planning in the simulator itself (see :class:`SimulatorModel`)."""
    return VisualMPCAgent(
        SimulatorModel(env), config, cost_fn=cost_fn, device="cpu", imagine=imagine
    )


def make_policy(
    kind: str,
    env: gym.Env,
    config: PlannerConfig | None = None,
    model: WorldModel | None = None,
    imagine: bool = False,
) -> Policy:
    """One of :data:`POLICIES`: ``"ghvae"`` (the agent planning in ``model``), ``"oracle"``
    (planning in the simulator ``env``), ``"random"`` or ``"noop"``."""
    if kind == "ghvae":
        if model is None:
            raise ValueError('kind "ghvae" needs a model (e.g. ghvae_env.model.load_model(path))')
        return VisualMPCAgent(model, config, imagine=imagine)
    if kind == "oracle":
        return make_oracle_agent(env, config, imagine=imagine)
    if kind == "random":
        return RandomPolicy()
    if kind == "noop":
        return NoOpPolicy()
    raise ValueError(f"kind needs to be one of {list(POLICIES)}, actual value: {kind!r}")
