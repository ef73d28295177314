"""JSON Patch (RFC 6902) as the library applies it: lenient `replace`, system fields protected."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsonpatch
import jsonpointer

from nextoffer.errors import Conflict, FieldError, InvalidInput, RuleViolation
from nextoffer.library.documents import SYSTEM_FIELDS

_OPS = {"add", "remove", "replace", "move", "copy", "test"}


def validate_operations(raw: Any) -> list[dict[str, Any]]:
    """Check the patch document's own shape (400 on a malformed patch)."""
    if not isinstance(raw, list):
        raise InvalidInput.at(
            "a PATCH body is a JSON Patch array of operations, e.g. "
            '[{"op": "replace", "path": "/name", "value": "New name"}]',
            pointer="",
            code="invalid-patch",
        )
    errors = []
    for i, op in enumerate(raw):
        if not isinstance(op, Mapping):
            errors.append(FieldError("an operation must be an object", pointer=f"/{i}"))
            continue
        name = op.get("op")
        if not isinstance(name, str) or name not in _OPS:
            errors.append(
                FieldError(f"op must be one of {', '.join(sorted(_OPS))}", pointer=f"/{i}/op")
            )
        if not isinstance(op.get("path"), str) or not _is_pointer(op["path"]):
            errors.append(
                FieldError("path must be a JSON pointer such as /name", pointer=f"/{i}/path")
            )
        if name in ("add", "replace", "test") and "value" not in op:
            errors.append(FieldError(f"a {name} operation needs a value", pointer=f"/{i}/value"))
        if name in ("move", "copy") and (
            not isinstance(op.get("from"), str) or not _is_pointer(op["from"])
        ):
            errors.append(
                FieldError(f"a {name} operation needs from, a JSON pointer", pointer=f"/{i}/from")
            )
    if errors:
        raise InvalidInput.many("the JSON Patch is malformed", errors, code="invalid-patch")
    return list(raw)


def _is_pointer(text: str) -> bool:
    return text == "" or text.startswith("/")


def _top(pointer: str) -> str:
    return pointer[1:].split("/", 1)[0].replace("~1", "/").replace("~0", "~") if pointer else ""


def apply_operations(doc: Mapping[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply `ops` to a copy of the read model; all or nothing."""
    for i, op in enumerate(ops):
        if op["op"] == "test":
            continue
        for key in ("path", "from"):
            if op["op"] == "copy" and key == "from":
                continue
            if key in op and (op[key] == "" or _top(op[key]) in SYSTEM_FIELDS):
                field = _top(op[key]) or "the whole document"
                raise RuleViolation.at(
                    f"{field} is managed by the server and cannot be changed",
                    pointer=f"/{i}/{key}",
                    code="system-field",
                )
    result: Any = copy.deepcopy(dict(doc))
    for i, op in enumerate(ops):
        op = dict(op)
        if (
            op["op"] == "replace"
            and not _exists(result, op["path"])
            and _parent_exists(result, op["path"])
        ):
            op["op"] = "add"  # the docs replace members that may be absent (AMB-10)
        try:
            result = jsonpatch.apply_patch(result, [op], in_place=True)
        except jsonpatch.JsonPatchTestFailed as exc:
            raise Conflict.at(
                f"test operation failed: {exc}", pointer=f"/{i}", code="patch-test-failed"
            ) from None
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise RuleViolation.at(
                f"cannot apply operation {i} ({op['op']} {op['path']}): {exc}",
                pointer=f"/{i}",
                code="patch-failed",
            ) from None
    if not isinstance(result, dict):
        raise RuleViolation.at(
            "the patch must leave a JSON object", pointer="", code="patch-failed"
        )
    return result


def _exists(doc: Any, pointer: str) -> bool:
    try:
        jsonpointer.resolve_pointer(doc, pointer)
        return True
    except jsonpointer.JsonPointerException:
        return False


def _parent_exists(doc: Any, pointer: str) -> bool:
    parent = pointer.rsplit("/", 1)[0]
    if not _exists(doc, parent):
        return False
    return isinstance(jsonpointer.resolve_pointer(doc, parent), dict)
