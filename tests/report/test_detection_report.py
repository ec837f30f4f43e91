"""The detection section of the evaluation folder and the HTML report: detection.csv, the FROC and
Bland-Altman figures, the tables per cohort, the Genant confusion tables; written with the rest."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from detection_toys import film

from vcfnet.detect.evaluate import detection_numbers, end_to_end
from vcfnet.labels import CLASSES
from vcfnet.report.detection import summarise_end_to_end
from vcfnet.report.evaluate import evaluate_predictions
from vcfnet.report.html import render_report
from vcfnet.report.outputs import write_evaluation


def _cohort(key, name, kind, films):
    e = end_to_end(films)
    for b in e["bodies"]:
        b["manual"] = b["truth"]                          # the manual boxes' answers: all right
    return {"key": key, "name": name, "kind": kind, "n_films": len(films), "n_patients": len(films),
            **detection_numbers(films, n_boot=50),
            "end_to_end": {**summarise_end_to_end(e["bodies"]), "false_calls": e["false_calls"],
                           "false_calls_per_image": e["false_calls"] / len(films)}}


@pytest.fixture(scope="module")
def eval_dir(tmp_path_factory):
    test = [film({"L1": "acute", "L2": None, "L3": "chronic", "S1": None}, patient=f"t{i}") for i in range(3)]
    site = [film({"L1": "chronic", "L4": "pathological", "L5": "acute", "S1": None},
                 extra=[((120.0, 300.0, 160.0, 330.0), "acute")], patient=f"s{i}") for i in range(2)]
    detection = {"settings": {"operating_score": 0.5, "alpha": 0.05, "n_boot": 50, "seed": 0,
                              "detector": {"arch": "toy", "min_size": 128, "iterations": 1, "images": 4},
                              "films_not_in_study": 1},
                 "pooled": {"key": "pooled", "name": "All evaluated films", "n_films": 5,
                            **detection_numbers(test + site, n_boot=50)},
                 "cohorts": [_cohort("test", "Internal test", "internal", test),
                             _cohort("external-site2", "External: site2", "external-site", site)]}
    y = np.array([0, 1, 2] * 4)
    proba = np.full((len(y), 3), 0.1)
    proba[np.arange(len(y)), y] = 0.8
    predictions = pd.DataFrame({"roi_id": [f"r{i}" for i in range(len(y))], "site": "site1",
                                "patient_id": [f"p{i // 2}" for i in range(len(y))],
                                "label": [CLASSES[k] for k in y],
                                **{f"p_{c}": proba[:, k] for k, c in enumerate(CLASSES)},
                                "split": "test", "collaboration": 0})
    result = evaluate_predictions(predictions)
    result.detection = detection
    out = tmp_path_factory.mktemp("eval") / "eval"
    write_evaluation(result, out)
    return out


def test_detection_numbers_csv_and_figures_are_written_with_the_evaluation(eval_dir):
    m = json.loads((eval_dir / "metrics.json").read_text())
    assert [c["key"] for c in m["detection"]["cohorts"]] == ["test", "external-site2"]
    assert {"detection.csv", "figures/froc.png", "figures/froc.svg", "figures/bland_altman.png"} <= set(m["files"])
    for name in ("froc", "bland_altman"):
        data = (eval_dir / "figures" / f"{name}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(data[16:20], "big") > 600   # 2x resolution
    table = pd.read_csv(eval_dir / "detection.csv")
    assert list(table["cohort"]) == ["test", "external-site2"]
    site = table.set_index("cohort").loc["external-site2"]
    # per site film: L1 called chronic (truth acute), L4 and L5 right, L3 missed: 2 of 4 right
    assert site["e2e_n"] == 8 and site["e2e_accuracy"] == pytest.approx(0.5) and site["manual_accuracy"] == 1.0
    assert site["e2e_missed"] == 2 and site["e2e_false_calls"] == 2


def test_the_report_has_the_detection_section_with_its_tables_and_figures(eval_dir):
    html = render_report(eval_dir)
    assert '<section id="detection">' in html and 'href="#detection"' in html
    for caption in ("Table D1. Detection", "Table D2. Levels and measurements", "Table D3. End to end"):
        assert caption in html
    section = html.split('<section id="detection">')[1].split("</section>")[0]
    assert section.count('alt="FROC curves') == 1 and section.count('alt="Bland-Altman plots') == 1
    assert "External: site2" in section and "Internal test" in section
    assert "Genant grade: annotated (rows)" in section and section.count('class="numbers genant"') == 2
    assert "1 annotated film(s) with" in section                    # the films the study does not hold


def test_a_report_without_detection_has_no_such_section(tmp_path):
    y = np.array([0, 1, 2] * 2)
    proba = np.full((len(y), 3), 0.1)
    proba[np.arange(len(y)), y] = 0.8
    predictions = pd.DataFrame({"roi_id": [f"r{i}" for i in range(len(y))], "site": "site1",
                                "patient_id": [f"p{i}" for i in range(len(y))], "label": [CLASSES[k] for k in y],
                                **{f"p_{c}": proba[:, k] for k, c in enumerate(CLASSES)},
                                "split": "test", "collaboration": 0})
    write_evaluation(evaluate_predictions(predictions), tmp_path / "e", figures=False)
    assert 'id="detection"' not in render_report(tmp_path / "e")
    assert not (tmp_path / "e" / "detection.csv").exists()


def test_evaluate_with_a_detector_but_no_study_is_one_line(tmp_path, capsys):
    from vcfnet.cli import main

    y = np.array([0, 1, 2])
    predictions = pd.DataFrame({"roi_id": ["a", "b", "c"], "site": "s", "patient_id": ["p", "q", "r"],
                                "label": [CLASSES[k] for k in y], "p_acute": [0.8, 0.1, 0.1],
                                "p_chronic": [0.1, 0.8, 0.1], "p_pathological": [0.1, 0.1, 0.8],
                                "split": "test", "collaboration": 0})
    predictions.to_csv(tmp_path / "p.csv", index=False)
    code = main(["evaluate", str(tmp_path / "p.csv"), "--out", str(tmp_path / "e"), "--detector", str(tmp_path)])
    assert code == 2 and "--detector needs --study" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()
