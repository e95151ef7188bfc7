"""Charts as inline SVG: no script, no network, the same markup in the browser and in the PDF.

Every chart is an `<svg role="img">` with an `aria-label` and a `<title>` carrying its alternative text, so a
screen reader (and the accessibility test) gets the chart's message in words. Colours meet WCAG AA contrast
(≥ 4.5:1) against white, because the bars carry their own value labels in the same colour.

No label may run outside its chart: an SVG clips what lies beyond its view box, and a clipped "因务工就业不稳"
reads as another word. Label columns and legends are therefore sized from the labels themselves, with a width
estimate that errs wide (`text_width`); `tests/browser` checks every label's box against its SVG in Chromium.
Axis numbers are written as people write them (`plain`), never in scientific notation.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from markupsafe import Markup

LEVEL_COLOURS: Final = {"high": "#b3261e", "medium": "#8a5000", "low": "#2e6b30"}
INK: Final = "#1f2328"
MUTED: Final = "#57606a"
ACCENT: Final = "#0b5cad"
SECOND: Final = "#6b4fa0"
GRID: Final = "#d0d7de"
FONT: Final = "'Noto Sans CJK SC','Noto Sans CJK',sans-serif"


def text_width(text: str, size: float) -> float:
    """An upper estimate of the text's width in px at font `size`: wide (CJK, full-width) characters take a
    full em; others take 0.62 em, above the Noto Sans average for digits and Latin letters."""
    return sum(size if unicodedata.east_asian_width(c) in "WF" else 0.62 * size for c in text)


def plain(value: float) -> str:
    """A number as people write it: 12,000 and 0.035, never 1.2e+04; about three significant digits."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as shown beside the bar
    colour: str = ACCENT


def _open(width: int, height: int, alt: str) -> list[str]:
    label = escape(alt, quote=True)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{label}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" class="chart" font-family="{escape(FONT)}">',
        f"<title>{escape(alt)}</title>",
    ]


def _text(x: float, y: float, content: str, *, anchor: str = "start", size: int = 13, colour: str = INK) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{colour}" text-anchor="{anchor}">'
        f"{escape(content)}</text>"
    )


def _columns(labels: Sequence[str], values: Sequence[str], label_width: int, width: int) -> tuple[int, int, float]:
    """(label column, chart width, bar span): the label column fits the longest label, the value room the
    longest value, and the chart grows rather than squeeze the bars below `width - label_width - 70`."""
    label_width = max(label_width, math.ceil(max((text_width(t, 13) for t in labels), default=0) + 14))
    room = max(70.0, max((text_width(t, 13) for t in values), default=0) + 14)
    span = max(width - 140 - 70, width - label_width - room)
    return label_width, math.ceil(label_width + span + room), span


def bar_chart(bars: Sequence[Bar], alt: str, *, label_width: int = 140, width: int = 440) -> Markup:
    """Horizontal bars from zero, one row per item, its value printed at the bar's end."""
    row, top = 26, 8
    height = top * 2 + row * max(len(bars), 1)
    biggest = max((b.value for b in bars), default=0.0) or 1.0
    label_width, width, span = _columns([b.label for b in bars], [b.text for b in bars], label_width, width)
    parts = _open(width, height, alt)
    for i, bar in enumerate(bars):
        y = top + i * row
        length = max(bar.value, 0.0) / biggest * span
        parts.append(_text(label_width - 8, y + 17, bar.label, anchor="end"))
        parts.append(
            f'<rect x="{label_width}" y="{y + 5}" width="{length:.1f}" height="{row - 10}" fill="{bar.colour}"/>'
        )
        parts.append(_text(label_width + length + 6, y + 17, bar.text, colour=bar.colour))
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class Step:
    label: str
    delta: float  # in percentage points


def waterfall(steps: Sequence[Step], total_label: str, alt: str, *, label_width: int = 140, width: int = 440) -> Markup:
    """Horizontal waterfall: each step starts where the previous one ended; the last bar is the total."""
    row, top = 26, 8
    height = top * 2 + row * (len(steps) + 1)
    ends, running = [], 0.0
    for step in steps:
        ends.append((running, running + step.delta))
        running += step.delta
    low = min([0.0, *(min(a, b) for a, b in ends)])
    high = max([running, *(max(a, b) for a, b in ends)]) or 1.0
    labels = [*(s.label for s in steps), total_label]
    values = [*(f"{s.delta:+.1f}" for s in steps), f"{running:.1f}"]
    label_width, width, span = _columns(labels, values, label_width, width)

    def x(value: float) -> float:
        return label_width + (value - low) / (high - low) * span

    parts = _open(width, height, alt)
    for i, (step, (start, end)) in enumerate(zip(steps, ends, strict=True)):
        y = top + i * row
        left, right = sorted((x(start), x(end)))
        colour = LEVEL_COLOURS["high"] if step.delta >= 0 else LEVEL_COLOURS["low"]
        parts.append(_text(label_width - 8, y + 17, step.label, anchor="end"))
        parts.append(
            f'<rect x="{left:.1f}" y="{y + 5}" width="{max(right - left, 1):.1f}" height="{row - 10}" fill="{colour}"/>'
        )
        parts.append(_text(right + 6, y + 17, f"{step.delta:+.1f}", colour=colour))
    y = top + len(steps) * row
    parts.append(_text(label_width - 8, y + 17, total_label, anchor="end"))
    parts.append(f'<rect x="{x(0):.1f}" y="{y + 5}" width="{x(running) - x(0):.1f}" height="{row - 10}" fill="{INK}"/>')
    parts.append(_text(x(running) + 6, y + 17, f"{running:.1f}", colour=INK))
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float]
    colour: str = ACCENT


def line_chart(
    x_labels: Sequence[str], series: Sequence[Series], alt: str, *, unit: str = "", width: int = 440, height: int = 190
) -> Markup:
    """Lines over categorical x positions (scoring dates), y from zero, with a legend below the plot.

    Axis labels are thinned to every k-th date so that none overlaps the next; the legend wraps onto further
    rows rather than run past the right edge."""
    biggest = max((v for s in series for v in s.values), default=0.0) or 1.0
    ticks = [f"{plain(biggest * fraction)}{unit}" for fraction in (0.0, 0.5, 1.0)]
    left, right, top = max(56, math.ceil(max(text_width(t, 11) for t in ticks) + 12)), 16, 12
    legend_rows: list[list[tuple[Series, float]]] = [[]]
    x = float(left)
    for s in series:
        item = 16 + text_width(s.label, 11) + 12
        if legend_rows[-1] and x + item > width - right:
            legend_rows.append([])
            x = float(left)
        legend_rows[-1].append((s, x))
        x += item
    bottom = 30 + 18 * len(legend_rows)
    height += 18 * (len(legend_rows) - 1)
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(x_labels), 1)
    widest = max((text_width(label, 11) for label in x_labels), default=0.0) + 8
    step = 1 if n == 1 else max(1, math.ceil(widest / (plot_w / (n - 1))))

    def px(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else i * plot_w / (n - 1))

    def py(value: float) -> float:
        return top + plot_h - value / biggest * plot_h

    parts = _open(width, height, alt)
    for fraction, tick in zip((0.0, 0.5, 1.0), ticks, strict=True):
        y = py(biggest * fraction)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(_text(left - 6, y + 4, tick, anchor="end", size=11, colour=MUTED))
    shown = {i for i in range(n) if (n - 1 - i) % step == 0}  # the latest date always, then every step-th back
    for i, label in enumerate(x_labels):
        if i not in shown:
            continue
        # the first and last labels align inwards, so they never run off the chart
        anchor = "middle" if n == 1 or 0 < i < n - 1 else ("start" if i == 0 else "end")
        parts.append(_text(px(i), top + plot_h + 16, label, anchor=anchor, size=11, colour=MUTED))
    for s in series:
        points = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(s.values))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{s.colour}" stroke-width="2.5"/>')
        for i, v in enumerate(s.values):
            parts.append(f'<circle cx="{px(i):.1f}" cy="{py(v):.1f}" r="3.5" fill="{s.colour}"/>')
    for r, items in enumerate(legend_rows):
        y = height - 18 * (len(legend_rows) - r)
        for s, legend_x in items:
            parts.append(f'<rect x="{legend_x:.1f}" y="{y}" width="12" height="12" fill="{s.colour}"/>')
            parts.append(_text(legend_x + 16, y + 10, s.label, size=11))
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class Point:
    label: str
    x: float
    y: float


def calibration_chart(points: Sequence[Point], alt: str, *, x_label: str, y_label: str, size: int = 360) -> Markup:
    """Mean predicted (x) against observed rate (y) per group, both from zero, with the diagonal."""
    left, top, plot = 44, 28, size - 80
    size = max(size, math.ceil(left + max(text_width(y_label, 11), text_width(x_label, 11)) + 8))
    biggest = max([*(p.x for p in points), *(p.y for p in points), 0.01]) * 1.1

    def sx(value: float) -> float:
        return left + value / biggest * plot

    def sy(value: float) -> float:
        return top + plot - value / biggest * plot

    parts = _open(size, size, alt)
    parts.append(_text(left, top - 12, y_label, size=11, colour=MUTED))  # the y axis' name, above it
    parts.append(f'<rect x="{left}" y="{top}" width="{plot}" height="{plot}" fill="none" stroke="{GRID}"/>')
    parts.append(
        f'<line x1="{sx(0):.1f}" y1="{sy(0):.1f}" x2="{sx(biggest):.1f}" y2="{sy(biggest):.1f}" '
        f'stroke="{MUTED}" stroke-dasharray="4 3"/>'
    )
    for p in points:
        parts.append(f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="4" fill="{ACCENT}" fill-opacity="0.75"/>')
    parts.append(_text(left - 4, sy(0) + 4, "0", anchor="end", size=11, colour=MUTED))
    parts.append(_text(left - 4, sy(biggest) + 10, f"{plain(biggest * 100)}%", anchor="end", size=11, colour=MUTED))
    parts.append(_text(sx(biggest), sy(0) + 16, f"{plain(biggest * 100)}%", anchor="end", size=11, colour=MUTED))
    parts.append(_text(left + plot / 2, sy(0) + 34, x_label, anchor="middle", size=11, colour=MUTED))
    parts.append("</svg>")
    return Markup("".join(parts))
