"""`config`: the write wait (issue 15) read from `NEXTOFFER_WRITE_WAIT_SECONDS`, and what a
server built from it bounds."""

from __future__ import annotations

import pytest

from nextoffer.api.app import create_app
from nextoffer.composition import Services
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


def test_a_server_built_from_settings_bounds_its_writes_by_the_wait(tmp_path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", write_wait_seconds=0.25)
    services = Services.build(settings)
    try:
        app = create_app(services_=services)
        assert services.db.write_wait == 0.25 and services.db.busy_timeout == 0.25
        assert app.state.lanes.writes.wait == 0.25
        assert app.state.lanes.reads.wait is None  # reads queue, they are never refused
    finally:
        services.close()
        services.db.dispose()
