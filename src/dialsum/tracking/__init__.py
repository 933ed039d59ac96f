"""Run folder artifacts, environment snapshots and experiment loggers."""
