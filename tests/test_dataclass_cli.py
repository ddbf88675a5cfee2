"""Parsers built from dataclass fields: the flags stay, the defaults are the dataclass's."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pytest

from ghvae_env._dataclass_cli import add_options, from_args, option
from ghvae_env.cli import build_parser
from ghvae_env.data.generate import GeneratorConfig
from ghvae_env.training.config import ModelOverrides, TrainConfig

# every flag `ghvae train` had when its parser was written by hand
TRAIN_FLAGS = (
    "--model --data --out --preset --modules --steps-per-module --steps --finetune-e2e "
    "--batch-size --lr --finetune-lr --context --horizon --kl-warmup --beta --uniform-prior "
    "--checkpoint-every --eval-clips --seed --device --resume --from --add-modules "
    "--no-progress --threads"
).split()
GENERATE_FLAGS = (
    "--scene --out --episodes --steps --seed --workers --episodes-per-shard --shard-index "
    "--num-shards --no-progress"
).split()


def _sub(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def _flags(p: argparse.ArgumentParser) -> set[str]:
    return {s for a in p._actions for s in a.option_strings}


def test_train_keeps_every_flag_and_its_defaults_are_train_configs():
    p = _sub("train")
    assert set(TRAIN_FLAGS) <= _flags(p)
    args = p.parse_args(["--data", "d", "--out", "o"])
    cfg = from_args(TrainConfig, args, model_overrides=from_args(ModelOverrides, args))
    assert cfg == TrainConfig(data="d", out="o")


def test_train_flags_reach_their_fields():
    p = _sub("train")
    argv = "--data d --out o --from m.pt --add-modules 1 --uniform-prior --beta 0.5 "
    argv += "--no-progress --resume --finetune-e2e 3 --lr 0.01 --threads 1 --preset cpu-small"
    args = p.parse_args(argv.split())
    cfg = from_args(TrainConfig, args, model_overrides=from_args(ModelOverrides, args))
    assert (cfg.init_from, cfg.add_modules, cfg.finetune_e2e, cfg.lr) == ("m.pt", 1, 3, 0.01)
    assert (cfg.progress, cfg.resume, cfg.threads, cfg.preset) == (False, True, 1, "cpu-small")
    assert cfg.model_overrides == ModelOverrides(beta=0.5, learned_prior=False)
    with pytest.raises(SystemExit):
        p.parse_args(["--data", "d", "--out", "o", "--preset", "huge"])


def test_generate_keeps_every_flag_and_builds_its_config_once():
    p = _sub("generate")
    assert set(GENERATE_FLAGS) <= _flags(p)
    argv = "--scene toy --out x --episodes 3 --steps 4 --no-progress --num-shards 2".split()
    cfg = from_args(GeneratorConfig, p.parse_args(argv))
    assert cfg == GeneratorConfig("toy", Path("x"), 3, 4, num_shards=2, progress=False)


def test_options_from_fields():
    @dataclass
    class Args:
        name: str = option(help="required")
        k: int | None = option(None, "optional int")
        ratio: float = option(0.5, "a float", flag="--r")
        quiet: bool = option(False, "a flag")
        hidden: int = 3  # not an option

    p = argparse.ArgumentParser()
    add_options(p, Args)
    assert from_args(Args, p.parse_args(["--name", "a"])) == Args("a")
    got = from_args(Args, p.parse_args("--name a --k 2 --r 1.5 --quiet".split()), hidden=4)
    assert got == Args("a", 2, 1.5, True, 4)
    with pytest.raises(SystemExit):
        p.parse_args([])  # --name is required
    with pytest.raises(ValueError, match="help"):
        option(1)
