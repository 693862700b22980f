"""A publication's listener blocks: what every block needs, and writing one block.

A publication is prepared once (`publish_prepare`: the snapshot read, the matrix built,
similar items, charts and artists' songs written) into `PublicationInputs`; then its listeners
are ranked and written in blocks, contiguous ranges of their rows, each on its own
(`block_publish`): in-process one after another (the embedded default, `publishing.publish`),
or as a Celery chord of block tasks across worker processes and hosts, which read the inputs
the preparation saved beside the model artifacts (`inputs_save` / `inputs_load`).

A block may run twice (a worker killed after its commit but before its acknowledgement is
redelivered): it replaces its own listeners' rows in one transaction, so it never writes a
row twice, and it counts itself done once. Its lists come from `listener_lists.lists_build`,
the builder a refresh uses too.
"""

import pickle
import shutil
import time
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from django.db import transaction

from recommender.events import lists_written
from recommender.listener_data import PublishedModel, ReadPoint
from recommender.listener_lists import ArtistMap, ArtistSongs, lists_build
from recommender.models import ListenerRecommendations, RecommendationSet, SetStatus
from recommender.set_writer import write_lists
from recommender.training import artifact_root

# Listeners per block. Ranking a block has a fixed cost of about a second at 47k songs
# (where, not yet found): ranking 100k listeners took 61 s in one block, 65 s in blocks of
# 25k, 72 s in blocks of 10k (benchmarks/results/publish.md). Big blocks, then: a 1M-listener
# publication is still 20 blocks to spread over workers, and a retried block redoes 5%.
BLOCK_LISTENERS = 50_000
# Progress of a set's row: preparing is the first share, blocks the next, activation the rest.
PREPARED_PROGRESS = 0.15
BLOCKS_PROGRESS = 0.8


class PublishError(Exception):
    """The run cannot be published (not trained, no data, ...): the message says why."""


class BlockSkipped(PublishError):
    """The block's set is no longer building (it failed, or another delivery activated it)."""


@dataclass
class PublicationInputs:
    """Everything a block of one publication needs, row for row over `listener_ids`
    (sorted): their confidence rows in the model's columns, training rows, not-for-me
    cells and what they hold (`lists_build`'s arguments), the items' neighbour links and
    the chart, the id maps to write with, the artist map (song level) or artists' songs
    (artist level), and where the data was read (for the catch-up after activation)."""

    level: str
    top_n: int
    depth: int
    block_listeners: int
    listener_ids: np.ndarray
    rows: sp.csr_matrix
    known_rows: np.ndarray
    excluded: sp.csr_matrix
    held: sp.csr_matrix
    links: sp.csr_matrix
    chart: tuple[np.ndarray, np.ndarray]
    item_ids: np.ndarray
    artist_ids: np.ndarray | None
    song_ids: np.ndarray | None
    artists: ArtistMap | None
    songs: ArtistSongs | None
    point: ReadPoint

    @property
    def block_count(self) -> int:
        return max(1, -(-len(self.listener_ids) // self.block_listeners))

    def block(self, index: int) -> slice:
        """The rows of block `index` (0-based)."""
        if not 0 <= index < self.block_count:
            raise IndexError(f"block {index} of {self.block_count}")
        start = index * self.block_listeners
        return slice(start, min(start + self.block_listeners, len(self.listener_ids)))


def block_publish(
    new_set: RecommendationSet, inputs: PublicationInputs, published: PublishedModel, index: int
) -> list[int]:
    """Rank block `index`'s listeners with the set's model and write their lists into the
    building set, replacing any rows of theirs a killed earlier delivery left; announce them
    (`events.lists_written`: the site renders their ready pages, and a receiver's failure
    fails the block, its rows rolled back with it); count the block done once. The block's
    listener ids. Raises `BlockSkipped` when the set is no longer building."""
    if not RecommendationSet.objects.filter(pk=new_set.pk, status=SetStatus.BUILDING).exists():
        raise BlockSkipped(f"set {new_set.pk} is not building")
    rows = inputs.block(index)
    listener_ids = inputs.listener_ids[rows]
    started = time.perf_counter()
    artists = songs = None
    if inputs.artists is not None:
        artists = replace(inputs.artists, excluded=inputs.artists.excluded[rows])
    if inputs.songs is not None:
        songs = replace(inputs.songs, blocked=inputs.songs.blocked[rows])
    lists = lists_build(
        published.model,
        inputs.rows[rows],
        known_rows=inputs.known_rows[rows],
        excluded=inputs.excluded[rows],
        neighbours=lambda seeds: inputs.links,
        chart=inputs.chart,
        top_n=inputs.top_n,
        depth=inputs.depth,
        artists=artists,
        songs=songs,
        held=inputs.held[rows],
    )
    ranked = time.perf_counter()
    ids = listener_ids.tolist()
    with transaction.atomic():
        ListenerRecommendations.objects.filter(
            recommendation_set=new_set, listener_id__gte=ids[0], listener_id__lte=ids[-1]
        ).delete()  # a contiguous range of sorted ids: one index range, not a list of ids
        level = inputs.level
        write_lists(new_set, listener_ids, level, lists.items, inputs.item_ids, inputs.top_n)
        if lists.artists is not None:
            write_lists(new_set, listener_ids, "artist", lists.artists, inputs.artist_ids, None)
        if lists.songs is not None:  # song lists of an artist-level set: artist reasons
            write_lists(
                new_set,
                listener_ids,
                "song",
                lists.songs,
                inputs.song_ids,
                inputs.top_n,
                reason_ids=inputs.item_ids,
            )
        lists_written.send(sender=RecommendationSet, set_id=new_set.pk, listener_ids=ids)
        _count_done(new_set.pk, index, inputs.block_count, ranked - started, ranked)
    return ids


def _count_done(set_id: int, index: int, total: int, rank_seconds: float, ranked: float) -> None:
    """Block `index` done, once, in the block's transaction; its seconds added to the set's
    timings. The set's row is locked only here, at the end, so blocks rank and write in
    parallel and wait for one another only to count."""
    locked = RecommendationSet.objects.select_for_update().get(pk=set_id)
    if locked.status != SetStatus.BUILDING:
        raise BlockSkipped(f"set {set_id} is {locked.status}")
    timings = dict(locked.timings)
    timings["rank_seconds"] = timings.get("rank_seconds", 0.0) + rank_seconds
    timings["write_seconds"] = timings.get("write_seconds", 0.0) + time.perf_counter() - ranked
    done = sorted(set(locked.blocks_done) | {index})
    RecommendationSet.objects.filter(pk=set_id).update(
        blocks_done=done,
        timings=timings,
        progress=PREPARED_PROGRESS + BLOCKS_PROGRESS * len(done) / total,
    )


# -- the inputs, saved for blocks in other processes ------------------------------------------

# Arrays at least this big are saved as .npy files of their own and read back memory-mapped:
# a block reads only the pages of its own rows, and the processes share them in the page
# cache (at 1M listeners the confidence and held rows are near a GB each).
MAPPED_BYTES = 1 << 20


def inputs_path(set_id: int) -> Path:
    return artifact_root() / "publications" / f"set-{set_id}"


class _Saver(pickle.Pickler):
    def __init__(self, file, folder: Path):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.folder, self.saved = folder, 0

    def persistent_id(self, obj):
        if (
            isinstance(obj, np.ndarray)
            and obj.size  # an empty file cannot be mapped
            and obj.nbytes >= MAPPED_BYTES
            and not obj.dtype.hasobject
        ):
            self.saved += 1
            name = f"{self.saved}.npy"
            np.save(self.folder / name, obj, allow_pickle=False)
            return name
        return None


class _Loader(pickle.Unpickler):
    def __init__(self, file, folder: Path):
        super().__init__(file)
        self.folder = folder

    def persistent_load(self, pid):
        return np.load(self.folder / pid, mmap_mode="r", allow_pickle=False)


def inputs_save(set_id: int, inputs: PublicationInputs) -> Path:
    """Beside the model artifacts, which every worker reads already (a shared volume on
    several hosts): the big arrays as .npy files, the rest pickled. Written to a temporary
    folder first, so a reader never sees half of it."""
    path = inputs_path(set_id)
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with (partial / "inputs.pickle").open("wb") as file:
        _Saver(file, partial).dump(inputs)
    shutil.rmtree(path, ignore_errors=True)
    partial.rename(path)
    return path


def inputs_load(set_id: int) -> PublicationInputs:
    """The saved inputs of a set, read once per process and set (a worker takes many blocks
    of one publication), the big arrays memory-mapped. Our own files, written by
    `inputs_save`: unpickling them is safe."""
    path = inputs_path(set_id)
    return _inputs_load(str(path), (path / "inputs.pickle").stat().st_mtime_ns)


@lru_cache(maxsize=1)
def _inputs_load(path: str, modified: int) -> PublicationInputs:
    with open(Path(path) / "inputs.pickle", "rb") as file:
        return _Loader(file, Path(path)).load()


def inputs_delete(set_id: int) -> None:
    _inputs_load.cache_clear()
    shutil.rmtree(inputs_path(set_id), ignore_errors=True)
