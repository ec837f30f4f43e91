"""The risk-coverage figure of a cohort: answered accuracy against coverage for each model, Wilson
intervals at fixed coverages, and the card's referral operating point. Drawn from ``metrics.json``
alone (``cohort["selective"]``, see ``vcfnet.report.clinical``)."""
from __future__ import annotations

from typing import Any

from vcfnet.report.figures import FIG_SIZE, OKABE_ITO, _plt, cohort_subtitle

MODEL_STYLE = {"image+clinical": {"color": OKABE_ITO["blue"], "linestyle": "-", "marker": "o"},
               "image": {"color": OKABE_ITO["orange"], "linestyle": "--", "marker": "s"}}
MODEL_LABEL = {"image+clinical": "image + clinical", "image": "image-only"}


def risk_coverage_figure(c: dict[str, Any]):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(FIG_SIZE[0] * 1.25, FIG_SIZE[1] * 1.3), constrained_layout=True)
    sel = c.get("selective") or {"models": {}}
    for name, m in sel["models"].items():
        style = MODEL_STYLE.get(name, MODEL_STYLE["image"])
        a = m["aurc"].get("aurc")
        label = f"{MODEL_LABEL.get(name, name)} (AURC {a:.3f})" if a is not None else MODEL_LABEL.get(name, name)
        ax.step(m["curve"]["coverage"], m["curve"]["accuracy"], where="post", color=style["color"],
                linestyle=style["linestyle"], linewidth=1.8, label=label)
        pts = [p for p in m["points"] if p.get("ci_low") is not None]
        if pts:
            ax.errorbar([p["coverage"] for p in pts], [p["estimate"] for p in pts],
                        yerr=[[p["estimate"] - p["ci_low"] for p in pts], [p["ci_high"] - p["estimate"] for p in pts]],
                        fmt="none", ecolor=style["color"], elinewidth=1, capsize=3, alpha=0.8)
        ref = m.get("referral")
        if ref and ref.get("refer_rate") and ref.get("answered_accuracy"):
            ax.plot(1 - ref["refer_rate"]["estimate"], ref["answered_accuracy"]["estimate"],
                    marker=style["marker"], markersize=9, color=style["color"], markeredgecolor="black",
                    linestyle="none", label=f"{MODEL_LABEL.get(name, name)}: referral threshold")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (share answered, most confident first)")
    ax.set_ylabel("accuracy of the answered vertebrae")
    ax.set_title(f"{c['name']}\n{cohort_subtitle(c)}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=1, frameon=False, fontsize=9)
    return fig
