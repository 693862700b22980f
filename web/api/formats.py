"""How the API reads and writes JSON, hardened against what a hostile client sends.

The parser bounds the nesting (Python's json module recurses: 5,000 nested `[` raise a
RecursionError, which DRF does not catch) and answers a clear 400; the API takes JSON only
(a form body gets 415, as the schema says). The renderer never fails on a string it is
asked to echo: a lone surrogate (`"\\ud800"`) cannot be encoded as UTF-8, so an error
message quoting one is written with JSON's `\\u` escapes instead.
"""

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

MAX_DEPTH = 20  # the deepest body any endpoint takes is 3 ({"listens": [{...}]})


def _depth(value) -> int:
    """The nesting depth of a parsed body, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            data = None
        else:
            if _depth(data) <= MAX_DEPTH:
                return data
        raise ParseError(f"JSON parse error - the body is nested deeper than {MAX_DEPTH} levels")


class SafeJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:  # a lone surrogate, echoed in an error message
            return json.dumps(
                data, cls=self.encoder_class, ensure_ascii=True, allow_nan=not self.strict
            ).encode()
