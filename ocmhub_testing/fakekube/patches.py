"""The patch formats the server accepts, reduced to what a JSON document needs.

Strategic merge and server-side apply are approximated by JSON merge patch: maps merge recursively and
lists are replaced whole (no merge keys, no `$patch` directives, no field ownership).
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import ApiError, Json, bad_request

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: a map patch merges into a map (null deletes), anything else replaces the target."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _unprocessable(message: str) -> ApiError:
    return ApiError(422, message, "Invalid")


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise bad_request(f"invalid JSON pointer: {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]]


def _index(container: list[Any], token: str, *, allow_end: bool) -> int:
    if allow_end and token == "-":
        return len(container)
    if not token.isdigit() or int(token) > len(container) - (0 if allow_end else 1):
        raise _unprocessable(f"array index {token!r} out of range")
    return int(token)


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    for token in tokens[:-1]:
        if isinstance(doc, dict) and token in doc:
            doc = doc[token]
        elif isinstance(doc, list):
            doc = doc[_index(doc, token, allow_end=False)]
        else:
            raise _unprocessable(f"doc is missing path: {path!r}")
    return doc


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent, last = _parent(doc, tokens, path), tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, allow_end=False)]
    raise _unprocessable(f"doc is missing path: {path!r}")


def _remove(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise _unprocessable("cannot remove the whole document")
    parent, last = _parent(doc, tokens, path), tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, allow_end=False))
    raise _unprocessable(f"doc is missing path: {path!r}")


def _add(doc: Any, path: str, value: Any, *, replace: bool) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return copy.deepcopy(value)
    parent, last = _parent(doc, tokens, path), tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise _unprocessable(f"doc is missing key: {path!r}")
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        index = _index(parent, last, allow_end=not replace)
        if replace:
            parent[index] = copy.deepcopy(value)
        else:
            parent.insert(index, copy.deepcopy(value))
    else:
        raise _unprocessable(f"doc is missing path: {path!r}")
    return doc


def json_patch(target: Json, operations: Any) -> Json:
    """RFC 6902 add/remove/replace/test (and move/copy) on a copy of the target."""
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise bad_request("the body of a JSON patch must be a list of operations")
    doc: Any = copy.deepcopy(target)
    for operation in operations:
        name, path = operation.get("op"), operation.get("path")
        if name in ("add", "replace", "test") and "value" not in operation:
            raise bad_request(f"JSON patch operation {name!r} needs a value")
        match name:
            case "add" | "replace":
                doc = _add(doc, str(path), operation["value"], replace=name == "replace")
            case "remove":
                _remove(doc, str(path))
            case "test":
                if _get(doc, str(path)) != operation["value"]:
                    raise _unprocessable(f"testing value {path} failed: test failed")
            case "move" | "copy":
                source = str(operation.get("from"))
                value = _remove(doc, source) if name == "move" else copy.deepcopy(_get(doc, source))
                doc = _add(doc, str(path), value, replace=False)
            case _:
                raise bad_request(f"unsupported JSON patch operation: {name!r}")
    if not isinstance(doc, dict):
        raise _unprocessable("a JSON patch must leave an object")
    return doc
