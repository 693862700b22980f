"""Small filters for showing report figures: thousands, percentages, dict keys, weekdays."""

import calendar

from django import template

register = template.Library()


@register.filter
def thousands(value) -> str:
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.0f}"


@register.filter
def percent(value, digits: int = 1) -> str:
    # A figure an older result does not hold arrives as "" from the template: shown as
    # missing, not a server error.
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def get(mapping, key):
    return (mapping or {}).get(key)


@register.filter
def humanize_key(name: str) -> str:
    return str(name).replace("_", " ")


@register.filter
def weekday(index) -> str:
    return calendar.day_name[int(index)]
