"""Passwords in URLs (`scheme://user:secret@host`) never reach a file: the command line of a sweep holds
the storage URL when the user typed it there."""
from __future__ import annotations

import re

_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][\w+.-]*://[^:/@\s'\"]+:)([^@\s'\"]+)(@)")


def redact_urls(text: str, mask: str = "***") -> str:
    """`postgresql://u:secret@h/db` -> `postgresql://u:***@h/db` anywhere in the text."""
    return _URL_PASSWORD.sub(lambda m: m.group(1) + mask + m.group(3), text)
