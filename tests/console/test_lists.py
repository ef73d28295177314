"""Library lists in a real browser: search by name, filter by status and qualifier, sort and
page, all through the API's own list filters."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.console.conftest import Problems, Server, open_console


def names(page: Page) -> list[str]:
    return page.locator("#content tbody tr td:first-child").all_inner_texts()


def api_names(server: Server, prop: str | None) -> list[str]:
    """What the API lists for one `property` filter (other tests may have added offers)."""
    params = {"offer-type": "personalized", "limit": "1000"}
    if prop:
        params["property"] = prop
    with server.api() as api:
        return sorted(
            o["name"] for o in api.get("/data/core/dps/offers", params=params).json()["results"]
        )


def test_search_status_and_qualifier_filter_the_list(
    page: Page, open_server: Server, problems: Problems
) -> None:
    open_console(page, open_server, "/offers")
    assert sorted(names(page)) == api_names(open_server, None)
    page.get_by_label("Name", exact=True).fill("OFF")  # case-insensitive, anywhere in the name
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"/console/offers\?q=OFF"))
    expect(page.locator(".api code")).to_contain_text("property=name~(?s).*OFF.*")
    expected = api_names(open_server, "name~(?s).*OFF.*")
    assert {"Black Friday: 40% off", "City break: 20% off hotels"} <= set(expected)
    expect(page.locator("#content tbody tr")).to_have_count(len(expected))
    assert sorted(names(page)) == expected

    page.get_by_label("Name", exact=True).fill("")
    page.get_by_label("Collection qualifier").select_option(label="Travel")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".api code")).to_contain_text("tags==dps:tag:travel")
    expected = api_names(open_server, "tags==dps:tag:travel")
    assert expected
    expect(page.locator("#content tbody tr")).to_have_count(len(expected))
    assert sorted(names(page)) == expected

    page.get_by_label("Collection qualifier").select_option("")
    page.get_by_label("Status").select_option("archived")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No offers match.")).to_be_visible()


def test_sorting_and_paging_follow_the_api(
    page: Page, open_server: Server, problems: Problems
) -> None:
    open_console(page, open_server, "/offers?orderby=name&limit=2")
    first = names(page)
    assert first == sorted(first, key=str.lower) and len(first) == 2
    page.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(re.compile(r"start="))
    # the URL changes before the new rows are swapped in: wait for them (a CI run read page 1)
    expect(page.locator("#content tbody tr td:first-child").first).not_to_have_text(first[0])
    second = names(page)
    assert len(second) == 2 and set(second).isdisjoint(first)
    assert second[0].lower() >= first[-1].lower()
    page.get_by_role("link", name="Previous page").click()
    expect(page.locator("#content tbody tr td:first-child").first).to_have_text(first[0])


def test_a_bad_api_filter_is_the_api_s_own_error(
    page: Page, open_server: Server, problems: Problems
) -> None:
    problems.expected.append("status of 400")
    open_console(page, open_server, "/offers?property=name~(")
    expect(page.locator("#content [role=alert]")).to_contain_text("not a valid regular expression")
