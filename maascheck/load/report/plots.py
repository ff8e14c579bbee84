"""Plots for load and sweep reports, rendered with matplotlib's Agg canvas to base64 PNG.

Figures are built with `matplotlib.figure.Figure` (no pyplot global state, no GUI backend), so the
functions are safe to call from any thread. Each returns base64 PNG text for `maascheck.core.html.png`,
or None when there is nothing to plot. Axis labels carry units.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from maascheck.load.measure.reader import num

_ECDF_POINTS = 2000  # an ECDF is drawn through at most this many quantiles
_DPI = 100


def _encode(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _finite(values: Sequence[Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    arr = np.array([v for v in (num(x) for x in values) if v is not None], dtype=np.float64)
    return arr


def _ecdf(ax: Axes, values: np.ndarray[Any, np.dtype[np.float64]], label: str | None = None) -> None:
    data = np.sort(values)
    if data.size > _ECDF_POINTS:
        q = np.linspace(0.0, 1.0, _ECDF_POINTS)
        ax.plot(np.quantile(data, q), q * 100, label=label)
    else:
        ax.step(data, np.arange(1, data.size + 1) / data.size * 100, where="post", label=label)


def _plain_log(axis: Any) -> None:
    """Log-scale ticks labelled as plain numbers (1, 2, 5, 10, 20, ...), no minor labels."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _shade_warmup(ax: Axes, warmup_s: float | None) -> None:
    if warmup_s:
        ax.axvspan(0, warmup_s, color="#999999", alpha=0.15, label=f"warm-up ({warmup_s:.3g} s, excluded)")


def distribution(values: Sequence[Any], name: str, unit: str, *, samples: str = "requests") -> str | None:
    """Histogram and ECDF of one metric, with p50/p95/p99 marked (numpy "linear" percentiles,
    the definition `maascheck.load.measure.stats` uses); `samples` names what one value is (requests, token gaps)."""
    data = _finite(values)
    if data.size == 0:
        return None
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    hist, cdf = fig.subplots(1, 2)
    hist.hist(data, bins=min(60, max(5, int(np.sqrt(data.size)))), color="#4c72b0")
    hist.set(title=f"{name}: histogram (n={data.size:,})", xlabel=f"{name} ({unit})", ylabel=samples)
    _ecdf(cdf, data)
    for p, style in ((50, ":"), (95, "--"), (99, "-.")):
        x = float(np.percentile(data, p))
        cdf.axvline(x, color="#c44e52", linestyle=style, label=f"p{p} = {x:,.1f} {unit}")
    cdf.set(
        title=f"{name}: ECDF", xlabel=f"{name} ({unit})", ylabel=f"{samples} at or below (%)", ylim=(0, 101)
    )
    cdf.legend(loc="lower right", fontsize="small")
    cdf.grid(alpha=0.3)
    return _encode(fig)


def latency_over_time(records: Sequence[Mapping[str, Any]], warmup_s: float | None) -> str | None:
    """`latency_over_time_figure` as base64 PNG."""
    fig = latency_over_time_figure(records, warmup_s)
    return None if fig is None else _encode(fig)


def latency_over_time_figure(records: Sequence[Mapping[str, Any]], warmup_s: float | None) -> Figure | None:
    """TTFT and E2E latency of each request against its send time; failed and cancelled requests marked.

    Cancelled requests (in flight when the run stopped) are their own series, at the time they had been
    in flight when the run stopped: they are not failures.
    """
    timed = [r for r in records if num(r.get("start_s")) is not None]
    ok = [r for r in timed if r.get("outcome") == "ok"]
    cancelled = [r for r in timed if r.get("outcome") == "cancelled"]
    bad = [r for r in timed if r.get("outcome") not in ("ok", "cancelled")]
    if not timed:
        return None
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax = fig.subplots()
    for key, label, color in (("e2e_ms", "E2E latency", "#55a868"), ("ttft_ms", "TTFT", "#4c72b0")):
        pts = [(num(r["start_s"]), num(r.get(key))) for r in ok]
        xy = [(x, y) for x, y in pts if x is not None and y is not None]
        if xy:
            ax.scatter([p[0] for p in xy], [p[1] for p in xy], s=8, alpha=0.6, color=color, label=label)
    if bad:
        ys = [num(r.get("e2e_ms")) or 0.0 for r in bad]
        ax.scatter(
            [num(r["start_s"]) or 0.0 for r in bad],
            ys,
            marker="x",
            color="#c44e52",
            s=20,
            label=f"failed request ({len(bad)})",
        )
    if cancelled:
        xs = [num(r["start_s"]) or 0.0 for r in cancelled]
        ys = [max((num(r.get("end_s")) or x) - x, 0.0) * 1000 for r, x in zip(cancelled, xs, strict=True)]
        ax.scatter(xs, ys, marker="+", color="#8c8c8c", s=30, label=f"cancelled at stop ({len(cancelled)})")
    _shade_warmup(ax, warmup_s)
    ax.set(
        title="Latency over time (per request, by send time)",
        xlabel="send time since run start (s)",
        ylabel="latency (ms)",
    )
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def _bin_width(span_s: float) -> float:
    for width in (1.0, 2.0, 5.0, 10.0, 30.0, 60.0):
        if span_s / width <= 120:
            return width
    return 300.0


def throughput_over_time(records: Sequence[Mapping[str, Any]], warmup_s: float | None) -> str | None:
    """Output tokens/s, completed requests/s and requests in flight, in fixed time bins.

    A request's output tokens are spread evenly from its first token to its end (as GuideLLM does),
    so long streams do not show up as a spike at completion. Requests cancelled at the stop are left
    out, as they are of the throughput figures.
    """
    spans: list[tuple[float, float, float, float]] = []  # start, first token, end, tokens
    for r in records:
        start, e2e = num(r.get("start_s")), num(r.get("e2e_ms"))
        if start is None or e2e is None or r.get("outcome") == "cancelled":
            continue
        end = start + e2e / 1000
        first = start + (num(r.get("ttft_ms")) or e2e) / 1000
        spans.append((start, min(first, end), end, num(r.get("output_tokens")) or 0.0))
    if not spans:
        return None
    horizon = max(s[2] for s in spans)
    width = _bin_width(horizon)
    edges = np.arange(0.0, horizon + width, width)
    if edges.size < 2:
        edges = np.array([0.0, width])
    tokens = np.zeros(edges.size - 1)
    done = np.zeros(edges.size - 1)
    inflight = np.zeros(edges.size - 1)
    for start, first, end, n in spans:
        done[min(int(end // width), done.size - 1)] += 1
        lo, hi = edges[:-1], edges[1:]
        inflight += np.clip(np.minimum(hi, end) - np.maximum(lo, start), 0, None) / width
        if n > 0:
            dur = end - first
            if dur <= 0:
                tokens[min(int(end // width), tokens.size - 1)] += n
            else:
                tokens += n * np.clip(np.minimum(hi, end) - np.maximum(lo, first), 0, None) / dur
    mids = (edges[:-1] + edges[1:]) / 2
    fig = Figure(figsize=(10, 5.2), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(mids, tokens / width, color="#4c72b0", marker=".", label="output tokens/s")
    top.set(title=f"Throughput over time ({width:g} s bins)", ylabel="output tokens/s")
    rps = top.twinx()
    rps.plot(mids, done / width, color="#dd8452", linestyle="--", label="completed requests/s")
    rps.set_ylabel("completed requests/s")
    handles = top.get_legend_handles_labels()[0] + rps.get_legend_handles_labels()[0]
    top.legend(handles=handles, loc="lower right", fontsize="small")
    top.set_ylim(bottom=0)
    rps.set_ylim(bottom=0)
    top.grid(alpha=0.3)
    bottom.plot(mids, inflight, color="#55a868", label="requests in flight (mean per bin)")
    _shade_warmup(top, warmup_s)
    _shade_warmup(bottom, warmup_s)
    bottom.set(xlabel="time since run start (s)", ylabel="requests in flight")
    bottom.set_ylim(bottom=0)
    bottom.legend(loc="lower right", fontsize="small")
    bottom.grid(alpha=0.3)
    return _encode(fig)


def tokens_per_request(records: Sequence[Mapping[str, Any]], requested_input: float | None = None) -> str | None:
    """`tokens_per_request_figure` as base64 PNG."""
    fig = tokens_per_request_figure(records, requested_input)
    return None if fig is None else _encode(fig)


def tokens_per_request_figure(
    records: Sequence[Mapping[str, Any]], requested_input: float | None = None
) -> Figure | None:
    """Histograms of output and (when reported) server-counted input tokens of the requests given.

    The caller passes the requests to count (the report: completed ok requests); `requested_input`, when
    known, marks the prompt length the workload asked for on the input panel.
    """
    out = _finite([r.get("output_tokens") for r in records])
    inp = _finite([r.get("input_tokens") for r in records])
    if out.size == 0 and inp.size == 0:
        return None
    panels = [(d, n) for d, n in ((out, "output"), (inp, "input")) if d.size]
    fig = Figure(figsize=(5 * len(panels), 3.4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (data, name) in zip(axes, panels, strict=True):
        ax.hist(data, bins=min(40, max(5, len(np.unique(data)))), color="#8172b3")
        what = "output tokens" if name == "output" else "prompt_tokens (server-counted)"
        ax.set(
            title=f"{name.capitalize()} tokens per completed request (n={data.size:,})",
            xlabel=f"{what} (tokens)",
            ylabel="completed requests",
        )
        if name == "input" and requested_input is not None:
            ax.axvline(requested_input, color="#c44e52", linestyle="--", label=f"requested {requested_input:g}")
            ax.legend(loc="upper left", fontsize="small")
        ax.grid(alpha=0.3)
    return fig


# --- sweep plots ---------------------------------------------------------------------------------


def sweep_throughput(
    loads: Sequence[float],
    throughput: Sequence[float | None],
    *,
    load_label: str,
    knee: float | None,
    capacity: float | None,
    passed: Sequence[bool | None],
) -> str | None:
    """Throughput against offered load, with the ideal linear scaling, the knee and the capacity."""
    pts = [(x, y, p) for x, y, p in zip(loads, throughput, passed, strict=True) if y is not None]
    if not pts:
        return None
    fig = Figure(figsize=(8, 4.4), layout="constrained")
    ax = fig.subplots()
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    ax.plot(xs, ys, color="#4c72b0", marker="o", label="measured output tokens/s")
    x0, y0 = xs[0], ys[0]
    if x0 > 0:
        ax.plot(
            xs,
            [y0 * x / x0 for x in xs],
            color="#999999",
            linestyle=":",
            label="ideal linear scaling from the first step",
        )
    fails = [(x, y) for x, y, p in pts if p is False]
    if fails:
        ax.scatter(
            [f[0] for f in fails],
            [f[1] for f in fails],
            marker="x",
            s=80,
            color="#c44e52",
            zorder=3,
            label="step failed its SLOs",
        )
    if capacity is not None:
        ax.axvspan(
            min(xs), capacity, color="#55a868", alpha=0.12, label=f"meets the SLOs (capacity {capacity:g})"
        )
    if knee is not None:
        ax.axvline(knee, color="#dd8452", linestyle="--", label=f"knee (saturation): {knee:g}")
    if min(xs) > 0 and max(xs) / min(xs) >= 8:
        ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [f"{x:g}" for x in xs])
    ax.set_ylim(0, max(ys) * 1.25)
    ax.set(
        title=f"Output throughput vs {load_label}", xlabel=load_label, ylabel="output throughput (tokens/s)"
    )
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)
    return _encode(fig)


def sweep_latency_vs_throughput(steps: Sequence[Mapping[str, Any]], *, load_unit: str) -> str | None:
    """TTFT and ITL p50/p99 against achieved throughput, one point per step labelled with its load.

    Each step mapping holds `load`, `output_tokens_per_s` and `ttft_ms`/`itl_ms` stat objects.
    """
    rows = [s for s in steps if num(s.get("output_tokens_per_s")) is not None]
    if not rows:
        return None
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, metric, name in ((axes[0], "ttft_ms", "TTFT"), (axes[1], "itl_ms", "ITL")):
        for stat, style in (("p50", "o-"), ("p99", "s--")):
            pts = [
                (num(s["output_tokens_per_s"]), num((s.get(metric) or {}).get(stat)), s["load"]) for s in rows
            ]
            xy = [(x, y, lv) for x, y, lv in pts if x is not None and y is not None]
            if not xy:
                continue
            ax.plot([p[0] for p in xy], [p[1] for p in xy], style, label=f"{name} {stat}")
            if stat == "p99":
                for x, y, lv in xy:
                    ax.annotate(
                        f"{lv:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize="x-small"
                    )
        ax.set(
            title=f"{name} p50/p99 vs throughput (point labels: {load_unit})",
            xlabel="output throughput (tokens/s)",
            ylabel=f"{name} (ms)",
        )
        ax.set_yscale("log")
        _plain_log(ax.yaxis)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", fontsize="small")
        ax.grid(alpha=0.3, which="both")
    return _encode(fig)


def sweep_distributions(per_step: Sequence[tuple[str, Sequence[float], Sequence[float]]]) -> str | None:
    """ECDFs of TTFT and ITL, one line per step: `per_step` holds (label, ttft values, itl values)."""
    if not any(len(t) or len(i) for _, t, i in per_step):
        return None
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, name in ((axes[0], "TTFT"), (axes[1], "ITL")):
        for label, ttft, itl in per_step:
            data = _finite(ttft if name == "TTFT" else itl)
            if data.size:
                _ecdf(ax, data, label=label)
        ax.set(
            title=f"{name} distribution per step (ECDF)",
            xlabel=f"{name} (ms)",
            ylabel="at or below (%)",
            ylim=(0, 101),
        )
        ax.set_xscale("log")
        _plain_log(ax.xaxis)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="lower right", fontsize="small")
        ax.grid(alpha=0.3, which="both")
    return _encode(fig)
