"""Generated listening data, imported (and a model published on it), for the tests."""

from pathlib import Path

from listening.generator import generate
from listening.listen_import import listen_import_create, listen_import_run


def import_generated(
    folder: Path,
    *,
    listeners: int = 40,
    songs: int = 150,
    listens: int = 4000,
    seed: int = 5,
) -> None:
    """Generate Last.fm-1K-like scrobbles into `folder` and import them."""
    path = folder / "scrobbles.tsv"
    generate(path, "lastfm-1k", n_listeners=listeners, n_songs=songs, n_listens=listens, seed=seed)
    listen_import_run(batch_id=listen_import_create(path=path).pk)


def publish_trained(algorithm: str = "item_knn", *, top_n: int = 20, **params) -> int:
    """Train `algorithm` at song level on what is imported, publish it; the set's id."""
    from recommender import publishing
    from recommender.training import model_run_create, model_run_train

    run = model_run_create(algorithm=algorithm, params=params, level="song")
    model_run_train(run_id=run.pk)
    return publishing.publish(run_id=run.pk, top_n=top_n).pk
