"""Evaluation metrics for Korean dialogue summarization (Korean-aware ROUGE)."""
