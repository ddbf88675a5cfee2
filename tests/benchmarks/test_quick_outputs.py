"""``--quick`` never writes into the repository: its default output is a new temporary
directory, and an explicit ``--out`` under ``benchmarks/results/`` is refused. Only a full
run writes the published results."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import BENCHMARKS

REPO = BENCHMARKS.parent
QUICK_SCRIPTS = {  # script -> its published output under benchmarks/results/
    "ablations": "ablations",
    "action_response": "action_response",
    "imagined_vs_simulated": "imagined_vs_simulated",
    "memory": "memory.json",
    "pixel_cost_check": "planning_cost",
    "planning": "planning.json",
    "scratch_ablations": "scratch_ablations",
    "svg_vs_ghvae": "svg_vs_ghvae",
    "throughput": "throughput.json",
}


class _Resolved(Exception):
    """Stops a script right after it has decided where to write."""

    def __init__(self, out: Path) -> None:
        self.out = out


def _resolved_out(load_script, monkeypatch, name: str, argv: list[str]) -> Path:
    module = load_script(name)
    real = module.resolve_out

    def stop_after(parser, args, published):
        raise _Resolved(real(parser, args, published))

    monkeypatch.setattr(module, "resolve_out", stop_after)  # raises if the script lacks it
    with pytest.raises(_Resolved) as stopped:
        module.main(argv)
    return stopped.value.out


@pytest.mark.parametrize("name", sorted(QUICK_SCRIPTS))
def test_quick_default_output_is_outside_the_repository(load_script, monkeypatch, name):
    out = _resolved_out(load_script, monkeypatch, name, ["--quick"]).resolve()
    assert not out.is_relative_to(REPO), out
    assert out.name == QUICK_SCRIPTS[name] and out.parent.is_dir()
    full = _resolved_out(load_script, monkeypatch, name, [])
    assert full == BENCHMARKS / "results" / QUICK_SCRIPTS[name]  # only a full run publishes


@pytest.mark.parametrize("name", sorted(QUICK_SCRIPTS))
def test_quick_refuses_the_published_results_as_out(load_script, monkeypatch, capsys, name):
    published = str(BENCHMARKS / "results" / QUICK_SCRIPTS[name])
    with pytest.raises(SystemExit) as exited:
        _resolved_out(load_script, monkeypatch, name, ["--quick", "--out", published])
    assert exited.value.code == 2
    assert "--quick writes smoke results" in capsys.readouterr().err
