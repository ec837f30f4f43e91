"""Figures of the evaluation: ROC curves, confusion matrices, reliability diagrams, a forest plot.

Every function takes the cohort dictionaries that ``metrics.json`` holds (see
``vcfnet.report.evaluate``), so a figure can be redrawn from the JSON alone, and returns a matplotlib
``Figure`` drawn with the Agg backend (no display needed). Colours are the Okabe-Ito palette (safe
for the common colour-vision deficiencies) and each class also has its own line style and marker.
Sizes are chosen for display at 96 px per inch, where 10.5 pt text stays legible.

    >>> fig = roc_figure(metrics["cohorts"][0]); save_figure(fig, "out/figures/roc_test")
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vcfnet.fileio import atomic_path
from vcfnet.labels import CLASSES

OKABE_ITO = {"orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
             "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "black": "#000000"}
CLASS_STYLE = {
    "acute": {"color": OKABE_ITO["vermillion"], "linestyle": "-", "marker": "o"},
    "chronic": {"color": OKABE_ITO["blue"], "linestyle": "--", "marker": "s"},
    "pathological": {"color": OKABE_ITO["green"], "linestyle": "-.", "marker": "^"},
}
FIG_SIZE = (4.0, 4.0)  # inches; shown at 96 px/inch in the report
DISPLAY_DPI = 96
_RC = {"font.size": 10.5, "axes.titlesize": 11, "axes.labelsize": 10.5, "legend.fontsize": 10,
       "xtick.labelsize": 10, "ytick.labelsize": 10, "svg.fonttype": "none",
       "axes.spines.top": False, "axes.spines.right": False}


def _plt():
    """pyplot on the Agg backend, imported only when a figure is drawn."""
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    plt.rcParams.update(_RC)  # type: ignore[arg-type]  # matplotlib types rc keys as a Literal of every name
    return plt


def fmt_ci(d: dict | None, key: str = "estimate", digits: int = 2) -> str:
    """``0.85 [0.81–0.88]``; ``not estimable`` when the value is missing or NaN."""
    if not d or _missing(d.get(key)):
        return "not estimable"
    text = f"{d[key]:.{digits}f}"
    if not (_missing(d.get("ci_low")) or _missing(d.get("ci_high"))):
        text += f" [{d['ci_low']:.{digits}f}–{d['ci_high']:.{digits}f}]"
    return text


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def cohort_subtitle(c: dict) -> str:
    return f"{c['n_patients']} patients, {c['n_vertebrae']} vertebrae"


def roc_figure(c: dict):
    """One-vs-rest ROC curve of each class, AUC [CI] in the legend, chance diagonal."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(FIG_SIZE[0], FIG_SIZE[1] + 1.2), layout="constrained")
    ax.plot([0, 1], [0, 1], color="#777777", linestyle=":", linewidth=1, label="chance")
    for cls in CLASSES:
        curve, auc = c["roc"].get(cls), c["classes"][cls]["auc"]
        n_pos = c["class_counts"].get(cls, 0)
        label = f"{cls} (n={n_pos}): AUC {fmt_ci(auc, 'auc')}"
        if not curve or not curve.get("fpr"):
            ax.plot([], [], **_line(cls), label=label)
            continue
        ax.plot(curve["fpr"], curve["tpr"], **_line(cls), linewidth=2, label=label)
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal",
           xlabel="1 − specificity (false-positive rate)", ylabel="Sensitivity (true-positive rate)")
    ax.set_title(f"{c['name']}: ROC, one class vs rest\n{cohort_subtitle(c)}")
    # below the axes: inside, it would hide the steep start of the curves
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False, handlelength=2.6,
              title=f"One-vs-rest AUC [{_ci_pct(c)} CI]", title_fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def _line(cls: str) -> dict:
    s = CLASS_STYLE[cls]
    return {"color": s["color"], "linestyle": s["linestyle"]}


def _ci_pct(c: dict) -> str:
    return f"{round(100 * (1 - c.get('alpha', 0.05)))}%"


def confusion_figure(c: dict):
    """Row-normalised confusion matrix (rows = true class), cells annotated with share and count."""
    plt = _plt()
    norm, counts = c["confusion"]["normalized"], c["confusion"]["counts"]
    fig, ax = plt.subplots(figsize=FIG_SIZE, layout="constrained")
    values = [[(float("nan") if _missing(v) else v) for v in row] for row in norm]
    im = ax.imshow(values, cmap="Blues", vmin=0, vmax=1)
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            text = "n/a" if math.isnan(v) else f"{v:.2f}\n({counts[i][j]})"
            ax.text(j, i, text, ha="center", va="center", fontsize=10.5,
                    color="white" if (not math.isnan(v) and v > 0.55) else "black")
    ax.set_xticks(range(len(CLASSES)), CLASSES)
    ax.set_yticks(range(len(CLASSES)), CLASSES, rotation=90, va="center")
    ax.set(xlabel="Predicted class", ylabel="True class")
    ax.spines[:].set_visible(False)
    ax.set_title(f"{c['name']}: confusion matrix\n{cohort_subtitle(c)}")
    cbar = fig.colorbar(im, ax=ax, shrink=0.75)
    cbar.set_label("Share of the true class (row)")
    return fig


def reliability_figure(c: dict):
    """Reliability diagram of the top-class confidence with Wilson CIs per bin, counts below."""
    plt = _plt()
    fig, (ax, axh) = plt.subplots(2, 1, figsize=(FIG_SIZE[0], FIG_SIZE[1] + 0.4), layout="constrained",
                                  sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    rel = c["calibration"]["reliability"]
    # no legend (it would cover points wherever it sat); the caption explains the line and the bars
    ax.plot([0, 1], [0, 1], color="#777777", linestyle=":", linewidth=1)
    pts = [(x, y, lo, hi) for x, y, lo, hi, n in zip(rel["confidence"], rel["accuracy"], rel["ci_low"],
                                                       rel["ci_high"], rel["count"]) if n and not _missing(y)]
    if pts:
        xs, ys, lo, hi = (list(t) for t in zip(*pts))
        yerr = [[y - low for y, low in zip(ys, lo)], [h - y for y, h in zip(ys, hi)]]
        ax.errorbar(xs, ys, yerr=yerr, color=OKABE_ITO["blue"], marker="o", linestyle="-", capsize=3,
                    label=f"observed [{_ci_pct(c)} CI]")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), ylabel="Observed accuracy")
    ax.grid(alpha=0.3)
    cal = c["calibration"]
    ax.set_title(f"{c['name']}: calibration\n{cohort_subtitle(c)}\nBrier {_num(cal.get('brier'))}, "
                 f"ECE {_num(cal.get('ece'))}")
    edges = rel.get("bin_edges") or [i / len(rel["count"]) for i in range(len(rel["count"]) + 1)]
    axh.bar(edges[:-1], rel["count"], width=[b - a for a, b in zip(edges[:-1], edges[1:])],
            align="edge", color=OKABE_ITO["sky"], edgecolor="white")
    axh.set(xlabel="Predicted probability of the predicted class", ylabel="Vertebrae")
    return fig


def _num(x, digits: int = 3) -> str:
    return "n/a" if _missing(x) else f"{x:.{digits}f}"


def forest_figure(cohorts: Sequence[dict]):
    """Accuracy and per-class AUC with CIs for every cohort; dotted line at the internal test value."""
    plt = _plt()
    n = len(cohorts)
    fig, (ax_acc, ax_auc) = plt.subplots(1, 2, figsize=(9.2, 1.6 + 0.62 * n), layout="constrained",
                                         sharey=True)
    ys = list(range(n))[::-1]
    for y, c in zip(ys, cohorts):
        _interval(ax_acc, c["accuracy"], "estimate", y, OKABE_ITO["black"], "D", "accuracy")
        for off, cls in zip((0.22, 0.0, -0.22), CLASSES):
            style = CLASS_STYLE[cls]
            _interval(ax_auc, c["classes"][cls]["auc"], "auc", y + off, style["color"], style["marker"],
                      cls, label=cls if y == ys[0] else None)
    if cohorts[0]["kind"] == "internal" and not _missing(cohorts[0]["accuracy"].get("estimate")):
        ax_acc.axvline(cohorts[0]["accuracy"]["estimate"], color="#777777", linestyle=":", linewidth=1)
    pct = _ci_pct(cohorts[0])
    lo = _axis_floor(cohorts)
    ax_acc.set(xlim=(lo, 1.0), xlabel=f"Accuracy [{pct} CI]")
    ax_auc.set(xlim=(lo, 1.0), xlabel=f"One-vs-rest AUC [{pct} CI]")
    fig.legend(loc="outside upper right", ncols=3, frameon=False, title=None)
    for ax in (ax_acc, ax_auc):
        ax.grid(axis="x", alpha=0.3)
    ax_acc.set_yticks(ys, [f"{c['name']}\n{cohort_subtitle(c)}" for c in cohorts])
    ax_acc.set_ylim(-0.6, n - 0.4)
    fig.suptitle("Performance by cohort (dotted line: internal test accuracy)", fontsize=11, x=0.02,
                 ha="left")
    return fig


def _axis_floor(cohorts: Sequence[dict]) -> float:
    """Left end of the forest plot's axes: just below the lowest interval, a multiple of 0.1."""
    lows = [c["accuracy"].get("ci_low") for c in cohorts]
    lows += [c["classes"][k]["auc"].get("ci_low") for c in cohorts for k in CLASSES]
    lows = [x for x in lows if not _missing(x)]
    return max(0.0, math.floor(10 * (min(lows) - 0.02)) / 10) if lows else 0.0


def _interval(ax, d: dict | None, key: str, y: float, colour: str, marker: str, what: str,
              label=None) -> None:
    d = d or {}
    if _missing(d.get(key)):
        ax.plot([], [], marker=marker, color=colour, linestyle="none", label=label)
        ax.annotate(f"{what}: not estimable", (1.0, y), xytext=(-4, 0), textcoords="offset points",
                    ha="right", va="center", fontsize=10, color="#444444")
        return
    lo, hi = d.get("ci_low"), d.get("ci_high")
    err = None if _missing(lo) or _missing(hi) else [[d[key] - lo], [hi - d[key]]]
    ax.errorbar([d[key]], [y], xerr=err, fmt=marker, color=colour, capsize=3, markersize=6, label=label)


def save_figure(fig, stem: str | Path) -> list[Path]:
    """Write ``stem.png`` (2x resolution) and ``stem.svg`` atomically; close the figure."""
    import matplotlib.pyplot as plt
    stem = Path(stem)
    written = []
    try:
        for ext, kwargs in (("png", {"dpi": 2 * DISPLAY_DPI}), ("svg", {})):
            path = stem.with_suffix(f".{ext}")
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=ext, metadata=_metadata(ext), bbox_inches="tight",
                            pad_inches=0.06, **kwargs)
            written.append(path)
    finally:
        plt.close(fig)
    return written


def _metadata(ext: str) -> dict:
    # no creation date, so the same numbers give the same files
    return {"Software": "vcfnet"} if ext == "png" else {"Date": None, "Creator": "vcfnet"}
