"""A first page's JSON bytes assembled from fragments: what SafeJSONRenderer writes, faster.

A block of listeners shares its songs and artists: entries_of hands every listener the same
dict for a song (shaped once per block), so its JSON is written once here and joined into
each page that lists it, instead of encoding every page whole. The bytes are the
renderer's: the same encoder with the same options (compact separators: joining a dict's
`"key":value` pieces with commas is exactly what it writes), and the same escaping of
U+2028/U+2029 over the whole text; a page the fast path cannot encode as UTF-8 (a lone
surrogate) is rendered whole by the renderer, which has its own way out.
(tests/web/test_ready_pages.py compares these bytes with DRF's answer.)
"""

from math import isfinite

from rest_framework.renderers import SHORT_SEPARATORS

from web.api.formats import SafeJSONRenderer


class PageWriter:
    """JSON of first pages for one block: fragments kept while the block's entries live."""

    def __init__(self):
        renderer = SafeJSONRenderer()
        if not renderer.compact:  # the assembly below writes compact JSON only
            raise ValueError("PageWriter needs the renderer's compact JSON")
        self._renderer = renderer
        self._encode = renderer.encoder_class(
            ensure_ascii=renderer.ensure_ascii,
            allow_nan=not renderer.strict,
            separators=SHORT_SEPARATORS,
        ).encode
        # id -> (the dict, its JSON): the dict is held, so its id is not reused meanwhile;
        # one met again is taken as unchanged (entries never modify their shared dicts).
        self._shared: dict[int, tuple[dict, str]] = {}
        self._templates: dict[tuple, tuple[str, ...] | None] = {}
        self._keys: dict[str, str] = {}
        self._texts: dict[str, str] = {}

    def render(self, page: dict) -> bytes:
        """The renderer's bytes for this page (a dict whose `results` are entries)."""
        if not page or list(page)[-1] != "results":  # the assembly appends results last
            return self._renderer.render(page)
        head = self._encode({key: item for key, item in page.items() if key != "results"})
        comma = "," if len(page) > 1 else ""
        results = ",".join(self._entry(entry) for entry in page["results"])
        text = f"{head[:-1]}{comma}{self._key('results')}[{results}]}}"
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        try:
            return text.encode()
        except UnicodeEncodeError:
            return self._renderer.render(page)

    def _entry(self, entry: dict) -> str:
        """An entry as entries.py shapes it ({rank, song or artist, score, reason}) in one
        format, its song's JSON the block's; any other shape item by item."""
        keys = tuple(entry)
        template = self._templates.get(keys)
        if template is None:
            template = self._templates[keys] = self._template(keys)
        if template:
            rank, shaped, score, reason = entry.values()
            found = self._shared.get(id(shaped))
            if (
                found is not None
                and found[0] is shaped
                and type(rank) is int
                and type(score) is float
                and isfinite(score)
            ):
                return (
                    f"{template[0]}{int.__repr__(rank)}{template[1]}{found[1]}{template[2]}"
                    f"{float.__repr__(score)}{template[3]}"
                    f"{'null' if reason is None else self._dict(reason)}}}"
                )
        parts = []
        for key, item in entry.items():
            item_text = self._dict(item) if type(item) is dict else self._scalar(item)
            parts.append(self._key(key) + item_text)
        return "{" + ",".join(parts) + "}"

    def _template(self, keys: tuple) -> tuple[str, ...] | None:
        """The texts around an entry's four values, or None for another shape of entry."""
        if len(keys) != 4 or keys[::2] != ("rank", "score") or keys[3] != "reason":
            return None
        return ("{" + self._key(keys[0]), *("," + self._key(key) for key in keys[1:]))

    def _dict(self, shared: dict) -> str:
        found = self._shared.get(id(shared))
        if found is not None and found[0] is shared:
            return found[1]
        text = self._encode(shared)
        self._shared[id(shared)] = (shared, text)
        return text

    def _key(self, key: str) -> str:
        text = self._keys.get(key)
        if text is None:
            text = self._keys[key] = self._encode(key) + ":"
        return text

    def _scalar(self, item) -> str:
        kind = type(item)
        if kind is int:
            return int.__repr__(item)  # as the encoder writes an int
        if kind is float and isfinite(item):
            return float.__repr__(item)  # as the encoder writes a finite float
        if kind is str:
            text = self._texts.get(item)
            if text is None:
                text = self._texts[item] = self._encode(item)
            return text
        return self._encode(item)  # None, booleans, anything else: the encoder's own
