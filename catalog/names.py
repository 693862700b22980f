"""Match keys: the form of a name used to decide that two spellings are one artist or song.

Display names keep the form they came in; only the key is folded. No Django here, so the
importers' data-frame code uses exactly the same rule as the models.
"""

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
# Invisible format characters (Unicode category Cf): bidi overrides and isolates (U+202A-E,
# U+2066-9), zero-width spaces and joiners, the BOM, soft hyphens. They change how a name
# looks, not which name it is, so "Adele" and "Ad\u202eele" must be one key (else a
# look-alike entry sits beside the real one).
# Every Cf lies in planes 0, 1 and 14 (the tags): scanning only those keeps the import quick.
INVISIBLE = dict.fromkeys(
    codepoint
    for codepoint in (*range(0x20000), *range(0xE0000, 0xE1000))
    if unicodedata.category(chr(codepoint)) == "Cf"
)


def match_key(name: str | None) -> str:
    """Return `name` in Unicode NFC, whitespace collapsed and trimmed, case-folded.

    "  Beyoncé\u00a0Knowles " and "BEYONCE\u0301 knowles" give the same key. Punctuation is
    kept: "AC/DC" and "ACDC" are different keys, because folding punctuation merges real
    distinct names more often than it joins spellings of one. Invisible format characters
    (bidi overrides, zero-width joiners) are dropped: "Ad\u202eele" gives "adele".
    """
    if not name:
        return ""
    # NUL is never part of a name, and PostgreSQL refuses it in text (a search for it failed).
    visible = name.replace("\x00", "").translate(INVISIBLE)
    text = _WHITESPACE.sub(" ", unicodedata.normalize("NFC", visible)).strip()
    # Case-folding can decompose a character again ("İ" gives "i" + a combining dot).
    return unicodedata.normalize("NFC", text.casefold())
