"""Hypothesis settings shared by the hardening tests: modest and reproducible.

``derandomize`` makes every CI run try the same examples (a failure reproduces), and
no example database is written to the checkout. To search longer, with fresh random
examples, set ``GOLIVE_FUZZ_EXAMPLES`` (e.g. 5000).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

_EXPLORE = int(os.environ.get("GOLIVE_FUZZ_EXAMPLES") or 0)


def examples(default: int) -> int:
    """``default``, or as many as GOLIVE_FUZZ_EXAMPLES asks for."""
    return _EXPLORE or default


FUZZ = settings(
    max_examples=examples(150),
    deadline=None,
    derandomize=not _EXPLORE,
    database=None,
    # No shrinking: examples here cost up to a second each, and shrinking one takes
    # minutes; the labelled draws of the failing example say what it was.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
#: For examples that each cost a large document or a real HTTP round trip.
FUZZ_SLOW = settings(FUZZ, max_examples=examples(50))
