"""Every library entity's detail, edit and new pages render in a real browser with no console
error and no serious or critical accessibility violation (axe-core)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import Problems, Server, axe_violations, open_console
from tests.console.test_pages import LISTS


@pytest.mark.parametrize("path", LISTS)
def test_each_detail_new_and_edit_page_renders_accessibly(
    page: Page, open_server: Server, problems: Problems, path: str
) -> None:
    open_console(page, open_server, path)
    page.locator("#content tbody a").first.click()
    expect(page.get_by_role("heading", name="Used by")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_role("button", name="Save")).to_be_visible()
    assert axe_violations(page) == []
    open_console(page, open_server, path + "/new")
    expect(page.get_by_role("button", name="Save")).to_be_visible()
    assert axe_violations(page) == []
