"""Summaries from a model in length-sorted batches (less padding, faster), returned in input order."""
from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig


def pad_left_or_right(seqs: list[list[int]], pad_id: int, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad a batch; decoder-only models need left padding so generation continues the prompt."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        span = slice(width - len(seq), width) if left else slice(0, len(seq))
        ids[row, span] = torch.tensor(seq, dtype=torch.long)
        mask[row, span] = 1
    return ids, mask


@torch.no_grad()
def generate_summaries(model: Any, tokenizer: Any, prompts: list[list[int]], gen_cfg: DictConfig,
                       decoder_only: bool, device: torch.device) -> tuple[list[str], list[int]]:
    """Decode every prompt; for decoder-only models only the continuation is kept and scored."""
    was_training = model.training
    model.eval()
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
    texts: list[str] = [""] * len(prompts)
    lengths: list[int] = [0] * len(prompts)
    size = int(gen_cfg.batch_size)
    special = set(tokenizer.all_special_ids)
    for start in range(0, len(order), size):
        idx = order[start:start + size]
        ids, mask = pad_left_or_right([prompts[i] for i in idx], tokenizer.pad_token_id, left=decoder_only)
        out = model.generate(
            input_ids=ids.to(device), attention_mask=mask.to(device),
            num_beams=int(gen_cfg.num_beams), max_new_tokens=int(gen_cfg.max_new_tokens),
            length_penalty=float(gen_cfg.length_penalty),
            no_repeat_ngram_size=int(gen_cfg.no_repeat_ngram_size),
            pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        )
        if decoder_only:
            out = out[:, ids.shape[1]:]
        for row, i in enumerate(idx):
            tokens = [t for t in out[row].tolist() if t not in special]
            lengths[i] = len(tokens)
            texts[i] = tokenizer.decode(tokens, skip_special_tokens=True).strip()
    model.train(was_training)
    return texts, lengths
