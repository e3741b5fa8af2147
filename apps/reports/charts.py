"""Small server-rendered SVG charts: no JavaScript, no build step, readable without network."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 720, 220, 48, 28, 12


def _n(value: float) -> str:
    """A coordinate as SVG text (format_html escapes its arguments, so format them first)."""
    return f"{value:.1f}"


def _scale(maximum: float) -> float:
    return (HEIGHT - PAD_BOTTOM - PAD_TOP) / maximum if maximum > 0 else 0.0


def _axis(maximum: float, labels: Sequence[str], step: float) -> SafeString:
    bottom = HEIGHT - PAD_BOTTOM
    every = max(1, len(labels) // 8)
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" class="sr-chart-label" text-anchor="middle">{}</text>',
        (
            (_n(PAD_LEFT + step * (index + 0.5)), HEIGHT - 8, label)
            for index, label in enumerate(labels)
            if index % every == 0
        ),
    )
    return format_html(
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="sr-chart-axis"/>'
        '<text x="{}" y="{}" class="sr-chart-label" text-anchor="end">{}</text>'
        '<text x="{}" y="{}" class="sr-chart-label" text-anchor="end">0</text>{}',
        PAD_LEFT, bottom, WIDTH, bottom, PAD_LEFT - 6, PAD_TOP + 10, f"{maximum:,.0f}",
        PAD_LEFT - 6, bottom, ticks,
    )  # fmt: skip


def bar_chart(
    labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[float]]], title: str
) -> SafeString:
    """Grouped bars: `series` is [(name, css class, values)], one value per label."""
    maximum = max((max(values, default=0) for _, _, values in series), default=0)
    scale = _scale(maximum)
    step = (WIDTH - PAD_LEFT) / max(len(labels), 1)
    bar = step * 0.8 / max(len(series), 1)
    bottom = HEIGHT - PAD_BOTTOM
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="{}">'
        "<title>{}: {} {}</title></rect>",
        (
            (
                _n(PAD_LEFT + step * index + step * 0.1 + bar * position),
                _n(bottom - value * scale), _n(max(bar - 1, 1)), _n(value * scale), css,
                labels[index], f"{value:,.0f}", name,
            )
            for position, (name, css, values) in enumerate(series)
            for index, value in enumerate(values)
        ),
    )  # fmt: skip
    legend = format_html_join(
        "", '<span class="sr-legend {}">{}</span>', ((css, name) for name, css, _ in series)
    )
    return format_html(
        '<figure class="sr-chart"><svg viewBox="0 0 {} {}" role="img" aria-label="{}">{}{}</svg>'
        "<figcaption>{}</figcaption></figure>",
        WIDTH, HEIGHT, title, _axis(maximum, labels, step), bars, legend,
    )  # fmt: skip


def line_chart(labels: Sequence[str], values: Sequence[float], title: str, css: str) -> SafeString:
    if not values:
        return format_html('<p class="help">{}</p>', "No snapshots in this period yet.")
    maximum = max(values)
    scale = _scale(maximum)
    step = (WIDTH - PAD_LEFT) / max(len(labels), 1)
    bottom = HEIGHT - PAD_BOTTOM
    coordinates = [
        (_n(PAD_LEFT + step * (index + 0.5)), _n(bottom - value * scale))
        for index, value in enumerate(values)
    ]
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3" class="{}"><title>{}: {}</title></circle>',
        (
            (x, y, css, label, f"{value:,.0f}")
            for (x, y), label, value in zip(coordinates, labels, values, strict=True)
        ),
    )
    return format_html(
        '<figure class="sr-chart"><svg viewBox="0 0 {} {}" role="img" aria-label="{}">{}'
        '<polyline points="{}" class="{}" fill="none"/>{}</svg></figure>',
        WIDTH, HEIGHT, title, _axis(maximum, labels, step),
        " ".join(f"{x},{y}" for x, y in coordinates), css, dots,
    )  # fmt: skip
