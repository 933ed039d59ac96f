"""Training and evaluation: HF Trainer assembly, generation-based evaluation, callbacks."""
