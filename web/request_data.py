"""Decoding what a client sends as a GraphQL request, refusing what is malformed.

Every failure here is a `BadRequest` (→ HTTP 400 with a JSON error), never an exception
that would surface as a 500: bytes that are not UTF-8, JSON nested deeper than any real
request needs (a 100,000-deep array made the standard parser overflow the stack), and
multipart `operations`/`map` fields of the wrong shape or pointing at nothing.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

MAX_JSON_DEPTH = 64  # GraphQL variables of real clients stay far below this


class BadRequest(ValueError):
    pass


def decode_json(data: str | bytes) -> Any:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")  # strict: \xff, \xc3\x28, overlong \xc0\xaf fail here
        except UnicodeDecodeError as exc:
            raise BadRequest(f"The request is not valid UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(data, parse_constant=_no_constant)
    except RecursionError:
        raise BadRequest(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"Unable to parse JSON: {exc.msg} at position {exc.pos}") from None
    check_depth(value)
    return value


def _no_constant(name: str) -> None:
    raise BadRequest(f"{name} is not JSON")


def check_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """Iterative (a recursive walk would overflow on exactly the input it must refuse)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            raise BadRequest(f"JSON nested deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children)


def replace_placeholders(operations: Any, files_map: Any, files: Mapping[str, Any]) -> dict[str, Any]:
    """The GraphQL multipart request spec, strictly: `operations` is one operation object,
    `map` is {"<file field>": ["variables.<path>", …]}, and every path names an existing
    null placeholder inside the variables."""
    if not isinstance(operations, dict):
        raise BadRequest("Multipart `operations` must be a JSON object (batches are not supported)")
    if not isinstance(files_map, dict):
        raise BadRequest('Multipart `map` must be a JSON object like {"0": ["variables.file"]}')
    result = copy.deepcopy(operations)
    for field, paths in files_map.items():
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise BadRequest(f"Multipart `map` entry {field!r} must be a list of variable paths")
        if field not in files:
            raise BadRequest(f"Multipart `map` names file {field!r}, which the request does not contain")
        for path in paths:
            _place(result, path, files[field])
    return result


def _place(operations: dict[str, Any], path: str, file: Any) -> None:
    keys = path.split(".")
    if len(keys) < 2 or keys[0] != "variables":
        raise BadRequest(f"Multipart path {path!r} must point inside `variables`")
    target: Any = operations
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(target, dict) and key in target:
            if last:
                _check_placeholder(target[key], path)
                target[key] = file
            else:
                target = target[key]
        elif isinstance(target, list) and key.isdigit() and int(key) < len(target):
            if last:
                _check_placeholder(target[int(key)], path)
                target[int(key)] = file
            else:
                target = target[int(key)]
        else:
            raise BadRequest(f"Multipart path {path!r} does not exist in the operation's variables")


def _check_placeholder(value: Any, path: str) -> None:
    if value is not None:
        raise BadRequest(f"Multipart path {path!r} must point at a null placeholder")
