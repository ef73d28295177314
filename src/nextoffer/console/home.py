"""The console's home: what the sandbox holds, one count per library entity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nextoffer.console.entities import CONSOLE_ENTITIES
from nextoffer.console.pages import Page, PageContext
from nextoffer.library.query import ListQuery


def load_home(ctx: PageContext) -> Mapping[str, Any]:
    library = ctx.services.library
    counts = [
        (entity, library.list(ctx.tenant, entity.spec, ListQuery(limit=1)).total)
        for entity in CONSOLE_ENTITIES
    ]
    return {"counts": counts}


PAGES = [Page("/", "home.html", load_home)]
