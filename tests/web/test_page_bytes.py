"""The ready pages' JSON, joined from a block's fragments, is byte for byte what the API's
renderer writes of the same page, for what a catalogue may hold that the generated test
catalogue does not (non-ASCII names, U+2028, a lone surrogate, odd scores)."""

import pytest

from web.api.formats import SafeJSONRenderer
from web.page_bytes import PageWriter


def page(title: str, score, *, reason_kind="played") -> dict:
    artist = {"id": 3, "name": "Sigur Rós"}
    song = {"id": 7, "title": title, "artist": artist, "release": None, "year": None}
    entries = [
        {"rank": 1, "song": song, "score": score, "reason": {"artist": artist, "kind": "loved"}},
        {"rank": 2, "song": song, "score": 0.5, "reason": None},
        {"rank": 3, "song": song, "score": score, "reason": {"song": song, "kind": reason_kind}},
    ]
    head = {"set": 1, "model": "als", "level": "song", "fallback": False, "refreshed_at": None}
    return head | {"count": 3, "next": None, "previous": None, "results": entries}


@pytest.mark.parametrize(
    ("title", "score"),
    [
        ("Hoppípolla", 0.25),
        ("line\u2028separator\u2029", 1e-17),
        ("lone \ud800 surrogate", 3),  # an int score, and the renderer's ASCII way out
        ('quote " and \\ backslash \x01', -0.0),
        ("", 12345678.901234567),
    ],
)
def test_a_joined_page_is_the_renderers_bytes(title, score):
    writer = PageWriter()  # one writer for several pages, as a block uses it
    for value in (page(title, score), page(title, score, reason_kind="picked")):
        assert writer.render(value) == SafeJSONRenderer().render(value)


def test_a_score_the_renderer_refuses_is_refused_too():
    with pytest.raises(ValueError, match="not JSON compliant"):
        SafeJSONRenderer().render(page("t", float("nan")))
    with pytest.raises(ValueError, match="not JSON compliant"):
        PageWriter().render(page("t", float("nan")))


def test_a_page_of_another_shape_is_still_the_renderers_bytes():
    value = page("t", 0.1)
    value["results"] = [{"song": {"id": 1}, "rank": 1}, {"odd": [1, 2]}]
    assert PageWriter().render(value) == SafeJSONRenderer().render(value)
    moved = {"results": [], "count": 0}  # results not last
    assert PageWriter().render(moved) == SafeJSONRenderer().render(moved)
