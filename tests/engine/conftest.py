from __future__ import annotations

from datetime import UTC, datetime

import pytest

NOW = datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW
