"""Signing in to a console whose server checks credentials: kept in the tab, sent as the API's
headers, and refused where the client has no grant."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.console.conftest import CLIENT, Problems, Server


def sign_in(page: Page, server: Server, path: str = "", *, sandbox: str = "") -> None:
    page.goto(server.base + "/console" + path)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Client token").fill(CLIENT["token"])
    page.get_by_label("API key").fill(CLIENT["api_key"])
    if sandbox:
        form = page.locator("#sign-in-form")
        form.get_by_label("Org", exact=True).fill("demo@AdobeOrg")
        form.get_by_label("Sandbox", exact=True).fill(sandbox)
    page.get_by_role("button", name="Sign in").click()


def test_signing_in_opens_the_page_asked_for(
    page: Page, credentialed_server: Server, problems: Problems
) -> None:
    sign_in(page, credentialed_server, "/decisions")
    expect(page.get_by_role("heading", name="Decisions")).to_be_visible()
    expect(page.get_by_role("link", name="Homepage and email")).to_be_visible()
    expect(page.locator("#who")).to_have_text(CLIENT["user"])
    expect(page.locator("#tenant-sandbox")).to_have_value("prod")
    stored = page.evaluate("sessionStorage.getItem('nextoffer.console')")
    assert CLIENT["token"] in stored
    assert page.context.cookies() == []  # credentials never travel as cookies

    page.reload()  # the tab keeps the session
    expect(page.get_by_role("heading", name="Decisions")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('nextoffer.console')") is None


def test_wrong_credentials_are_refused(
    page: Page, credentialed_server: Server, problems: Problems
) -> None:
    problems.expected.append("status of 401")
    page.goto(credentialed_server.base + "/console")
    page.get_by_label("Client token").fill("not-the-token")
    page.get_by_label("API key").fill(CLIENT["api_key"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#sign-in-error")).to_contain_text("not valid")
    expect(page.locator("#content")).to_be_hidden()


def test_a_sandbox_the_client_is_not_granted_is_refused(
    page: Page, credentialed_server: Server, problems: Problems
) -> None:
    problems.expected.append("status of 403")
    sign_in(page, credentialed_server, "/offers", sandbox="dev")
    problem = page.locator("#content [data-problem=sandbox-not-granted]")
    expect(problem).to_contain_text("This client may not use sandbox dev")
    expect(problem).to_contain_text("dev")
    page.locator("#tenant-sandbox").select_option("prod")  # switch to the granted one
    expect(page.get_by_role("heading", name="Offers")).to_be_visible()


def test_without_credentials_a_fragment_asks_to_sign_in(
    page: Page, credentialed_server: Server, problems: Problems
) -> None:
    problems.expected += ["status of 401", "favicon.ico"]  # a bare fragment has no icon link
    page.goto(credentialed_server.base + "/console/fragments/offers")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
