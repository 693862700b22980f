"""Match keys: the form of a name used to decide that two spellings are one artist or song.

Display names keep the form they came in; only the key is folded. No Django here, so the
importers' data-frame code uses exactly the same rule as the models.
"""

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")


def match_key(name: str | None) -> str:
    """Return `name` in Unicode NFC, whitespace collapsed and trimmed, case-folded.

    "  Beyoncé\u00a0Knowles " and "BEYONCE\u0301 knowles" give the same key. Punctuation is
    kept: "AC/DC" and "ACDC" are different keys, because folding punctuation merges real
    distinct names more often than it joins spellings of one.
    """
    if not name:
        return ""
    # NUL is never part of a name, and PostgreSQL refuses it in text (a search for it failed).
    text = _WHITESPACE.sub(" ", unicodedata.normalize("NFC", name.replace("\x00", ""))).strip()
    # Case-folding can decompose a character again ("İ" gives "i" + a combining dot).
    return unicodedata.normalize("NFC", text.casefold())
