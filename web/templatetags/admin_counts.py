"""The changelist's row count as people read it: a capped count says "100,000+"."""

from django import template

register = template.Library()


@register.filter
def shown_result_count(changelist) -> str:
    """The paginator's own wording when it caps or estimates (BigTableAdmin), else the count."""
    shown = getattr(changelist.paginator, "shown_count", None)
    return shown if shown is not None else f"{changelist.result_count:,}"
