"""Charts drawn on the server as SVG: readable without JavaScript, no library, no CDN.

A chart is an <svg role="img"> with a <title> (its name) and a <desc> (the figures in words, for
screen readers); each point is a <circle> or a <rect> with its own <title>, so hovering shows the
value in any browser. Values are drawn against 0 so bar and line heights compare honestly."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 100, 16, 16, 36
BAR_ROW = 26


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def line_chart(chart_id: str, title: str, points: Sequence[tuple[str, float]],
               label: Callable[[float], str]) -> Markup:
    """`points`: (x label, value) in order; `label` formats a value (money, a count ...)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max([v for _, v in points] + [0]) or 1
    step = plot_w / max(len(points) - 1, 1)
    coords = [(LEFT + i * step, TOP + plot_h - (v / top) * plot_h) for i, (_, v) in enumerate(points)]
    summary = "; ".join(f"{x}: {label(v)}" for x, v in points)
    parts = [f'<svg id="{escape(chart_id)}" class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
             f'<desc id="{escape(chart_id)}-d">{escape(summary)}</desc>',
             f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"/>',
             f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>',
             f'<text class="tick" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{escape(label(top))}</text>',
             f'<text class="tick" x="{LEFT - 6}" y="{TOP + plot_h + 4}" text-anchor="end">{escape(label(0))}</text>']
    if points:
        parts.append('<polyline class="line" points="' + " ".join(f"{_num(x)},{_num(y)}" for x, y in coords) + '"/>')
        parts.append(f'<text class="tick" x="{LEFT}" y="{HEIGHT - 12}">{escape(points[0][0])}</text>')
        parts.append(f'<text class="tick" x="{WIDTH - RIGHT}" y="{HEIGHT - 12}" text-anchor="end">'
                     f'{escape(points[-1][0])}</text>')
    for (x, y), (at, value) in zip(coords, points, strict=True):
        parts.append(f'<circle class="point" cx="{_num(x)}" cy="{_num(y)}" r="3">'
                     f'<title>{escape(at)}: {escape(label(value))}</title></circle>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(chart_id: str, title: str, bars: Sequence[tuple[str, float]],
              label: Callable[[float], str]) -> Markup:
    """Horizontal bars, one row per (name, value), longest = the largest value."""
    name_w, value_w = 190, 90
    plot_w = WIDTH - name_w - value_w
    height = TOP + BAR_ROW * len(bars) + 4
    top = max([v for _, v in bars] + [0]) or 1
    summary = "; ".join(f"{name}: {label(v)}" for name, v in bars)
    parts = [f'<svg id="{escape(chart_id)}" class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
             f'aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
             f'<desc id="{escape(chart_id)}-d">{escape(summary)}</desc>']
    for i, (name, value) in enumerate(bars):
        y = TOP + i * BAR_ROW
        parts.append(f'<text class="tick" x="{name_w - 8}" y="{y + 15}" text-anchor="end">{escape(name)}</text>')
        parts.append(f'<rect class="bar" x="{name_w}" y="{y + 3}" width="{_num(plot_w * value / top)}" height="16">'
                     f'<title>{escape(name)}: {escape(label(value))}</title></rect>')
        parts.append(f'<text class="tick" x="{name_w + _num_f(plot_w * value / top) + 6}" y="{y + 15}">'
                     f'{escape(label(value))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _num_f(value: float) -> float:
    return round(value, 1)
