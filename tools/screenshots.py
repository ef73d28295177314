"""Screenshots of the console's main pages, from the demo, for the README.

    python -m tools.screenshots [--out docs/screenshots] [--chromium /usr/bin/chromium]

Starts the demo server in this process (open mode, a temporary SQLite file), drives Chromium
with Playwright and writes one PNG per page. Needs the `test` extra (Playwright).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tools.demo_server import CHROMIUM, demo_server

DECISION = "dps:offer-activity:homepage-and-email"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _show(page: Page, base: str, path: str) -> Page:
    page.goto(base + "/console" + path)
    page.locator("#content h1").first.wait_for()
    return page


def _new_fallback_offer(page: Page, base: str) -> None:
    _show(page, base, "/fallback-offers/new")
    page.get_by_label("Name", exact=True).fill("Free delivery")
    page.get_by_label("Description", exact=True).fill("Shown when no personalized offer qualifies")
    page.get_by_label("Status", exact=True).select_option("approved")
    page.get_by_label("Placement", exact=True).select_option(label="Homepage hero")
    page.get_by_label("Content", exact=True).fill("<p>Free delivery on every order today</p>")
    page.evaluate("window.scrollTo(0, 0)")


def _receipt(page: Page, base: str) -> None:
    _new_fallback_offer(page, base)
    page.get_by_role("button", name="Save").click()
    page.locator("[data-receipt]").wait_for()
    page.locator("[data-receipt] h2").scroll_into_view_if_needed()


def _stale(page: Page, base: str) -> None:
    _show(page, base, "/fallback-offers/dps:fallback-offer:welcome/edit")
    page.evaluate(
        """async () => {
            const url = "/data/core/dps/offers/dps:fallback-offer:welcome?offer-type=fallback";
            const ops = [{op: "replace", path: "/description", value: "Changed elsewhere"}];
            await window.nextofferConsole.api("PATCH", url, ops);
        }"""
    )
    page.get_by_role("button", name="Save").click()
    page.locator(".form-problem").wait_for()


def _rule_error(page: Page, base: str) -> None:
    _show(page, base, "/rules/new")
    page.get_by_label("Name", exact=True).fill("US gold members")
    page.get_by_label("Condition", exact=True).fill(
        'loyalty.tier = "gold"\nand homeAddress.countryCode == "US"'
    )
    page.locator("[data-pql-check][data-state=invalid]").wait_for()


def _simulation(page: Page, base: str) -> None:
    _show(page, base, f"/decisions/{DECISION}/simulate?profile=email:bruno.silva@example.com")
    page.locator("section.proposition").first.wait_for()
    page.evaluate("document.getElementById('result-title').scrollIntoView({block: 'start'})")


def _profile(page: Page, base: str) -> None:
    _show(page, base, "/profiles?profile=email:ada.lovelace@example.com")
    page.locator("section.simulation").wait_for()


SHOTS = [
    ("home", DESKTOP, lambda page, base: _show(page, base, "")),
    ("offers", DESKTOP, lambda page, base: _show(page, base, "/offers")),
    ("decision", DESKTOP, lambda page, base: _show(page, base, f"/decisions/{DECISION}")),
    ("new-fallback-offer", DESKTOP, _new_fallback_offer),
    ("fallback-offer-saved", DESKTOP, _receipt),
    ("stale-edit", DESKTOP, _stale),
    ("placements-phone", PHONE, lambda page, base: _show(page, base, "/placements")),
    ("rule-error", DESKTOP, _rule_error),
    ("simulation", DESKTOP, _simulation),
    ("profile", DESKTOP, _profile),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--chromium", default=CHROMIUM, help="the Chromium executable")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        demo_server(Path(tmp), {"NEXTOFFER_OPEN": "1"}) as (base, _settings),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=args.chromium)
        try:
            for name, viewport, show in SHOTS:
                page = browser.new_page(viewport=viewport)
                show(page, base)
                target = args.out / f"{name}.png"
                page.screenshot(path=str(target))
                print(target)
                page.close()
        finally:
            browser.close()


if __name__ == "__main__":
    main()
