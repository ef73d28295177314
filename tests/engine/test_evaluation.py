"""Per-request evaluation (`engine/evaluation.py`): how ranking-formula aliases find their
context data."""

from __future__ import annotations

from nextoffer.engine.evaluation import context_value

PARAMS = "https://ns.adobe.com/xdm/context/additional/parameters"


def test_an_alias_finds_its_context_data_by_exact_key_first() -> None:
    context = {"_xdm.context.weather": "exact", "_xdm.context.weather;version=2": "versioned"}
    assert context_value(context, "_xdm.context.weather") == "exact"


def test_versions_are_ignored_on_either_side() -> None:
    assert context_value({"_xdm.context.weather;version=1": 1}, "_xdm.context.weather") == 1
    assert context_value({"_xdm.context.weather": 2}, "_xdm.context.weather;version=3") == 2


def test_a_schema_uri_and_its_dotted_alt_id_name_the_same_data() -> None:
    """Adobe writes a context schema either way: `https://ns.adobe.com/xdm/context/a/b` or its
    alt id `_xdm.context.a.b`, each perhaps with `;version=N`."""
    dotted = "_xdm.context.additional.parameters"
    assert context_value({f"{dotted};version=1": "hot"}, f"{PARAMS};version=2") == "hot"
    assert context_value({PARAMS: "cold"}, dotted) == "cold"


def test_other_schemas_are_not_matched() -> None:
    context = {"https://ns.adobe.com/xdm/context/other": 1, "_xdm.context.weather": 2}
    assert context_value(context, PARAMS) is None
    assert context_value(context, "_xdm.context.additional.parameters") is None
    # only the xdm namespace is rewritten: elsewhere a slash is not a dot
    assert context_value({"acme.context.weather": 3}, "acme/context/weather") is None
