"""Fixtures borrowed from the suites whose work is observed here."""

from tests.batch.test_api import make_batch  # noqa: F401
from tests.decisioning.conftest import demo  # noqa: F401
