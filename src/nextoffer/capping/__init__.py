"""Frequency capping: rules, windows, counter keys, counter stores and the decision gate.

gate = CappingGate(counter_store(settings, db))
propositions = gate.decide(sandbox_id, catalog, request, run, subject=..., count=True)
gate.count_events(sandbox_id, catalog, subject, [Feedback("impression", offer_id, placement)])
"""

from nextoffer.capping.gate import CappingGate, Feedback
from nextoffer.capping.keys import capping_subject
from nextoffer.capping.rules import CappingRule, EventKind, compile_rule, compile_rules
from nextoffer.capping.store import CounterStore, Increment, Reservation
from nextoffer.capping.windows import Period, Window

__all__ = [
    "CappingGate",
    "CappingRule",
    "CounterStore",
    "EventKind",
    "Feedback",
    "Increment",
    "Period",
    "Reservation",
    "Window",
    "capping_subject",
    "compile_rule",
    "compile_rules",
]
