"""How ``hosepipe bench`` shows what it measured: a table, a latency plot, JSON.

* :func:`table`: one row per run (per server model with ``--models``): requests,
  errors, throughput, p50/p90/p99/p99.9/max in milliseconds.
* :func:`terminal_plot`: the latency percentile spectrum as bars, on a log scale (one
  block per percentile from 0 to 100), so a slow tail is visible without matplotlib.
* :func:`save_plot`: the same curve as a PNG with matplotlib (``pip install
  hosepipe[plot]``), percentiles spread as HdrHistogram's plotter does (1/(1-p) on a
  log axis), one line per run.
"""

from __future__ import annotations

import logging
import math

from rich.table import Table
from rich.text import Text

from hosepipe.errors import UsageError
from hosepipe.tools.bench import PERCENTILES, BenchResult

__all__ = ["SPECTRUM", "save_plot", "table", "terminal_plot"]

SPECTRUM = (0.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0)
BAR = 40


def _ms(us: float) -> str:
    return f"{us / 1000:.3f}"


def table(results: list[BenchResult], title: str) -> Table:
    grid = Table(title=title, title_justify="left")
    grid.add_column("run", min_width=9)
    for column in ("clients", "requests", "errors", "req/s",
                   *(f"p{p:g} ms" for p in PERCENTILES), "max ms"):
        grid.add_column(column, justify="right")
    for r in results:
        label = r.label + (" (interrupted)" if r.interrupted else "")
        errors = f"[red]{r.errors}[/]" if r.errors else "0"
        grid.add_row(label, str(r.clients), str(r.requests), errors, f"{r.throughput:,.0f}",
                     *(_ms(r.percentile(p)) for p in PERCENTILES), _ms(r.max_us))
    return grid


def terminal_plot(result: BenchResult) -> Text:
    """Latency at each percentile of :data:`SPECTRUM` as a bar on a log scale."""
    out = Text(f"latency by percentile, {result.label} (log scale)\n", style="bold")
    if not result.requests:
        return out.append("nothing measured\n")
    values = [max(1, result.percentile(p) if p < 100 else result.max_us) for p in SPECTRUM]
    low, high = math.log10(min(values)), math.log10(max(values))
    span = max(high - low, 1e-9)
    for p, value in zip(SPECTRUM, values, strict=True):
        width = 1 + round((BAR - 1) * (math.log10(value) - low) / span)
        out.append(f"{p:>7g}% ", style="dim")
        out.append("█" * width, style="cyan")
        out.append(f" {_ms(value)} ms\n")
    return out


def save_plot(results: list[BenchResult], path: str) -> None:
    """The percentile curves of ``results`` as a PNG (needs matplotlib)."""
    try:
        import matplotlib  # noqa: PLC0415 - an optional extra, imported only when asked

        matplotlib.use("Agg")
        logging.getLogger("matplotlib").setLevel(logging.WARNING)
        from matplotlib import pyplot  # noqa: PLC0415
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'hosepipe[plot]'") from None
    figure, axes = pyplot.subplots(figsize=(8, 5))
    for r in results:
        points = [(p, r.percentile(p)) for p in _fine_percentiles() if r.requests]
        axes.plot([1 / (1 - p / 100) for p, _ in points], [v / 1000 for _, v in points],
                  label=r.label)
    axes.set_xscale("log")
    ticks = [50, 90, 99, 99.9, 99.99]
    axes.set_xticks([1 / (1 - p / 100) for p in ticks], [f"{p:g}%" for p in ticks])
    axes.set_xlabel("percentile")
    axes.set_ylabel("latency (ms)")
    axes.set_title("hosepipe bench: latency by percentile")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.savefig(path, dpi=100, bbox_inches="tight")
    pyplot.close(figure)


def _fine_percentiles() -> list[float]:
    """0 to 99.99 in steps that thin out as the tail grows (as HdrHistogram prints)."""
    points: list[float] = []
    for step, end in ((5.0, 90.0), (0.5, 99.0), (0.05, 99.9), (0.005, 99.99)):
        start = points[-1] if points else 0.0
        points += [round(start + step * (i + 1), 4) for i in range(round((end - start) / step))]
    return [0.0, *points]
