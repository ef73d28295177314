"""The Simulate and Profiles fragments through the real app (no browser): what they show for
each input, the API's refusals beside their inputs, and every candidate's reason."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from nextoffer.demo import demo_library
from nextoffer.demo.profiles import demo_profiles
from nextoffer.library.portable import import_library
from nextoffer.tenants import Actor, Tenant
from tests.decisioning.conftest import post, request_body, scope
from tests.helpers import Api

HOMEPAGE = "dps:offer-activity:homepage-and-email"
ADA = "email:ada.lovelace@example.com"


@pytest.fixture
def people(api: Api, services) -> Api:
    """A tenant of its own with the demo library and profiles."""
    demo = api
    import_library(services.library, Tenant(api.org, api.sandbox), Actor("t", "t"), demo_library())
    for profile in demo_profiles(datetime.now(UTC)):
        assert demo.post("/v1/profiles", profile).status_code == 201
    return demo


def fragment(api: Api, path: str, **query: str):
    url = "/console/fragments" + path + ("?" + urlencode(query) if query else "")
    return api.client.get(url, headers=api.headers)


def test_simulate_shows_each_placement_and_every_candidate(people: Api) -> None:
    r = fragment(people, f"/decisions/{HOMEPAGE}/simulate", profile=ADA)
    assert r.status_code == 200
    html = r.text
    assert "Simulate Homepage and email" in html
    assert html.count('<section class="proposition"') == 2  # hero and email banner
    assert 'data-reason="selected"' in html and 'data-reason="outranked"' in html
    assert "Airport lounge pass" in html


def test_a_capped_offer_shows_its_counter(people: Api) -> None:
    real = request_body(scope("homepage-and-email", "web-hero"))
    real["xdm:profiles"][0]["xdm:identityMap"] = {"email": [{"xdm:id": "ada.lovelace@example.com"}]}
    for _ in range(3):
        assert post(people, real).status_code == 200
    html = fragment(people, f"/decisions/{HOMEPAGE}/simulate", profile=ADA).text
    row = html[html.index('data-reason="capped"') :]
    row = row[: row.index("</tr>")]
    assert "Airport lounge pass" in row
    assert "3 of 3 decision events counted per profile" in row


def test_an_inline_profile_context_and_time(people: Api) -> None:
    html = fragment(
        people,
        "/decisions/dps:offer-activity:app-home/simulate",
        inline='{"loyalty": {"tier": "silver"}}',
        context='{"_xdm.context.additionalParameters;version=1": {"channel": "mobile"}}',
        at="2027-03-01T09:30",
    ).text
    assert "At 2027-03-01T09:30:00.000+00:00 for the profile given" in " ".join(html.split())
    assert "App exclusive: free shipping" in html.split("<table")[0]  # proposed


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"profile": "no-namespace"}, "profile", "namespace:id"),
        ({"inline": "{oops"}, "inline", "not valid JSON"),
        ({"inline": "[1]"}, "inline", "Expected `object | null`, got `array`"),
        ({"profile": ADA, "context": "[1]"}, "context", "Expected `object`, got `int`"),
        ({"profile": ADA, "at": "2030"}, "at", "datetime"),
    ],
)
def test_a_bad_input_is_shown_beside_its_field(
    people: Api, query: dict[str, str], field: str, message: str
) -> None:
    r = fragment(people, f"/decisions/{HOMEPAGE}/simulate", **query)
    assert r.status_code == 200
    html = r.text
    assert f'id="sim-{field}-error"' in html and message in html
    assert f'id="sim-{field}"' in html and 'aria-invalid="true"' in html
    assert '<section class="simulation"' not in html


def test_simulating_an_unknown_decision_is_404(people: Api) -> None:
    r = fragment(people, "/decisions/dps:offer-activity:nope/simulate", profile=ADA)
    assert r.status_code == 404


def test_the_profile_page(people: Api) -> None:
    html = fragment(people, "/profiles", profile=ADA).text
    assert f"Profile {ADA}" in html
    assert "frequent-flyers" in html and "commerce.purchases" in html
    assert "What this profile would get" in html
    assert "Simulate Homepage and email with another context or time" in html
    assert fragment(people, "/profiles").text.count("<section") == 0


def test_the_profile_page_refuses_like_the_api(people: Api) -> None:
    html = fragment(people, "/profiles", profile="email:nobody@example.com").text
    assert "no profile has the identity email:nobody@example.com" in html
    html = fragment(people, "/profiles", profile="nocolon").text
    assert 'id="sim-profile-error"' in html
    r = people.client.get(
        "/console/fragments/profiles", headers={**people.headers, "x-api-key": "x"}
    )
    assert r.status_code == 401
