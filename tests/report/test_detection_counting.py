"""The end-to-end counting of detection -> classification on hand-made films: a missed fracture is wrong, a
detected but wrongly classified one too, one detected but not classified too, and a classified detection of
an intact body is a false call, not a fracture; plus the detection numbers of the same film."""
from __future__ import annotations

import pytest
from detection_toys import film as _film

from vcfnet.detect.evaluate import detection_numbers, end_to_end
from vcfnet.report.detection import summarise_end_to_end


def test_missed_wrong_and_unclassified_fractures_count_as_wrong_and_intact_calls_apart():
    film = _film({"L1": "acute", "L2": "chronic", "L3": "acute", "L5": None, "S1": None},
                 extra=[((120.0, 300.0, 160.0, 330.0), "pathological")])
    e = end_to_end([film])
    by_level = {b["level"]: b for b in e["bodies"]}
    assert set(by_level) == {"L1", "L3", "L4", "L5"}               # the fractured bodies only; L2 is intact
    assert [by_level[lv]["outcome"] for lv in ("L1", "L3", "L4", "L5")] == ["classified", "classified", "missed",
                                                                            "detected"]
    assert by_level["L1"]["predicted"] == "acute" and by_level["L3"]["predicted"] == "acute"
    assert by_level["L4"]["predicted"] is None and by_level["L5"]["predicted"] is None
    assert e["false_calls"] == 2                     # the classified intact L2 and the detection of nothing

    manual = {"L1": "acute", "L3": "chronic", "L4": "pathological", "L5": "chronic"}
    for b in e["bodies"]:
        b["manual"] = manual[b["level"]]
    s = summarise_end_to_end(e["bodies"])
    assert s["n"] == 4 and s["outcomes"] == {"classified": 2, "detected": 1, "missed": 1}
    assert s["automatic"]["accuracy"]["k"] == 1 and s["automatic"]["accuracy"]["estimate"] == 0.25
    sens = s["automatic"]["sensitivity"]
    assert (sens["acute"]["k"], sens["acute"]["n"]) == (1, 2)       # L1 right, L5 detected only
    assert (sens["chronic"]["k"], sens["pathological"]["k"]) == (0, 0)
    assert s["manual"]["accuracy"]["estimate"] == 0.75              # L5 wrong with its manual box too
    assert (s["mcnemar"]["b"], s["mcnemar"]["c"]) == (0, 2)         # automatic right only: none; manual only: 2


def test_detection_numbers_of_the_same_film():
    film = _film({"L1": "acute", "L2": None, "L3": None, "S1": None},
                 extra=[((120.0, 300.0, 160.0, 330.0), "pathological")])
    r = detection_numbers([film], n_boot=50)
    assert (r["images"], r["bodies"], r["fractured_bodies"]) == (1, 6, 4)
    # all bodies: 4 of 6 found, one false positive at score 0.8 (after the hits at 0.9)
    assert r["sensitivity_at_fp_all"]["0.5"] == pytest.approx(4 / 6) and r["sensitivity_at_fp_all"]["1.0"] == pytest.approx(4 / 6)
    # fractured: L1 and L3 of L1, L3, L4, L5; the intact L2 and S1 found are neither hits nor false positives
    assert r["sensitivity_at_0.5fp_fractured"] == 0.5
    assert r["matched_bodies"] == 4 and r["level_accuracy"] == 1.0 and r["landmark_error_median"] == 0.0
    assert r["landmark_error_unit"] == "mm" and r["bland_altman"]["ratio_ap"]["n"] == 4
    assert r["genant_confusion"][0][0] == r["genant_pairs"]          # same rectangles: grade 0 both ways


def test_transitional_films_flagged_and_false_alarms_are_counted_apart():
    """A film with an L6 whose levels the anomaly test called uncertain, and a usual film it flagged wrongly:
    one of one transitional films flagged, one false alarm among the usual ones; level accuracy on the usual
    count leaves the L6 film out. The L6 body is a body: found, it is a hit, not a false positive."""
    import dataclasses

    from detection_toys import box, points

    from vcfnet.detect.coco import VertebraAnnotation
    from vcfnet.detect.infer import Detection
    from vcfnet.detect.levels import ANOMALY_REASON, UNCERTAIN, LevelCall

    usual, odd, plain = (_film({lv: None for lv in ("L1", "L2", "L3", "L4", "L5", "S1")}, patient=p)
                         for p in ("p1", "p2", "p3"))
    # odd: an L6 below the six bodies, found; every level above S1 called uncertain by the anomaly test
    l6 = VertebraAnnotation("L6", box(6), points(*box(6)))
    odd.bodies.append(l6)                     # the film's annotations: the toy's image holds the same list
    assert odd.image.vertebrae[-1] is l6
    odd.found.append(Detection(box(6), 0.9, "S1", points(*box(6)), "keypoints"))
    flagged = LevelCall(UNCERTAIN, "L5", "L5", False, ANOMALY_REASON)
    odd.findings[:] = [dataclasses.replace(f, level=flagged) for f in odd.findings]
    usual.findings[:] = [dataclasses.replace(f, level=flagged) for f in usual.findings]
    r = detection_numbers([usual, odd, plain], n_boot=20)
    assert (r["transitional_films"], r["transitional_films_flagged"]) == (1, 1)
    assert (r["usual_films"], r["usual_films_flagged"]) == (2, 1)
    assert r["sensitivity_at_fp_all"]["0.125"] == 1.0                 # the L6 found is a hit
    assert r["level_accuracy_usual_count"] == pytest.approx(0.5)      # usual: all uncertain; plain: all right
