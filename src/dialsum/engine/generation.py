"""Summaries from a model in length-sorted batches (less padding, fewer decode steps), returned in input order."""
from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig

GPU_GROW_FACTOR = 4.0  # generation.grow_factor=null on a GPU


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


def plan_batches(lengths: list[int], size: int, new_tokens: int, grow_factor: float) -> list[list[int]]:
    """Longest prompts first, `size` rows; later batches of shorter prompts take more rows (up to grow_factor x
    size) while rows x (prompt + new tokens) stays within the first batch's, so memory peaks in the first batch
    and a GPU, whose decode step costs about the same for 64 rows as for 200, runs fewer of them."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    if not order:
        return []
    budget = size * (lengths[order[0]] + new_tokens)
    cap = max(size, int(size * grow_factor))
    batches, start = [], 0
    while start < len(order):
        rows = min(cap, max(size, budget // (lengths[order[start]] + new_tokens)))
        batches.append(order[start:start + rows])
        start += rows
    return batches


def grow_factor(gen_cfg: DictConfig, device: torch.device) -> float:
    """null: grow on a GPU, where a decode step is launch-bound; not on the CPU, where its cost follows the rows."""
    value = gen_cfg.get("grow_factor")
    return float(value) if value is not None else (GPU_GROW_FACTOR if device.type == "cuda" else 1.0)


@torch.no_grad()
def generate_summaries(model: Any, tokenizer: Any, prompts: list[list[int]], gen_cfg: DictConfig,
                       decoder_only: bool, device: torch.device) -> tuple[list[str], list[int]]:
    """Decode every prompt; for decoder-only models only the continuation is kept and scored."""
    was_training = model.training
    model.eval()
    texts: list[str] = [""] * len(prompts)
    lengths: list[int] = [0] * len(prompts)
    special = set(tokenizer.all_special_ids)
    plan = plan_batches([len(p) for p in prompts], int(gen_cfg.batch_size), int(gen_cfg.max_new_tokens),
                        grow_factor(gen_cfg, device))
    for idx in plan:
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
