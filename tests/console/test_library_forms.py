"""The library's forms in a real browser: they write through the JSON API, show its receipt,
and put its problem+json errors where they belong (beside the field, stale edits, references)."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.console.conftest import Problems, Server, open_console

FALLBACK = "/data/core/dps/offers?offer-type=fallback"
FALLBACK_ITEM = "/data/core/dps/offers/"
WEB = "https://ns.adobe.com/xdm/channel-types/web"


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:8]}"


def saved_id(page: Page) -> str:
    """The id the receipt shows once the API accepted the form."""
    expect(page.locator("[data-receipt]")).to_be_visible()
    return page.locator("[data-receipt] [data-r=id]").inner_text()


def test_a_fallback_offer_made_with_the_form_is_in_the_api(
    page: Page, open_server: Server, problems: Problems
) -> None:
    open_console(page, open_server, "/fallback-offers")
    page.get_by_role("link", name="New fallback offer").click()
    expect(page.get_by_role("heading", name="New fallback offer")).to_be_visible()
    name = unique("Free delivery")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Description", exact=True).fill("Shown when nothing else qualifies")
    page.get_by_label("Status", exact=True).select_option("approved")
    page.get_by_label("Placement", exact=True).select_option(label="Homepage hero")
    expect(page.get_by_label("Channel", exact=True)).to_have_value(WEB)  # from the placement
    expect(page.get_by_label("Type", exact=True)).to_have_value("html")
    expect(page.get_by_label("Format", exact=True)).to_have_value("text/html")
    page.get_by_label("Content", exact=True).fill("<p>Free delivery today</p>")
    page.get_by_role("button", name="Save").click()

    receipt = page.locator("[data-receipt]")
    expect(receipt.get_by_role("heading", name="Saved")).to_be_visible()
    object_id = receipt.locator("[data-r=id]").inner_text()
    assert object_id.startswith("dps:fallback-offer:")
    expect(receipt.locator("[data-r=etag]")).to_have_text("1")
    expect(receipt.locator("[data-r=createdBy]")).to_have_text("anonymous@nextoffer")
    expect(receipt.locator("[data-r=createdDate]")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\dT"))

    with open_server.api() as api:
        doc = api.get(f"/data/core/dps/offers/{object_id}?offer-type=fallback").json()
    assert doc["name"] == name
    assert doc["status"] == "approved"
    assert doc["representations"] == [
        {
            "channel": WEB,
            "placement": "dps:offer-placement:web-hero",
            "components": [
                {"type": "html", "format": "text/html", "content": "<p>Free delivery today</p>"}
            ],
        }
    ]

    receipt.get_by_role("link", name="Open it").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page).to_have_url(re.compile(f"/console/fallback-offers/{re.escape(object_id)}$"))


def test_an_image_representation_takes_a_delivery_url(
    page: Page, open_server: Server, problems: Problems
) -> None:
    open_console(page, open_server, "/fallback-offers/new")
    page.get_by_label("Name", exact=True).fill(unique("Banner"))
    page.get_by_label("Placement", exact=True).select_option(label="Email banner")
    expect(page.get_by_label("Type", exact=True)).to_have_value("imagelink")
    page.get_by_label("Format", exact=True).fill("image/jpeg")
    page.get_by_label("Delivery URL", exact=True).fill("https://cdn.example.com/banner.jpg")
    page.get_by_role("button", name="Save").click()
    object_id = saved_id(page)
    with open_server.api() as api:
        doc = api.get(f"/data/core/dps/offers/{object_id}?offer-type=fallback").json()
    component = doc["representations"][0]["components"][0]
    assert component["deliveryURL"] == "https://cdn.example.com/banner.jpg"
    assert component["format"] == "image/jpeg"


def test_the_api_validation_error_appears_beside_its_field(
    page: Page, open_server: Server, problems: Problems
) -> None:
    problems.expected.append("status of 400")
    open_console(page, open_server, "/fallback-offers/new")
    page.get_by_label("Placement", exact=True).select_option(label="Homepage hero")
    page.get_by_label("Content", exact=True).fill("<p>Hello</p>")
    page.get_by_role("button", name="Save").click()  # no Name

    name = page.get_by_label("Name", exact=True)
    expect(name).to_have_attribute("aria-invalid", "true")
    error = page.locator(".field:has(#f-name) .field-error")
    expect(error).to_be_visible()
    expect(name).to_have_accessible_description(re.compile(error.inner_text()))
    expect(page.locator(".form-problem")).to_be_visible()
    expect(page.locator("[data-receipt]")).to_be_hidden()
    with open_server.api() as api:
        listed = api.get(FALLBACK + "&property=name~.*Hello.*").json()
    assert listed["total"] == 0

    page.get_by_label("Name", exact=True).fill(unique("Fixed"))
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[data-receipt]")).to_be_visible()
    expect(page.locator(".field-error")).to_have_count(0)


def test_a_nested_error_lands_in_its_representation(
    page: Page, open_server: Server, problems: Problems
) -> None:
    problems.expected.append("status of 400")
    open_console(page, open_server, "/fallback-offers/new")
    page.get_by_label("Name", exact=True).fill(unique("No content"))
    page.get_by_label("Placement", exact=True).select_option(label="Homepage hero")
    page.get_by_role("button", name="Save").click()  # a component without content
    expect(
        page.locator("[data-group='/representations/0/components'] .field-error")
    ).to_contain_text("content")


def test_groups_add_and_remove_items_in_order(
    page: Page, open_server: Server, problems: Problems
) -> None:
    open_console(page, open_server, "/fallback-offers/new")
    page.get_by_label("Name", exact=True).fill(unique("Two places"))
    page.get_by_role("button", name="Add representation").click()
    page.get_by_role("button", name="Add representation").click()
    page.get_by_role("button", name="Remove representation").nth(1).click()  # the middle one
    placements = page.locator("select[name$='/placement']")
    expect(placements).to_have_count(2)
    expect(placements.nth(1)).to_have_attribute("name", "/representations/1/placement")
    expect(page.get_by_text("Representation 2", exact=True)).to_be_visible()
    for i, (label, content) in enumerate([("Homepage hero", "<b>Hi</b>"), ("App card", "{}")]):
        placements.nth(i).select_option(label=label)
        page.locator(f"textarea[name='/representations/{i}/components/0/content']").fill(content)
    page.get_by_role("button", name="Save").click()
    object_id = saved_id(page)
    with open_server.api() as api:
        doc = api.get(f"/data/core/dps/offers/{object_id}?offer-type=fallback").json()
    assert [r["placement"] for r in doc["representations"]] == [
        "dps:offer-placement:web-hero",
        "dps:offer-placement:app-card",
    ]
    assert doc["representations"][1]["components"][0]["type"] == "json"


def _make_tag(server: Server, name: str) -> str:
    with server.api() as api:
        r = api.post("/data/core/dps/tags", json={"name": name})
        assert r.status_code == 201, r.text
        return r.json()["id"]


def test_an_edit_saves_with_if_match(page: Page, open_server: Server, problems: Problems) -> None:
    tag = _make_tag(open_server, unique("Qualifier"))
    open_console(page, open_server, f"/collection-qualifiers/{tag}/edit")
    page.get_by_label("Description", exact=True).fill("Edited in the console")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[data-receipt] [data-r=etag]")).to_have_text("2")
    page.get_by_label("Description", exact=True).fill("")  # a second save: etag 2, removes it
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[data-receipt] [data-r=etag]")).to_have_text("3")
    with open_server.api() as api:
        doc = api.get(f"/data/core/dps/tags/{tag}").json()
    assert doc["etag"] == 3 and "description" not in doc


def test_a_stale_edit_says_so_and_reloads(
    page: Page, open_server: Server, problems: Problems
) -> None:
    problems.expected.append("status of 412")
    tag = _make_tag(open_server, unique("Contested"))
    open_console(page, open_server, f"/collection-qualifiers/{tag}/edit")
    with open_server.api() as api:  # someone else saves first
        ops = [{"op": "replace", "path": "/name", "value": "Changed elsewhere"}]
        assert api.patch(f"/data/core/dps/tags/{tag}", json=ops).status_code == 200
    page.get_by_label("Description", exact=True).fill("Mine")
    page.get_by_role("button", name="Save").click()
    box = page.locator(".form-problem")
    expect(box).to_contain_text("changed since you opened it")
    box.get_by_role("button", name="Reload").click()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Changed elsewhere")
    with open_server.api() as api:
        assert "description" not in api.get(f"/data/core/dps/tags/{tag}").json()


def test_deleting_a_referenced_placement_shows_who_references_it(
    page: Page, open_server: Server, problems: Problems
) -> None:
    problems.expected.append("status of 409")
    open_console(page, open_server, "/placements/dps:offer-placement:web-hero")
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("button", name="Delete permanently").click()
    problem = page.locator("[data-delete] .form-problem")
    expect(problem).to_contain_text("still referenced by")
    expect(problem).to_contain_text("Homepage and email")
    with open_server.api() as api:
        assert api.get("/data/core/dps/placements/dps:offer-placement:web-hero").status_code == 200


def test_deleting_an_unused_object_returns_to_its_list(
    page: Page, open_server: Server, problems: Problems
) -> None:
    name = unique("Short-lived")
    tag = _make_tag(open_server, name)
    open_console(page, open_server, f"/collection-qualifiers/{tag}")
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("button", name="Delete permanently").click()
    expect(page.get_by_role("heading", name="Collection qualifiers")).to_be_visible()
    expect(page.get_by_role("link", name=name)).to_have_count(0)
    with open_server.api() as api:
        assert api.get(f"/data/core/dps/tags/{tag}").status_code == 404


def test_duplicate_opens_a_new_draft_filled_from_the_original(
    page: Page, open_server: Server, problems: Problems
) -> None:
    open_console(page, open_server, "/fallback-offers/dps:fallback-offer:welcome")
    page.get_by_role("link", name="Duplicate").click()
    expect(page.get_by_role("heading", name="New fallback offer (a copy)")).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Copy of Welcome to Acme")
    expect(page.get_by_label("Status", exact=True)).to_have_value("draft")
    page.get_by_role("button", name="Save").click()
    object_id = saved_id(page)
    with open_server.api() as api:
        original = api.get(f"{FALLBACK_ITEM}dps:fallback-offer:welcome?offer-type=fallback").json()
        copy = api.get(f"{FALLBACK_ITEM}{object_id}?offer-type=fallback").json()
    assert copy["id"] != original["id"] and copy["status"] == "draft"
    assert copy["representations"] == original["representations"]


def _draft_fallback(server: Server) -> str:
    body = {
        "name": unique("Draft"),
        "representations": [
            {
                "channel": WEB,
                "placement": "dps:offer-placement:web-hero",
                "components": [{"type": "html", "format": "text/html", "content": "<p>x</p>"}],
            }
        ],
    }
    with server.api() as api:
        r = api.post(FALLBACK, json=body)
        assert r.status_code == 201, r.text
        return r.json()["id"]


def test_status_buttons_follow_the_lifecycle(
    page: Page, open_server: Server, problems: Problems
) -> None:
    object_id = _draft_fallback(open_server)
    open_console(page, open_server, f"/fallback-offers/{object_id}")
    status = page.locator("[data-status-change]")
    expect(status.get_by_role("heading")).to_have_text("Status: draft")
    page.get_by_role("button", name="Approve").click()
    expect(status.get_by_role("heading")).to_have_text("Status: approved")
    expect(page.get_by_role("button", name="Back to draft")).to_be_visible()
    with open_server.api() as api:
        assert (
            api.get(f"{FALLBACK_ITEM}{object_id}?offer-type=fallback").json()["status"]
            == "approved"
        )


def test_a_stale_status_change_says_so(page: Page, open_server: Server, problems: Problems) -> None:
    problems.expected.append("status of 412")
    object_id = _draft_fallback(open_server)
    open_console(page, open_server, f"/fallback-offers/{object_id}")
    with open_server.api() as api:
        ops = [{"op": "replace", "path": "/description", "value": "elsewhere"}]
        assert (
            api.patch(f"{FALLBACK_ITEM}{object_id}?offer-type=fallback", json=ops).status_code
            == 200
        )
    page.get_by_role("button", name="Approve").click()
    box = page.locator("[data-status-change] .form-problem")
    expect(box).to_contain_text("changed since you opened it")
    box.get_by_role("button", name="Reload").click()
    expect(page.get_by_text("elsewhere", exact=True)).to_be_visible()
