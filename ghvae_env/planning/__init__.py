"""Visual MPC: plan in the learned model (CEM / MPPI / random shooting), check in the simulator.

Imported lazily (torch loads on first attribute access), so that ``ghvae --help`` stays cheap.

```python
from ghvae_env.model import load_model
from ghvae_env.planning import PlannerConfig, VisualMPCAgent

agent = VisualMPCAgent(load_model(), PlannerConfig(method="cem"))
action = agent.act(frames, actions, goal_image)  # (C,64,64,3) u8, (C-1,4) f32, (64,64,3) u8
```
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "PlannerConfig",
    "PlannerConfigError",
    "Planner",
    "PlanResult",
    "PlanningError",
    "PixelGoalCost",
    "CostError",
    "VisualMPCAgent",
    "PushTask",
    "PushTaskConfig",
    "sample_push_task",
    "sample_push_tasks",
    "iter_push_tasks",
    "cached_push_tasks",
    "run_episode",
    "summarize",
    "RandomPolicy",
    "NoOpPolicy",
    "SimulatorModel",
    "SimulatorStateCost",
    "make_oracle_agent",
    "wilson_interval",
    "ResultsWriter",
    "task_distance_report",
]

if TYPE_CHECKING:
    from ghvae_env.planning.agent import VisualMPCAgent
    from ghvae_env.planning.config import PlannerConfig, PlannerConfigError
    from ghvae_env.planning.costs import CostError, PixelGoalCost
    from ghvae_env.planning.oracle import SimulatorModel, SimulatorStateCost, make_oracle_agent
    from ghvae_env.planning.planners import Planner, PlanningError, PlanResult
    from ghvae_env.planning.policies import NoOpPolicy, RandomPolicy
    from ghvae_env.planning.results import ResultsWriter, wilson_interval
    from ghvae_env.planning.tasks import (
        PushTask,
        PushTaskConfig,
        cached_push_tasks,
        iter_push_tasks,
        run_episode,
        sample_push_task,
        sample_push_tasks,
        summarize,
        task_distance_report,
    )

_LAZY = {
    "PlannerConfig": "config",
    "PlannerConfigError": "config",
    "Planner": "planners",
    "PlanResult": "planners",
    "PlanningError": "planners",
    "PixelGoalCost": "costs",
    "CostError": "costs",
    "VisualMPCAgent": "agent",
    "PushTask": "tasks",
    "PushTaskConfig": "tasks",
    "sample_push_task": "tasks",
    "sample_push_tasks": "tasks",
    "iter_push_tasks": "tasks",
    "cached_push_tasks": "tasks",
    "run_episode": "tasks",
    "summarize": "tasks",
    "RandomPolicy": "policies",
    "NoOpPolicy": "policies",
    "SimulatorModel": "oracle",
    "SimulatorStateCost": "oracle",
    "make_oracle_agent": "oracle",
    "wilson_interval": "results",
    "ResultsWriter": "results",
    "task_distance_report": "tasks",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
