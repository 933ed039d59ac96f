""""Pretrained-like" checkpoints: the real hub tokenizer files + a tiny random model of the same architecture
with the real vocabulary size and special-token ids, as the hub config has them (KoBART's decoder start left
to transformers' default, as digit82's config does). Loaded with model.init=pretrained, offline."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import transformers

from conftest import ROOT

# DIALSUM_TOKENIZERS: the same files elsewhere (e.g. carried to a GPU machine)
TOKENIZERS = Path(os.environ.get("DIALSUM_TOKENIZERS", ROOT.parent / "shared" / "data" / "tokenizers"))
TINY = dict(d_model=64, layers=1, heads=2, ffn=128)

# model name in conf/model -> (tokenizer folder, files to copy, config class, model class, config kwargs)
CHECKPOINTS = {
    "kobart": ("kobart", ("tokenizer.json", "special_tokens_map.json", "tokenizer_config.json"),
               "BartConfig", "BartForConditionalGeneration",
               dict(vocab_size=30000, bos_token_id=0, eos_token_id=1, pad_token_id=3, d_model=TINY["d_model"],
                    encoder_layers=TINY["layers"], decoder_layers=TINY["layers"],
                    encoder_attention_heads=TINY["heads"], decoder_attention_heads=TINY["heads"],
                    encoder_ffn_dim=TINY["ffn"], decoder_ffn_dim=TINY["ffn"], max_position_embeddings=1026,
                    scale_embedding=True)),
    "kogpt2": ("kogpt2", ("tokenizer.json",), "GPT2Config", "GPT2LMHeadModel",
               dict(vocab_size=51200, bos_token_id=0, eos_token_id=1, pad_token_id=3, n_embd=TINY["d_model"],
                    n_layer=TINY["layers"], n_head=TINY["heads"], n_inner=TINY["ffn"], n_positions=1024)),
    "t5": ("ke-t5", ("spiece.model",), "T5Config", "T5ForConditionalGeneration",
           dict(vocab_size=64128, decoder_start_token_id=0, eos_token_id=1, pad_token_id=0, d_model=TINY["d_model"],
                d_kv=TINY["d_model"] // TINY["heads"], d_ff=TINY["ffn"], num_layers=TINY["layers"],
                num_decoder_layers=TINY["layers"], num_heads=TINY["heads"], feed_forward_proj="gated-gelu")),
}


def available() -> bool:
    """The shared tokenizer files are present (tests skip without them)."""
    return TOKENIZERS.is_dir()


def build(model: str, out_dir: Path, seed: int = 0) -> Path:
    """Write a pretrained-like checkpoint folder for `model` (kobart | kogpt2 | t5) and return it."""
    folder, files, config_class, model_class, kwargs = CHECKPOINTS[model]
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copy(TOKENIZERS / folder / name, out_dir / name)
    transformers.set_seed(seed)
    config = getattr(transformers, config_class)(**kwargs)
    getattr(transformers, model_class)(config).save_pretrained(out_dir)
    if model == "kobart":  # digit82's hub config has no decoder_start/forced_eos: transformers' default 2 (<usr>)
        cfg = json.loads((out_dir / "config.json").read_text(encoding="utf-8"))
        for key in ("decoder_start_token_id", "forced_eos_token_id"):
            cfg.pop(key, None)
        (out_dir / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
        (out_dir / "generation_config.json").unlink(missing_ok=True)
    return out_dir
