"""Writes on listening data that span models."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Max, Sum

from musicsite.db import roomy_sorts

from .models import DataSnapshot, Listen, Listener, Skip


def data_snapshot_create(
    *, last_listen_id: int | None = None, last_skip_id: int | None = None
) -> DataSnapshot:
    """Record the size of the listening data now, in one aggregate query.

    Counts are of listeners, songs and artists that have at least one listen, i.e. what
    a model trained now would see. With `last_listen_id`, of the listens up to it only (a
    caller that fixed the bound first, to read the matrix meanwhile); with `last_skip_id`,
    likewise the skips it counts (by default, every skip recorded by now).
    """
    listens = Listen.objects.all()
    if last_listen_id is not None:
        listens = listens.filter(id__lte=last_listen_id)
    with roomy_sorts():
        figures = _snapshot_figures(listens)
    figures["play_total"] = figures["play_total"] or 0
    if last_skip_id is None:
        last_skip_id = Skip.objects.aggregate(newest=Max("id"))["newest"] or 0
    figures["last_skip_id"] = last_skip_id
    return DataSnapshot.objects.create(**figures)


def _snapshot_figures(listens) -> dict:
    return listens.aggregate(
        listens=Count("id"),
        play_total=Sum("play_count"),
        listeners=Count("listener", distinct=True),
        songs=Count("song", distinct=True),
        artists=Count("artist", distinct=True),
        last_listen_id=Max("id"),
        newest_played_at=Max("played_at"),
    )


@transaction.atomic
def account_create(*, username: str, password: str, email: str = "", is_staff: bool = False):
    """Create a login account together with its listener."""
    user_model = get_user_model()
    user = user_model.objects.create_user(
        username=username, password=password, email=email, is_staff=is_staff, is_superuser=is_staff
    )
    Listener.objects.for_user(user)
    return user
