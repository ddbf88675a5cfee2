"""The ``ghvae`` command: one error path (a user error is one line and exit status 2), and
every option of every subcommand documented with its default."""

from __future__ import annotations

import argparse
import shutil

import pytest

from ghvae_env.cli import build_parser, main


def _one_error_line(capsys, cmd: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"ghvae {cmd}: error: "), err
    assert "Traceback" not in err[0]
    return err[0]


@pytest.fixture()
def junk_checkpoint(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"\x00\x01 not a checkpoint" * 50)
    return path


@pytest.fixture()
def truncated_shard_dir(tmp_path, toy_data):
    """A copy of the toy dataset whose first shard lost its second half."""
    data = tmp_path / "data"
    shutil.copytree(toy_data, data)
    shard = sorted(data.glob("shard_*.npz"))[0]
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    return data, shard


def test_train_user_errors_are_one_line(capsys, tmp_path, toy_data, truncated_shard_dir):
    base = ["train", "--preset", "tiny", "--steps-per-module", "1", "--no-progress"]
    assert main(base + ["--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r")]) == 2
    assert "dataset root is not a directory" in _one_error_line(capsys, "train")
    data, shard = truncated_shard_dir
    assert main(base + ["--data", str(data), "--out", str(tmp_path / "r2")]) == 2
    assert shard.name in _one_error_line(capsys, "train")
    run = tmp_path / "existing"
    run.mkdir()
    (run / "last.pt").write_bytes(b"x")
    assert main(base + ["--data", toy_data, "--out", str(run)]) == 2
    assert "already holds a run" in _one_error_line(capsys, "train")
    assert (
        main(base + ["--data", toy_data, "--out", str(tmp_path / "r3"), "--batch-size", "0"]) == 2
    )
    assert "batch_size" in _one_error_line(capsys, "train")


def test_evaluate_user_errors_are_one_line(capsys, tmp_path, toy_data, junk_checkpoint):
    assert main(["evaluate", "--checkpoint", str(junk_checkpoint), "--data", toy_data]) == 2
    line = _one_error_line(capsys, "evaluate")
    assert "junk.pt" in line and "not a torch checkpoint" in line
    assert main(["evaluate", "--checkpoint", str(tmp_path / "none.pt"), "--data", toy_data]) == 2
    assert "none.pt" in _one_error_line(capsys, "evaluate")
    assert main(["evaluate", "--data", str(tmp_path / "nope")]) == 2
    assert "nope" in _one_error_line(capsys, "evaluate")


def test_show_and_export_clips_user_errors_are_one_line(capsys, tmp_path, toy_data):
    assert main(["show", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "s.png")]) == 2
    assert "dataset root is not a directory" in _one_error_line(capsys, "show")
    assert main(["show", "--data", toy_data, "--out", str(tmp_path / "s.png"), "--every", "0"]) == 2
    assert "every" in _one_error_line(capsys, "show")
    out = str(tmp_path / "c.npz")
    assert main(["export-clips", "--data", toy_data, "--out", out, "--length", "50"]) == 2
    assert "50 frames" in _one_error_line(capsys, "export-clips")


def test_plan_and_generate_user_errors_are_one_line(capsys, tmp_path, junk_checkpoint):
    assert main(["plan", "--checkpoint", str(junk_checkpoint), "--device", "cpu"]) == 2
    assert "junk.pt" in _one_error_line(capsys, "plan")
    assert (
        main(
            [
                "generate",
                "--scene",
                "toy",
                "--out",
                str(tmp_path),
                "--episodes",
                "0",
                "--steps",
                "5",
            ]
        )
        == 2
    )
    assert "episodes" in _one_error_line(capsys, "generate")


def test_bugs_keep_their_traceback(monkeypatch):
    """Only user errors are turned into one line: a TypeError from a bug propagates."""
    import ghvae_env.data.visualize as visualize

    def broken(*args, **kwargs):
        raise TypeError("a bug")

    monkeypatch.setattr(visualize, "contact_sheet", broken)
    with pytest.raises(TypeError, match="a bug"):
        main(["show", "--data", "d", "--out", "o.png"])


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("ghvae has no subcommands")


def test_every_option_of_every_subcommand_has_help_and_its_default():
    subs = _subparsers(build_parser())
    assert {"generate", "show", "train", "evaluate", "export-clips", "plan"} <= set(subs)
    missing = []
    for name, sub in subs.items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction) or not action.option_strings:
                continue
            flag = action.option_strings[-1]
            if not (action.help or "").strip():
                missing.append(f"{name} {flag}: no help")
                continue
            rendered = sub._get_formatter()._expand_help(action)
            if rendered.count("default") > 1:
                missing.append(f"{name} {flag}: two defaults in {rendered!r}")
            takes_value = action.nargs != 0
            if takes_value and not action.required and action.default is not None:
                if "default" not in rendered.lower():
                    missing.append(f"{name} {flag}: default {action.default!r} not shown")
        assert "``" not in (sub.description or ""), f"{name}: RST markup in its description"
    assert not missing, "\n".join(missing)
