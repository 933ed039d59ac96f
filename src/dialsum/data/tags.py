"""The placeholder tags of DialogSum data (`#Person1#`, `#PhoneNumber#`, `#Card_Number#`): one pattern, so
normalisation, the tokenizer and ROUGE agree on what a tag is."""
from __future__ import annotations

import re

TAG: str = r"#[A-Za-z][A-Za-z0-9_]*#"
TAG_PATTERN: re.Pattern[str] = re.compile(TAG)
SPEAKER_PREFIX: re.Pattern[str] = re.compile(rf"^\s*{TAG}\s*:\s*")  # `#Person1#: ` at the start of a turn
