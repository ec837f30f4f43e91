"""Figures of the detection section, drawn from ``metrics.json``'s ``detection`` alone (see
:mod:`vcfnet.report.detection`): the FROC curves of the fractured bodies per cohort, and the Bland-Altman
plots of the height ratios measured on the detected against the annotated landmarks."""
from __future__ import annotations

from typing import Any

from vcfnet.report.figures import FIG_SIZE, OKABE_ITO, _plt

COHORT_COLOURS = [OKABE_ITO[k] for k in ("black", "vermillion", "blue", "green", "orange", "purple", "sky")]
COHORT_STYLES = ["-", "--", "-.", ":", "-", "--", "-."]
RATIO_LABEL = {"reduction": "largest height reduction against the neighbours (sets the Genant grade)",
               "ratio_ap": "anterior / posterior height"}
FP_MIN = 0.05


def _shown(detection: dict[str, Any]) -> list[dict[str, Any]]:
    """The cohorts drawn: every one but the pooled external (its sites are drawn)."""
    return [c for c in detection["cohorts"] if c["kind"] != "external"]


def froc_figure(detection: dict[str, Any]):
    """Sensitivity for fractured bodies against false positives per image, one step curve per cohort (log
    axis), the fixed operating points marked."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(FIG_SIZE[0] * 1.45, FIG_SIZE[1] * 1.2), layout="constrained")
    fps = detection["cohorts"][0]["fp_points"] if detection["cohorts"] else []
    top = max([max(c["froc_fractured"]["fp_per_image"] or [0]) for c in detection["cohorts"]] + [max(fps or [1])])
    for i, c in enumerate(_shown(detection)):
        xs, ys = c["froc_fractured"]["fp_per_image"], c["froc_fractured"]["sensitivity"]
        pts = [(max(x, FP_MIN), y) for x, y in zip(xs, ys) if x is not None and y is not None]
        s05 = c["sensitivity_at_0.5fp_fractured"]
        label = f"{c['name']} ({c['fractured_bodies']} fractured; {_n(s05)} at 0.5 FP/img)"
        colour, style = COHORT_COLOURS[i % len(COHORT_COLOURS)], COHORT_STYLES[i % len(COHORT_STYLES)]
        if pts:
            ax.step([p[0] for p in pts] + [top], [p[1] for p in pts] + [pts[-1][1]], where="post",
                    color=colour, linestyle=style, linewidth=1.8, label=label)
        else:
            ax.plot([], [], color=colour, linestyle=style, label=label)
        at = c["sensitivity_at_fp_fractured"]
        ax.plot([float(f) for f in at if at[f] is not None], [v for v in at.values() if v is not None],
                linestyle="none", marker="o", markersize=4.5, color=colour)
    ax.axvline(0.5, color="#777777", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlim(FP_MIN, max(top, 4.5))
    ax.set_xticks(list(fps), [f"{f:g}" for f in fps])
    ax.set_ylim(-0.01, 1.02)
    ax.set_xlabel("false positives per image (log scale)")
    ax.set_ylabel("sensitivity, fractured vertebrae")
    ax.set_title("FROC: fractured vertebrae found (IoU ≥ 0.5)\ndots: 0.125 to 4 FP/image; dotted line: 0.5")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False, fontsize=9.5)
    return fig


def _n(x) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _y_span(detection: dict[str, Any], key: str, ba: dict[str, Any]) -> tuple[float, float]:
    """Symmetric about 0, covering every difference and limit, at least +/- 0.05 (so rounding noise of a
    perfect agreement is not blown up to fill the panel)."""
    values = [abs(a - b) for c in _shown(detection) for a, b in c["bland_altman_points"][key]]
    values += [abs(ba[k]) for k in ("loa_low_ci_low", "loa_high_ci_high") if ba.get(k) is not None]
    top = max([0.05] + values) * 1.12
    return -top, top


def bland_altman_figure(detection: dict[str, Any]):
    """One panel per height ratio: detected minus annotated against their mean, points coloured by cohort,
    bias and 95 % limits of agreement (with their CIs) of all evaluated films pooled."""
    plt = _plt()
    ratios = list(detection["pooled"]["bland_altman"])
    fig, axes = plt.subplots(1, len(ratios), figsize=(FIG_SIZE[0] * 1.2 * len(ratios), FIG_SIZE[1] * 1.2),
                             layout="constrained", squeeze=False)
    for ax, key in zip(axes[0], ratios):
        for i, c in enumerate(_shown(detection)):
            pts = c["bland_altman_points"][key]
            ax.scatter([(a + b) / 2 for a, b in pts], [a - b for a, b in pts], s=12, alpha=0.6,
                       color=COHORT_COLOURS[i % len(COHORT_COLOURS)], label=f"{c['name']} (n={len(pts)})")
        ba = detection["pooled"]["bland_altman"][key]
        for name, style in (("bias", "-"), ("loa_low", "--"), ("loa_high", "--")):
            if ba.get(name) is None:
                continue
            ax.axhline(ba[name], color="#333333", linestyle=style, linewidth=1.2)
            lo, hi = ba.get(f"{name}_ci_low"), ba.get(f"{name}_ci_high")
            if lo is not None and hi is not None:
                ax.axhspan(lo, hi, color="#999999", alpha=0.18, linewidth=0)
            text, where = {"bias": ("bias", (0.0, "left", "bottom")), "loa_low": ("−1.96 SD", (1.0, "right", "top")),
                           "loa_high": ("+1.96 SD", (1.0, "right", "bottom"))}[name]
            ax.annotate(f"{text} {round(ba[name], 3) + 0.0:+.3f}", (where[0], ba[name]), xycoords=("axes fraction", "data"),
                        xytext=(3 if where[1] == "left" else -3, 3 if where[2] == "bottom" else -3),
                        textcoords="offset points", ha=where[1], va=where[2], fontsize=9.5,
                        bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
        ax.axhline(0, color="#777777", linestyle=":", linewidth=1)
        ax.set_ylim(*_y_span(detection, key, ba))
        ax.set_xlabel("mean of detected and annotated")
        ax.set_ylabel("detected − annotated")
        ax.set_title(f"{RATIO_LABEL.get(key, key)}\nn = {ba.get('n', 0)} matched bodies", fontsize=10.5)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(3, max(len(labels), 1)), frameon=False,
               fontsize=9.5)
    fig.suptitle("Height-ratio agreement (Bland-Altman): lines = bias and 95% limits of agreement of all "
                 "evaluated films, bands = their 95% CIs", fontsize=10.5)
    return fig
