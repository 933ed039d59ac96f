"""Every config a user can pick composes, and conf/ has no key that nothing reads."""
from __future__ import annotations

import re

import pytest
from omegaconf import OmegaConf

from conftest import CONF, ROOT, compose_cfg

GROUPS = ["data", "model", "hardware", "logger", "experiment", "sweep", "debug"]


def options(group: str) -> list[str]:
    """The yaml files of a config group."""
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_option_composes(group: str, option: str) -> None:
    cfg = compose_cfg([f"{group}={option}"])
    OmegaConf.to_container(cfg, resolve=False)
    assert cfg.objective.metric == "eval/rouge_combined_f1"


def test_default_composition_is_offline_scratch() -> None:
    cfg = compose_cfg()
    assert (cfg.data.name, cfg.model.name, cfg.model.init) == ("synthetic", "kobart", "scratch")
    assert cfg.hardware.accelerator == "cpu"


@pytest.mark.parametrize("model,family,prefix", [("kobart", "bart", ""), ("kogpt2", "gpt2", ""),
                                                  ("t5", "t5", "summarize: "), ("mt5", "mt5", "summarize: ")])
def test_model_families(model: str, family: str, prefix: str) -> None:
    cfg = compose_cfg([f"model={model}"])
    assert cfg.model.family == family and cfg.model.input_prefix == prefix
    assert cfg.model.init in ("scratch", "pretrained") and cfg.model.pretrained_name_or_path


def test_experiment_and_sweep_files_are_global_packages() -> None:
    for folder in ("experiment", "sweep", "debug"):
        for path in (CONF / folder).glob("*.yaml"):
            assert "# @package _global_" in path.read_text(encoding="utf-8"), path


def _leaf_keys(node, prefix: str = "") -> list[str]:
    """Dotted leaf keys of a yaml mapping."""
    keys = []
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            keys += _leaf_keys(value, dotted + ".")
        else:
            keys.append(dotted)
    return keys


# Keys read generically rather than by name: TrainingArguments pass-through, generate() kwargs,
# Hydra's own settings, sweeper fields and search spaces, config overrides for transformers, special tokens
# passed to from_pretrained.
GENERIC = ("training.", "hydra.", "generation.", "lr_space", "params.", "config_overrides", "sampler.", "pruner.",
           "special_tokens.")


def test_every_conf_key_is_read_somewhere() -> None:
    """A key in conf/ that no code reads is a lie to the user (style guide)."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "src").rglob("*.py"))
    source += "\n".join(re.findall(r"\$\{[^}]*\}", "\n".join(p.read_text(encoding="utf-8") for p in CONF.rglob("*.yaml"))))
    unused = []
    for path in CONF.rglob("*.yaml"):
        data = OmegaConf.to_container(OmegaConf.load(path), resolve=False) or {}
        group = path.parent.relative_to(CONF).as_posix()
        for key in _leaf_keys({k: v for k, v in data.items() if k != "defaults"}):
            full = key if group in (".", "experiment", "sweep", "debug") else f"{group}.{key}"
            if full.startswith(GENERIC) or any(g in full for g in GENERIC):
                continue
            leaf = key.split(".")[-1]
            if leaf != "_target_" and not re.search(rf"\b{re.escape(leaf)}\b", source):
                unused.append(f"{path.relative_to(CONF)}: {key}")
    assert not unused, unused
