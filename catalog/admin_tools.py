"""Admin pieces for tables with tens of millions of rows."""

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q
from django.utils.functional import cached_property

from catalog.names import match_key


class CappedCountPaginator(Paginator):
    """Never counts more than `CAP` rows.

    An unfiltered PostgreSQL table reports the planner's row estimate (free); anything
    else counts at most CAP + 1 rows, so a filter matching millions of listens answers as
    fast as one matching ten. Pages past the cap are reached by narrowing the filter.
    `shown_count` is what the changelist prints: "100,000+" past the cap, "about N" for
    the estimate, never the CAP + 1 the count stops at.
    """

    CAP = 100_000
    estimated = False

    @property
    def shown_count(self) -> str:
        if self.estimated:
            return f"about {self.count:,}"
        if self.count > self.CAP:
            return f"{self.CAP:,}+"
        return f"{self.count:,}"

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        connection = connections[queryset.db]
        if connection.vendor == "postgresql" and not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                estimate = cursor.fetchone()[0]
            if estimate > self.CAP:
                self.estimated = True
                return estimate
        return queryset[: self.CAP + 1].count()


class BigTableAdmin(admin.ModelAdmin):
    """A changelist that stays fast on a huge table: capped counts, no full count."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50


class MatchKeySearchAdmin(admin.ModelAdmin):
    """Search by the prefix of a match key, which the key's index answers.

    Django's default search (`icontains` on the display name) scans the whole table; a
    prefix of the folded key uses the B-tree (PostgreSQL's `varchar_pattern_ops` index).
    """

    search_key_field = "name_key"
    search_id_fields: tuple[str, ...] = ()  # external ids matched exactly, also indexed
    search_fields = ["name_key"]  # makes the search box (and autocomplete) appear

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        key = match_key(term)
        if not key:
            return queryset, False
        condition = Q(**{f"{self.search_key_field}__startswith": key})
        for field in self.search_id_fields:
            condition |= Q(**{field: term})
        return queryset.filter(condition), False
