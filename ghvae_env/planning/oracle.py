"""The oracle: the same planner with the simulator itself as its model.

It bounds what planning can reach with a perfect model under the same planner budget, and so
separates model error from planner error. Two costs:

* ``"pixel"`` -- :class:`SimulatorModel` has the ``rollout`` API and renders every candidate's
  frames; the planner scores them with its usual image cost (the one the learned model gets).
* ``"state"`` -- :class:`SimulatorStateCost` is a
  :class:`~ghvae_env.planning.planners.SequenceScorer`: it steps physics only (no rendering,
  ~2x faster) and returns the pushed object's distance to its goal, in cm, summed over the
  planned steps (weights as the pixel cost's, ``final_step_weight`` on the last). It needs the
  task (goal position), which :func:`~ghvae_env.planning.tasks.run_episode` hands over
  through ``policy.set_task``.

A candidate costs ``horizon`` simulator steps (~25 ms rendered, ~20 ms physics only, here),
so a planning step of 200 x 10 is ~2,000 steps. ``workers=W`` spreads the candidates over W
processes, each holding its own simulator; for every planning step each worker is set to the
saved state of the real episode and replays its share of the candidates (VP2's
``SimulatorModel`` does the same with a ``SubprocVecEnv``). Workers start with the spawn
method (GL contexts and MuJoCo do not survive fork) and pay the simulator's start-up once.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from ghvae_env.data.frames import to_float_chw
from ghvae_env.planning.agent import VisualMPCAgent
from ghvae_env.planning.config import PlannerConfig
from ghvae_env.planning.costs import CostFn, step_weights

__all__ = [
    "ORACLE_COSTS",
    "OracleError",
    "SimulatorModel",
    "SimulatorStateCost",
    "make_oracle_agent",
]

ORACLE_COSTS = ("pixel", "state")


class OracleError(RuntimeError):
    """A simulator worker failed or the oracle was used without what it needs."""


def _run_sequences(
    sim: Any, state: np.ndarray, actions: np.ndarray, render: bool
) -> tuple[np.ndarray | None, np.ndarray]:
    """Replay ``actions`` (B x H x 4) from ``state`` in the raw env ``sim``.

    Returns (frames B x H x 64 x 64 x 3 uint8 or None, object positions B x H x n x 3).
    Leaves ``sim`` at the end of the last sequence (callers restore what they need).
    """
    scene = sim.scene
    sim.set_state(state)  # a fresh worker's scene has no objects until the first state
    B, H = actions.shape[:2]
    frames = np.empty((B, H, *sim.observation_space.shape), np.uint8) if render else None
    positions = np.empty((B, H, len(scene.objects), 3))
    for b in range(B):
        sim.set_state(state)
        for t in range(H):
            frame = scene.step(actions[b, t], render=render)
            if frames is not None:
                frames[b, t] = frame
            positions[b, t] = scene.object_positions
    return frames, positions


def _worker(conn: Any, scene_config: Any) -> None:
    """A simulator process: answers ("run", state, actions, render) until ("close",)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        from ghvae_env.sim.env import RoboNetSimEnv

        sim = RoboNetSimEnv(scene_config=scene_config)
        conn.send(("ready", None))
    except Exception as e:  # noqa: BLE001 - reported to the parent, which raises
        conn.send(("error", f"{type(e).__name__}: {e}"))
        return
    try:
        while True:
            msg = conn.recv()
            if msg[0] == "close":
                break
            _, state, actions, render = msg
            try:
                conn.send(("ok", _run_sequences(sim, state, actions, render)))
            except Exception as e:  # noqa: BLE001
                conn.send(("error", f"{type(e).__name__}: {e}"))
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        sim.close()


class _SimRunner:
    """Replays candidate action sequences from the env's current state, in-process
    (``workers=0``) or spread over ``workers`` simulator processes."""

    def __init__(self, env: gym.Env, workers: int = 0) -> None:
        sim = env.unwrapped
        if not all(hasattr(sim, a) for a in ("get_state", "set_state", "scene")):
            raise TypeError(f"env must be a RoboNet-Sim-v0 env, actual value: {env!r}")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise ValueError(f"workers needs to be an int >= 0, actual value: {workers!r}")
        self.env = env
        self.workers = workers
        self.sim_steps = 0
        self._procs: list[Any] = []
        self._conns: list[Any] = []
        if workers:
            ctx = mp.get_context("spawn")
            for _ in range(workers):
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_worker, args=(child, sim.scene_config), daemon=True)
                proc.start()
                child.close()
                self._procs.append(proc)
                self._conns.append(parent)
            for conn in self._conns:
                self._receive(conn)

    def _receive(self, conn: Any) -> Any:
        try:
            kind, payload = conn.recv()
        except EOFError as e:
            raise OracleError("a simulator worker exited unexpectedly") from e
        if kind == "error":
            raise OracleError(f"simulator worker failed: {payload}")
        return payload

    def run(self, actions: np.ndarray, render: bool) -> tuple[np.ndarray | None, np.ndarray]:
        """``actions`` B x H x 4 from the env's current state (restored after)."""
        sim = self.env.unwrapped
        saved = sim.get_state()
        actions = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0)
        self.sim_steps += actions.shape[0] * actions.shape[1]
        if not self._conns:
            try:
                return _run_sequences(sim, saved, actions, render)
            finally:
                sim.set_state(saved)
        chunks = [c for c in np.array_split(actions, len(self._conns)) if len(c)]
        for conn, chunk in zip(self._conns, chunks, strict=False):
            conn.send(("run", saved, chunk, render))
        parts = [self._receive(conn) for conn in self._conns[: len(chunks)]]
        frames = np.concatenate([p[0] for p in parts]) if render else None
        return frames, np.concatenate([p[1] for p in parts])

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(("close",))
                conn.close()
            except (OSError, BrokenPipeError):
                pass
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
        self._procs, self._conns = [], []

    def __del__(self) -> None:  # best effort: daemon workers die with the parent anyway
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass


def _future_actions(context_frames: torch.Tensor, actions: torch.Tensor) -> np.ndarray:
    if context_frames.ndim != 5 or actions.ndim != 3 or actions.shape[0] != len(context_frames):
        raise ValueError(
            f"context_frames must be B x C x 3 x H x W and actions B x (C-1+H) x 4, actual "
            f"shapes: {tuple(context_frames.shape)}, {tuple(actions.shape)}"
        )
    C = context_frames.shape[1]
    future = actions[:, C - 1 :].detach().cpu().double().numpy()  # (B, H, 4)
    if future.shape[1] < 1:
        raise ValueError(
            f"actions must hold C-1+H rows with H >= 1, actual C={C}, shape {actions.shape}"
        )
    return future


class SimulatorModel:
    """The simulator behind the ``rollout`` API: a perfect (and slow) world model.

    ``rollout`` ignores the context frames and starts every candidate from the env's current
    state, which must be the state the context ends in -- true inside
    :func:`~ghvae_env.planning.tasks.run_episode`, where the agent plans between env steps.
    The env's state is restored afterwards, so planning never moves the real episode; the
    ``TimeLimit`` counter is not touched (the raw env steps directly).

    Args:
        env: a ``RoboNet-Sim-v0`` env (wrapped or not).
        workers: simulator processes to spread candidates over (0: step ``env`` itself).
    """

    def __init__(self, env: gym.Env, workers: int = 0) -> None:
        self._runner = _SimRunner(env, workers)
        self.env = env

    @property
    def sim_steps(self) -> int:
        return self._runner.sim_steps

    @torch.no_grad()
    def rollout(
        self,
        context_frames: torch.Tensor,
        actions: torch.Tensor,
        num_samples: int = 1,
        generator: torch.Generator | None = None,
        sample: bool = True,
    ) -> torch.Tensor:
        """context_frames: B x C x 3 x 64 x 64 (only C is used); actions: B x (C-1+H) x 4.
        ``sample`` is accepted and changes nothing: the simulator is deterministic.

        Returns B x H x 3 x 64 x 64 float in [0, 1] (B x N x H x ... for ``num_samples`` N > 1:
        the simulator is deterministic, so the N samples are copies).
        """
        frames, _ = self._runner.run(_future_actions(context_frames, actions), render=True)
        pred = to_float_chw(frames).to(context_frames.device)  # (B, H, 3, 64, 64)
        if num_samples > 1:
            pred = pred.unsqueeze(1).expand(-1, num_samples, *pred.shape[1:]).clone()
        return pred

    def close(self) -> None:
        """Stop the worker processes (if any)."""
        self._runner.close()


class SimulatorStateCost:
    """The simulator as a :class:`~ghvae_env.planning.planners.SequenceScorer` with a state
    cost: ``cost_b = sum_t w_t * 100 * |p_t - goal|`` (cm), ``p_t`` the pushed object's
    position after planned step t, ``w`` from :func:`~ghvae_env.planning.costs.step_weights`
    with ``final_step_weight`` (normalised unless ``normalise=False``). Physics only, nothing
    is rendered. Call :meth:`set_task` (``run_episode`` does) before planning.

    Args:
        env: a ``RoboNet-Sim-v0`` env; candidates start from its current state.
        workers: simulator processes (0: step ``env`` itself).
        final_step_weight / normalise: the step weights (as the planner's pixel cost).
    """

    def __init__(
        self,
        env: gym.Env,
        workers: int = 0,
        final_step_weight: float = 10.0,
        normalise: bool = True,
    ) -> None:
        self._runner = _SimRunner(env, workers)
        self.env = env
        self.final_step_weight = float(final_step_weight)
        self.normalise = bool(normalise)
        self.object_index: int | None = None
        self.goal_position: np.ndarray | None = None

    @property
    def sim_steps(self) -> int:
        return self._runner.sim_steps

    def set_task(self, task: Any) -> None:
        """Read the pushed object's index and goal position from a
        :class:`~ghvae_env.planning.tasks.PushTask`."""
        self.object_index = int(task.object_index)
        self.goal_position = np.asarray(task.goal_positions[task.object_index], dtype=np.float64)

    @torch.no_grad()
    def score_sequences(
        self, context_frames: torch.Tensor, actions: torch.Tensor, goal: torch.Tensor
    ) -> tuple[torch.Tensor, None]:
        """Costs (B,) of the candidates ``actions`` B x (C-1+H) x 4 (``goal`` image unused)."""
        if self.goal_position is None or self.object_index is None:
            raise OracleError(
                "SimulatorStateCost needs the task's goal: call set_task(task) first "
                "(run_episode does)"
            )
        _, positions = self._runner.run(_future_actions(context_frames, actions), render=False)
        d = np.linalg.norm(positions[:, :, self.object_index] - self.goal_position, axis=-1)
        w = step_weights(d.shape[1], self.final_step_weight, self.normalise).double().numpy()
        return torch.from_numpy(100.0 * d @ w).float(), None  # (B,) cm

    def close(self) -> None:
        """Stop the worker processes (if any)."""
        self._runner.close()


def make_oracle_agent(
    env: gym.Env,
    config: PlannerConfig | None = None,
    cost_fn: CostFn | None = None,
    imagine: bool = False,
    cost: str = "pixel",
    workers: int = 0,
) -> VisualMPCAgent:
    """The visual-MPC agent planning in the simulator itself.

    ``cost="pixel"``: :class:`SimulatorModel` with the planner's image cost (``cost_fn`` or
    the config's); ``cost="state"``: :class:`SimulatorStateCost` with the config's step
    weights (``final_step_weight``, not normalised for the ``"sse"`` cost, like VP2's sum)
    and MPPI's scale-free ``temperature`` in place of ``gamma`` (which is set for pixel costs).
    ``workers``: simulator processes (0: plan in ``env`` itself). Call
    ``agent.model.close()`` to stop the workers.
    """
    if cost not in ORACLE_COSTS:
        raise ValueError(f"cost needs to be one of {list(ORACLE_COSTS)}, actual value: {cost!r}")
    config = config if config is not None else PlannerConfig()
    if cost == "state":
        if config.gamma is not None:
            # VP2's gamma is set for its summed squared RGB error (thousands between
            # candidates); on centimetres, exp(-0.05 dc) weighs all candidates almost alike and
            # MPPI averages the noise away (measured: seed 1 ended at 8.5 of its 9.6 cm, where
            # the temperature gets it to 1.0 cm). The state cost gets the scale-free temperature.
            config = config.replace(gamma=None)
        model: Any = SimulatorStateCost(
            env, workers, config.final_step_weight, normalise=config.cost != "sse"
        )
    else:
        model = SimulatorModel(env, workers)
    return VisualMPCAgent(model, config, cost_fn=cost_fn, device="cpu", imagine=imagine)
