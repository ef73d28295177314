"""Tie-break keys: a seed orders ties the same way in every process and every release (a batch
rerun with the job's seed decides the same rows), and without a seed each breaker is random."""

from __future__ import annotations

from nextoffer.engine.ties import TieBreaker

A, B = "dps:personalized-offer:a", "dps:personalized-offer:b"


def test_a_seed_gives_the_recorded_keys() -> None:
    """Recorded once: changing how a seed becomes keys reorders every seeded tie, so a rerun of
    an old batch job (or a saved `nextoffer:seed`) would no longer reproduce its decisions."""
    breaker = TieBreaker(42)
    assert breaker.key(0, A) == 15018762937720415497
    assert breaker.key(1, A) == 10484404088894822219
    assert breaker.key(0, B) == 16237808760194471924
    assert TieBreaker(-7).key(0, A) == 14208386683148060343


def test_keys_are_64_bit_and_without_a_seed_differ_between_breakers() -> None:
    keys = {TieBreaker(None).key(0, A) for _ in range(8)}
    assert len(keys) == 8
    assert all(0 <= k < 2**64 for k in keys)
