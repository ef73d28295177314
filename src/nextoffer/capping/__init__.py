"""Frequency capping, pure: rules, windows, counter keys, catalog plans, the one ledger of
counts and marks, and the counter store protocol (its in-memory implementation included).

The online gate that reserves counters for decisions is a service (`decisioning.capping_gate`);
the SQL and Redis counter stores are adapters (`store.capping_sql`, `store.capping_redis`).
"""

from nextoffer.capping.keys import capping_subject
from nextoffer.capping.rules import CappingRule, EventKind, compile_rule, compile_rules
from nextoffer.capping.store import CounterStore, Increment, Reservation
from nextoffer.capping.windows import Period, Window

__all__ = [
    "CappingRule",
    "CounterStore",
    "EventKind",
    "Increment",
    "Period",
    "Reservation",
    "Window",
    "capping_subject",
    "compile_rule",
    "compile_rules",
]
