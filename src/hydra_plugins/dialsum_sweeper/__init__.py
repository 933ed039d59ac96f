"""dialsum's Optuna sweeper for Hydra (selected with hydra/sweeper=optuna)."""
