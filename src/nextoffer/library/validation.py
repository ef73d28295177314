"""The two gates every written document passes: its schema (400), then its integrity (422)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from nextoffer.errors import FieldError, InvalidInput, RuleViolation
from nextoffer.library.entities import BY_KIND, KIND_TITLES, EntitySpec
from nextoffer.library.integrity import LIMIT, LibraryView
from nextoffer.library.references import escape_pointer_token, find_references
from nextoffer.patterns import expected

Doc = Mapping[str, Any]


def pointer_of(loc: tuple[Any, ...]) -> str:
    return "".join("/" + escape_pointer_token(str(part)) for part in loc)


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "this field is required"
    if kind == "extra_forbidden":
        return (
            "unknown field (tenant fields must start with _)"
            if len(error["loc"]) == 1
            else ("unknown field")
        )
    msg = str(error["msg"])
    if kind == "string_pattern_mismatch":
        return expected(str(error.get("ctx", {}).get("pattern", "")), msg)
    return msg.removeprefix("Value error, ")


def schema_errors(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> list[FieldError]:
    return [
        FieldError(_message(e), pointer=pointer_of(prefix + tuple(e["loc"])))
        for e in exc.errors(include_url=False)
    ]


def parse_document(spec: EntitySpec, raw: Any) -> dict[str, Any]:
    """Validate a client body against the entity's schema; return it normalised.

    Normalised means: date-times in UTC, fields in schema order, omitted optional fields and
    explicit nulls dropped, a default status filled in, tenant fields (`_x`) kept as sent.
    """
    if not isinstance(raw, Mapping):
        raise InvalidInput.at(
            f"the body must be a JSON object describing a {spec.title.lower()}", pointer=""
        )
    body = {k: v for k, v in raw.items() if not k.startswith("_")}
    tenant = {k: v for k, v in raw.items() if k.startswith("_")}
    try:
        model = spec.model.model_validate(body)
    except ValidationError as exc:
        raise InvalidInput.many(
            f"the {spec.title.lower()} does not match its schema",
            schema_errors(exc),
            code="invalid-body",
        ) from None
    dumped = model.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True)
    if spec.lifecycle is not None:
        dumped.setdefault(spec.lifecycle.field, spec.lifecycle.initial)
    ordered = {}
    for name, info in spec.model.model_fields.items():
        key = info.alias or name
        if key in dumped:
            ordered[key] = dumped[key]
    ordered.update(tenant)
    return ordered


def integrity_errors(
    spec: EntitySpec, doc: Doc, view: LibraryView, old: Doc | None, *, creating: bool
) -> list[FieldError]:
    """Every reference, lifecycle, rule and limit the document breaks.

    `old` is the stored version (its status must reach the new one legally); `creating` adds the
    sandbox-wide count limit of the entity.
    """
    errors: list[FieldError] = []
    for pointer, target, kinds in find_references(spec.references, doc):
        found = view.get(target)
        wanted = " or ".join(KIND_TITLES[k] for k in kinds)
        if found is None:
            errors.append(
                FieldError(
                    f"there is no {wanted} {target} in this sandbox",
                    pointer,
                    code="invalid-reference",
                )
            )
        elif found.kind not in kinds:
            errors.append(
                FieldError(
                    f"{target} is a {KIND_TITLES[found.kind]}, not a {wanted}",
                    pointer,
                    code="invalid-reference",
                )
            )
    if spec.lifecycle is not None and old is not None:
        field = spec.lifecycle.field
        problem = spec.lifecycle.problem(old.get(field), doc.get(field))
        if problem is not None:
            errors.append(problem)
    for check in spec.checks:
        errors.extend(check(doc, view, old))
    if creating and spec.count_limit is not None:
        name, kinds = spec.count_limit
        most = getattr(view.limits, name)
        if view.count(kinds) >= most:
            errors.append(
                FieldError(
                    f"the sandbox already holds {most} of these objects (limit {name})",
                    pointer="",
                    code=LIMIT,
                )
            )
    return errors


def check_integrity(spec: EntitySpec, doc: Doc, view: LibraryView, old: Doc | None) -> None:
    """Raise one 422 listing everything `integrity_errors` finds."""
    errors = integrity_errors(spec, doc, view, old, creating=old is None)
    if errors:
        raise RuleViolation.many(f"the {spec.title.lower()} breaks the library's rules", errors)


def referrer_errors(
    spec: EntitySpec,
    object_id: str,
    doc: Doc,
    old: Doc,
    view: LibraryView,
    referrers: list[tuple[str, str, str]],
) -> list[FieldError]:
    """What a change to a referenced object would break in the objects that reference it."""
    changed = [f for f in spec.contract_fields if old.get(f) != doc.get(f)]
    errors: list[FieldError] = []
    if not changed:
        return errors
    for source_id in dict.fromkeys(source for source, _, _ in referrers):
        source = view.get(source_id)
        if source is None:
            continue
        dependent = BY_KIND[source.kind].dependents.get(spec.kind)
        if dependent is None:
            continue
        for problem in dependent(source.doc, object_id, doc):
            errors.append(
                FieldError(
                    f"{KIND_TITLES[source.kind]} {source_id} would break: {problem.message}",
                    pointer=f"/{changed[0]}",
                    code="breaks-referrer",
                )
            )
    return errors


def check_referrers(
    spec: EntitySpec,
    object_id: str,
    doc: Doc,
    old: Doc,
    view: LibraryView,
    referrers: list[tuple[str, str, str]],
) -> None:
    """Refuse a change to a referenced object that would make one of its referrers invalid."""
    errors = referrer_errors(spec, object_id, doc, old, view, referrers)
    if errors:
        raise RuleViolation.many(
            f"this change would break objects that reference {object_id}", errors
        )
