"""Preparing a publication: one read of the data for every block of it.

`publication_inputs` notes where it reads (`read_point`, for the catch-up after activation),
builds the interaction matrix, turns it into every listener's confidence rows in the model's
columns, and writes what is the set's rather than a listener's — each item's similar items,
the charts, an artist-level set's artists' songs — into the building set. What the listener
blocks need (`publish_blocks.PublicationInputs`) is returned, for blocks in this process or,
saved, in others.
"""

import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from recommender import algorithms
from recommender.data import InteractionMatrix, build_matrix, refused_pairs
from recommender.listener_data import (
    PublishedModel,
    ReadPoint,
    artist_songs,
    confidence_rows,
    held_cells,
    read_point,
    song_artists,
)
from recommender.listener_lists import (
    ArtistSongs,
    best_songs_by_artist,
    cells,
    depth_of,
    positions,
)
from recommender.models import ModelRun, RecommendationSet
from recommender.publish_blocks import BLOCK_LISTENERS, PublicationInputs, PublishError
from recommender.seeds import live_loves, loved_pairs
from recommender.set_writer import write_artist_songs, write_similar
from recommender.suggestions import NotSupported, charts, neighbour_links
from recommender.suggestions import similar as similar_items

SIMILAR_N = 20

Progress = Callable[[str, float], None]


def publication_inputs(
    new_set: RecommendationSet,
    published: PublishedModel,
    say: Progress,
    timings: dict[str, float],
    *,
    block_listeners: int = BLOCK_LISTENERS,
) -> PublicationInputs:
    """Read the data once for the building set: its similar items, charts (on the set's
    row) and artists' songs written, and what its listener blocks need returned."""
    run = new_set.run
    level, top_n = run.level, new_set.top_n
    say("reading the listening data", 0.05)
    started = time.perf_counter()
    point = read_point()  # the bound of what is read: what comes after is caught up
    matrix = build_matrix(
        level, last_listen_id=point.last_listen_id, last_skip_id=point.last_skip_id
    )
    if matrix.plays.nnz == 0:
        raise PublishError(f"no listens at {level} level to publish for")
    listener_ids, rows, held = _model_rows(matrix, run, published.item_ids)
    excluded = cells(listener_ids, published.item_ids, refused_pairs(level))
    timings["read_seconds"] = time.perf_counter() - started

    say("finding similar items", 0.08)
    started = time.perf_counter()
    similar = _similar(published.model, rows)
    n_items = len(published.item_ids)
    links = neighbour_links(np.arange(n_items), similar[0], n_items)
    chart = charts(rows, top_n)
    charts_by_level = {level: _chart_ids(chart, published.item_ids)}
    write_similar(new_set, level, similar, published.item_ids)
    artists = songs = song_ids = None
    if level == "song":
        artists = published.artist_map(listener_ids)
        heard = artists.heard(rows)
        charts_by_level["artist"] = _chart_ids(charts(heard, top_n), published.artist_ids)
        write_similar(new_set, "artist", _similar(None, heard), published.artist_ids)
    else:
        song_ids, songs, song_chart = _artist_songs(point, published.item_ids, listener_ids, top_n)
        if len(song_ids):  # listens that name artists only (HetRec): no songs to serve
            write_artist_songs(new_set, songs.best, published.item_ids, song_ids)
            charts_by_level["song"] = song_chart
        else:
            songs = song_ids = None
    timings["similar_seconds"] = time.perf_counter() - started
    inputs = PublicationInputs(
        level=level,
        top_n=top_n,
        depth=depth_of(level, top_n),
        block_listeners=block_listeners,
        listener_ids=listener_ids,
        rows=rows,
        known_rows=positions(published.listener_ids, listener_ids),
        excluded=excluded,
        held=held,
        links=links,
        chart=chart,
        item_ids=published.item_ids,
        artist_ids=published.artist_ids,
        song_ids=song_ids,
        artists=artists,
        songs=songs,
        point=point,
    )
    RecommendationSet.objects.filter(pk=new_set.pk).update(
        listeners_count=rows.shape[0],
        charts=charts_by_level,
        timings=timings,
        block_count=inputs.block_count,
        blocks_done=[],
    )
    return inputs


def _model_rows(
    matrix: InteractionMatrix, run: ModelRun, item_ids: np.ndarray
) -> tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix]:
    """(listener ids, their confidences in the model's columns, what they hold
    (`listener_data.held_cells`)): everyone with listens, and
    everyone who loves something (onboarding), loves counted as plays and refusals dropped
    (`listener_data.confidence_rows`, as a refresh counts them). Items the model never saw
    are dropped."""
    columns = matrix.columns_of(item_ids)  # model column -> today's column, or -1
    known = columns >= 0
    pick = sp.csr_matrix(
        (np.ones(known.sum(), dtype=np.float32), (columns[known], np.flatnonzero(known))),
        shape=(matrix.shape[1], len(item_ids)),
    )
    plays = sp.csr_matrix(matrix.plays @ pick)
    skips = sp.csr_matrix(matrix.skips @ pick)
    loves = loved_pairs(live_loves(), run.level)
    listener_ids = np.union1d(matrix.listener_ids, loves[:, 0]).astype(np.int64)
    if len(listener_ids) > len(matrix.listener_ids):  # lovers without listens: empty rows
        places = positions(listener_ids, matrix.listener_ids)
        lift = sp.csr_matrix(
            (np.ones(len(places), np.float32), (places, np.arange(len(places)))),
            shape=(len(listener_ids), len(places)),
        )
        plays, skips = sp.csr_matrix(lift @ plays), sp.csr_matrix(lift @ skips)
    loved = cells(listener_ids, item_ids, loves)
    refused = cells(listener_ids, item_ids, refused_pairs(run.level))
    rows = confidence_rows(plays, skips, loved, run, item_ids, refused)
    return listener_ids, rows, held_cells(plays, loved)


def _artist_songs(
    point: ReadPoint, artist_ids: np.ndarray, listener_ids: np.ndarray, top_n: int
) -> tuple[np.ndarray, ArtistSongs, list[list[float]]]:
    """An artist-level set's songs, read up to the same point as its artists: (the song
    ids, each model artist's most-listened songs and what each listener must not be offered,
    the song chart for listeners without a row)."""
    matrix = build_matrix(
        "song", last_listen_id=point.last_listen_id, last_skip_id=point.last_skip_id
    )
    song_ids = matrix.item_ids
    artist_of, by_artist = song_artists(song_ids)
    # Songs' artists as the model's artist columns; the appended -1 is an unknown artist's.
    to_model = np.append(positions(artist_ids, by_artist), -1)
    best = best_songs_by_artist(matrix.plays, to_model[artist_of], len(artist_ids))
    played = sp.coo_matrix(matrix.plays)
    rows = positions(listener_ids, matrix.listener_ids)[played.row]
    kept = rows >= 0
    heard = sp.csr_matrix(
        (np.ones(kept.sum(), np.float32), (rows[kept], played.col[kept])),
        shape=(len(listener_ids), len(song_ids)),
    )
    chart = _chart_ids(charts(matrix.plays, top_n), song_ids)
    return song_ids, artist_songs(listener_ids, song_ids, best, heard), chart


def _chart_ids(chart: tuple[np.ndarray, np.ndarray], item_ids: np.ndarray) -> list[list[float]]:
    """The set's charts at one level, for listeners with no history: [[item id, listeners]]."""
    items, listeners = chart
    return [
        [int(item_ids[item]), float(count)] for item, count in zip(items, listeners, strict=True)
    ]


def _similar(model: algorithms.Recommender | None, plays: sp.csr_matrix):
    """(items, scores) of every column's similar items: the model's own where it has them,
    else cosine neighbours on the plays."""
    if model is not None:
        try:
            return similar_items(model, plays.shape[1], SIMILAR_N)
        except NotSupported:
            pass
    neighbours = algorithms.create("item_knn", k_neighbours=SIMILAR_N + 1).fit(plays)
    return similar_items(neighbours, plays.shape[1], SIMILAR_N)
