"""A numpy-only toy pushing scene for tests, CI and quick experiments.

What it looks like (64 x 64, top-down): a dark slate floor with a faint 16-px checker, a
2-px grey wall around the edge, 1-3 solid 9x9 blocks (red, green, blue) and the agent, a
7x7 square drawn on top. The agent is white while its gripper is open and yellow while
closed; its brightness shows its height (dim = low, bright = high).

Dynamics (fully deterministic given the actions):

- action ``(dx, dy, dz, g)`` in ``[-1, 1]^4`` (same space as the robot envs, DESIGN.md);
- ``dx``/``dy`` move the agent by up to ``MAX_STEP_PX`` px right/down (image columns/rows);
- ``dz`` changes its height ``h`` in ``[0, 1]`` by ``HEIGHT_RATE * dz``;
- ``g > 0`` closes the gripper, ``g <= 0`` opens it (DESIGN.md: -1 open, +1 close);
- the agent pushes any block it runs into (blocks push blocks); a push that would shove a
  block into the wall is shortened to the largest feasible move, so nothing overlaps.

So the future depends on the action: where the agent goes, which blocks move, the agent's
colour and shade. :func:`rollout_episode` drives it with a built-in random interaction
policy (smooth random walk biased toward a target block, random gripper toggles), like the
"autonomously collected random interactions" of the seed paper.

State vector (``STATE_DIM`` = 10, float32, positions in px / 64): agent x, agent y, height,
gripper (1 closed, 0 open), then x, y of up to 3 blocks (``-1`` for absent blocks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SCENE_METADATA", "ToyScene", "RandomInteractionPolicy", "rollout_episode"]

SIZE = 64  # image side (px)
WALL = 2  # wall thickness (px)
AGENT_SIDE = 7  # agent square side (px), also its collision box
OBJECT_SIDE = 9  # block side (px): bigger than the agent so pushes are easy to see
MAX_OBJECTS = 3
MAX_STEP_PX = 3.0  # px per step at |dx| = 1: a crossing takes ~20 steps, a push is visible
HEIGHT_RATE = 0.25  # height change per step at |dz| = 1: bottom to top in 4 steps
STATE_DIM = 4 + 2 * MAX_OBJECTS

_FLOOR = ((52, 56, 68), (60, 64, 78))  # checker shades: texture, but low contrast
_WALL_RGB = (128, 128, 140)
_OBJECT_RGB = ((230, 50, 45), (45, 200, 80), (60, 110, 240))  # red, green, blue
_AGENT_OPEN_RGB = (245, 245, 245)  # white
_AGENT_CLOSED_RGB = (250, 205, 30)  # yellow
_EPS = 1e-6

SCENE_METADATA: dict = {
    "scene": "toy",
    "description": "2-D pushing: a square agent pushes 1-3 coloured blocks on a walled floor",
    "robot": {"name": "toy-square-agent", "type": "point-mass square", "side_px": AGENT_SIDE},
    "controller": {
        "type": "delta position",
        "action": ["dx", "dy", "dz", "gripper"],
        "px_per_step": MAX_STEP_PX,
        "height_per_step": HEIGHT_RATE,
        "gripper": "-1 open (white), +1 closed (yellow)",
    },
    "camera": {"name": "top-down", "projection": "orthographic", "height": SIZE, "width": SIZE},
    "objects": {
        "count": [1, MAX_OBJECTS],
        "side_px": OBJECT_SIDE,
        "colours": ["red", "green", "blue"],
    },
    "state_dim": STATE_DIM,
    "state_layout": ["agent_x", "agent_y", "height", "gripper_closed"]
    + [f"object{i}_{c}" for i in range(MAX_OBJECTS) for c in ("x", "y")],
    "policy": "random interaction: smooth random walk biased toward a target block",
}


def _floor() -> np.ndarray:
    """uint8 ``64 x 64 x 3`` background: checker floor inside a wall border."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    checker = ((yy // 16 + xx // 16) % 2).astype(np.intp)
    img = np.asarray(_FLOOR, dtype=np.uint8)[checker]  # (64, 64, 3)
    img[:WALL], img[-WALL:], img[:, :WALL], img[:, -WALL:] = (_WALL_RGB,) * 4
    img.setflags(write=False)
    return img


_BACKGROUND = _floor()


def _box(center: np.ndarray, side: int) -> tuple[int, int, int, int]:
    """Integer (row0, row1, col0, col1) of a ``side``-px square centred at (x, y)."""
    c0 = int(np.floor(center[0] - side / 2 + 0.5))
    r0 = int(np.floor(center[1] - side / 2 + 0.5))
    return r0, r0 + side, c0, c0 + side


@dataclass
class ToyScene:
    """The toy world's state; :meth:`step` applies an action, :meth:`render` draws it.

    Attributes:
        agent: float64 ``2`` agent centre (x, y) in px.
        objects: float64 ``K x 2`` block centres (x, y) in px, ``1 <= K <= 3``.
        colours: int ``K`` index into the block palette.
        height: agent height in [0, 1].
        gripper_closed: whether the last gripper command closed it.
    """

    agent: np.ndarray
    objects: np.ndarray
    colours: np.ndarray
    height: float = 0.0
    gripper_closed: bool = False

    @classmethod
    def random(cls, rng: np.random.Generator) -> ToyScene:
        """A random layout: 1-3 blocks and the agent, none overlapping, all inside the walls."""
        k = int(rng.integers(1, MAX_OBJECTS + 1))
        colours = rng.permutation(len(_OBJECT_RGB))[:k]
        placed: list[tuple[np.ndarray, int]] = []
        sides = [AGENT_SIDE] + [OBJECT_SIDE] * k
        for side in sides:
            lo, hi = WALL + side / 2, SIZE - WALL - side / 2
            while True:  # rejection sampling; the floor is mostly empty so this ends fast
                c = rng.uniform(lo, hi, size=2)
                if all(not _overlap(c, side, p, s, margin=2.0) for p, s in placed):
                    placed.append((c, side))
                    break
        return cls(
            agent=placed[0][0].copy(),
            objects=np.stack([p for p, _ in placed[1:]]),
            colours=colours,
            height=float(rng.uniform(0.0, 1.0)),
            gripper_closed=bool(rng.integers(0, 2)),
        )

    # -- dynamics ------------------------------------------------------------------------
    def step(self, action: np.ndarray) -> None:
        """Apply one action ``(dx, dy, dz, gripper)``, each clipped to [-1, 1]."""
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(-1), -1.0, 1.0)
        if a.shape != (4,):
            raise ValueError(f"action must have 4 entries (dx, dy, dz, gripper), got {a.shape[0]}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action must be finite, got {a}")
        self.height = float(np.clip(self.height + HEIGHT_RATE * a[2], 0.0, 1.0))
        self.gripper_closed = bool(a[3] > 0.0)
        self._move(0, a[0] * MAX_STEP_PX)
        self._move(1, a[1] * MAX_STEP_PX)

    def _move(self, axis: int, d: float) -> None:
        """Move the agent ``d`` px along ``axis``, pushing blocks; shorten if blocked."""
        if abs(d) < _EPS:
            return
        result = self._try_move(axis, d)
        if result is None:  # blocked: bisect for the largest feasible fraction of the move
            lo, hi, result = 0.0, 1.0, None
            for _ in range(12):
                mid = (lo + hi) / 2
                r = self._try_move(axis, d * mid)
                if r is None:
                    hi = mid
                else:
                    lo, result = mid, r
            if result is None:
                return
        self.agent, self.objects = result

    def _try_move(self, axis: int, d: float) -> tuple[np.ndarray, np.ndarray] | None:
        """New (agent, objects) after a move of ``d`` px, or None if something hits the wall."""
        agent = self.agent.copy()
        objects = self.objects.copy()
        agent[axis] += d
        if not _inside(agent, AGENT_SIDE):
            return None
        sign = 1.0 if d > 0 else -1.0
        movers = [(agent, AGENT_SIDE)]
        pushed = set()
        while movers:
            pos, side = movers.pop()
            for i in range(len(objects)):
                if i in pushed or not _overlap(pos, side, objects[i], OBJECT_SIDE):
                    continue
                # slide block i until it just touches the mover, along the move direction
                objects[i, axis] = pos[axis] + sign * (side + OBJECT_SIDE) / 2
                if not _inside(objects[i], OBJECT_SIDE):
                    return None
                pushed.add(i)
                movers.append((objects[i], OBJECT_SIDE))
        return agent, objects

    # -- observation ---------------------------------------------------------------------
    def render(self) -> np.ndarray:
        """uint8 ``64 x 64 x 3`` image of the current state (fresh array)."""
        img = _BACKGROUND.copy()
        for pos, colour in zip(self.objects, self.colours, strict=True):
            r0, r1, c0, c1 = _box(pos, OBJECT_SIDE)
            img[r0:r1, c0:c1] = _OBJECT_RGB[int(colour)]
        base = np.asarray(_AGENT_CLOSED_RGB if self.gripper_closed else _AGENT_OPEN_RGB, float)
        shade = 0.55 + 0.45 * self.height  # higher = brighter
        r0, r1, c0, c1 = _box(self.agent, AGENT_SIDE)
        img[r0:r1, c0:c1] = np.round(base * shade).astype(np.uint8)
        return img

    def state(self) -> np.ndarray:
        """float32 ``STATE_DIM`` state vector (layout in the module docstring)."""
        s = np.full(STATE_DIM, -1.0, dtype=np.float32)
        s[0:2] = self.agent / SIZE
        s[2] = self.height
        s[3] = float(self.gripper_closed)
        s[4 : 4 + 2 * len(self.objects)] = (self.objects / SIZE).reshape(-1)
        return s


def _overlap(p: np.ndarray, sp: float, q: np.ndarray, sq: float, margin: float = 0.0) -> bool:
    """Whether two axis-aligned squares (centres p, q; sides sp, sq) overlap (touching is not)."""
    reach = (sp + sq) / 2 + margin - _EPS
    return bool(abs(p[0] - q[0]) < reach and abs(p[1] - q[1]) < reach)


def _inside(p: np.ndarray, side: float) -> bool:
    lo, hi = WALL + side / 2 - _EPS, SIZE - WALL - side / 2 + _EPS
    return bool(lo <= p[0] <= hi and lo <= p[1] <= hi)


class RandomInteractionPolicy:
    """Smooth random walk biased toward a target block, with random gripper toggles.

    Velocity is low-pass filtered noise plus a pull toward (and through) the current target
    block, so the agent regularly makes contact and pushes; the target switches at random.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.velocity = np.zeros(2)
        self.dz = 0.0
        self.gripper = float(rng.choice([-1.0, 1.0]))
        self.target = 0

    def __call__(self, scene: ToyScene) -> np.ndarray:
        """float32 ``4`` action in [-1, 1] for the current state."""
        rng = self.rng
        if rng.random() < 0.08:
            self.target = int(rng.integers(0, len(scene.objects)))
        self.target = min(self.target, len(scene.objects) - 1)
        to_target = scene.objects[self.target] - scene.agent
        direction = to_target / max(float(np.linalg.norm(to_target)), 1.0)
        pull = 0.9 * direction  # about as strong as the noise: contacts are frequent
        self.velocity = 0.7 * self.velocity + 0.3 * (pull + rng.normal(0.0, 0.9, size=2))
        self.dz = float(np.clip(0.8 * self.dz + rng.normal(0.0, 0.5), -1.0, 1.0))
        if rng.random() < 0.1:
            self.gripper = -self.gripper
        a = np.array([*np.clip(self.velocity * 1.5, -1.0, 1.0), self.dz, self.gripper])
        return a.astype(np.float32)


def rollout_episode(seed: int, steps: int, actions: np.ndarray | None = None) -> dict:
    """Roll out one episode of the toy scene.

    Args:
        seed: picks the layout and (when ``actions`` is None) the policy's randomness. The
            layout depends only on ``seed``, so the same seed with different ``actions``
            starts from the same first frame.
        steps: number of frames ``T`` (>= 2).
        actions: optional float ``(T-1) x 4`` actions to apply instead of the policy's.

    Returns:
        dict with ``frames`` uint8 ``T x 64 x 64 x 3``, ``actions`` float32 ``(T-1) x 4``
        in [-1, 1] and ``states`` float32 ``T x STATE_DIM``.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    if actions is not None:
        actions = np.asarray(actions, dtype=np.float32)
        if actions.shape != (steps - 1, 4):
            raise ValueError(f"actions must have shape ({steps - 1}, 4), got {actions.shape}")
    layout_ss, policy_ss = np.random.SeedSequence(int(seed)).spawn(2)
    scene = ToyScene.random(np.random.default_rng(layout_ss))
    policy = RandomInteractionPolicy(np.random.default_rng(policy_ss))

    frames = np.empty((steps, SIZE, SIZE, 3), dtype=np.uint8)
    states = np.empty((steps, STATE_DIM), dtype=np.float32)
    taken = np.empty((steps - 1, 4), dtype=np.float32)
    frames[0], states[0] = scene.render(), scene.state()
    for t in range(steps - 1):
        a = policy(scene) if actions is None else actions[t]
        taken[t] = np.clip(a, -1.0, 1.0)
        scene.step(taken[t])
        frames[t + 1], states[t + 1] = scene.render(), scene.state()
    return {"frames": frames, "actions": taken, "states": states}
