"""`config`: the write wait (issue 15) read from `NEXTOFFER_WRITE_WAIT_SECONDS`."""

from __future__ import annotations

import pytest

from nextoffer.config import ConfigError, Settings


def test_the_write_wait_defaults_to_two_seconds_and_takes_fractions() -> None:
    assert Settings.from_env({}).write_wait_seconds == 2.0
    assert Settings.from_env({"NEXTOFFER_WRITE_WAIT_SECONDS": "0.25"}).write_wait_seconds == 0.25


@pytest.mark.parametrize("raw", ["0", "-1", "soon", "inf", "nan"])
def test_a_write_wait_that_is_not_a_positive_number_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"NEXTOFFER_WRITE_WAIT_SECONDS": raw})
    assert str(caught.value) == (
        f"NEXTOFFER_WRITE_WAIT_SECONDS must be a positive number, not {raw!r}"
    )
