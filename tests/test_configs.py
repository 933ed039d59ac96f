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


# Keys read generically rather than by name: Hydra's own settings (not its sweeper's), search spaces, config
# overrides for transformers, special tokens passed to from_pretrained, the per-init learning-rate ranges the
# params interpolate.
GENERIC = ("params.", "config_overrides", "special_tokens.", "lr_space.")


def _names_code_reads() -> set[str]:
    """Attribute names, string constants (not docstrings) and keyword names in src/: how code reads a key.
    Comments, docstrings and dataclass field declarations do not count."""
    import ast

    names: set[str] = set()
    for path in (ROOT / "src").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.keyword) and node.arg:
                names.add(node.arg)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                names.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", node.value))
    return names


def _training_arguments() -> set[str]:
    """training.* keys pass through to TrainingArguments, except the ones dialsum reads itself."""
    import dataclasses

    from transformers import Seq2SeqTrainingArguments

    from dialsum.engine.trainer import DIALSUM_TRAINING_KEYS

    return {f.name for f in dataclasses.fields(Seq2SeqTrainingArguments)} | set(DIALSUM_TRAINING_KEYS)


def test_every_conf_key_is_read_somewhere() -> None:
    """A key in conf/ that no code reads is a lie to the user (style guide)."""
    names = _names_code_reads()
    yaml_text = "\n".join(p.read_text(encoding="utf-8") for p in CONF.rglob("*.yaml"))
    names.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(re.findall(r"\$\{[^}]*\}", yaml_text))))
    passed_through, unused = _training_arguments(), []
    for path in CONF.rglob("*.yaml"):
        data = OmegaConf.to_container(OmegaConf.load(path), resolve=False) or {}
        group = path.parent.relative_to(CONF).as_posix().replace("/", ".")
        for key in _leaf_keys({k: v for k, v in data.items() if k != "defaults"}):
            full = key if group in (".", "experiment", "sweep", "debug") else f"{group}.{key}"
            leaf = key.split(".")[-1]
            if any(g in full + "." for g in GENERIC) or leaf == "_target_":
                continue
            if full.startswith("hydra.") and not full.startswith("hydra.sweeper."):
                continue  # Hydra's own run/sweep/job settings
            if full.startswith("training."):
                if leaf not in passed_through:
                    unused.append(f"{path.relative_to(CONF)}: {key} (not a TrainingArguments field)")
            elif leaf not in names:
                unused.append(f"{path.relative_to(CONF)}: {key}")
    assert not unused, unused
