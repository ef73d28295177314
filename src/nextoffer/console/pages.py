"""The console's pages: a page is one template plus one entry in `PAGES`.

A page's `load` runs in the API's read lane with the caller already authenticated exactly as
the API authenticates (`call_of`), and returns the template's context. The navigation is data
too: `NAV` lists every link, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.datastructures import QueryParams
from starlette.requests import Request

from nextoffer.tenants import Actor, Tenant

if TYPE_CHECKING:
    from nextoffer.composition import Services


@dataclass(frozen=True, slots=True)
class PageContext:
    """What a page's loader may read: who calls for which tenant (authenticated as the API
    authenticates), the services, the path and query parameters."""

    request: Request
    tenant: Tenant
    actor: Actor
    services: Services
    path_params: Mapping[str, str]
    query: QueryParams


Loader = Callable[[PageContext], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Page:
    path: str
    """Starlette path pattern under `/console` (`/decisions/{object_id}`)."""
    template: str
    load: Loader | None = None
    """The template's context (None: the template needs no data)."""


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    path: str
    """Under `/console`; a link is current on its path and every path below it."""


NAV: tuple[NavItem, ...] = (
    NavItem("Offers", "/offers"),
    NavItem("Fallback offers", "/fallback-offers"),
    NavItem("Placements", "/placements"),
    NavItem("Collections", "/collections"),
    NavItem("Collection qualifiers", "/collection-qualifiers"),
    NavItem("Rules", "/rules"),
    NavItem("Ranking formulas", "/ranking-formulas"),
    NavItem("AI models", "/ai-models"),
    NavItem("Decisions", "/decisions"),
    NavItem("Profiles", "/profiles"),
    NavItem("Reports", "/reports"),
    NavItem("Experiments", "/experiments"),
)


def all_pages() -> list[Page]:
    """Every page, specific paths before the generic library ones that would shadow them."""
    from nextoffer.console import home, library_pages, placeholders, simulation_pages

    return [*home.PAGES, *placeholders.PAGES, *simulation_pages.PAGES, *library_pages.PAGES]
