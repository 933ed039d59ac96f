"""Summaries from a model in length-sorted batches (less padding, fewer decode steps), returned in input order."""
from __future__ import annotations

import logging
from typing import Any

import torch
from omegaconf import DictConfig

GPU_GROW_FACTOR = 8.0  # generation.grow_factor=null on a GPU (4 measured 1.65x on an H100; 8: see BENCHMARKS)
MEMORY_SHARE = 0.5     # of the card's free memory that grown batches may plan to use (others may share it)
log = logging.getLogger(__name__)


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


def plan_batches(lengths: list[int], size: int, new_tokens: int, grow_factor: float,
                 scale: float | None = None) -> list[list[int]]:
    """Longest prompts first, `size` rows; later batches of shorter prompts take more rows (up to grow_factor x
    size) while rows x (prompt + new tokens) stays within the first batch's, so memory peaks in the first batch
    and a GPU, whose decode step costs about the same for 64 rows as for 200, runs fewer of them. `scale`: how
    many times the first batch's memory the card has to spare, once measured: rows and tokens may grow that far."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    if not order:
        return []
    budget = (scale or 1.0) * size * (lengths[order[0]] + new_tokens)
    cap = max(size, int(size * (grow_factor if scale is None else min(grow_factor, scale))))
    batches, start = [order[:size]], size
    while start < len(order):
        rows = min(cap, max(size, int(budget // (lengths[order[start]] + new_tokens))))
        batches.append(order[start:start + rows])
        start += rows
    return batches


def grow_factor(gen_cfg: DictConfig, device: torch.device) -> float:
    """null: grow on a GPU, where a decode step is launch-bound; not on the CPU, where its cost follows the rows."""
    value = gen_cfg.get("grow_factor")
    return float(value) if value is not None else (GPU_GROW_FACTOR if device.type == "cuda" else 1.0)


def memory_scale(device: torch.device, peak_bytes: int) -> float:
    """How many times the first batch's peak fits in this run's share of the card's free memory (half of it,
    split between the runs hardware.trials_per_gpu lets share the card); 1 where unknown."""
    from dialsum.sweep.devices import runs_per_gpu

    if device.type != "cuda" or peak_bytes <= 0:
        return 1.0
    free, _ = torch.cuda.mem_get_info(device)
    reusable = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return max(1.0, MEMORY_SHARE / runs_per_gpu() * (free + reusable) / peak_bytes)


class _Decoder:
    """One batch at a time into texts/lengths (input order)."""

    def __init__(self, model: Any, tokenizer: Any, prompts: list[list[int]], gen_cfg: DictConfig,
                 decoder_only: bool, device: torch.device) -> None:
        self.model, self.tokenizer, self.prompts, self.gen_cfg = model, tokenizer, prompts, gen_cfg
        self.decoder_only, self.device = decoder_only, device
        self.special = set(tokenizer.all_special_ids)
        self.texts: list[str] = [""] * len(prompts)
        self.lengths: list[int] = [0] * len(prompts)

    def __call__(self, idx: list[int]) -> None:
        """Generate for the prompts idx and keep their summaries."""
        g, tok = self.gen_cfg, self.tokenizer
        ids, mask = pad_left_or_right([self.prompts[i] for i in idx], tok.pad_token_id, left=self.decoder_only)
        out = self.model.generate(
            input_ids=ids.to(self.device), attention_mask=mask.to(self.device), num_beams=int(g.num_beams),
            max_new_tokens=int(g.max_new_tokens), length_penalty=float(g.length_penalty),
            no_repeat_ngram_size=int(g.no_repeat_ngram_size), pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id)
        rows = (out[:, ids.shape[1]:] if self.decoder_only else out).tolist()  # one copy from the device
        for row, i in zip(rows, idx):
            tokens = [t for t in row if t not in self.special]
            self.texts[i] = tok.decode(tokens, skip_special_tokens=True).strip()
            self.lengths[i] = len(tokens) if self.texts[i] else 0  # only `▁` pieces: an empty summary, length 0


@torch.no_grad()
def generate_summaries(model: Any, tokenizer: Any, prompts: list[list[int]], gen_cfg: DictConfig,
                       decoder_only: bool, device: torch.device) -> tuple[list[str], list[int]]:
    """Decode every prompt; for decoder-only models only the continuation is kept and scored."""
    was_training = model.training
    model.eval()
    try:
        return _generate_all(_Decoder(model, tokenizer, prompts, gen_cfg, decoder_only, device), gen_cfg, device)
    finally:
        model.train(was_training)


def _generate_all(decode: _Decoder, gen_cfg: DictConfig, device: torch.device) -> tuple[list[str], list[int]]:
    """The first batch (measured on a GPU), then the rest planned with the card's headroom."""
    lengths, size, new = [len(p) for p in decode.prompts], int(gen_cfg.batch_size), int(gen_cfg.max_new_tokens)
    factor = grow_factor(gen_cfg, device)
    pending = plan_batches(lengths, size, new, factor)
    if pending and factor > 1 and _can_measure(device):
        from dialsum.tracking.resources import gpu_peak_during

        peak = gpu_peak_during(device, lambda: decode(pending[0]))
        pending = plan_batches(lengths, size, new, factor, memory_scale(device, peak))[1:]
    elif pending:
        decode(pending.pop(0))
    while pending:
        idx = pending.pop(0)
        try:
            decode(idx)
        except Exception as err:  # noqa: BLE001 - only an out-of-memory in a grown batch is handled
            if len(idx) <= size or not _out_of_memory(err):
                raise
            rest = idx + [i for batch in pending for i in batch]  # still longest first
            pending = [rest[k:k + size] for k in range(0, len(rest), size)]
            log.warning("generation: out of GPU memory in a batch grown to %d rows; the remaining %d prompts "
                        "go in batches of generation.batch_size=%d", len(idx), len(rest), size)
    return decode.texts, decode.lengths


def _can_measure(device: torch.device) -> bool:
    """Only CUDA reports the memory a batch took (and the card's free memory)."""
    return device.type == "cuda"


def _out_of_memory(err: Exception) -> bool:
    """accelerate's test for an out-of-memory error (CUDA, cuDNN, CPU allocator), after freeing the cache."""
    from accelerate.utils.memory import clear_device_cache, should_reduce_batch_size

    if not should_reduce_batch_size(err):
        return False
    clear_device_cache(garbage_collection=True)
    return True
