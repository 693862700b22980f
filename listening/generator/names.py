"""Readable names and identifiers for the generated catalogue, built cheaply from word lists.

Names come from a few small word lists combined by pattern ("The {adjective} {noun}",
"{first} {last}", ...). Every combination is made once; a catalogue entry picks one by
index, and when a catalogue needs more names than there are combinations a roman numeral
is appended ("Paper Moons II"), which keeps names unique. Some words carry accents
("Zoë", "Müller", "Café") so that decomposed (NFD) variants of a name exist.

Identifiers (Echo Nest song ids, Spotify URIs, MusicBrainz UUIDs) are drawn from the
generator's random stream, so they are stable for a seed, and built with numpy byte arrays,
not per id.
"""

import unicodedata

import numpy as np


def _words(text: str) -> list[str]:
    return text.split()


ADJECTIVES = _words(
    "Velvet Neon Silver Golden Paper Midnight Crimson Electric Hollow Wild Quiet Broken "
    "Northern Lonely Frozen Secret Scarlet Amber Distant Restless Gentle Hidden Sunday Faded "
    "Violet Iron Glass Sleepy Crystal Dusty Lucky Savage Tender Wicked Bitter Sweet Cosmic "
    "Rusty Silent Emerald Azure Ivory Copper Marble Sacred Radiant Mellow Fragile Endless "
    "Summer Winter Autumn Little Blue Black White Naïve Blasé Rosé Dreamy Stolen Shining "
    "Southern Velour"
)
NOUNS = _words(
    "Harbor Cathedral Lantern Moon River Garden Mirror Horizon Engine Forest Ocean Highway "
    "Kingdom Satellite Orchard Lighthouse Canyon Meadow Island Signal Thunder Feather Window "
    "Compass Anchor Circus Desert Diamond Echo Empire Fountain Galaxy Harvest Jungle Ladder "
    "Machine Monument Palace Parade Pilot Prism Rocket Sparrow Station Storm Temple Tower "
    "Valley Voyage Wave Café Château Séance Soirée Façade Éclair Carousel Avenue Bridge "
    "Comet Lagoon Pavilion Tide"
)
PLURALS = _words(
    "Lanterns Moons Shadows Rivers Mirrors Horses Echoes Flowers Sparks Ghosts Wolves Stars "
    "Waves Bones Wires Hearts Roses Clouds Satellites Dreams Diamonds Feathers Windows "
    "Bridges Oceans Angels Strangers Lovers Giants Sirens Cities Machines Tigers Rockets "
    "Pilots Kings Queens Thieves Saints Sparrows Crowns Lights Storms Doves Cafés Soirées "
    "Façades Séances"
)
GERUNDS = _words(
    "Chasing Dancing Falling Running Waiting Dreaming Drifting Counting Holding Leaving "
    "Losing Finding Calling Breaking Crossing Fading Flying Hunting Kissing Riding Sailing "
    "Singing Stealing Walking Watching Whispering Wandering Building Painting Catching "
    "Saving Missing"
)
FIRST_NAMES = _words(
    "Mira Jonas Zoë Renée André Björn Chloé Inès José Noël Agnès Léa Jürgen Ana Lukas Nina "
    "Oscar Elena Theo Hugo Ivy Felix Clara Milo Ada Leon Iris Ezra Ruby Otis June Silas Maya "
    "Arlo Nora Jasper Lena Vera Ravi Keiko Tomás Aurélie Søren Dagny Émile Frédéric Anaïs Raúl"
)
LAST_NAMES = _words(
    "Kessler Müller Sørensen Gómez Dvořák Núñez Lefèvre Åberg Öztürk Ibáñez Castañeda Hart "
    "Whitfield Moreau Lindqvist Novak Okafor Brennan Sato Vance Calloway Marsh Delacroix "
    "Fontaine Hale Quinn Rossi Baker Ellison Fairweather Grey Holloway Jensen Kowalski "
    "Larsen Mercer Nakamura Osei Petrov Reyes Sinclair Thorne Vega Wilder Yilmaz Zeller "
    "Beaumont Crane"
)
SHOW_NAMES = (
    "The Daily Signal",
    "Late Night Lanterns",
    "Café Conversations",
    "History in Ten Minutes",
    "The Science Hour",
    "Morning Briefing",
    "True Crime Tonight",
    "Songwriters on Songwriting",
)


def _unique(names: list[str]) -> np.ndarray:
    """NFC names, first occurrence kept per case-folded spelling, as an object array."""
    seen: dict[str, str] = {}
    for name in names:
        name = unicodedata.normalize("NFC", name)
        seen.setdefault(name.casefold(), name)
    return np.array(list(seen.values()), dtype=object)


def _pairs(template: str, left: list[str], right: list[str]) -> list[str]:
    return [template.format(a=a, b=b) for a in left for b in right]


ARTIST_COMBOS = _unique(
    _pairs("The {a} {b}", ADJECTIVES, NOUNS)
    + _pairs("{a} {b}", FIRST_NAMES, LAST_NAMES)
    + _pairs("{a} {b}", ADJECTIVES, NOUNS)
    + _pairs("{a} & the {b}", FIRST_NAMES, PLURALS)
)
TITLE_COMBOS = _unique(
    _pairs("{a} {b}", ADJECTIVES, PLURALS)
    + _pairs("{a} of the {b}", NOUNS, NOUNS)
    + _pairs("{a} {b}", GERUNDS, PLURALS)
    + _pairs("{a} {b}", ADJECTIVES, NOUNS)
)
ALBUM_COMBOS = _unique(
    _pairs("{a} {b}", ADJECTIVES, PLURALS)
    + _pairs("Songs from the {b}", [""], NOUNS)
    + _pairs("The {b} Sessions", [""], NOUNS)
    + _pairs("{a} & {b}", PLURALS, PLURALS)
)
# A prime that divides no combination count: stepping by it visits every combination once.
_STRIDE = 7919
assert all(len(c) % _STRIDE for c in (ARTIST_COMBOS, TITLE_COMBOS, ALBUM_COMBOS))


def roman(number: int) -> str:
    """`number` (>= 1) in roman numerals."""
    out = []
    for value, letters in (
        (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
        (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
    ):  # fmt: skip
        count, number = divmod(number, value)
        out.append(letters * count)
    return "".join(out)


def _with_suffix(base: np.ndarray, repeat: np.ndarray, template: str) -> np.ndarray:
    """`base` names, with `template` (a roman numeral) appended where `repeat` >= 1."""
    out = base.copy()
    for rep in np.unique(repeat[repeat > 0]):
        where = repeat == rep
        out[where] = base[where] + template.format(roman(int(rep) + 1))
    return out


def artist_names(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` unique artist names ("The Velvet Harbor", "Mira Kessler", "Neon Cathedral")."""
    combos = ARTIST_COMBOS[rng.permutation(len(ARTIST_COMBOS))]
    index = np.arange(n)
    return _with_suffix(combos[index % len(combos)], index // len(combos), " {}")


def song_titles(song_artist: np.ndarray, rank: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Song titles, unique within each artist: `rank` is the song's index within its artist."""
    count = len(TITLE_COMBOS)
    offset = rng.integers(0, count, size=int(song_artist.max(initial=0)) + 1)
    index = (offset[song_artist] + rank.astype(np.int64) * _STRIDE) % count
    return _with_suffix(TITLE_COMBOS[index], rank // count, " (Part {})")


def album_names(n: int, year: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`n` album names; about 5% are live albums with a comma ("Live at the Café, 1979")."""
    names = ALBUM_COMBOS[rng.integers(0, len(ALBUM_COMBOS), size=n)]
    live = np.flatnonzero(rng.random(n) < 0.05)
    venues = np.array(NOUNS, dtype=object)[rng.integers(0, len(NOUNS), size=len(live))]
    names[live] = [f"Live at the {v}, {y}" for v, y in zip(venues, year[live], strict=True)]
    return names


def random_codes(rng: np.random.Generator, n: int, length: int, alphabet: bytes) -> np.ndarray:
    """`n` random codes of `length` characters from `alphabet`, as a fixed-width bytes array."""
    letters = np.frombuffer(alphabet, dtype="S1")
    picks = letters[rng.integers(0, len(alphabet), size=(n, length))]
    return np.ascontiguousarray(picks).view(f"S{length}").ravel()


def _unique_codes(rng: np.random.Generator, n: int, length: int, alphabet: bytes) -> np.ndarray:
    codes = random_codes(rng, n, length, alphabet)
    while True:  # collisions are astronomically rare; redraw them if they ever happen
        _, first = np.unique(codes, return_index=True)
        repeated = np.setdiff1d(np.arange(n), first)
        if not len(repeated):
            return codes
        codes[repeated] = random_codes(rng, len(repeated), length, alphabet)


UPPER36 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
BASE62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def echonest_ids(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` unique Echo Nest style song ids: "SO" + 16 upper-case letters and digits."""
    return np.char.add(b"SO", _unique_codes(rng, n, 16, UPPER36)).astype(str).astype(object)


def spotify_uris(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` unique Spotify track URIs: "spotify:track:" + 22 base-62 characters."""
    codes = _unique_codes(rng, n, 22, BASE62)
    return np.char.add(b"spotify:track:", codes).astype(str).astype(object)


def uuids(n: int, rng: np.random.Generator, share: float = 1.0) -> np.ndarray:
    """`n` random version-4 UUIDs (lower-case text); a `1 - share` fraction is "" (unknown)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    nibbles = np.stack([raw >> 4, raw & 0x0F], axis=2).reshape(n, 32)
    hexed = np.frombuffer(b"0123456789abcdef", dtype="S1")[nibbles]
    text = np.full((n, 36), b"-", dtype="S1")
    keep = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])
    text[:, keep] = hexed
    out = np.ascontiguousarray(text).view("S36").ravel().astype(str).astype(object)
    out[rng.random(n) >= share] = ""
    return out
