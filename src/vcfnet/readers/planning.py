"""Sample-size planning for a reader study (``vcfnet readers plan``): readers x cases for a target power.

The variance components come from a finished analysis (``readers.json``: the Obuchowski-Rockette
result of each figure of merit) or from a pilot reads table analysed on the spot; the power is
Hillis, Obuchowski & Berbaum's (2011) method as :func:`vcfnet.stats.mrmc_sample_size` implements it.

Unit: the analysis estimated the OR components with the **patient** as the unit of independence
(``cluster = patient``), so the pilot size is its number of patients (``n_clusters``) and the planned
``n_cases`` of each row are patients; ``n_vertebrae`` beside them is patients x the pilot's mean number
of vertebrae per patient (rounded up), what those patients would bring in the same mix.

    >>> plan = plan_sample_size(json.load(open("eval/readers/readers.json")), effect=0.05)
    >>> [(r["n_readers"], r["n_cases"], r["n_vertebrae"]) for r in plan["foms"]["accuracy"]["rows"]][:2]
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vcfnet.errors import VcfnetError
from vcfnet.labels import CLASSES

FOMS: tuple[str, ...] = (*CLASSES, "accuracy")


def plan_sample_size(analysis: dict[str, Any], *, effect: float, target_power: float = 0.8,
                     n_readers: Sequence[int] = tuple(range(3, 16)), foms: Sequence[str] | None = None,
                     alpha: float = 0.05, max_cases: int = 5000) -> dict[str, Any]:
    """For each figure of merit of ``analysis`` (an :func:`vcfnet.readers.analysis.analyze_reads`
    result), the fewest patients per reader count reaching ``target_power`` for a difference ``effect``
    (random readers and random patients)."""
    from vcfnet.stats import mrmc_sample_size

    if not (isinstance(effect, (int, float)) and 0 < effect < 1):
        raise VcfnetError(f"--effect {effect}: expected a difference in AUC or accuracy between 0 and 1 (e.g. 0.05)")
    if not 0 < target_power < 1:
        raise VcfnetError(f"--power {target_power}: expected a number between 0 and 1 (e.g. 0.8)")
    foms = list(foms or FOMS)
    unknown = [f for f in foms if f not in FOMS]
    if unknown:
        raise VcfnetError(f"figure of merit '{unknown[0]}': expected one of {', '.join(FOMS)}")
    mrmc = analysis.get("mrmc") or {}
    per_patient = analysis["n_cases"] / max(analysis["n_patients"], 1)
    out: dict[str, Any] = {"effect": effect, "target_power": target_power, "alpha": alpha, "unit": "patient",
                           "pilot": {"n_readers": analysis["n_readers"], "n_cases": analysis["n_cases"],
                                     "n_patients": analysis["n_patients"], "simulated": analysis.get("simulated")},
                           "vertebrae_per_patient": per_patient, "foms": {}}
    for fom in foms:
        r = (mrmc.get("or") or {}).get(fom)
        if not r or "error" in r:
            out["foms"][fom] = {"error": (r or {}).get("error", "no MRMC result in the analysis")}
            continue
        comp = {k: r.get(k) for k in ("var_tr", "var_error", "cov1", "cov2", "cov3")}
        if any(v is None or not math.isfinite(v) for v in comp.values()):
            out["foms"][fom] = {"error": f"the pilot's variance components are not estimable ({comp})"}
            continue
        # the pilot's unit: patients when the analysis clustered (it always does), else vertebrae
        n_pilot = r.get("n_clusters") or r["n_cases"]
        try:
            res = mrmc_sample_size(effect, n_readers=list(n_readers), target_power=target_power, alpha=alpha,
                                   max_cases=max_cases, n_cases_pilot=n_pilot, **comp).to_dict()
        except ValueError as exc:
            out["foms"][fom] = {"error": str(exc)}
            continue
        for row in res["rows"]:
            row["n_patients"] = row["n_cases"]
            row["n_vertebrae"] = int(math.ceil(row["n_cases"] * per_patient))
        res["n_cases_pilot"] = n_pilot
        res["pilot_diff"] = r.get("diff")
        res["components"] = comp
        out["foms"][fom] = res
    return out


def plan_lines(plan: dict[str, Any]) -> list[str]:
    """The plan as a small terminal table: readers -> patients (about how many vertebrae) per figure of merit."""
    foms = list(plan["foms"])
    lines = [f"effect {plan['effect']:g}, power {plan['target_power']:g}, alpha {plan['alpha']:g}; pilot "
             f"{plan['pilot']['n_readers']} readers x {plan['pilot']['n_cases']} vertebrae "
             f"({plan['pilot']['n_patients']} patients){' (simulated readers)' if plan['pilot'].get('simulated') else ''}",
             "patients needed (random readers and patients; ~vertebrae in the pilot's mix of "
             f"{plan['vertebrae_per_patient']:.2f} per patient):",
             f"{'readers':<8}" + "".join(f"{f:>22}" for f in foms)]
    readers = sorted({row["n_readers"] for f in foms for row in plan["foms"][f].get("rows", [])}
                     | {r for f in foms for r in plan["foms"][f].get("unreachable", [])})
    for n in readers:
        cells = []
        for f in foms:
            res = plan["foms"][f]
            row = next((x for x in res.get("rows", []) if x["n_readers"] == n), None)
            cells.append(f"{row['n_patients']} pat. (~{row['n_vertebrae']} v.)" if row else "unreachable")
        lines.append(f"{n:<8}" + "".join(f"{c:>22}" for c in cells))
    for f in foms:
        if "error" in plan["foms"][f]:
            lines.append(f"{f}: not planned ({plan['foms'][f]['error']})")
    return lines


def parse_readers(text: str) -> list[int]:
    """``3-15`` or ``4,6,8`` -> reader counts (each >= 2)."""
    try:
        if "-" in text:
            lo, hi = (int(x) for x in text.split("-", 1))
            values = list(range(lo, hi + 1))
        else:
            values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 2 or len(values) > 200:
        raise VcfnetError(f"--readers '{text}': expected a range like 3-15 or a list like 4,6,8 (at least 2 readers)")
    return values


def load_pilot(source: str | Path, *, study: str | Path | None = None,
               predictions: str | Path | None = None) -> tuple[dict[str, Any], Path]:
    """The pilot analysis and the default place of the plan: ``readers.json`` (or a folder holding it),
    or a reads CSV analysed on the spot (needs ``study`` and ``predictions``; nothing is written)."""
    import json

    from vcfnet.errors import InputError

    source = Path(source)
    if source.is_dir():
        source = source / "readers.json"
    if source.suffix == ".json":
        if not source.is_file():
            raise InputError(source, "no such analysis (write one with `vcfnet readers analyze`)")
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
            data["n_cases"], data["n_patients"], data["n_readers"]
        except (ValueError, KeyError, TypeError):
            raise InputError(source, "is not a readers.json written by `vcfnet readers analyze`") from None
        return data, source.with_name("plan.json")
    if study is None or predictions is None:
        raise VcfnetError(f"{source}: a pilot reads table needs --study and --predictions (the truth and the model)")
    from vcfnet.readers.analysis import analyze_reads
    from vcfnet.readers.reads import read_reads_csv
    from vcfnet.report.cohorts import load_predictions
    from vcfnet.study.dataset import load_table

    table = load_table(study)
    result = analyze_reads(read_reads_csv(source), table, load_predictions(predictions, study_table=table),
                           reads_source=str(source), predictions_source=str(predictions))
    return result, source.with_name("plan.json")
