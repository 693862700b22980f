"""Fetching catalogue rows by id lists that carry an order (similar items, charts)."""

from django.db.models import Model, QuerySet


def in_order(rows: type[Model] | QuerySet, ids: list[int], *related: str) -> list:
    """The rows with these ids in this order, in one query; ids no longer there (or not in
    the given queryset: `Song.objects.public()`) are left out."""
    queryset = rows if isinstance(rows, QuerySet) else rows.objects.all()
    found = queryset.select_related(*related).in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]
