"""The listening-data generator: realistic structure, reproducible files, truthful manifests.

The dirt checks read each file back with a few lines of plain Python and apply the cleaning
rules of docs/cleaning.md themselves, independently of the generator's bookkeeping.
"""

import csv
import json
import math
import re
import unicodedata
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from listening.generator import FORMATS, generate, make_world, manifest_path, songs_path

SMALL = {"n_listeners": 50, "n_songs": 200, "n_listens": 5000}
EARLIEST, LATEST = datetime(2002, 1, 1, tzinfo=UTC).timestamp(), datetime.now(UTC).timestamp()


@pytest.fixture(scope="module")
def world():
    return make_world(seed=5, **SMALL)


@pytest.fixture(scope="module")
def dirty_files(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    folder = tmp_path_factory.mktemp("generated")
    out = {}
    for fmt in FORMATS:
        path = folder / f"{fmt}.data"
        out[fmt] = path, generate(path, fmt, seed=11, dirt=0.1, **SMALL)
    return out


# --- reading the files back -------------------------------------------------------------


def _text(value) -> str | None:
    """As the canonical frame holds a string: stripped, and "" is missing."""
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _row(listener, artist, title, *, release=None, year=None, played_at=None, **more) -> dict:
    return {
        "listener": _text(listener),
        "artist": _text(artist),
        "title": _text(title),
        "release": _text(release),
        "year": year,
        "played_at": played_at,
        "play_count": more.pop("play_count", None if played_at is None else 1.0),
        "song_id": _text(more.pop("song_id", None)),
        "ms_played": more.pop("ms_played", None),
        "is_music": more.pop("is_music", True),
        **{k: _text(v) for k, v in more.items()},
    }


def _iso(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def read_lastfm(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        user, stamp, artist_mbid, artist, song_mbid, title = line.split("\t")
        rows.append(
            _row(user, artist, title, played_at=_iso(stamp), song_id=song_mbid, amb=artist_mbid)
        )
    return rows


def read_listenbrainz(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        meta = record["track_metadata"]
        mapping = meta.get("mbid_mapping", {})
        rows.append(
            _row(
                record["user_name"],
                meta["artist_name"],
                meta["track_name"],
                release=meta.get("release_name"),
                played_at=float(record["listened_at"]),
                song_id=mapping.get("recording_mbid"),
                rel=mapping.get("release_mbid"),
                amb=",".join(mapping.get("artist_mbids", [])),
            )
        )
    return rows


def read_spotify(path: Path) -> list[dict]:
    rows = []
    for record in json.loads(path.read_text(encoding="utf-8")):
        rows.append(
            _row(
                record["username"],
                record["master_metadata_album_artist_name"],
                record["master_metadata_track_name"],
                release=record["master_metadata_album_album_name"],
                played_at=_iso(record["ts"]) - record["ms_played"] / 1000,
                song_id=record["spotify_track_uri"],
                ms_played=record["ms_played"],
                is_music=record["episode_name"] is None and record["spotify_episode_uri"] is None,
                skipped=record["skipped"],
            )
        )
    return rows


def read_taste_profile(path: Path) -> list[dict]:
    with open(songs_path(path), encoding="utf-8", newline="") as handle:
        songs = {song["song_id"]: song for song in csv.DictReader(handle)}
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        user, song_id, count = line.split("\t")
        try:
            play_count = float(count)
        except ValueError:
            play_count = math.nan
        song = songs.get(song_id, {})
        rows.append(
            _row(
                user,
                song.get("artist_name"),
                song.get("title"),
                release=song.get("release"),
                year=int(song["year"]) if song.get("year") else None,
                play_count=play_count,
                song_id=song_id,
            )
        )
    return rows


READERS = {
    "lastfm-1k": read_lastfm,
    "listenbrainz": read_listenbrainz,
    "spotify": read_spotify,
    "taste-profile": read_taste_profile,
}


def _tidy(name: str | None) -> str | None:
    return None if name is None else " ".join(unicodedata.normalize("NFC", name).split())


def apply_rules(rows: list[dict], *, track_level: bool = True) -> Counter:
    """The cleaning rules of docs/cleaning.md, written plainly: the report's counts."""
    report = Counter()
    positive = [r["play_count"] for r in rows if r["play_count"] and r["play_count"] > 0]
    logs = np.log10(positive)
    mad = np.median(np.abs(logs - np.median(logs)))
    threshold = max(10_000, 10 ** (np.median(logs) + 6 * 1.4826 * mad))
    kept = []
    for row in rows:
        if not row["is_music"]:
            report["not_music"] += 1
            continue
        if (
            not row["listener"]
            or (not row["song_id"] and not row["artist"])
            or (track_level and not row["song_id"] and not row["title"])
        ):
            report["missing_identity"] += 1
            continue
        tidy = {k: _tidy(row[k]) for k in ("artist", "title", "release")}
        if any(tidy[k] != row[k] for k in tidy):
            report["names_normalised"] += 1
            row = {**row, **tidy}
        count = row["play_count"]
        if count is None or math.isnan(count) or count <= 0:
            report["bad_play_count"] += 1
            continue
        if count > threshold:
            report["implausible_play_count"] += 1
            continue
        if row["played_at"] is not None and not EARLIEST <= row["played_at"] <= LATEST + 86_400:
            report["time_out_of_range"] += 1
            continue
        if row["ms_played"] is not None and row["ms_played"] < 30_000:
            report["skip"] += 1
            continue
        kept.append(row)

    seen, unique = set(), []
    for row in kept:
        key = tuple(sorted(row.items()))
        if key in seen:
            report["exact_duplicate"] += 1
        else:
            seen.add(key)
            unique.append(row)

    kept, last = [], {}
    timed = sorted((r for r in unique if r["played_at"] is not None), key=lambda r: r["played_at"])
    for row in timed:
        song = (row["listener"], (row["artist"] or "").casefold(), (row["title"] or "").casefold())
        if song in last and row["played_at"] - last[song] < 10:
            report["duplicate_scrobble"] += 1
        else:
            kept.append(row)
        last[song] = row["played_at"]
    kept += [r for r in unique if r["played_at"] is None]

    report["missing_metadata"] = sum(r["release"] is None or r["year"] is None for r in kept)
    per_day = Counter(
        (r["listener"], int(r["played_at"] // 86_400)) for r in kept if r["played_at"] is not None
    )
    bots = {listener for (listener, _), n in per_day.items() if n > 1_440}
    report["bot_listener"] = sum(r["listener"] in bots for r in kept)
    report["bot_listeners"] = len(bots)
    return report


# --- reproducibility ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["lastfm-1k", "spotify"])
def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path, fmt):
    files = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        generate(tmp_path / name, fmt, seed=seed, dirt=0.05, **SMALL)
        files[name] = (tmp_path / name).read_bytes()
    assert files["a"] == files["b"]
    assert files["a"] != files["c"]


# --- the structure of the world -----------------------------------------------------------


def test_song_popularity_is_power_law(world):
    plays = np.sort(np.bincount(world.plays.song, minlength=world.catalogue.n_songs))[::-1]
    top = plays[: max(1, len(plays) // 100)].sum() / plays.sum()
    ascending = plays[::-1]
    n = len(ascending)
    gini = ((2 * np.arange(1, n + 1) - n - 1) @ ascending) / (n * ascending.sum())
    assert top > 0.10
    assert gini > 0.5


def test_listeners_have_taste(world):
    genre = world.catalogue.song_genre[world.plays.song]
    shares = [
        np.bincount(genre[world.plays.listener == u]).max() / (world.plays.listener == u).sum()
        for u in range(SMALL["n_listeners"])
        if (world.plays.listener == u).sum() >= 20
    ]
    assert np.mean(shares) > 3 / world.catalogue.n_genres


def test_catalogue_names_and_ids(world):
    catalogue = world.catalogue
    assert catalogue.n_artists == 20
    assert len(set(catalogue.artist_name)) == catalogue.n_artists
    pairs = list(zip(catalogue.song_artist, catalogue.song_title, strict=True))
    assert len(set(pairs)) == catalogue.n_songs
    assert all(re.fullmatch(r"SO[A-Z0-9]{16}", s) for s in catalogue.song_echonest_id)
    assert all(
        re.fullmatch(r"spotify:track:[0-9A-Za-z]{22}", s) for s in catalogue.song_spotify_uri
    )
    assert len(set(catalogue.song_echonest_id)) == catalogue.n_songs
    uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
    known = [m for m in catalogue.song_mbid if m]
    assert all(uuid.fullmatch(m) for m in known)
    assert 0.55 < len(known) / catalogue.n_songs < 0.85
    assert catalogue.song_year.min() >= 1960
    assert catalogue.song_year.max() <= 2025
    assert catalogue.song_duration_ms.min() >= 120_000
    assert catalogue.song_duration_ms.max() <= 420_000
    names = [*catalogue.artist_name, *catalogue.song_title]
    assert all(unicodedata.normalize("NFC", n) == n and "  " not in n for n in names)


@pytest.mark.parametrize("skip_rate", [0.0, 0.15])
def test_plays_come_in_sessions_at_plausible_times(skip_rate):
    plays = make_world(seed=6, skip_rate=skip_rate, **SMALL).plays
    assert len(plays) == SMALL["n_listens"]
    assert (plays.start >= datetime(2005, 1, 1, tzinfo=UTC).timestamp()).all()
    assert (plays.start < datetime(2025, 6, 30, tzinfo=UTC).timestamp()).all()
    same_listener = plays.listener[1:] == plays.listener[:-1]
    gaps = np.diff(plays.start)[same_listener]
    assert (gaps > 0).all()
    assert (gaps <= 30 * 60).mean() > 0.8

    by_song = defaultdict(list)
    for listener, song, start in zip(plays.listener, plays.song, plays.start, strict=True):
        by_song[listener, song].append(start)
    assert min(np.diff(s).min() for s in by_song.values() if len(s) > 1) >= 60

    per_day = Counter(zip(plays.listener, plays.start // 86_400, strict=True))
    assert max(per_day.values()) <= 300
    assert (plays.skipped.mean() > 0.1) == (skip_rate > 0)
    assert (plays.ms_played[plays.skipped] < 30_000).all()
    assert (plays.ms_played[~plays.skipped] >= 120_000).all()


# --- the files and their dirt -------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_manifest_counts_what_the_rules_find_in_the_file(dirty_files, fmt):
    path, manifest = dirty_files[fmt]
    rows = READERS[fmt](path)
    report = apply_rules(rows)

    assert len(rows) == manifest["rows_written"]
    assert manifest == json.loads(manifest_path(path).read_text())
    for rule, expected in manifest["expected_report"].items():
        assert report[rule] == expected, rule
    assert report["bot_listeners"] == len(manifest["bot_listeners"])
    added = sum(manifest["dirt"].values()) - manifest["dirt"]["names_normalised"]
    assert (
        manifest["rows_written"] == manifest["clean_rows"] + added + manifest["bot_listener_rows"]
    )
    assert all(manifest["dirt"].values())
    assert (
        abs(sum(manifest["dirt"].values()) - 0.1 * manifest["clean_rows"])
        <= 0.01 * (manifest["clean_rows"])
    )


@pytest.mark.parametrize("fmt", ["lastfm-1k", "listenbrainz", "taste-profile"])
def test_exact_duplicate_lines_can_be_counted_directly(dirty_files, fmt):
    path, manifest = dirty_files[fmt]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) - len(set(lines)) == manifest["dirt"]["exact_duplicate"]


def test_out_of_range_times_can_be_counted_directly(dirty_files):
    path, manifest = dirty_files["lastfm-1k"]
    years = Counter(int(line.split("\t")[1][:4]) for line in path.open(encoding="utf-8"))
    outside = sum(n for year, n in years.items() if not 2005 <= year <= 2025)
    assert outside == manifest["dirt"]["time_out_of_range"]
    assert set(years) - set(range(2005, 2026)) <= set(range(1995, 2002)) | set(range(2031, 2036))


def test_bad_play_counts_can_be_counted_directly(dirty_files):
    path, manifest = dirty_files["taste-profile"]
    counts = Counter(line.rstrip("\n").split("\t")[2] for line in path.open(encoding="utf-8"))
    for value in ("0", "-3", "abc", ""):
        assert counts[value] == manifest["dirt_variants"]["bad_play_count"][value]
    huge = sum(n for c, n in counts.items() if c.isdigit() and int(c) >= 1_000_000)
    assert huge == manifest["dirt"]["implausible_play_count"]
    assert max(int(c) for c in counts if c.isdigit() and int(c) < 1_000_000) < 10_000


@pytest.mark.parametrize("fmt", FORMATS)
def test_without_dirt_every_row_is_clean(tmp_path, fmt):
    path = tmp_path / "clean"
    manifest = generate(path, fmt, seed=3, **SMALL)
    report = apply_rules(READERS[fmt](path))

    assert manifest["rows_written"] == manifest["clean_rows"]
    assert manifest["bot_listeners"] == []
    assert not any(manifest["dirt"].values())
    natural = {"skip", "missing_metadata"}
    assert {k: v for k, v in report.items() if v and k not in natural} == {}
    assert report["skip"] == manifest["skip"]
    assert report["missing_metadata"] == manifest["missing_metadata"]


def test_the_command_writes_the_file_and_its_manifest(tmp_path):
    out = tmp_path / "listens.jsonl"
    stdout = []

    class Capture:
        def write(self, text):
            stdout.append(text)

        def flush(self):
            pass

    call_command(
        "generate_listens",
        str(out),
        "--format=listenbrainz",
        "--listeners=20",
        "--songs=100",
        "--listens=1000",
        "--seed=4",
        "--dirt=0.05",
        stdout=Capture(),
    )
    manifest = json.loads(manifest_path(out).read_text())
    assert len(out.read_text().splitlines()) == manifest["rows_written"]
    assert manifest["format"] == "listenbrainz"
    assert manifest["clean_rows"] == 1000
    assert "duplicate_scrobble" in "".join(stdout)
