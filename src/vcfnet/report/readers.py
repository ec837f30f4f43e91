"""The reader study in the report: its output folder, Table 3, Figure 6 and the HTML section.

    EVAL/readers/
      readers.json                every number of the analysis (:func:`vcfnet.readers.analysis.analyze_reads`),
                                  the files list; written last, so a folder with it is complete
      table3.csv                  Table 3: per reader and session, per tier (means) and the model
      reads.csv                   the reads the analysis used (the reads-table contract)
      figures/figure6_<class>.png|svg   the model's ROC with each reader's operating points

    >>> write_reader_analysis(result, "eval/readers", reads)
    >>> section = reader_section("eval")     # None without eval/readers/readers.json

The report draws, the statistics compute: everything here reads the analysis dict, so a figure can be
redrawn from ``readers.json`` alone. Simulated readers are called "simulated" in every title, legend,
caption and table.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from vcfnet.fileio import atomic_open, write_text
from vcfnet.labels import CLASSES
from vcfnet.readers.reads import SESSIONS, TIERS, reads_csv
from vcfnet.report.figures import OKABE_ITO, fmt_ci

log = logging.getLogger(__name__)

READERS_DIR = "readers"
READERS_FILE = "readers.json"
#: Each tier has its own colour (Okabe-Ito) and marker, so tiers stay apart in grey print too.
TIER_STYLE: dict[str, dict[str, Any]] = {
    "trainee": {"color": OKABE_ITO["vermillion"], "marker": "o"},
    "competent": {"color": OKABE_ITO["blue"], "marker": "s"},
    "expert": {"color": OKABE_ITO["green"], "marker": "^"},
}
FIG6_SIZE = (4.0, 5.7)


def readers_word(result: dict) -> str:
    """``simulated readers`` when every read was simulated, ``readers`` otherwise."""
    if result.get("simulated"):
        return "simulated readers"
    return "readers (some simulated)" if result.get("any_simulated") else "readers"


def write_reader_analysis(result: dict, out_dir: str | Path, reads: pd.DataFrame | None = None, *,
                          figures: bool = True) -> Path:
    """Write the analysis folder (see the module docstring); returns ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "table3.csv"]
    with atomic_open(out / "table3.csv", "w", newline="", encoding="utf-8") as fh:
        table3_frame(result).to_csv(fh, index=False)
    if reads is not None:
        with atomic_open(out / "reads.csv", "wb") as fh:
            fh.write(reads_csv(reads))
        files.append(out / "reads.csv")
    if figures:
        from vcfnet.report.figures import save_figure

        for cls in CLASSES:
            files += save_figure(figure6(result, cls), out / "figures" / f"figure6_{cls}")
    data = dict(result, files=sorted(str(p.relative_to(out)) for p in files))
    write_text(out / READERS_FILE, json.dumps(data, indent=2, allow_nan=False) + "\n")
    log.info("reader-study analysis of %d readers x %d cases -> %s", result["n_readers"], result["n_cases"], out)
    return out


def run_reader_analysis(reads: str | Path, study: str | Path, predictions: str | Path,
                        out_dir: str | Path, *, alpha: float = 0.05, covariance: str = "jackknife",
                        figures: bool = True) -> tuple[dict, Path]:
    """``vcfnet readers analyze``: read the reads CSV, the Study table and the predictions (each
    validated, errors naming file, row and field), analyse, write ``out_dir``. Returns (result, out_dir)."""
    from vcfnet.readers.analysis import analyze_reads
    from vcfnet.readers.reads import read_reads_csv
    from vcfnet.report.cohorts import load_predictions
    from vcfnet.study.dataset import load_table

    if covariance not in ("jackknife", "delong"):
        from vcfnet.errors import VcfnetError
        raise VcfnetError(f"covariance '{covariance}': expected jackknife or delong")
    table = read_reads_csv(reads)
    study_table = load_table(study)
    preds = load_predictions(predictions, study_table=study_table)
    result = analyze_reads(table, study_table, preds, alpha=alpha, covariance=covariance,
                           reads_source=str(reads), predictions_source=str(predictions))
    result["source"] = {"reads": Path(reads).name, "predictions": Path(predictions).name, "study": Path(study).name}
    return result, write_reader_analysis(result, out_dir, table, figures=figures)


def read_reader_analysis(eval_dir: str | Path) -> dict | None:
    """``EVAL/readers/readers.json`` (or ``readers.json`` in ``eval_dir`` itself), or None when absent."""
    eval_dir = Path(eval_dir)
    for path in (eval_dir / READERS_DIR / READERS_FILE, eval_dir / READERS_FILE):
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    return None


# ---------------------------------------------------------------- Table 3

def _num(x: Any, digits: int = 3) -> float | None:
    return None if x is None else round(float(x), digits)


def table3_frame(result: dict) -> pd.DataFrame:
    """Table 3 as a flat table: one row per reader x session, per tier x session (means of the
    readers) and the model; AUC per class and accuracy with interval bounds where there are some, and
    the p-value of the reader's change (aided rows: paired DeLong for AUCs, McNemar for accuracy)."""
    simulated = int(bool(result.get("simulated")))
    rows = []
    for r in result["readers"]:
        for s in SESSIONS:
            m = r["sessions"][s]
            row: dict[str, Any] = {"row": "reader", "reader": r["reader"], "tier": r["tier"], "session": s,
                                   "n_readers": 1, "n_cases": m["n"], "simulated": int(r["simulated"])}
            for c in CLASSES:
                auc = m["classes"][c]["auc"]
                row.update({f"auc_{c}": _num(auc["auc"]), f"auc_{c}_ci_low": _num(auc["ci_low"]),
                            f"auc_{c}_ci_high": _num(auc["ci_high"]),
                            f"auc_{c}_p_change": _num(r["change"]["auc"][c]["p_value"], 4) if s == "aided" else None})
            acc = m["accuracy"]
            row.update({"accuracy": _num(acc["estimate"]), "accuracy_ci_low": _num(acc["ci_low"]),
                        "accuracy_ci_high": _num(acc["ci_high"]),
                        "accuracy_p_change": _num(r["change"]["accuracy"]["p_value"], 4) if s == "aided" else None})
            rows.append(row)
    for t in result["tiers"]:
        for s in SESSIONS:
            m = t["sessions"][s]
            row = {"row": "tier mean", "reader": "", "tier": t["tier"], "session": s, "n_readers": t["n_readers"],
                   "n_cases": result["n_cases"], "simulated": simulated}
            row.update({f"auc_{c}": _num(m["auc"][c]) for c in CLASSES})
            row["accuracy"] = _num(m["accuracy"])
            rows.append(row)
    m = result["model"]
    row = {"row": "model", "reader": "model", "tier": "", "session": "model alone", "n_readers": 0,
           "n_cases": m["n"], "simulated": 0}
    for c in CLASSES:
        auc = m["classes"][c]["auc"]
        row.update({f"auc_{c}": _num(auc["auc"]), f"auc_{c}_ci_low": _num(auc["ci_low"]),
                    f"auc_{c}_ci_high": _num(auc["ci_high"])})
    row.update({"accuracy": _num(m["accuracy"]["estimate"]), "accuracy_ci_low": _num(m["accuracy"]["ci_low"]),
                "accuracy_ci_high": _num(m["accuracy"]["ci_high"])})
    rows.append(row)
    return pd.DataFrame(rows)


def _p(p: float | None) -> str:
    if p is None:
        return ""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def table3_rows(result: dict) -> list[dict[str, Any]]:
    """Table 3 cells for the HTML section: label, session, AUC per class, accuracy (text)."""
    rows = []
    for r in result["readers"]:
        for s in SESSIONS:
            m = r["sessions"][s]
            ch = r["change"]
            rows.append({"kind": "reader", "label": r["reader"], "tier": r["tier"], "session": s,
                         "first": s == SESSIONS[0],
                         "auc": {c: {"value": fmt_ci(m["classes"][c]["auc"], "auc"),
                                     "p": _p(ch["auc"][c]["p_value"]) if s == "aided" else ""} for c in CLASSES},
                         "accuracy": {"value": fmt_ci(m["accuracy"]),
                                      "p": _p(ch["accuracy"]["p_value"]) if s == "aided" else ""}})
    for t in result["tiers"]:
        label = "All readers" if t["tier"] == "all" else f"{t['tier'].capitalize()} tier"
        for s in SESSIONS:
            m = t["sessions"][s]
            rows.append({"kind": "tier", "label": f"{label} (mean of {t['n_readers']})", "tier": t["tier"],
                         "session": s, "first": s == SESSIONS[0],
                         "auc": {c: {"value": fmt_ci({"estimate": m["auc"][c]}), "p": ""} for c in CLASSES},
                         "accuracy": {"value": fmt_ci({"estimate": m["accuracy"]}), "p": ""}})
    m = result["model"]
    rows.append({"kind": "model", "label": "Model", "tier": "", "session": "alone", "first": True,
                 "auc": {c: {"value": fmt_ci(m["classes"][c]["auc"], "auc"), "p": ""} for c in CLASSES},
                 "accuracy": {"value": fmt_ci(m["accuracy"]), "p": ""}})
    return rows


# ---------------------------------------------------------------- Figure 6

def figure6(result: dict, cls: str):
    """The model's one-vs-rest ROC curve for ``cls`` with each reader's operating point (their
    categorical answer: sensitivity against 1 - specificity) unaided (hollow) and aided (filled), an
    arrow from one to the other; tiers by colour and marker; legend below the axes."""
    from matplotlib.lines import Line2D

    from vcfnet.report.figures import _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=FIG6_SIZE, layout="constrained")
    ax.plot([0, 1], [0, 1], color="#777777", linestyle=":", linewidth=1)
    curve = result["model_roc"][cls]
    auc = result["model"]["classes"][cls]["auc"]
    pts = [(x, y) for x, y in zip(curve["fpr"], curve["tpr"]) if x is not None and y is not None]
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color=OKABE_ITO["black"], linewidth=2)
    for r in result["readers"]:
        style = TIER_STYLE[r["tier"]]
        u = r["sessions"]["unaided"]["classes"][cls]["operating_point"]
        a = r["sessions"]["aided"]["classes"][cls]["operating_point"]
        if None in (u["fpr"], u["tpr"], a["fpr"], a["tpr"]):
            continue
        if (u["fpr"], u["tpr"]) != (a["fpr"], a["tpr"]):
            ax.annotate("", xy=(a["fpr"], a["tpr"]), xytext=(u["fpr"], u["tpr"]),
                        arrowprops={"arrowstyle": "-|>", "color": style["color"], "lw": 1.6,
                                    "shrinkA": 5, "shrinkB": 6, "mutation_scale": 14})
        ax.plot([u["fpr"]], [u["tpr"]], linestyle="none", marker=style["marker"], markersize=9,
                markerfacecolor="white", markeredgecolor=style["color"], markeredgewidth=2, zorder=3)
        ax.plot([a["fpr"]], [a["tpr"]], linestyle="none", marker=style["marker"], markersize=9,
                color=style["color"], markeredgecolor="black", markeredgewidth=0.8, zorder=4)
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), aspect="equal",
           xlabel="1 − specificity", ylabel="Sensitivity")
    ax.grid(alpha=0.3)
    n_pos = result["class_counts"][cls]
    who = readers_word(result)
    ax.set_title(f"{cls} vs rest: model and {who}\n{result['n_cases']} vertebrae ({n_pos} {cls}), "
                 f"{result['n_patients']} patients", fontsize=11)
    tiers = [t for t in TIERS if any(r["tier"] == t for r in result["readers"])]
    suffix = " (simulated)" if result.get("simulated") else ""
    handles = [Line2D([], [], color="black", linewidth=2, label=f"model ROC, AUC {fmt_ci(auc, 'auc')}")]
    handles += [Line2D([], [], linestyle="none", marker=TIER_STYLE[t]["marker"], markersize=9,
                       color=TIER_STYLE[t]["color"], markeredgecolor="black", markeredgewidth=0.8,
                       label=f"{t}{suffix}") for t in tiers]
    handles += [Line2D([], [], linestyle="none", marker="o", markersize=9, markerfacecolor="white",
                       markeredgecolor="#444444", markeredgewidth=2, label="hollow: unaided"),
                Line2D([], [], linestyle="none", marker="o", markersize=9, color="#444444",
                       label="filled: aided (arrow: unaided → aided)")]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.15), frameon=False, ncols=1,
              fontsize=10, handletextpad=0.5, borderaxespad=0.0)
    return fig


# ---------------------------------------------------------------- the HTML section

def _pct(result: dict) -> str:
    return f"{round(100 * (1 - result.get('alpha', 0.05)))}%"


def _f(x: Any, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _df(x: Any) -> str:
    if x is None:
        return "∞"
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


def _test_text(r: dict, pct: str) -> str:
    """``difference 0.191 [95% CI 0.102 to 0.280], F(1, 7.4) = 23.1, p = 0.002``."""
    if r.get("f_stat") is None:
        return f"difference {_f(r.get('diff'))}; F, p and CI not estimable"
    return (f"difference {_f(r.get('diff'))} [{pct} CI {_f(r.get('ci_low'))} to {_f(r.get('ci_high'))}], "
            f"F({_df(r.get('df_num'))}, {_df(r.get('df_den'))}) = {r['f_stat']:.2f}, {_p(r.get('p_value'))}")


def mrmc_sentences(result: dict) -> list[dict[str, str]]:
    """The MRMC results as sentences (``{"what", "text"}``), one per figure of merit and method."""
    m = result.get("mrmc")
    if not m:
        return []
    pct, who = _pct(result), readers_word(result)
    out = []
    for key, what in [*((c, f"AUC {c} (one vs rest)") for c in CLASSES), ("accuracy", "3-class accuracy")]:
        r = m["or"].get(key) or {}
        if "error" in r:
            out.append({"what": what, "text": f"not analysed: {r['error']}"})
            continue
        means = r.get("auc") or {}
        text = (f"mean of the {result['n_readers']} {who} {_f(means.get('unaided'))} unaided, "
                f"{_f(means.get('aided'))} aided; {_test_text(r, pct)} (Obuchowski-Rockette, Hillis df, "
                f"{r.get('covariance')} covariances, {r.get('n_clusters')} patients as the unit)")
        extra = []
        d = (m.get("or_delong") or {}).get(key)
        if d and "error" not in d:
            extra.append(f"with DeLong covariances {_p(d.get('p_value'))}")
        d = (m.get("dbm") or {}).get(key)
        if d and "error" not in d:
            extra.append(f"DBM F({_df(d.get('df_num'))}, {_df(d.get('df_den'))}) = {_f(d.get('f_stat'), 2)}, "
                         f"{_p(d.get('p_value'))}")
        if extra:
            text += "; " + "; ".join(extra)
        out.append({"what": what, "text": text + "."})
    return out


def _ci(r: dict) -> str:
    return f"{_f(r.get('diff'))} [{_f(r.get('ci_low'))} to {_f(r.get('ci_high'))}]"


def _ftest(r: dict | None) -> str:
    """``F(1, 44.2) = 4.59, p = 0.038`` of an OR/DBM result; ``not analysed`` / ``not estimable``."""
    if not r:
        return ""
    if "error" in r:
        return "not analysed"
    if r.get("f_stat") is None:
        return "not estimable"
    return f"F({_df(r.get('df_num'))}, {_df(r.get('df_den'))}) = {r['f_stat']:.2f}, {_p(r.get('p_value'))}"


def mrmc_table_rows(result: dict) -> list[dict[str, Any]]:
    """The MRMC results side by side, one row per figure of merit: the readers' mean unaided and aided,
    the OR difference [CI]; the OR test (jackknife covariances; ``or_delong``: p with DeLong covariances,
    AUCs only); DBM; the model as a fixed reader against the unaided readers' mean (``model``, ``model_vs``
    = difference [CI], ``model_test`` = t, p). Cells are text; an analysis the design could not give
    says "not analysed" (its reason is in the notes)."""
    m = result.get("mrmc")
    if not m:
        return []
    rows = []
    for key, what in [*((c, f"AUC {c}") for c in CLASSES), ("accuracy", "3-class accuracy")]:
        r = m["or"].get(key) or {}
        ok = bool(r) and "error" not in r
        means = r.get("auc") or {}
        d = (m.get("or_delong") or {}).get(key)
        mv = (m.get("model_vs_readers") or {}).get(key) or {}
        mv_ok = bool(mv) and "error" not in mv
        rows.append({
            "what": what, "unaided": _f(means.get("unaided")) if ok else "", "aided": _f(means.get("aided")) if ok else "",
            "diff": _ci(r) if ok else "", "or": _ftest(r),
            "or_delong": (f"DeLong covariances: {_p(d['p_value'])}" if d and d.get("p_value") is not None
                          else ("DeLong covariances: not estimable" if d else "")),
            "dbm": _ftest((m.get("dbm") or {}).get(key)),
            "model": _f(mv.get("model_fom")) if mv_ok else "",
            "model_vs": (_ci(mv) if mv_ok else ("not analysed" if mv else "")),
            "model_test": (f"t({_df(mv.get('df'))}) = {_f(mv.get('t_stat'), 2)}, {_p(mv.get('p_value'))}"
                           if mv_ok and mv.get("t_stat") is not None else ("not estimable" if mv_ok else ""))})
    return rows


def figure6_alt(result: dict, cls: str) -> str:
    auc = result["model"]["classes"][cls]["auc"]
    pts = []
    for r in result["readers"]:
        u = r["sessions"]["unaided"]["classes"][cls]
        a = r["sessions"]["aided"]["classes"][cls]
        pts.append(f"{r['reader']} ({r['tier']}) sensitivity {_f(u['sensitivity']['estimate'], 2)} -> "
                   f"{_f(a['sensitivity']['estimate'], 2)}, specificity {_f(u['specificity']['estimate'], 2)} -> "
                   f"{_f(a['specificity']['estimate'], 2)}")
    return (f"ROC curve of the model for {cls} versus rest (AUC {fmt_ci(auc, 'auc')}) with the operating points "
            f"of the {readers_word(result)}, unaided to aided: " + "; ".join(pts) + ".")


def summary_lines(result: dict) -> list[str]:
    """A short terminal table: each reader's accuracy and AUCs unaided -> aided, the model, the MRMC p."""
    who = readers_word(result)
    lines = [f"{result['n_readers']} {who}, {result['n_cases']} vertebrae, {result['n_patients']} patients",
             f"{'reader':<18} {'tier':<10} {'accuracy':<15} " + " ".join(f"{'AUC ' + c:<19}" for c in CLASSES)]
    for r in result["readers"]:
        u, a = r["sessions"]["unaided"], r["sessions"]["aided"]
        cells = [f"{_f(u['accuracy']['estimate'])} -> {_f(a['accuracy']['estimate'])}"]
        cells += [f"{_f(u['classes'][c]['auc']['auc'])} -> {_f(a['classes'][c]['auc']['auc'])}" for c in CLASSES]
        lines.append(f"{r['reader']:<18} {r['tier']:<10} {cells[0]:<15} " + " ".join(f"{x:<19}" for x in cells[1:]))
    m = result["model"]
    lines.append(f"{'model':<18} {'':<10} {_f(m['accuracy']['estimate']):<15} "
                 + " ".join(f"{_f(m['classes'][c]['auc']['auc']):<19}" for c in CLASSES))
    for s in mrmc_sentences(result):
        lines.append(f"MRMC {s['what']}: {s['text']}")
    lines += model_vs_readers_sentences(result)
    return lines


def model_vs_readers_sentences(result: dict) -> list[str]:
    """The model as a fixed reader against the unaided readers' mean, one sentence per figure of merit."""
    m = (result.get("mrmc") or {}).get("model_vs_readers")
    if not m:
        return []
    pct, who = _pct(result), readers_word(result)
    parts = []
    for key, what in [*((c, f"AUC {c}") for c in CLASSES), ("accuracy", "accuracy")]:
        r = m.get(key)
        if not r:
            continue
        if "error" in r:
            parts.append(f"{what}: not analysed ({r['error']})")
            continue
        parts.append(f"{what} {_f(r.get('model_fom'))} vs {_f(r.get('mean_reader_fom'))}, difference "
                     f"{_f(r.get('diff'))} [{pct} CI {_f(r.get('ci_low'))} to {_f(r.get('ci_high'))}], "
                     f"t on {_df(r.get('df'))} df, {_p(r.get('p_value'))}")
    if not parts:
        return []
    return [f"The model as a fixed reader against the mean of the unaided {who} (random readers and patients): "
            + "; ".join(parts) + "."]
