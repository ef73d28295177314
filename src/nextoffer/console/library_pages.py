"""The generic library pages: list, detail, new and edit, for every `ConsoleEntity`.

Reads go through `LibraryService` (the calls the API's routes make) with the API's own list
filters; writes are made by the browser through the JSON API (console.js), so the API's
validation, `If-Match` checks and "still referenced by" answers are what a page shows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from nextoffer.console.entities import BY_KIND, BY_SLUG, ConsoleEntity
from nextoffer.console.fields import Choice
from nextoffer.console.pages import Page, PageContext
from nextoffer.errors import NotFound
from nextoffer.library.entities import KIND_TITLES
from nextoffer.library.query import Cursor, ListQuery, parse_filters, parse_limit, parse_orderby
from nextoffer.library.references import find_references

PAGE_SIZE = 20
SORTS = (
    ("-modified", "Last modified, newest first"),
    ("modified", "Last modified, oldest first"),
    ("name", "Name, A to Z"),
    ("-name", "Name, Z to A"),
)
READABLE = "=~:.*()!<>,?/"
"""Characters the list's API equivalent shows unescaped, so a person can read the filter."""
STATUS_ACTIONS = {
    "approved": "Approve",
    "live": "Activate",
    "complete": "Complete",
    "archived": "Archive",
    "draft": "Back to draft",
}
"""The status changes a detail page offers, named as Adobe's UI names them."""
PRIORITY_SORTS = (("-rank.priority", "Priority, highest first"),)


def entity_of(ctx: PageContext) -> ConsoleEntity:
    entity = BY_SLUG.get(ctx.path_params["entity"])
    if entity is None:
        raise NotFound.at(f"no console page {ctx.path_params['entity']!r}", parameter="path")
    return entity


def named(ctx: PageContext) -> dict[str, tuple[str, str, str]]:
    """Every object of the sandbox: id -> (name, kind, console slug), from its snapshot."""
    snap = ctx.services.library.snapshot(ctx.tenant)
    out: dict[str, tuple[str, str, str]] = {}
    if snap is None:
        return out
    for kind, docs in snap.by_kind.items():
        entity = BY_KIND.get(kind)
        for object_id, doc in docs.items():
            out[object_id] = (str(doc.get("name", object_id)), kind, entity.slug if entity else "")
    return out


def choices(names: Mapping[str, tuple[str, str, str]], ctx: PageContext) -> dict[str, list[Choice]]:
    """Per kind, the objects a reference field may name, sorted by name; placements carry
    their channel and content type so the form can fill a representation's channel."""
    snap = ctx.services.library.snapshot(ctx.tenant)
    out: dict[str, list[Choice]] = {}
    for object_id, (name, kind, _slug) in names.items():
        extra: dict[str, str] = {}
        if kind == "offer-placement" and snap is not None:
            doc = snap.of_kind(kind)[object_id]
            extra = {
                "channel": str(doc.get("channel", "")),
                "component-type": str(doc.get("componentType", "")),
            }
        out.setdefault(kind, []).append(Choice(object_id, name, extra))
    for items in out.values():
        items.sort(key=lambda c: (c.label.lower(), c.value))
    return out


# -- list ---------------------------------------------------------------------------------


def list_filters(entity: ConsoleEntity, query: Mapping[str, str], extra: list[str]) -> list[str]:
    """The API `property` expressions the list form's fields stand for."""
    out = []
    if text := query.get("q", "").strip():
        out.append(f"name~(?s).*{re.escape(text)}.*")
    if (status := query.get("status", "")) and entity.statuses:
        out.append(f"status=={status}")
    if (tag := query.get("tag", "")) and entity.tagged:
        out.append(f"tags=={tag}")
    return out + [p for p in extra if p.strip()]


def load_list(ctx: PageContext) -> Mapping[str, Any]:
    entity = entity_of(ctx)
    q = ctx.query
    properties = list_filters(entity, q, q.getlist("property"))
    order = parse_orderby(q.get("orderby") or None)
    token = q.get("start")
    query = ListQuery(
        filters=tuple(f for p in properties for f in parse_filters([p]) if f),
        order=order,
        limit=parse_limit(q.get("limit") or str(PAGE_SIZE)),
        cursor=Cursor.decode(token) if token else None,
    )
    page = ctx.services.library.list(ctx.tenant, entity.spec, query)
    names = named(ctx)
    kept = [(k, v) for k, v in q.multi_items() if k != "start"]

    def page_link(start: str | None) -> str | None:
        if start is None:
            return None
        return f"/{entity.slug}?{urlencode([*kept, ('start', start)])}"

    api_params = [("property", p) for p in properties]
    if q.get("orderby"):
        api_params.append(("orderby", q["orderby"]))
    api_params.append(("limit", str(query.limit)))
    sep = "&" if "?" in entity.api_path else "?"
    return {
        "entity": entity,
        "items": page.items,
        "total": page.total,
        "next": page_link(page.next_cursor),
        "prev": page_link(page.prev_cursor),
        "q": q.get("q", ""),
        "status": q.get("status", ""),
        "tag": q.get("tag", ""),
        "orderby": q.get("orderby", ""),
        "properties": [p for p in q.getlist("property") if p.strip()],
        "sorts": SORTS + (PRIORITY_SORTS if entity.slug == "offers" else ()),
        "tags": choices(names, ctx).get("tag", []) if entity.tagged else [],
        "api_query": entity.api_path + sep + urlencode(api_params, safe=READABLE, quote_via=quote),
    }


# -- detail -------------------------------------------------------------------------------


def load_detail(ctx: PageContext) -> Mapping[str, Any]:
    entity = entity_of(ctx)
    tenant = ctx.tenant
    doc = ctx.services.library.get(tenant, entity.spec, ctx.path_params["object_id"])
    names = named(ctx)

    def ref(pointer: str, object_id: str, kind: str) -> dict[str, str]:
        name, found_kind, slug = names.get(object_id, (object_id, kind, ""))
        return {
            "pointer": pointer,
            "id": object_id,
            "name": name,
            "kind": KIND_TITLES.get(found_kind, found_kind),
            "slug": slug,
        }

    uses = [
        ref(pointer, target, names.get(target, ("", kinds[0], ""))[1])
        for pointer, target, kinds in find_references(entity.spec.references, doc)
    ]
    used_by = [
        ref(pointer, source, kind)
        for source, kind, pointer in ctx.services.library.used_by(tenant, doc["id"])
    ]
    lifecycle = entity.spec.lifecycle
    moves: list[tuple[str, str]] = []
    if lifecycle is not None:
        current = str(doc.get(lifecycle.field) or lifecycle.initial)
        targets = sorted(lifecycle.transitions.get(current, frozenset()))
        moves = [(t, STATUS_ACTIONS.get(t, f"Set to {t}")) for t in targets]
    return {
        "entity": entity,
        "doc": doc,
        "moves": moves,
        "names": names,
        "uses": uses,
        "used_by": used_by,
        "json": json.dumps(doc, indent=2, ensure_ascii=False),
    }


# -- forms --------------------------------------------------------------------------------


def load_new(ctx: PageContext) -> Mapping[str, Any]:
    entity = entity_of(ctx)
    return {"entity": entity, "doc": None, "prefill": None, "choices": choices(named(ctx), ctx)}


def load_edit(ctx: PageContext) -> Mapping[str, Any]:
    entity = entity_of(ctx)
    doc = ctx.services.library.get(ctx.tenant, entity.spec, ctx.path_params["object_id"])
    return {"entity": entity, "doc": doc, "prefill": doc, "choices": choices(named(ctx), ctx)}


def load_duplicate(ctx: PageContext) -> Mapping[str, Any]:
    """A new object's form filled from an existing one: named "Copy of ...", and a draft again
    where the entity has a lifecycle (a copy is not approved or live until someone says so)."""
    entity = entity_of(ctx)
    doc = dict(ctx.services.library.get(ctx.tenant, entity.spec, ctx.path_params["object_id"]))
    doc["name"] = f"Copy of {doc.get('name', '')}"[:256]
    if entity.spec.lifecycle is not None:
        doc[entity.spec.lifecycle.field] = entity.spec.lifecycle.initial
    return {"entity": entity, "doc": None, "prefill": doc, "choices": choices(named(ctx), ctx)}


PAGES = [
    Page("/{entity}", "library/list.html", load_list),
    Page("/{entity}/new", "library/form.html", load_new),
    Page("/{entity}/{object_id}", "library/detail.html", load_detail),
    Page("/{entity}/{object_id}/edit", "library/form.html", load_edit),
    Page("/{entity}/{object_id}/duplicate", "library/form.html", load_duplicate),
]
