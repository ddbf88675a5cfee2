"""Reference policies for the push tasks: random actions, no-op, and (from
:mod:`ghvae_env.planning.oracle`) the oracle, the planner with the simulator as its model.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from ghvae_env.model.api import WorldModel
from ghvae_env.planning.agent import Policy, VisualMPCAgent, check_policy_inputs
from ghvae_env.planning.config import PlannerConfig
from ghvae_env.planning.oracle import SimulatorModel, make_oracle_agent

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


def make_policy(
    kind: str,
    env: gym.Env,
    config: PlannerConfig | None = None,
    model: WorldModel | None = None,
    imagine: bool = False,
    oracle_cost: str = "pixel",
    oracle_workers: int = 0,
) -> Policy:
    """One of :data:`POLICIES`: ``"ghvae"`` (the agent planning in ``model``), ``"oracle"``
    (planning in the simulator ``env`` with ``oracle_cost`` "pixel" or "state", over
    ``oracle_workers`` simulator processes), ``"random"`` or ``"noop"``."""
    if kind == "ghvae":
        if model is None:
            raise ValueError('kind "ghvae" needs a model (e.g. ghvae_env.model.load_model(path))')
        return VisualMPCAgent(model, config, imagine=imagine)
    if kind == "oracle":
        return make_oracle_agent(
            env, config, imagine=imagine, cost=oracle_cost, workers=oracle_workers
        )
    if kind == "random":
        return RandomPolicy()
    if kind == "noop":
        return NoOpPolicy()
    raise ValueError(f"kind needs to be one of {list(POLICIES)}, actual value: {kind!r}")
