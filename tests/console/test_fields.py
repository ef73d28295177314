"""How stored values are shown on pages and written into inputs."""

from __future__ import annotations

import pytest

from nextoffer.console.fields import Field, input_value, pointer_id, shown


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2030-12-31T23:59:59.000+00:00", "2030-12-31 23:59 UTC"),
        ("2025-01-02T03:04:05Z", "2025-01-02 03:04 UTC"),
        ("2025-01-02T03:04Z", "2025-01-02 03:04 UTC"),
        ("2025-01-02T03:04:05+02:00", "2025-01-02T03:04:05+02:00"),  # not UTC: as stored
        ("Summer 2025-01-02T03:04Z", "Summer 2025-01-02T03:04Z"),
        (7, 7),
    ],
)
def test_utc_instants_are_shown_to_the_minute(value: object, expected: object) -> None:
    assert shown(value) == expected


def test_inputs_take_their_widget_s_form() -> None:
    assert input_value("datetime", "2030-01-01T09:30:00.000+00:00") == "2030-01-01T09:30"
    assert input_value("boolean", True) == "true"
    assert input_value("boolean", False) == "false"
    assert input_value("boolean", None) == ""
    assert input_value("list", ["en-us", "fr-fr"]) == "en-us\nfr-fr"
    assert input_value("integer", 0) == "0"


def test_a_field_reads_its_nested_value() -> None:
    f = Field("selectionConstraint/startDate", "Start date", "datetime")
    assert f.top == "selectionConstraint"
    assert f.value_in({"selectionConstraint": {"startDate": "x"}}) == "x"
    assert f.value_in({"selectionConstraint": None}) is None
    assert f.value_in(None) is None


def test_pointer_ids_are_valid_html_ids() -> None:
    assert pointer_id("/representations/0/components/1/content") == (
        "f-representations-0-components-1-content"
    )
    assert pointer_id("/repo:id") == "f-repo_id"


def test_an_unknown_widget_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown widget"):
        Field("name", "Name", "slider")
