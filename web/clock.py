"""The listening clock: plays by weekday and hour as a small inline SVG heat map."""

from django.utils.html import format_html, format_html_join

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CELL = 14
LEFT = 34
TOP = 16


def clock_svg(counts: dict[tuple[int, int], int]) -> str:
    """An SVG of 7 x 24 cells, darker for more plays; `counts` is {(weekday 0=Mon, hour): n}.

    Each cell has a <title> (read by screen readers and shown on hover) with its count.
    """
    most = max(counts.values(), default=0) or 1
    cells = []
    for day in range(7):
        for hour in range(24):
            n = counts.get((day, hour), 0)
            shade = 0.08 + 0.92 * n / most if n else 0.0
            cells.append(
                (
                    LEFT + hour * CELL,
                    TOP + day * CELL,
                    CELL - 2,
                    f"{shade:.2f}",
                    f"{WEEKDAYS[day]} {hour:02d}:00: {n} play{'s' if n != 1 else ''}",
                )
            )
    rects = format_html_join(
        "",
        '<rect x="{0}" y="{1}" width="{2}" height="{2}" rx="2" class="cell" '
        'fill-opacity="{3}"><title>{4}</title></rect>',
        cells,
    )
    days = format_html_join(
        "",
        '<text x="0" y="{}" class="axis">{}</text>',
        ((TOP + day * CELL + CELL - 4, name) for day, name in enumerate(WEEKDAYS)),
    )
    hours = format_html_join(
        "",
        '<text x="{}" y="10" class="axis">{}</text>',
        ((LEFT + hour * CELL, f"{hour:02d}") for hour in range(0, 24, 3)),
    )
    width, height = LEFT + 24 * CELL, TOP + 7 * CELL
    return format_html(
        '<svg class="clock" viewBox="0 0 {} {}" role="img" aria-label="Plays by weekday and '
        'hour">{}{}{}</svg>',
        width,
        height,
        days,
        hours,
        rects,
    )
