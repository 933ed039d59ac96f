"""Sweep support used inside jobs and by the sweeper: storage, pruners, trial bridge, device claims."""
