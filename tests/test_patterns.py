"""Schema patterns are explained in words: every pattern the server validates has a description,
and a value that does not match gets it, through pydantic (the library) and msgspec (the rest)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any

import msgspec
import pytest
from pydantic import StringConstraints, TypeAdapter, ValidationError

from nextoffer import patterns
from nextoffer.api import openapi_shapes as shapes
from nextoffer.api.msgspec_errors import decode
from nextoffer.api.openapi_routes import OPERATIONS
from nextoffer.errors import InvalidInput
from nextoffer.library.entities import ENTITIES
from nextoffer.library.validation import schema_errors
from tests.helpers import assert_problem


def _patterns_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns_in(value)


def _pydantic_patterns() -> set[str]:
    return {p for spec in ENTITIES for p in _patterns_in(spec.model.model_json_schema())}


def _msgspec_patterns() -> set[str]:
    types = {shapes.Problem}
    for op in OPERATIONS:
        for body in (op.body, *(a.body for a in op.answers.values())):
            types.update(body.types if body else ())
    _, components = msgspec.json.schema_components(sorted(types, key=lambda t: t.__name__))
    return set(_patterns_in(components))


PYDANTIC = sorted(_pydantic_patterns())
MSGSPEC = sorted(_msgspec_patterns())


def test_the_schemas_have_patterns_to_describe() -> None:
    # the walk finds what it should: the library's ids and URIs, the batch API's dataset id
    assert r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$" in PYDANTIC
    assert r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z" in MSGSPEC
    assert len(PYDANTIC) >= 5 and len(MSGSPEC) >= 3


@pytest.mark.parametrize("regex", sorted({*PYDANTIC, *MSGSPEC}))
def test_every_schema_pattern_has_a_description(regex: str) -> None:
    words = patterns.description(regex)
    assert words, f"describe {regex!r} with nextoffer.patterns.described() where it is declared"
    assert not re.search(r"[\^$\\]", words), words  # words, not another regex


@pytest.mark.parametrize("regex", PYDANTIC)
def test_a_pydantic_mismatch_says_what_is_expected(regex: str) -> None:
    assert re.search(regex, " ") is None  # one bad value for every pattern
    adapter = TypeAdapter(Annotated[str, StringConstraints(pattern=regex)])
    with pytest.raises(ValidationError) as caught:
        adapter.validate_python(" ")
    [error] = schema_errors(caught.value, ("field",))
    assert error.message == f"expected {patterns.description(regex)}"
    assert error.pointer == "/field"


@pytest.mark.parametrize("regex", MSGSPEC)
def test_a_msgspec_mismatch_says_what_is_expected(regex: str) -> None:
    assert re.search(regex, " ") is None

    Body = msgspec.defstruct("Body", [("field", Annotated[str, msgspec.Meta(pattern=regex)])])
    with pytest.raises(InvalidInput) as caught:
        decode(b'{"field": " "}', Body, "the body")
    [error] = caught.value.errors
    assert error.message == f"the body: expected {patterns.description(regex)}"
    assert error.pointer == "/field"


def test_an_undescribed_pattern_keeps_the_validators_own_message() -> None:
    Body = msgspec.defstruct("Body", [("field", Annotated[str, msgspec.Meta(pattern=r"^x'y\d$")])])
    with pytest.raises(InvalidInput) as caught:
        decode(b'{"field": " "}', Body, "the body")
    assert caught.value.errors[0].message.startswith("the body: Expected `str` matching regex")


def test_a_pattern_is_described_once() -> None:
    assert patterns.described(patterns.NOT_BLANK, "a text that is not blank") == r"\S"
    with pytest.raises(ValueError, match="already described"):
        patterns.described(patterns.NOT_BLANK, "something else")
    assert patterns.expected("^unknown$", "the fallback") == "the fallback"


def test_a_placement_with_a_bare_channel_name_is_told_what_a_channel_looks_like(api) -> None:
    body = {"name": "hero", "channel": "web", "componentType": "html"}
    problem = assert_problem(api.post("/placements", body), 400, "invalid-body", "/channel")
    message = problem["errors"][0]["message"]
    assert "such as https://ns.adobe.com/xdm/channel-types/web" in message
    assert "pattern" not in message and "^" not in message


def test_an_offer_with_a_bad_language_and_id_is_told_in_words(api) -> None:
    placement = api.placement()
    body = {
        "name": "o",
        "representations": [
            {
                "channel": "https://ns.adobe.com/xdm/channel-types/web",
                "placement": placement,
                "components": [
                    {"type": "text", "content": "hi", "language": ["english!"]},
                ],
            }
        ],
        "tags": ["not an id"],
    }
    problem = assert_problem(api.post("/offers?offer-type=personalized", body), 400)
    messages = {e["pointer"]: e["message"] for e in problem["errors"]}
    assert messages["/representations/0/components/0/language/0"] == (
        "expected a language tag such as en or en-US"
    )
    assert messages["/tags/0"].startswith("expected an object id of letters, digits")
