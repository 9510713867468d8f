"""Keep secrets out of everything a run writes: findings, logs shown to users, papers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PATTERNS = (
    # libpq key=value conninfo: password=secret or password='se cret'
    (re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'\"]+)", re.IGNORECASE), r"\1***"),
    # URLs: scheme://user:secret@host
    # (a scheme is short: bounding it keeps a long word from costing quadratic time)
    (re.compile(r"([a-z][a-z0-9+.-]{0,31}://[^/\s:@]+:)([^@\s/]+)(@)", re.IGNORECASE), r"\1***\3"),
)


_SECRET_KEYS = re.compile(r"password|passwd|secret|token", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with passwords in DSNs and URLs replaced by ``***``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    """A copy of a JSON-like value with secrets masked, value by value.

    Strings are redacted one at a time, so a pattern can never reach across values; a string
    stored under a key that names a secret (``password``, ``token`` …) is masked whole.
    """
    if isinstance(value, Mapping):
        return {key: "***" if isinstance(key, str) and _SECRET_KEYS.search(key) and isinstance(inner, str)
                and inner else redact_value(inner)
                for key, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(inner) for inner in value]
    if isinstance(value, str):
        return redact(value)
    return value
