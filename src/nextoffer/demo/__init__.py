"""The demo: a small, coherent library and a few profiles that `serve --demo` loads."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from nextoffer.library.library_service import LibraryService
from nextoffer.library.portable import import_library
from nextoffer.store.profiles import ProfileStore
from nextoffer.tenants import Actor, Tenant

DEMO_TENANT = Tenant("demo@AdobeOrg", "prod")
DEMO_ACTOR = Actor("demo@nextoffer", "nextoffer-demo")


def demo_library() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("library.json").read_text("utf-8"))


def load_demo(service: LibraryService) -> bool:
    """Import the demo library into the demo tenant unless it is already there."""
    snap = service.snapshot(DEMO_TENANT)
    if snap is not None and any(snap.of_kind(kind) for kind in snap.by_kind):
        return False
    import_library(service, DEMO_TENANT, DEMO_ACTOR, demo_library())
    return True


def load_demo_profiles(store: ProfileStore) -> int:
    """Load the demo profiles into the demo tenant unless they are there; how many loaded."""
    from nextoffer.demo.profiles import demo_profiles

    profiles = demo_profiles(store.clock())
    first = next(iter(profiles[0]["identityMap"].items()))
    if store.resolve_profile_id(DEMO_TENANT, [(first[0], first[1][0]["id"])]) is not None:
        return 0
    return store.bulk_upsert(DEMO_TENANT, profiles).total
