"""dialsum's Optuna sweeper for Hydra: hydra/sweeper=optuna in dialsum's train.py, hydra/sweeper=dialsum_optuna
in any other Hydra app."""
