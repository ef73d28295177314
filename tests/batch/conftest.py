"""A real SQLite database with the demo library, and helpers to run batches against it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nextoffer.batch.batch_service import library_for
from nextoffer.batch.plan import BatchPlan
from nextoffer.composition import Services
from nextoffer.demo import demo_library
from nextoffer.engine import ScopeRequest
from nextoffer.library.portable import import_library
from nextoffer.store.database import Database
from nextoffer.tenants import Actor, Tenant
from tests.batch.profiles import AUDIENCE
from tests.conftest import build_services

TENANT = Tenant("demo@AdobeOrg", "prod")
HERO = ScopeRequest("dps:offer-activity:homepage-and-email", "dps:offer-placement:web-hero", 2)
EMAIL = ScopeRequest("dps:offer-activity:homepage-and-email", "dps:offer-placement:email-banner")
APP = ScopeRequest("dps:offer-activity:app-home", "dps:offer-placement:app-card", 3)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class Demo:
    services: Services
    tenant: Tenant
    db_url: str

    def plan(
        self,
        scopes: tuple[ScopeRequest, ...] = (HERO, EMAIL),
        *,
        seed: int = 1234,
        include_content: bool = False,
        batch_size: int = 256,
        audience: str = AUDIENCE,
    ) -> BatchPlan:
        library = library_for(self.services.decisions, self.tenant, scopes, lambda i, f: f)
        return BatchPlan(
            job_id="7b0c3d64-58f4-4b8e-9d0e-2f0c1f7c9a11",
            docs=library.docs,
            revision=library.revision,
            audience=audience,
            scopes=scopes,
            now=NOW,
            seed=seed,
            include_content=include_content,
            batch_size=batch_size,
        )


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    path = tmp_path / "batch.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    services = build_services(db, batch_output_dir=str(tmp_path / "datasets"))
    import_library(services.library, TENANT, Actor("t", "t"), demo_library())
    yield Demo(services, TENANT, f"sqlite:///{path}")
    services.batch.stop()
    db.dispose()
