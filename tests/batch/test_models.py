"""Batch decisions rank model criteria by the same trained models as online decisions."""

from __future__ import annotations

from collections import Counter

from nextoffer.batch.decider import Decider
from nextoffer.batch.plan import BatchPlan
from nextoffer.batch.subjects import BatchProfile
from nextoffer.engine import ScopeRequest
from tests.ranking.test_thompson import MODEL, NOW, TRAINED, library, model


def picks(models: dict) -> Counter[str]:
    plan = BatchPlan(
        job_id="7b0c3d64-58f4-4b8e-9d0e-2f0c1f7c9a11",
        docs=library(exploration=0.0).docs,
        revision=1,
        audience="all",
        scopes=(ScopeRequest("d", "p1"),),
        now=NOW,
        seed=99,
        models=models,
    )
    decider = Decider(plan)
    return Counter(
        decider.propositions(BatchProfile(f"p{n}", ("email", f"{n}@x")), frozenset())[0]
        .options[0]
        .offer.id
        for n in range(200)
    )


def test_batch_ranks_by_the_trained_model() -> None:
    trained = picks({MODEL: model(TRAINED).as_state()})
    assert trained["o1"] > 180, trained
    untrained = picks({})
    assert min(untrained.values()) > 40, untrained
