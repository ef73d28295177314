"""The rule editor's live check, the simulator and the Profiles page, in a real browser."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from tests.console.conftest import Problems, Server, axe_violations, open_console

HOMEPAGE = "dps:offer-activity:homepage-and-email"
ADA = "email:ada.lovelace@example.com"
BRUNO = "email:bruno.silva@example.com"


def test_a_rule_with_a_syntax_error_shows_the_caret_and_saves_nothing(
    page: Page, open_server: Server, problems: Problems
) -> None:
    problems.expected.append("422")  # the refused save, which the browser logs
    open_console(page, open_server, "/rules/new")
    name = f"Broken {uuid.uuid4().hex[:8]}"
    page.get_by_label("Name", exact=True).fill(name)
    condition = page.get_by_label("Condition", exact=True)
    condition.fill('loyalty.tier = "gold"\nand homeAddress.countryCode == "US"')
    check = page.locator("[data-pql-check]")
    expect(check).to_have_attribute("data-state", "invalid")
    expect(check.locator(".pql-error")).to_contain_text("Line 2, column 30")
    expect(check.locator(".pql-error")).to_contain_text("single '='")
    caret = check.locator("pre.pql-caret")
    expect(caret).to_have_text('and homeAddress.countryCode == "US"\n' + " " * 29 + "^")
    assert axe_violations(page) == []

    page.get_by_role("button", name="Save").click()
    expect(page.locator(".field-error")).to_contain_text("single '='")
    expect(page.locator("[data-receipt]")).to_be_hidden()
    with open_server.api() as api:
        rules = api.get("/data/core/dps/offer-rules", params={"property": f"name=={name}"})
        assert rules.status_code == 200, rules.text
        assert rules.json()["results"] == []

    condition.fill('loyalty.tier = "gold" and @{_xdm.context.device}.type = "mobile"')
    expect(check).to_have_attribute("data-state", "valid")
    reads = check.locator(".pql-reads")
    expect(reads).to_contain_text("Profile: loyalty.tier")
    expect(reads).to_contain_text("Context: @{_xdm.context.device}.type")


def test_an_edited_rule_is_checked_when_the_form_opens(
    page: Page, open_server: Server, problems: Problems
) -> None:
    open_console(page, open_server, "/rules/dps:eligibility-rule:gold-members/edit")
    check = page.locator("[data-pql-check]")
    expect(check).to_have_attribute("data-state", "valid")
    expect(check.locator(".pql-reads")).to_contain_text("loyalty.tier")


def test_simulating_the_demo_decision_shows_the_offer_and_the_reasons(
    page: Page, open_server: Server, problems: Problems
) -> None:
    open_console(page, open_server, f"/decisions/{HOMEPAGE}")
    page.get_by_role("link", name="Simulate", exact=True).click()
    expect(page.get_by_role("heading", name="Simulate Homepage and email")).to_be_visible()
    page.get_by_label("Profile", exact=True).fill(BRUNO)
    page.get_by_role("button", name="Simulate").click()

    hero = page.locator("section.proposition", has_text="Homepage hero")
    expect(hero.locator(".outcome")).to_contain_text("Double points weekend")
    lounge = hero.locator("tr", has_text="Airport lounge pass")
    expect(lounge).to_contain_text("Ineligible")
    expect(lounge).to_contain_text('loyalty.tier = "gold"')
    expect(lounge).to_contain_text('"silver"')
    expect(hero.locator("tr[data-reason=selected]")).to_contain_text("Double points weekend")
    assert "profile=email" in page.url  # a simulation is a link
    assert axe_violations(page) == []

    page.get_by_label("Profile", exact=True).fill(ADA)
    page.get_by_label("Time (UTC)").fill("2031-06-01T00:00:00")
    page.get_by_role("button", name="Simulate").click()
    expect(hero.locator(".outcome")).to_contain_text("Fallback")
    expect(hero.locator(".outcome")).to_contain_text("outside its start and end dates")

    with open_server.api() as api:  # nothing recorded
        events = api.get("/v1/decision-events", params={"identity": ADA}).json()
    assert events["results"] == []


def test_the_simulator_shows_a_bad_input_beside_its_field(
    page: Page, open_server: Server, problems: Problems
) -> None:
    open_console(page, open_server, f"/decisions/{HOMEPAGE}/simulate")
    page.get_by_label("Profile JSON").fill("{not json")
    page.get_by_role("button", name="Simulate").click()
    field = page.get_by_label("Profile JSON")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#sim-inline-error")).to_contain_text("not valid JSON")


def test_the_profile_page_shows_the_profile_and_what_it_would_get(
    page: Page, open_server: Server, problems: Problems
) -> None:
    open_console(page, open_server, "/profiles")
    assert axe_violations(page) == []
    page.get_by_label("Profile", exact=True).fill(ADA)
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("heading", name=f"Profile {ADA}")).to_be_visible()
    expect(page.locator("pre.json")).to_contain_text('"tier": "gold"')
    audiences = page.locator("section", has=page.get_by_role("heading", name="Audiences"))
    expect(audiences).to_contain_text("frequent-flyers")
    events = page.locator("section", has=page.get_by_role("heading", name="Recent events"))
    expect(events).to_contain_text("commerce.purchases")
    gets = page.locator("section.simulation")
    expect(gets.get_by_role("heading", name="What this profile would get")).to_be_visible()
    hero = gets.locator("section.proposition", has_text="Homepage hero")
    expect(hero.locator(".outcome")).to_contain_text("Airport lounge pass")
    expect(gets.locator("section.proposition", has_text="App card")).to_be_visible()
    assert axe_violations(page) == []

    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_an_unknown_identity_says_so(page: Page, open_server: Server, problems: Problems) -> None:
    open_console(page, open_server, "/profiles?profile=email:nobody@example.com")
    expect(page.locator("#sim-profile-error")).to_contain_text("no profile has the identity")
