"""Charts on report pages: the figures a page hands to Chart.js (served from our static files,
``vendor/chartjs``), drawn by ``cbo_portal/charts.js``. Each chart's numbers are also in a table on
the same page, so a chart is only a picture of figures the reader can check."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

# One colour per series, in order; the page's legend is drawn by Chart.js from these.
COLOURS = ("#0f766e", "#94a3b8", "#15803d", "#b45309")


def bar_chart(
    labels: Sequence[str],
    series: dict[str, Sequence[Decimal | int]],
    *,
    money: bool,
    horizontal: bool = False,
) -> dict:
    """A grouped bar chart: one bar per series for each label. ``money`` formats the value axis
    in dollars; ``horizontal`` lays long labels (counties) down the side. ``empty`` is true when
    every value is zero, so the page can say so instead of drawing an empty frame; ``height`` (CSS
    pixels) gives each horizontal bar room for its label."""
    datasets = [
        {"label": name, "data": [float(v) for v in values], "backgroundColor": COLOURS[i % len(COLOURS)]}
        for i, (name, values) in enumerate(series.items())
    ]
    return {
        "labels": list(labels),
        "datasets": datasets,
        "money": money,
        "horizontal": horizontal,
        "height": max(200, 60 + 34 * len(labels)) if horizontal else 300,
        "empty": not any(value for dataset in datasets for value in dataset["data"]),
    }
