"""The sweep figure as a self-contained SVG: test accuracy and training time against model size.

SVG is written by hand so that the report needs no plotting library.
"""

from __future__ import annotations

import math
from html import escape

import pandas as pd

PANEL_WIDTH = 420
PANEL_HEIGHT = 300
MARGIN = 55
LEGEND_WIDTH = 230
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")


def _scale(value: float, low: float, high: float, start: float, end: float) -> float:
    if high == low:
        return (start + end) / 2
    return start + (value - low) / (high - low) * (end - start)


def _panel(series: dict[str, list[tuple[float, float]]], left: float, title: str, y_label: str) -> list[str]:
    """Draw one panel: a line per series over log10(parameters)."""
    points = [point for values in series.values() for point in values]
    x_low, x_high = min(math.log10(x) for x, _ in points), max(math.log10(x) for x, _ in points)
    y_low, y_high = 0.0, max(y for _, y in points) * 1.05 or 1.0
    top, bottom, right = MARGIN, MARGIN + PANEL_HEIGHT, left + PANEL_WIDTH

    parts = [
        f'<rect x="{left}" y="{top}" width="{PANEL_WIDTH}" height="{PANEL_HEIGHT}" fill="none" stroke="#333"/>',
        f'<text x="{left + PANEL_WIDTH / 2}" y="{top - 15}" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
        f'<text x="{left + PANEL_WIDTH / 2}" y="{bottom + 40}" text-anchor="middle">parameters (log scale)</text>',
        f'<text x="{left - 40}" y="{top + PANEL_HEIGHT / 2}" text-anchor="middle" '
        f'transform="rotate(-90 {left - 40} {top + PANEL_HEIGHT / 2})">{escape(y_label)}</text>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        y_value = y_low + fraction * (y_high - y_low)
        y = _scale(y_value, y_low, y_high, bottom, top)
        parts.append(f'<text x="{left - 5}" y="{y + 4}" text-anchor="end" font-size="11">{y_value:.3g}</text>')
        x_value = x_low + fraction * (x_high - x_low)
        x = _scale(x_value, x_low, x_high, left + 20, right - 20)
        parts.append(f'<text x="{x}" y="{bottom + 18}" text-anchor="middle" font-size="11">{10 ** x_value:,.0f}</text>')

    for index, (name, values) in enumerate(series.items()):
        colour = COLOURS[index % len(COLOURS)]
        coordinates = [
            (_scale(math.log10(x), x_low, x_high, left + 20, right - 20), _scale(y, y_low, y_high, bottom, top))
            for x, y in sorted(values)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coordinates)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>' for x, y in coordinates)
        legend_y = top + 14 * index
        parts.append(
            f'<text x="{right + 10}" y="{legend_y + 4}" font-size="11" fill="{colour}">{escape(name)}</text>'
        )
    return parts


def _series(runs: pd.DataFrame, value: str, by: list[str]) -> dict[str, list[tuple[float, float]]]:
    series: dict[str, list[tuple[float, float]]] = {}
    for key, group in runs.dropna(subset=[value]).groupby(by, sort=True):
        label = " / ".join(str(part) for part in (key if isinstance(key, tuple) else (key,)))
        series[label] = list(zip(group["parameters"].astype(float), group[value].astype(float)))
    return series


def size_figure_svg(runs: pd.DataFrame) -> str:
    """Return an SVG with test accuracy (per task, mode, adapter) and training time against model size."""
    accuracy = _series(runs, "test_accuracy", ["task", "mode", "adapter"])
    per_run = runs.drop_duplicates(subset=["run"])
    timing = _series(per_run, "train_time_s", ["mode", "adapter"])

    width = 2 * (PANEL_WIDTH + MARGIN + LEGEND_WIDTH)
    height = PANEL_HEIGHT + 2 * MARGIN + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    parts += _panel(accuracy, MARGIN, "Test accuracy", "accuracy")
    parts += _panel(timing, 2 * MARGIN + PANEL_WIDTH + LEGEND_WIDTH, "Training time", "seconds")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
