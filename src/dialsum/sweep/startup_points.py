"""Distinct start-up points for TPE on a finite space, so parallel workers never start on the same point.

TPE's first `n_startup_trials` proposals are independent random draws, and its constant liar only acts once
the model is used: on a small choice() space two workers then often draw the same point at the same moment
(issue 10 saw it in 2 of 6 sweeps; the twin waits and reuses, but holds a worker and a trial slot for nothing).
When a fresh study's space is all finite, dialsum draws the start-up points itself, without replacement, and
queues them with Optuna's `enqueue_trial`: still uniform random start-up, never a repeat. Done once per study,
under the study lock, so a second sweeper starting at the same time queues nothing.
"""
from __future__ import annotations

import itertools
import logging
import random
from typing import Any, Mapping

import optuna

from dialsum.sweep.samplers import sampler_name
from dialsum.sweep.search_space import SearchSpace

log = logging.getLogger(__name__)
STARTUP_ATTR = "startup_point"  # trial user attr: queued as one of the distinct start-up points


def enqueue_distinct(study: optuna.Study, space: SearchSpace, sampler_cfg: Mapping[str, Any], n_trials: int) -> int:
    """Queue min(n_startup_trials, grid size, n_trials) distinct random points on a fresh TPE study; how many
    (more than n_trials would stay queued after the sweep, and `dialsum status` would call it unfinished)."""
    if sampler_name(sampler_cfg) != "tpe" or sampler_cfg.get("_target_") or study.get_trials(deepcopy=False):
        return 0
    grid = space.grid
    if not grid or any(not values for values in grid.values()):
        return 0  # a continuous parameter: repeats are practically impossible
    points = list(itertools.product(*grid.values()))
    n = min(int(sampler_cfg.get("n_startup_trials", 10)), len(points), n_trials)
    seed = sampler_cfg.get("seed")
    chosen = random.Random(None if seed is None else int(seed)).sample(points, n)
    for values in chosen:
        study.enqueue_trial(dict(zip(grid.keys(), values)), user_attrs={STARTUP_ATTR: True})
    if n:
        log.info("queued %d distinct random start-up point(s) for TPE (a finite space: no two workers start on "
                 "the same point)", n)
    return n
