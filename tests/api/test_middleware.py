"""Headers are bounded before any route reads them: 431 problem+json, at once."""

from __future__ import annotations

from nextoffer.api.middleware import MAX_HEADER_VALUE_BYTES, MAX_HEADERS_BYTES
from tests.helpers import Api, assert_problem

ODS = "/data/core/ods/decisions"
HUGE_CONTENT_TYPE = "application/json; " + "schema=" * 32_000  # 224 KB: 15 s before issue 15


def test_a_huge_content_type_or_accept_is_a_431_naming_the_header(api: Api) -> None:
    for name in ("Content-Type", "Accept"):
        r = api.client.post(ODS, content=b"{}", headers={**api.headers, name: HUGE_CONTENT_TYPE})
        body = assert_problem(r, 431, "header-too-large", parameter=name.lower())
        assert body["maxBytes"] == MAX_HEADER_VALUE_BYTES
    just_under = "application/json; x=" + "y" * (MAX_HEADER_VALUE_BYTES - 40)
    r = api.client.post(ODS, content=b"{}", headers={**api.headers, "Content-Type": just_under})
    assert r.status_code == 400, r.text  # served: the empty body is what is wrong


def test_many_headers_together_are_bounded_too(api: Api) -> None:
    many = {f"x-pad-{i}": "p" * 4000 for i in range(MAX_HEADERS_BYTES // 4000 + 1)}
    r = api.client.get("/v1/health", headers=many)
    assert_problem(r, 431, "header-too-large", parameter="headers")
    assert api.client.get("/v1/health", headers={"x-pad": "p" * 4000}).status_code == 200
