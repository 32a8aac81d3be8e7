"""The dashboard's charts, drawn with matplotlib's object API (``Figure`` + Agg canvas: no pyplot
state shared between the daemon's threads, no display).

Each chart is drawn once and saved twice: SVG for the HTML file (inline, works offline and needs
no script) and PNG for the mail body and the PDF (mail clients do not show inline SVG). Both are
byte-deterministic for the same data: a fixed SVG hash salt, no dates in the metadata.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

_READY = False
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def _setup(cache_dir: Path | None = None) -> None:
    global _READY
    if _READY:
        return
    if cache_dir is not None and "MPLCONFIGDIR" not in os.environ:
        cache_dir.mkdir(parents=True, exist_ok=True)
        os.environ["MPLCONFIGDIR"] = str(cache_dir)
    import matplotlib

    matplotlib.use("Agg", force=False)
    matplotlib.rcParams.update({"svg.hashsalt": "marketd-brands", "svg.fonttype": "path", "font.size": 9,
                                "font.family": "DejaVu Sans", "axes.spines.top": False, "axes.spines.right": False})
    _READY = True


def _figure(w=7.0, h=3.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _empty(ax, has_data: bool) -> None:
    """Say so on an empty chart instead of bare axes (no settlements yet, no sales)."""
    if not has_data:
        ax.text(0.5, 0.5, "no data for this period", ha="center", va="center", transform=ax.transAxes,
                color="#888888")


def _render(fig) -> tuple[str, bytes]:
    fig.tight_layout()
    svg = io.StringIO()
    fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=100, metadata={"Software": None})
    text = svg.getvalue()
    text = text[text.index("<svg"):]   # inline in HTML: no XML prolog or DOCTYPE
    return text, png.getvalue()


def stacked_bars(title: str, weeks: list[str], series: dict[str, list[float]], ylabel: str):
    fig = _figure()
    ax = fig.add_subplot()
    bottom = [0.0] * len(weeks)
    for i, (name, values) in enumerate(sorted(series.items())):
        ax.bar(weeks, values, bottom=bottom, label=name, color=COLORS[i % len(COLORS)])
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", labelrotation=45)
    _empty(ax, bool(series))
    if series:
        ax.legend(fontsize=7)
    return _render(fig)


def lines(title: str, weeks: list[str], series: dict[str, list[float | None]], ylabel: str):
    fig = _figure()
    ax = fig.add_subplot()
    for i, (name, values) in enumerate(sorted(series.items())):
        ax.plot(weeks, [float("nan") if v is None else v for v in values], marker="o", label=name,
                color=COLORS[i % len(COLORS)])
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", labelrotation=45)
    if not series:
        ax.set_xticks(range(len(weeks)), weeks)
    _empty(ax, any(v is not None for vs in series.values() for v in vs))
    if series:
        ax.legend(fontsize=7)
    return _render(fig)


def hbars(title: str, labels: list[str], values: list[float], xlabel: str):
    fig = _figure(7.0, max(2.0, 0.25 * len(labels) + 1))
    ax = fig.add_subplot()
    ax.barh(labels[::-1], values[::-1], color=COLORS[0])
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    _empty(ax, bool(labels))
    return _render(fig)


def funnel(title: str, platforms: list[str], stages: dict[str, list[int]]):
    fig = _figure()
    ax = fig.add_subplot()
    n = len(stages)
    width = 0.8 / max(n, 1)
    for i, (stage, values) in enumerate(stages.items()):
        ax.bar([x + i * width for x in range(len(platforms))], values, width=width, label=stage,
               color=COLORS[i % len(COLORS)])
    ax.set_xticks([x + width * (n - 1) / 2 for x in range(len(platforms))], platforms)
    ax.set_title(title)
    ax.legend(fontsize=7)
    return _render(fig)
