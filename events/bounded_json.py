"""JSON from an untrusted source, read within bounds on its size and nesting depth.

Python's json parser recurses once per level of nesting, so a document of 200 kB of `[[[...`
raises RecursionError (not a ValueError) and, parsed at all, leaves a structure every later walk
(validation, serialisation, a NUL search) recurses into again. loads() refuses such a document
with TooLarge or TooDeep, both ValueError, before anything else sees it.

Depth is checked without a walk in the usual case: a document with no more opening brackets than
the depth allowed cannot be nested deeper than that (one `bytes.count` each, in C). Only a
document with more of them is walked, iteratively, and the walk stops at the first level too deep.
"""

import json
from typing import Any


class TooLarge(ValueError):
    pass


class TooDeep(ValueError):
    pass


def loads(raw: bytes | str, *, max_bytes: int, max_depth: int, parse_constant=None) -> Any:
    """`raw` parsed, or TooLarge / TooDeep / json.JSONDecodeError / UnicodeDecodeError (all
    ValueError). `parse_constant` is json's: called for NaN and Infinity, it may refuse them."""
    if len(raw) > max_bytes:
        raise TooLarge(f"it is {len(raw)} bytes, more than the {max_bytes} allowed")
    opening = ("[", "{") if isinstance(raw, str) else (b"[", b"{")
    shallow = raw.count(opening[0]) + raw.count(opening[1]) <= max_depth
    try:
        data = json.loads(raw, parse_constant=parse_constant)
    except RecursionError:
        raise TooDeep(f"it is nested more than {max_depth} levels deep") from None
    if not shallow and depth_exceeds(data, max_depth):
        raise TooDeep(f"it is nested more than {max_depth} levels deep")
    return data


def depth_exceeds(data: Any, max_depth: int) -> bool:
    """Whether `data` holds containers more than `max_depth` levels deep (without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def holds_nul(data: Any) -> bool:
    """Whether a NUL character is in any string of `data`, key or value (without recursion)."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False
