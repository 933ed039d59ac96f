"""Data loading, validation, normalisation and the synthetic offline dataset."""
