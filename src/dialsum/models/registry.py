"""The four architecture families dialsum knows, and what differs between them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from dialsum.errors import DialsumError


@dataclass(frozen=True)
class FamilySpec:
    """How to build one architecture family at a tiny size and how to feed it."""

    name: str
    decoder_only: bool
    config_class: str            # transformers class names, imported lazily (fast --cfg job)
    model_class: str
    scratch_config: Callable[[Any, Any, dict[str, int]], dict[str, Any]]
    dropout_keys: tuple[str, ...]  # config attributes that model.dropout sets
    model_types: tuple[str, ...] = ()  # config.json model_type of the checkpoints this family's class loads
    preset: str = ""               # the conf/model option that sets this family up (named in error messages)


def _bart(s: Any, dropout: float, ids: dict[str, int]) -> dict[str, Any]:
    """BART (decoder start and forced eos: models.checkpoint.align_special_ids, from conf/model). Embeddings
    scaled by sqrt(d_model): without it the tiny post-LN encoder collapsed to one vector for every input
    (measured: the decoder then ignored the dialogue and wrote the same summary for all of them)."""
    return dict(scale_embedding=True, d_model=s.d_model, encoder_layers=s.layers, decoder_layers=s.layers,
                encoder_attention_heads=s.heads, decoder_attention_heads=s.heads,
                encoder_ffn_dim=s.ffn_dim, decoder_ffn_dim=s.ffn_dim, dropout=dropout,
                max_position_embeddings=1024, **ids)


def _gpt2(s: Any, dropout: float, ids: dict[str, int]) -> dict[str, Any]:
    """GPT-2: decoder-only, positions up to prompt + summary."""
    return dict(n_embd=s.d_model, n_layer=s.layers, n_head=s.heads, n_inner=s.ffn_dim,
                n_positions=1024, resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout, **ids)


def _t5(s: Any, dropout: float, ids: dict[str, int]) -> dict[str, Any]:
    """T5/mT5 (decoder start: models.checkpoint.align_special_ids, from conf/model)."""
    return dict(d_model=s.d_model, d_kv=s.d_model // s.heads, d_ff=s.ffn_dim, num_layers=s.layers,
                num_decoder_layers=s.layers, num_heads=s.heads, dropout_rate=dropout, **ids)


FAMILIES: dict[str, FamilySpec] = {
    "bart": FamilySpec("bart", False, "BartConfig", "BartForConditionalGeneration", _bart, ("dropout",),
                       ("bart",), "kobart"),
    "gpt2": FamilySpec("gpt2", True, "GPT2Config", "GPT2LMHeadModel", _gpt2,
                       ("resid_pdrop", "embd_pdrop", "attn_pdrop"), ("gpt2",), "kogpt2"),
    "t5": FamilySpec("t5", False, "T5Config", "T5ForConditionalGeneration", _t5, ("dropout_rate",), ("t5",), "t5"),
    "mt5": FamilySpec("mt5", False, "MT5Config", "MT5ForConditionalGeneration", _t5, ("dropout_rate",),
                      ("mt5",), "mt5"),
}


def family_of_model_type(model_type: str) -> FamilySpec | None:
    """The family whose class loads checkpoints of this config.json model_type, if dialsum knows one."""
    return next((spec for spec in FAMILIES.values() if model_type in spec.model_types), None)


def get_family(name: str) -> FamilySpec:
    """Look a family up, naming the valid ones when the name is wrong."""
    if name not in FAMILIES:
        raise DialsumError(f"model.family={name!r} is unknown; choose one of {sorted(FAMILIES)}.")
    return FAMILIES[name]
