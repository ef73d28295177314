"""Every console page renders in a real browser: no console error, and no serious or critical
accessibility violation (axe-core), at desktop and phone widths."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import Problems, Server, axe_violations, open_console

LISTS = [
    "/offers",
    "/fallback-offers",
    "/placements",
    "/collections",
    "/collection-qualifiers",
    "/rules",
    "/ranking-formulas",
    "/decisions",
]
NAV = [
    "Offers",
    "Fallback offers",
    "Placements",
    "Collections",
    "Rules",
    "Ranking formulas",
    "AI models",
    "Decisions",
    "Profiles",
    "Reports",
    "Experiments",
]


def test_the_navigation_names_every_page(
    page: Page, open_server: Server, problems: Problems
) -> None:
    open_console(page, open_server)
    nav = page.get_by_role("navigation", name="Console")
    for label in NAV:
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    expect(page.locator("#tenant-org")).to_have_value("demo@AdobeOrg")
    expect(page.locator("#tenant-sandbox")).to_have_value("prod")


def test_the_root_redirects_to_the_console(
    page: Page, open_server: Server, problems: Problems
) -> None:
    page.goto(open_server.base + "/")
    expect(page).to_have_url(re.compile(r"/console$"))
    expect(page.locator("#content h1")).to_contain_text("prod")


@pytest.mark.parametrize(
    "path", ["", *LISTS, "/ai-models", "/profiles", "/reports", "/experiments"]
)
def test_each_page_renders_accessibly(
    page: Page, open_server: Server, problems: Problems, path: str
) -> None:
    open_console(page, open_server, path)
    assert axe_violations(page) == []


def test_a_deep_link_loads_its_own_page(
    page: Page, open_server: Server, problems: Problems
) -> None:
    open_console(page, open_server, "/placements?orderby=name")
    expect(page.get_by_role("heading", name="Placements")).to_be_visible()
    expect(page.get_by_label("Sort")).to_have_value("name")
    expect(page.locator("#nav a[aria-current=page]")).to_have_text("Placements")
    page.get_by_role("link", name="Homepage hero").click()
    expect(page.get_by_role("heading", name="Used by")).to_be_visible()
    page.go_back()  # the address bar followed; going back loads the list again
    expect(page).to_have_url(re.compile(r"/console/placements\?orderby=name$"))
    expect(page.get_by_role("heading", name="Placements")).to_be_visible()


def test_the_phone_width_nav_opens_from_its_menu_button(
    page: Page, open_server: Server, problems: Problems
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    open_console(page, open_server)
    nav = page.get_by_role("navigation", name="Console")
    expect(nav).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(nav.get_by_role("link", name="Fallback offers")).to_be_visible()
    nav.get_by_role("link", name="Fallback offers").click()
    expect(page.get_by_role("heading", name="Fallback offers")).to_be_visible()
    expect(nav).to_be_hidden()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    assert axe_violations(page) == []


@pytest.mark.parametrize(
    "path", ["/fallback-offers/new", "/offers/new", "/decisions/dps:offer-activity:app-home"]
)
def test_forms_and_details_fit_a_phone(
    page: Page, open_server: Server, problems: Problems, path: str
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    open_console(page, open_server, path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
