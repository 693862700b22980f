"""Realistic, reproducible listening data for tests and benchmarks (numpy only, no Django).

`generate(out, fmt, ...)` builds a world (`world.make_world`: a power-law song catalogue,
listeners with genre tastes and favourites, plays in sessions over 2005-2025) and writes it
in one of `FORMATS` (`writers`), optionally with a known share of dirty rows (`dirt`), plus
a manifest `out + ".manifest.json"` saying what the file holds: how many clean rows, how
many dirty rows of each kind, the bot listeners, and `expected_report`, the count every
cleaning rule of docs/cleaning.md should report for the file.
"""

from .catalogue import Catalogue
from .dirt import DIRT_KINDS
from .world import Listeners, Plays, World, make_world
from .writers import FORMATS, RULES, generate, manifest_path, songs_path, write_listens

__all__ = [
    "DIRT_KINDS",
    "FORMATS",
    "RULES",
    "Catalogue",
    "Listeners",
    "Plays",
    "World",
    "generate",
    "make_world",
    "manifest_path",
    "songs_path",
    "write_listens",
]
