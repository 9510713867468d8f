"""Keep secrets out of everything a run writes: findings, logs shown to users, papers."""

from __future__ import annotations

import re

_PATTERNS = (
    # libpq key=value conninfo: password=secret or password='se cret'
    (re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'\"]+)", re.IGNORECASE), r"\1***"),
    # URLs: scheme://user:secret@host
    (re.compile(r"([a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@\s/]+)(@)", re.IGNORECASE), r"\1***\3"),
)


def redact(text: str) -> str:
    """``text`` with passwords in DSNs and URLs replaced by ``***``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
