"""dialsum: experiment automation for Korean dialogue summarization."""
